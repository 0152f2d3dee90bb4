"""The command line's grammar: global options and one sub-parser per command from the registry
in `cli.commands` (each command adds its own options, from `cli.options`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from mailsetup_tui.cli.commands import NAMES, command
from mailsetup_tui.cli.options import PASSWORD_ENV
from mailsetup_tui.core.session import DEFAULT_TIMEOUT
from mailsetup_tui.exit_codes import ExitCode, exit_table

SENDMAIL_SUMMARY = (
    "read a message on standard input and send it through the saved account, as "
    "/usr/sbin/sendmail does (mailsetup sendmail --help)"
)
RELAY_SUMMARY = (
    "run the relay service in the foreground: a durable queue for this host's mail, on "
    "loopback SMTP and a Unix socket (mailsetup relay --help)"
)


def build_parser(words: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole grammar; given the `words` to parse, only the commands named among them (all
    of them for --help) are loaded, so that the form, which names none, loads none."""
    loaded = _named_commands(words)
    parser = argparse.ArgumentParser(
        prog="mailsetup",
        allow_abbrev=False,
        description=(
            "Set up and test the e-mail account this system sends its verification codes from. "
            "With no command, opens the form."
        ),
        epilog=(
            "The password is never taken as an argument: use --password-stdin, the "
            f"{PASSWORD_ENV} environment variable, or the no-echo prompt. On a slow line "
            "whose terminal does not say its speed (a console server), set MAILSETUP_BAUD "
            f"(bits per second) for the form. Exit codes: {exit_table(ExitCode)}."
        ),
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    _add_global_options(parser, suppress=False)
    # No prefix matching anywhere: `--password SECRET` must not become `--password-stdin`
    # followed by an "unrecognized argument" error that prints the secret.
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_NoAbbrevParser
    )
    if words is not None and not _may_name_a_command(words):
        # Options alone (or no words: the form, the usual case): no word for the table to
        # match, and its fifteen parsers were a percent of the form's start-up.
        return parser
    for name in NAMES:
        if name not in loaded:  # never chosen: argparse picks only a command named in words
            commands.add_parser(name, add_help=False)
            continue
        chosen = command(name)
        sub = commands.add_parser(
            name,
            help=chosen.help,
            description=chosen.description,
            # `check` says its own (the Monitoring Plugins' codes) in its description.
            epilog=None
            if chosen.error_exit is not None
            else f"Exit codes: {exit_table(ExitCode)}.",
        )
        chosen.add_arguments(sub)
        _add_global_options(sub, suppress=True)
        sub.set_defaults(run=chosen.run)
    # Listed for --help only: `launch.run` hands `mailsetup sendmail ...` to `sendmail`,
    # whose options are sendmail's, before this parser sees them.
    commands.add_parser("sendmail", help=SENDMAIL_SUMMARY, add_help=False)
    commands.add_parser("relay", help=RELAY_SUMMARY, add_help=False)
    return parser


def _may_name_a_command(words: Sequence[str]) -> bool:
    """Whether argparse may take one of `words` for a command (or list them all, for help):
    any word that is not an option may be."""
    return "-h" in words or "--help" in words or any(not word.startswith("-") for word in words)


def _named_commands(words: Sequence[str] | None) -> set[str]:
    """Every command named anywhere in `words` (a config file called `test` included: which
    word argparse takes for the command is its business), or all of them for the full help."""
    if words is None or "-h" in words or "--help" in words:
        return set(NAMES)
    return set(NAMES).intersection(words)


class _Version(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata is slow to import)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit(0)


class _NoAbbrevParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # The same options on the main parser and each sub-command, so that both
    # `mailsetup --config X test` and `mailsetup test --config X` work; the sub-command copies
    # default to SUPPRESS so they do not overwrite a value given before the command.
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--config",
        metavar="PATH",
        default=default(None),
        help=(
            "config file (default: $MAILSETUP_CONFIG; else, for root, the system account, "
            "/etc/mailsetup/account.toml; for another user, their own "
            "~/.config/mailsetup/account.toml if it exists, else the system account)"
        ),
    )
    group.add_argument(
        "--ca-file",
        metavar="PEM",
        default=default(None),
        help="trust the CA certificates in this PEM file instead of the system store",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=default(DEFAULT_TIMEOUT),
        help=f"overall deadline for a connection test (default {DEFAULT_TIMEOUT:g})",
    )
    if not suppress:
        group.add_argument(
            "--plain",
            action="store_true",
            help="with no command: a line-by-line wizard instead of the full-screen form "
            "(chosen automatically when TERM is dumb or unset, or input/output is not a "
            "terminal)",
        )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log each step of the connection test to standard error",
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailsetup-tui")
    except PackageNotFoundError:
        return "unknown"
