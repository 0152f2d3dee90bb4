"""`mailsetup show`: the saved account and where its config and secret live (never the
secret)."""

from __future__ import annotations

import argparse

from mailsetup_tui.cli.context import Command, Context
from mailsetup_tui.cli.options import add_json_option
from mailsetup_tui.cli.output import no_account_object, show_object, show_rows
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    output, session = context.output, context.session
    location = session.store.location
    config = session.store.load_config()
    if config is None:
        reason = (
            f"No saved account ({location.chosen.value}: the config would be at {location.path})."
        )
        output.say(reason)
        output.emit_json(no_account_object(location, reason))
        return ExitCode.STORE
    status = session.store.secret_status(config.account)
    output.emit_json(show_object(config, status, location))
    rows = show_rows(config, status, location)
    width = max(len(label) for label, _ in rows) + 2
    output.say(*(f"{label + ':':<{width}}{value}" for label, value in rows))
    return ExitCode.OK


COMMAND = Command(
    name="show",
    help="the saved account and where its config and password live (never the password)",
    add_arguments=add_arguments,
    run=run,
)
