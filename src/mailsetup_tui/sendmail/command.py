"""`mailsetup-sendmail`, also `mailsetup sendmail` or any link named `sendmail`: the host's
mail transport, through the saved account.

Programs on a server rarely speak SMTP: PHP's mail(), cron, mailx, git send-email and
monitoring scripts call /usr/sbin/sendmail with a message on standard input, and expect
sendmail's options (`sendmail.options`) and its exit codes (sysexits.h). This module reads the
message, hands it to the session, and maps each outcome and error to one exit code: the
message rules are in `core.handover`, the sending in the session, so a message goes out exactly
as `mailsetup send` would send it (TLS rules, deadline, Microsoft sign-in).

This is the way without the relay (`sendmail.handoff` is the way with it): no queue, so a
failure is reported to the caller at once, 75 (EX_TEMPFAIL) when trying again may pass. Every
message, sent or not, leaves one record line (`mail_log`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO

from mailsetup_tui.core.handover import Handover, Malformed, UnknownLocalRecipient
from mailsetup_tui.core.message import InvalidMessage
from mailsetup_tui.core.outcomes import HandoverOutcome
from mailsetup_tui.core.providers import Security
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.step_log import show_steps
from mailsetup_tui.core.store import StoredConfig, StoreError, owner_name
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.exit_codes import Sysexit
from mailsetup_tui.mail_log import as_field, quoted, recipients_field, record
from mailsetup_tui.sendmail.handoff import TooLarge, read_message
from mailsetup_tui.sendmail.options import Options

# --- one run --------------------------------------------------------------------------------


@dataclass
class Run:
    """One message's way through the command, and its record (one line, as msmtp logs)."""

    prog: str
    err: TextIO
    verbose: bool = False
    config: StoredConfig | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def say(self, line: str) -> None:
        print(f"{self.prog}: {shown(line)}", file=self.err, flush=True)

    def end(self, code: Sysexit, reason: str = "") -> Sysexit:
        """Say why on standard error (unless sent), and record the message."""
        if code is not Sysexit.EX_OK:
            self.say(reason)
            self.fields["errormsg"] = quoted(reason)
        self.fields["exitcode"] = code.name
        record(self.line(), error=code is not Sysexit.EX_OK, log=self.log, note=self.note)
        return code

    @property
    def log(self) -> Path | None:
        return self.config.log if self.config else None

    def line(self) -> str:
        return " ".join(f"{key}={value}" for key, value in self.fields.items())

    def note(self, line: str) -> None:
        """A line for -v only."""
        if self.verbose:
            self.say(line)


def send_directly(
    options: Options,
    *,
    stdin: BinaryIO,
    err: TextIO,
    prog: str,
    relay_absent: str | None = None,
) -> Sysexit:
    """Send the message on `stdin` through the saved account ourselves (no relay runs, or
    the caller named a config); the exit code (never raises). `relay_absent`: why the relay
    was not used, said when the account cannot be read either."""
    state = Run(prog, err)
    state.verbose = options.verbose
    if options.verbose:
        show_steps(err)
    state.fields["caller"] = owner_name(os.getuid())  # which service sent it: what logs are for
    try:
        session = SetupSession.at(options.config)
    except StoreError as error:  # a config path that cannot be one
        return state.end(Sysexit.EX_CONFIG, f"cannot use the saved account: {error}")
    terminated = _on_sigterm()
    try:
        return _send(state, session, options, stdin)
    except StoreError as error:  # the config, or the secret
        if error.permission and relay_absent:
            return state.end(
                Sysexit.EX_NOPERM,
                f"the relay is not running ({relay_absent}) and you cannot read the account: "
                f"{error}",
            )
        code = Sysexit.EX_NOPERM if error.permission else Sysexit.EX_CONFIG
        return state.end(code, f"cannot use the saved account: {error}")
    except UnknownLocalRecipient as error:
        return state.end(
            Sysexit.EX_NOUSER,
            f"not sent: no address for the local recipient {error.name!r}: add one to the "
            f"[aliases] table of {session.config_path} (mailsetup aliases {error.name}=ADDRESS"
            ", or default=ADDRESS for every local name)",
        )
    except (Malformed, TooLarge, InvalidMessage) as error:
        return state.end(Sysexit.EX_DATAERR, f"not sent: {error}")
    except KeyboardInterrupt:  # Ctrl+C, or SIGTERM as `Terminated`
        return state.end(Sysexit.EX_TEMPFAIL, "interrupted; the message was not sent")
    except Exception as error:  # last resort: no traceback, which might carry a secret
        text = session.secrets.redact(f"{type(error).__name__}: {error}")
        return state.end(Sysexit.EX_SOFTWARE, f"internal error: {text}")
    finally:
        terminated()


def _on_sigterm() -> Callable[[], None]:
    """Raise `Terminated` on SIGTERM while a message is on its way (in the main thread, where
    signals are handled); returns what puts the previous handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, _terminated)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def _send(state: Run, session: SetupSession, options: Options, stdin: BinaryIO) -> Sysexit:
    """Read, prepare and send the message, filling in its record as each fact is known; the
    errors on the way are mapped to exit codes by `run`."""
    state.config = session.store.saved_config()
    account = state.config.account
    state.fields["server"] = f"{account.server}:{account.port}"
    state.fields["tls"] = "off" if account.transport_security is Security.NONE else "on"
    state.fields["from"] = account.email
    if options.sender_wish and options.sender_wish.lower() != account.email.lower():
        state.fields["requested_from"] = as_field(options.sender_wish)
        state.note(f"the envelope sender is {account.email}, not {options.sender_wish}")
    message = read_message(stdin, dot_ends=options.dot_ends)
    state.fields["mailsize"] = str(len(message))
    wanted = [*options.recipients, *(["(-t)"] if options.from_headers else [])]
    state.fields["recipients"] = recipients_field(wanted)  # the resolved ones once known
    handover = Handover(
        message,
        tuple(options.recipients),
        from_headers=options.from_headers,
        sender_wish=options.sender_wish,
        full_name=options.full_name,
    )
    return _finish(state, asyncio.run(session.send_handover(handover)))


def _finish(state: Run, outcome: HandoverOutcome) -> Sysexit:
    prepared = outcome.prepared
    state.fields["message_id"] = as_field(prepared.message_id)
    state.fields["recipients"] = recipients_field(prepared.recipients)
    for note in prepared.notes:
        state.note(note)
    if outcome.sent is not None:
        state.fields["mailsize"] = str(outcome.sent.size)
        state.fields["smtpmsg"] = quoted(outcome.sent.reply)
        state.note(f"sent to {', '.join(outcome.sent.recipients)}: {outcome.sent.reply}")
        return state.end(Sysexit.EX_OK)
    if outcome.temporary:
        return state.end(Sysexit.EX_TEMPFAIL, f"not sent (temporary failure): {outcome.reason}")
    code = Sysexit.EX_DATAERR if outcome.too_large else Sysexit.EX_UNAVAILABLE
    return state.end(code, f"not sent: {outcome.reason}")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service stopping, a time-out in the caller): the message still gets its
    record line and a code that says to try again. A KeyboardInterrupt, because asyncio lets
    only that (and SystemExit) out of a transport's callbacks: any other exception raised
    where the signal lands is taken for a broken connection ("127.0.0.1 closed the connection
    during RCPT TO") and the send ends as a network failure, not as interrupted."""


def _terminated(signum: int, frame: object) -> NoReturn:
    raise Terminated
