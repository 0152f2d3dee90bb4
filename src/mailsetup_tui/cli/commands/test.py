"""`mailsetup test`: the given account, or the saved one, tested without sending anything."""

from __future__ import annotations

import argparse

from mailsetup_tui.cli.context import Command, Context
from mailsetup_tui.cli.credentials import draft_to_test
from mailsetup_tui.cli.options import add_account_options, add_json_option
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_account_options(parser, password=True)
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    outcome = context.test(draft_to_test(context))
    context.output.tested(outcome, config_path=str(context.session.config_path))
    return ExitCode.of(outcome.ok, temporary=outcome.temporary)


COMMAND = Command(
    name="test",
    help="test the given account, or the saved one when none is given",
    description=(
        "Connect, encrypt, log in and check that the account may send as its address, "
        "without sending anything. Tests the saved account when no account options are given."
    ),
    add_arguments=add_arguments,
    run=run,
)
