"""What `sendmail` does besides sending: `mailq` (-bp), `newaliases` (-bi) and `-q`.

Other MTAs leave `mailq` and `newaliases` as links to /usr/sbin/sendmail, and Debian's
maintainer scripts and cron jobs call them; once /usr/sbin/sendmail is ours, they arrive here.
None of them reads a message, and each ends 0 when there is nothing wrong: "there is no queue"
is an answer, not an error.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO

from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.relay_status import queue_lines, relay_status, wake_relay
from mailsetup_tui.core.relay_wire import SOCKET_ENV, relay_wanted, socket_path
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.spool import Spool, SpoolError
from mailsetup_tui.core.store import StoreError
from mailsetup_tui.exit_codes import Sysexit
from mailsetup_tui.sendmail.options import ALIASES, FLUSH, QUEUE, Options


def run_mode(options: Options, *, out: TextIO, err: TextIO, prog: str) -> int:
    """Carry out `options.mode` (QUEUE, ALIASES or FLUSH); the exit code."""
    if options.mode == ALIASES:
        return _newaliases(err, prog)
    settings, may_list = _relay_settings(options.config)
    if options.mode == FLUSH:
        return _flush(settings, out)
    if options.mode == QUEUE:
        return _mailq(settings, may_list, out)
    raise AssertionError(f"not a mode of its own: {options.mode}")


def _newaliases(err: TextIO, prog: str) -> int:
    """Nothing to rebuild: the aliases live in the config. Silent for scripts (Debian's call
    newaliases after installing an MTA); a person at a terminal is told where they are."""
    if sys.stdin.isatty():
        print(
            f"{prog}: nothing to do: mailsetup does not read /etc/aliases; local names are "
            "mapped in the config's [aliases] table (mailsetup aliases NAME=ADDRESS)",
            file=err,
        )
    return Sysexit.EX_OK


def _mailq(settings: RelaySettings, may_list: bool, out: TextIO) -> int:
    status = relay_status(settings) if relay_wanted() else None
    if status is None or not status.set_up:
        print(
            f"There is no queue: no mailsetup relay answers at {settings.socket}, so each "
            "message is sent at once (or refused at once, with the reason).",
            file=out,
        )
        return Sysexit.EX_OK
    print(f"{status.headline()}.", file=out)
    if may_list:
        try:
            entries = Spool(settings.spool).entries()
        except (SpoolError, OSError) as error:
            print(f"The queue cannot be read: {error}", file=out)
            return Sysexit.EX_OK
        print("\n".join(queue_lines(entries, time.time())), file=out)
    elif status.queued or status.failed:
        print("Root and the account's owner see the messages: mailsetup queue.", file=out)
    return Sysexit.EX_OK


def _flush(settings: RelaySettings, out: TextIO) -> int:
    """`sendmail -q`: ask the relay to try its queue now (each message at its own next try
    otherwise); without one, there is nothing to run."""
    if relay_wanted() and wake_relay(settings):
        print("The relay was told to try its queue now.", file=out)
    else:
        print(
            f"There is no queue to run: no mailsetup relay answers at {settings.socket}.", file=out
        )
    return Sysexit.EX_OK


def _relay_settings(config: str | None) -> tuple[RelaySettings, bool]:
    """The relay's settings from the account's config where this user may read it (and
    whether they may list the messages: its owner, or root), else the defaults. The socket
    is the one the sendmail command hands messages to ($MAILSETUP_RELAY_SOCKET first)."""
    settings, may_list = RelaySettings(), False
    try:
        store = SetupSession.at(config).store
        saved = store.load_config()
        if saved is not None:
            settings = saved.relay_settings
            store.check_may_change()
            may_list = True
    except (StoreError, OSError):
        pass
    if os.environ.get(SOCKET_ENV):
        settings = settings._replace(socket=Path(socket_path()))
    return settings, may_list
