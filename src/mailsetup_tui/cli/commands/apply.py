"""`mailsetup apply FILE`: make the saved account match a file, idempotently, for fleets."""

from __future__ import annotations

import argparse
from pathlib import Path

from mailsetup_tui.cli.context import Command, Context, UsageError
from mailsetup_tui.cli.credentials import explicit_password, refuse_password
from mailsetup_tui.cli.options import (
    add_group_option,
    add_json_option,
    add_password_stdin_option,
    group_wanted,
)
from mailsetup_tui.core.account import AccountDraft
from mailsetup_tui.core.store.types import KEEP, StoreError
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the account, as TOML")
    parser.add_argument("--check", action="store_true", help="test and report; never save")
    add_password_stdin_option(parser)
    add_group_option(parser)
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    output, session = context.output, context.session
    if not context.args.check:
        session.store.check_may_change()
    try:
        wanted = session.read_account_file(Path(context.args.file))
    except StoreError as error:
        raise UsageError(str(error)) from None
    if wanted.signin is not None:
        # A device-code sign-in needs a person: `mailsetup signin` once per host, then apply
        # keeps the account in line with the file.
        refuse_password(context)
        draft = AccountDraft.of(wanted)
    else:
        # No password given: the saved one, when the file is for the saved address.
        draft = AccountDraft.of(wanted, explicit_password(context) or "")
    outcome = context.test(draft)
    result: dict[str, object] = {"config_path": str(session.config_path)}
    if not outcome.ok:
        output.tested(outcome, **result)
        return ExitCode.of(False, temporary=outcome.temporary)
    group = group_wanted(context.args)
    if session.tested_is_saved(draft) and group in {KEEP, _saved_group(context)}:
        result |= {"result": "unchanged"}
        said = "unchanged"
    elif context.args.check:
        result |= {"changed": True, "result": "would change"}
        said = "would change (not saved: --check)"
    else:
        saved = session.save(draft, group=group)
        result |= {"changed": True, "result": "changed", "secret": saved.secret_where}
        said = "changed"
    output.tested(outcome, **result)
    output.say(said)
    return ExitCode.OK


def _saved_group(context: Context) -> str | None:
    config = context.session.store.load_config()
    return config.group if config else None


COMMAND = Command(
    name="apply",
    help="make the saved account match a TOML file: test, save only if it differs",
    description=(
        "Read an account from FILE (the config's schema, no password), test it, and save it "
        "only if it differs from the saved one; prints `changed` or `unchanged`. The password "
        "comes from --password-stdin or MAILSETUP_PASSWORD, else the saved one when the "
        "address is the same."
    ),
    add_arguments=add_arguments,
    run=run,
)
