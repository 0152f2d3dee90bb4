"""What the relay says: one record line per message and event (queued, sent, deferred,
failed, expired) in the system log and the config's log file, as the sendmail command writes
them; and, on standard error (the journal under systemd), starting, stopping and problems."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from mailsetup_tui.core.spool import Entry
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.mail_log import as_field, quoted, recipients_field, record

IDENT = "mailsetup-relay"


class RelayLog:
    def __init__(self, err: TextIO | None = None, *, verbose: bool = False) -> None:
        self.err = err or sys.stderr
        self.verbose = verbose
        self.log_file: Path | None = None
        """The config's `log`, once the account is read."""

    def say(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} mailsetup relay: {shown(line)}", file=self.err, flush=True)

    def problem(self, line: str) -> None:
        self.say(line)
        record(line, error=True, log=self.log_file, ident=IDENT)

    def event(self, what: str, entry: Entry, *, error: bool = False, **fields: str) -> None:
        """One record line for `entry`: `queued`, `sent`, `deferred`, `failed`, `expired`."""
        words = {
            "id": entry.id,
            "event": what,
            "caller": as_field(entry.envelope.caller),
            "recipients": recipients_field(entry.envelope.recipients),
            "message_id": as_field(entry.envelope.message_id),
            "mailsize": str(entry.envelope.size),
        }
        for key, value in fields.items():
            words[key] = quoted(value) if key in {"reason", "smtpmsg"} else as_field(value)
        line = " ".join(f"{key}={value}" for key, value in words.items())
        record(line, error=error, log=self.log_file, ident=IDENT)
        if self.verbose or error:
            self.say(line)
