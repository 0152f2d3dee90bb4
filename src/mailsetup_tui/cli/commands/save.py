"""`mailsetup save`: test, then save only if the test passed (the spec's rule)."""

from __future__ import annotations

import argparse

from mailsetup_tui.cli.context import Command, Context
from mailsetup_tui.cli.credentials import draft_to_test
from mailsetup_tui.cli.options import (
    add_account_options,
    add_group_option,
    add_json_option,
    group_wanted,
)
from mailsetup_tui.cli.output import test_object
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_account_options(parser, password=True)
    add_group_option(parser)
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    context.session.store.check_may_change()
    draft = draft_to_test(context)
    outcome = context.test(draft)
    output, where = context.output, str(context.session.config_path)
    output.say(outcome.headline, outcome.detail)
    if not outcome.ok:
        output.say("Not saved: the test must pass first.")
        output.emit_json(test_object(outcome) | {"config_path": where})
        return ExitCode.of(False, temporary=outcome.temporary)
    saved = context.session.save(draft, group=group_wanted(context.args))
    output.saved(saved)
    output.emit_json(
        test_object(outcome) | {"changed": True, "config_path": where, "secret": saved.secret_where}
    )
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
