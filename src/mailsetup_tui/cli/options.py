"""The options several commands share: the account, the password's source, --group, --json.

Each command module adds the ones it takes (`cli.commands`); the parser (`cli.parser`) builds
the whole grammar from the commands.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mailsetup_tui.cli.context import UsageError
from mailsetup_tui.core.account import (
    AccountDraft,
    SignInMethod,
    default_authority_host,
    port_problem,
)
from mailsetup_tui.core.fields import OTHER_ONLY, SPECS, Field, FieldSpec
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security
from mailsetup_tui.core.store.types import KEEP, Keep
from mailsetup_tui.exit_codes import ExitCode

if TYPE_CHECKING:
    from mailsetup_tui.cli.context import Options

PASSWORD_ENV = "MAILSETUP_PASSWORD"

ACCOUNT_OPTIONS = tuple(SPECS[field] for field in Field if SPECS[field].option)
"""The account's fields that are options (none given: the saved account), in --help's order."""


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


def group_wanted(args: Options) -> str | Keep:
    """The readers group a save records: --group, else the one the account has."""
    return KEEP if args.group is None else str(args.group)


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
    for spec in ACCOUNT_OPTIONS:
        group.add_argument(str(spec.option), **_argument(spec))
    if password:
        add_password_stdin_option(group)
    group.add_argument(
        "--discover",
        action="store_true",
        help="with --smtp-mail other and no --server: find server, port and security from the "
        "address, as `mailsetup discover` does (autoconfig, SRV, MX)",
    )
    group.add_argument(
        "--password", "-p", nargs="?", action=_RefusePasswordArgument, help=argparse.SUPPRESS
    )


def _argument(spec: FieldSpec) -> dict[str, Any]:
    """How argparse takes `spec`'s option, with its help from the field table."""
    help_text = spec.help + (" (other only)" if spec.other_only else "")
    if spec.field is Field.SMTP_MAIL:
        listed = ", ".join(f"{entry.id.value} ({entry.label})" for entry in PROVIDERS.values())
        return {"choices": [p.value for p in ProviderId], "help": f"{help_text}: {listed}"}
    if spec.field is Field.SECURITY:
        return {"choices": [s.value for s in Security], "help": help_text}
    if spec.field is Field.PORT:
        return {"metavar": spec.metavar, "type": _port, "help": help_text}
    return {"metavar": spec.metavar, "help": help_text}


def account_options_given(args: Options) -> bool:
    return any(getattr(args, str(spec.dest)) is not None for spec in ACCOUNT_OPTIONS)


def draft_from_options(args: Options) -> AccountDraft:
    """The values the options give, as a draft for the session to check; `UsageError` for
    missing options, or server, port or security given for a preset."""
    if args.smtp_mail is None:
        raise UsageError("--smtp-mail is required when account options are given")
    entry = PROVIDERS[ProviderId(args.smtp_mail)]
    fixed = entry.connection
    if fixed is not None:
        for spec in OTHER_ONLY:
            if getattr(args, str(spec.dest)) is not None:
                raise UsageError(
                    f"{spec.option} is only for --smtp-mail other ({entry.label} uses "
                    f"{fixed.server}:{fixed.port}, {fixed.security.label})"
                )
    required = [Field.DISPLAY_NAME, Field.EMAIL, *([] if fixed else [Field.SERVER, Field.PORT])]
    missing = [
        str(SPECS[field].option)
        for field in required
        if getattr(args, str(SPECS[field].dest)) is None
    ]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} for --smtp-mail {entry.id.value}")
    microsoft = args.client_id is not None or args.tenant is not None
    return AccountDraft(
        entry.id,
        display_name=args.display_name,
        email=args.email,
        server=args.server or "",
        port="" if args.port is None else str(args.port),
        security=Security(args.security or Security.AUTO),
        signin=SignInMethod.MICROSOFT if microsoft else SignInMethod.PASSWORD,
        client_id=args.client_id or "",
        tenant=args.tenant or "",
        authority_host=default_authority_host(),
    )


def _port(text: str) -> int:
    problem = port_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem.message)
    return int(text)
