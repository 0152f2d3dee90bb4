"""The options several commands share: the account, the password's source, --group, --json.

Each command module adds the ones it takes (`cli.commands`); the parser (`cli.parser`) builds
the whole grammar from the commands.
"""

from __future__ import annotations

import argparse
from typing import Any

from mailsetup_tui.cli.context import UsageError
from mailsetup_tui.core.account import (
    Account,
    MicrosoftSignIn,
    default_authority_host,
)
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security
from mailsetup_tui.exit_codes import ExitCode

PASSWORD_ENV = "MAILSETUP_PASSWORD"

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


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range (1-65535)")
    return port
