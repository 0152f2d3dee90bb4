"""`mailsetup access`: who may use the saved account, and letting a service's group use it."""

from __future__ import annotations

import argparse

from mailsetup_tui.cli.context import Command, Context
from mailsetup_tui.cli.options import add_json_option
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    change = parser.add_mutually_exclusive_group()
    change.add_argument(
        "--group",
        metavar="GROUP",
        help="let the members of GROUP use the account (test, send, show): the directory "
        "becomes root:GROUP 0750, the config and secret root:GROUP 0640",
    )
    change.add_argument(
        "--none", action="store_true", help="take group access away: the owner alone"
    )
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    args, session = context.args, context.session
    if args.group is not None or args.none:
        readers = session.store.set_readers(None if args.none else args.group)
    else:
        readers = session.store.readers()
    context.output.say(readers.describe())
    context.output.emit_json(
        {
            "status": "ok",
            "config_path": str(readers.config_path),
            "owner": readers.owner,
            "group": readers.group,
            "members": list(readers.members),
            "warnings": list(readers.warnings),
        }
    )
    return ExitCode.OK


COMMAND = Command(
    name="access",
    help="who may use the saved account; --group lets a service's group use it",
    description=(
        "Without options: who can read the saved account. --group GROUP (the account's owner "
        "only) lets the members of GROUP, such as the user a service runs as, test and send "
        "with it; the group is recorded in the config and kept by every later save. --none "
        "takes that away."
    ),
    add_arguments=add_arguments,
    run=run,
)
