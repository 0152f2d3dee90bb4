"""What the command line's words say before the grammar parses them (`cli.parser`), which
is loaded only when there are words: `mailsetup` alone, the form as most runs open it, parses
nothing and so never loads argparse (a third of a MiB of the form's memory)."""

from __future__ import annotations

from mailsetup_tui.cli.commands import NAMES, command


def password_given_inline(argv: list[str]) -> bool:
    """`--password-stdin=VALUE`: argparse would repeat VALUE in its error, and VALUE is
    likely the password, typed where it should not be."""
    return any(word.startswith("--password-stdin=") for word in argv)


def unrecognized_arguments(unknown: list[str]) -> str:
    """The error for leftover words, naming only the options: one of the words may be a
    password typed where it should not be, and argparse would echo them all."""
    options = [word.split("=")[0] for word in unknown if word.startswith("-")]
    named = f": {' '.join(options)}" if options else ""
    return f"unrecognized arguments{named} (values are not repeated here); see `mailsetup --help`"


def error_exit(words: list[str]) -> int | None:
    """The exit code every error has for the command in `words`, when it says (`check`:
    UNKNOWN, as monitoring systems read it); None for the usual codes."""
    for word in words:
        if word in NAMES:
            return command(word).error_exit
    return None
