"""`mailsetup queue`: the relay's queued and failed messages, and what to do with them.

Only the account's owner (and root) may see or change the queue: the spool belongs to the
relay's user, and the envelope says who mails whom. The body is never printed. Changes are
made to the spool itself (each a rename or a small atomic write, safe beside a running relay,
which holds the message it is delivering); the relay is then woken to look at once.
"""

from __future__ import annotations

import argparse
import sys
import time

from mailsetup_tui.cli.context import Command, Context, UsageError
from mailsetup_tui.cli.options import add_json_option
from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.relay_status import queue_lines, wake_relay
from mailsetup_tui.core.spool import EntryState, Spool
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_mutually_exclusive_group()
    actions.add_argument(
        "--flush", action="store_true", help="try every queued message now, not at its next try"
    )
    actions.add_argument(
        "--retry", metavar="ID", help="try message ID now (a failed one goes back to the queue)"
    )
    actions.add_argument("--drop", metavar="ID", help="remove message ID for good (asks first)")
    parser.add_argument("--yes", action="store_true", help="--drop without asking")
    add_json_option(parser)


def relay_settings(context: Context) -> RelaySettings:
    """The relay's settings from the saved account, once its owner (or root) is asking."""
    store = context.session.store
    config = store.saved_config()
    store.check_may_change()
    return config.relay_settings


def run(context: Context) -> ExitCode:
    args, output = context.args, context.output
    settings = relay_settings(context)
    spool = Spool(settings.spool)
    if args.flush:
        count = spool.flush()
        woken = wake_relay(settings)
        output.say(f"{count} queued message{'s' if count != 1 else ''} due now.", _woken(woken))
    elif args.retry:
        return _retry(context, spool, settings, args.retry)
    elif args.drop:
        return _drop(context, spool, args.drop)
    entries = spool.entries()
    now = time.time()
    output.say(*queue_lines(entries, now))
    output.emit_json(
        {"status": "ok", "spool": str(spool.root), "messages": [e.as_json(now) for e in entries]}
    )
    return ExitCode.OK


def _retry(context: Context, spool: Spool, settings: RelaySettings, entry_id: str) -> ExitCode:
    if not spool.retry(entry_id):  # `Busy` (being delivered right now) is a 75 (`cli.main`)
        raise UsageError(f"there is no message {entry_id} in the queue (see mailsetup queue)")
    context.output.say(f"{entry_id} is due now.", _woken(wake_relay(settings)))
    context.output.emit_json({"status": "ok", "id": entry_id, "action": "retry"})
    return ExitCode.OK


def _drop(context: Context, spool: Spool, entry_id: str) -> ExitCode:
    entry = spool.entry(entry_id, EntryState.QUEUED) or spool.entry(entry_id, EntryState.FAILED)
    if entry is None:
        raise UsageError(f"there is no message {entry_id} in the queue (see mailsetup queue)")
    if not context.args.yes:
        if not sys.stdin.isatty():
            raise UsageError("--drop asks first; without a terminal, add --yes")
        recipients = ", ".join(entry.envelope.recipients) or "(no recipients)"
        answer = input(f"Drop {entry_id} ({entry.state.value}, to {shown(recipients)})? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            context.output.say("Nothing dropped.")
            return ExitCode.FAILED
    if not spool.drop(entry_id):
        raise UsageError(f"{entry_id} left the queue meanwhile (delivered, or dropped)")
    context.output.say(f"Dropped {entry_id}.")
    context.output.emit_json({"status": "ok", "id": entry_id, "action": "drop"})
    return ExitCode.OK


def _woken(woken: bool) -> str:
    if woken:
        return "The relay was told to try now."
    return "The relay is not running: it tries them when it starts."


COMMAND = Command(
    name="queue",
    help="the relay's queued and failed messages: list, flush, retry, drop",
    description=(
        "List the messages the relay holds (queued: not yet delivered; failed: given up, with "
        "the reason), never their bodies. --flush tries every queued message now, --retry ID "
        "one (a failed one goes back to the queue), --drop ID removes one for good. Only the "
        "account's owner and root may see or change the queue."
    ),
    add_arguments=add_arguments,
    run=run,
)
