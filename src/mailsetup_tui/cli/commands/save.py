"""`mailsetup save`: test, then save only if the test passed (the spec's rule)."""

from __future__ import annotations

import argparse

from mailsetup_tui.cli.context import Command, Context
from mailsetup_tui.cli.credentials import draft_to_test
from mailsetup_tui.cli.options import add_account_options, add_group_option, group_wanted
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_account_options(parser, password=True)
    add_group_option(parser)


def run(context: Context) -> ExitCode:
    context.session.store.check_may_change()
    draft = draft_to_test(context)
    outcome = context.test(draft)
    context.output.tested(outcome)
    if not outcome.ok:
        context.output.say("Not saved: the test must pass first.")
        return ExitCode.of(False, temporary=outcome.temporary)
    context.output.saved(context.session.save(draft, group=group_wanted(context.args)))
    return ExitCode.OK


COMMAND = Command(
    name="save",
    help="test, then save only if the test passed",
    description=(
        "Test the account and save it only if the test passed. With no account options, "
        "re-tests and re-saves the saved account (e.g. with a new password)."
    ),
    add_arguments=add_arguments,
    run=run,
)
