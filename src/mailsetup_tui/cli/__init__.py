"""The command line for scripts and fleets: `mailsetup COMMAND` (`cli.main.run`)."""

from mailsetup_tui.cli.main import run

__all__ = ["run"]
