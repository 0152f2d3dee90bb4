"""The command line's grammar: global options, the shared account options, one sub-parser per
command from the registry in `cli.commands`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mailsetup_tui.cli import ExitCode
from mailsetup_tui.cli.context import UsageError
from mailsetup_tui.core.account import (
    Account,
    MicrosoftSignIn,
    default_authority_host,
)
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security
from mailsetup_tui.core.session import DEFAULT_TIMEOUT, ca_file_problem

PASSWORD_ENV = "MAILSETUP_PASSWORD"
SENDMAIL_SUMMARY = (
    "read a message on standard input and send it through the saved account, as "
    "/usr/sbin/sendmail does (mailsetup sendmail --help)"
)
MAX_TIMEOUT = 300.0

ACCOUNT_OPTIONS = (
    "smtp_mail",
    "display_name",
    "email",
    "server",
    "port",
    "security",
    "client_id",
    "tenant",
)
"""The `dest` of every account option: none given means the saved account."""


def build_parser() -> argparse.ArgumentParser:
    # Imported here: each command module takes its shared options from this one.
    from mailsetup_tui.cli.commands import COMMANDS

    parser = argparse.ArgumentParser(
        prog="mailsetup",
        allow_abbrev=False,
        description=(
            "Set up and test the e-mail account this system sends its verification codes from. "
            "With no command, opens the form."
        ),
        epilog=(
            "The password is never taken as an argument: use --password-stdin, the "
            f"{PASSWORD_ENV} environment variable, or the no-echo prompt. "
            "Exit codes: 0 ok, 1 test failed, 2 invalid input or usage, "
            "3 config or secret store error."
        ),
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    _add_global_options(parser, suppress=False)
    # No prefix matching anywhere: `--password SECRET` must not become `--password-stdin`
    # followed by an "unrecognized argument" error that prints the secret.
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_NoAbbrevParser
    )
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.description)
        command.add_arguments(sub)
        _add_global_options(sub, suppress=True)
        sub.set_defaults(run=command.run)
    # Listed for --help only: `cli.run` hands `mailsetup sendmail ...` to `cli.sendmail`,
    # whose options are sendmail's, before this parser sees them.
    commands.add_parser("sendmail", help=SENDMAIL_SUMMARY, add_help=False)
    return parser


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


class _Version(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata is slow to import)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit(0)


class _NoAbbrevParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


class _RefusePasswordArgument(argparse.Action):
    """`--password VALUE`: refused without echoing VALUE, which is already in ps and history."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.exit(
            ExitCode.USAGE,
            f"{parser.prog}: error: the password is never taken as an argument (other users "
            "can read it in the process list, and it stays in the shell history): use "
            f"--password-stdin, {PASSWORD_ENV}, or the prompt. Change that password now if "
            "it was a real one.\n",
        )


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
        help="config file (default: $MAILSETUP_CONFIG, else the per-user config directory)",
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


def add_group_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--group",
        metavar="GROUP",
        help="let the members of GROUP use the account too (see `mailsetup access`); "
        "default: the readers group it has",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def add_password_stdin_option(parser: argparse.ArgumentParser | Any) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


def add_account_options(parser: argparse.ArgumentParser, *, password: bool) -> None:
    """The account to test, save or sign in; `password`: whether one can be given."""
    group = parser.add_argument_group(
        "account", "the account to use (all omitted: the saved account)"
    )
    group.add_argument(
        "--smtp-mail",
        choices=[p.value for p in ProviderId],
        help="the mail service: "
        + ", ".join(f"{p.id.value} ({p.label})" for p in PROVIDERS.values()),
    )
    group.add_argument("--display-name", metavar="NAME", help="the name shown in the From line")
    group.add_argument("--email", metavar="ADDR", help="the address the codes are sent from")
    group.add_argument("--server", metavar="HOST", help="SMTP server name (other only)")
    group.add_argument("--port", metavar="N", type=_port, help="SMTP server port (other only)")
    group.add_argument(
        "--security",
        choices=[s.value for s in Security],
        help="auto (TLS on 465, STARTTLS otherwise; the default), starttls, tls, or none "
        "(sends the password unencrypted) (other only)",
    )
    group.add_argument(
        "--client-id",
        metavar="GUID",
        help="Microsoft sign-in instead of a password: the Application (client) ID of your "
        "app registration (exchange, hotmail, other)",
    )
    group.add_argument(
        "--tenant",
        metavar="ID|DOMAIN",
        help="Microsoft sign-in: the Directory (tenant) ID or a domain of it (hotmail: "
        "always consumers)",
    )
    if password:
        add_password_stdin_option(group)
    group.add_argument(
        "--password", "-p", nargs="?", action=_RefusePasswordArgument, help=argparse.SUPPRESS
    )


def account_options_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, name) is not None for name in ACCOUNT_OPTIONS)


def account_from_options(args: argparse.Namespace) -> Account:
    """The account the options describe (unchecked); `UsageError` for missing or misplaced
    options."""
    if args.smtp_mail is None:
        raise UsageError("--smtp-mail is required when account options are given")
    provider = PROVIDERS[ProviderId(args.smtp_mail)]
    if provider.is_preset:
        for option in ("server", "port", "security"):
            if getattr(args, option) is not None:
                raise UsageError(
                    f"--{option} is only for --smtp-mail other ({provider.label} uses "
                    f"{provider.server}:{provider.port}, {provider.security.label})"
                )
    missing = [
        f"--{name.replace('_', '-')}"
        for name in ("display_name", "email")
        + (("server", "port") if not provider.is_preset else ())
        if getattr(args, name) is None
    ]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} for --smtp-mail {provider.id.value}")
    signin = None
    if args.client_id is not None or args.tenant is not None:
        signin = MicrosoftSignIn(args.client_id or "", args.tenant or "", default_authority_host())
    return Account.create(
        provider.id,
        args.display_name,
        args.email,
        server=args.server,
        port=args.port,
        security=args.security,
        signin=signin,
    )


def check_global_options(args: argparse.Namespace) -> None:
    """Refuse a deadline, login host or CA file that cannot work, before any command runs."""
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be between 0 and {MAX_TIMEOUT:g} seconds")
    try:
        default_authority_host()
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.ca_file is not None:
        path = Path(args.ca_file).expanduser()
        problem = ca_file_problem(path)
        if problem:
            raise UsageError(f"--ca-file {path}: {problem}")
        args.ca_file = str(path)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range (1-65535)")
    return port


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailsetup-tui")
    except PackageNotFoundError:
        return "unknown"
