"""`python -m mailsetup_tui`: the same as the `mailsetup` command."""

from mailsetup_tui.launch import main

if __name__ == "__main__":
    main()
