"""`mailsetup-sendmail`, also `mailsetup sendmail` or any link named `sendmail`: the host's
mail transport, through the saved account.

Programs on a server rarely speak SMTP: PHP's mail(), cron, mailx, git send-email and
monitoring scripts call /usr/sbin/sendmail with a message on standard input, and expect
sendmail's options and its exit codes (sysexits.h). This module is that interface and nothing
else: the message rules are in `core.relay`, the sending in the session, so a message goes
out exactly as `mailsetup send` would send it (TLS rules, deadline, Microsoft sign-in).

No queue, by design: a verification code that arrives an hour late is useless, so a failure
is reported to the caller at once, 75 (EX_TEMPFAIL) when trying again may pass. Every message,
sent or not, leaves one line in the system log (LOG_MAIL) and, when the config names one, in a
log file, in the manner of msmtp: never the body, never a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO

from mailsetup_tui.core.account import InvalidMessage
from mailsetup_tui.core.outcomes import RelayOutcome
from mailsetup_tui.core.providers import Security
from mailsetup_tui.core.relay import Handover, Malformed, UnknownLocalRecipient
from mailsetup_tui.core.session import SetupSession, StoredConfig, StoreError, owner_name
from mailsetup_tui.core.untrusted import shown

SYSLOG_SOCKET = "/dev/log"
SYSLOG_ENV = "MAILSETUP_SYSLOG"
"""Another socket for the system log, or `none` for no system log (a container without one,
a test that must not write to the machine's journal)."""
SYSLOG_IDENT = "mailsetup-sendmail"
LOG_MAIL = 2 << 3
LOG_ERR, LOG_INFO = 3, 6
MAX_MESSAGE = 64 * 1024 * 1024
"""Bytes of one message at most: more than any provider takes (Gmail: 25 MB), so a runaway
pipe fails fast instead of filling memory."""

HELP = f"""\
usage: sendmail [options] [--] [recipient ...]
       mailsetup sendmail [options] [--] [recipient ...]

Read one message (RFC 5322: headers, a blank line, the body) on standard input and send it
through the saved account, as /usr/sbin/sendmail does. The envelope sender and the From address
are always the account's own (providers refuse others); a different From goes to Reply-To.
Nothing is queued: a failure is reported at once (exit 75: try again later).

options:
  -t            also send to the To, Cc and Bcc of the message (Bcc is removed)
  -i, -oi       a line with a single dot does not end the message
  -f ADDR, -r ADDR
                the sender the caller wants: recorded in the log, not used
  -F NAME       the sender's name, for a message without From
  -C FILE       the config file (default: $MAILSETUP_CONFIG, else as mailsetup finds it)
  -v            say on standard error what was changed, and each step of the connection
  --help        this text
  ignored, as other MTAs do: -odi -odb -oem -oep -B8BITMIME -bm, and other -o options

Local recipients (root, as cron writes) go to the config's [aliases]: mailsetup aliases.
Exit codes (sysexits): 0 sent, 64 usage, 65 malformed or too large, 67 unknown local recipient,
69 refused by the server, 70 internal error, 75 temporary failure, 77 no permission to use the
account, 78 no account saved or a broken config. Each message is logged to syslog (facility
mail, tag {SYSLOG_IDENT}; ${SYSLOG_ENV}=none turns that off) and to the config's log file.
"""


class Sysexit(IntEnum):
    """sysexits.h, the codes callers of sendmail act on (75: try again later)."""

    EX_OK = 0
    EX_USAGE = 64
    EX_DATAERR = 65
    EX_NOUSER = 67
    EX_UNAVAILABLE = 69
    EX_SOFTWARE = 70
    EX_TEMPFAIL = 75
    EX_NOPERM = 77
    EX_CONFIG = 78


class UsageError(Exception):
    """The command line is not one sendmail's callers write."""


@dataclass
class Options:
    """What the caller's command line asked for."""

    recipients: list[str] = field(default_factory=list)
    from_headers: bool = False
    dot_ends: bool = True
    sender_wish: str | None = None
    full_name: str | None = None
    config: str | None = None
    verbose: bool = False
    help: bool = False


_WITH_VALUE = "fFrCBbo"
"""Options that take a value, joined (`-fADDR`) or as the next word (`-f ADDR`), as getopt."""


def parse(argv: Sequence[str]) -> Options:
    """sendmail's grammar (getopt, POSIX order): options, then recipients; `UsageError`."""
    options = Options()
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            break
        if word in {"--help", "-h"}:
            options.help = True
            continue
        if not word.startswith("-") or word == "-":
            words.insert(0, word)
            break
        if word.startswith("--"):
            raise UsageError(f"unknown option {word.split('=')[0]}")
        letters = word[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            if letter in _WITH_VALUE:
                if not letters:
                    if not words:
                        raise UsageError(f"-{letter} needs a value")
                    letters = words.pop(0)
                _apply(options, letter, letters)
                break
            if letter == "t":
                options.from_headers = True
            elif letter == "i":
                options.dot_ends = False
            elif letter == "v":
                options.verbose = True
            elif letter == "q":
                raise UsageError("-q: there is no queue; each message is sent at once")
            else:
                raise UsageError(f"unknown option -{letter}")
    options.recipients = words
    return options


def _apply(options: Options, letter: str, value: str) -> None:
    if letter in "fr":
        options.sender_wish = value
    elif letter == "F":
        options.full_name = value
    elif letter == "C":
        options.config = value
    elif letter == "o" and value == "i":
        options.dot_ends = False
    elif letter == "b" and value == "p":
        raise UsageError("-bp: there is no queue; each message is sent at once")
    elif letter == "b" and value != "m":
        raise UsageError(f"-b{value}: only -bm (read a message on standard input) is supported")
    # -o (-odi, -odb, -oem, -oep, ...) and -B (-B8BITMIME): accepted and ignored, as msmtp
    # and nullmailer do: delivery is always at once, errors always go to the exit code.


def read_message(stream: BinaryIO, *, dot_ends: bool) -> bytes:
    """The message on `stream`: to its end, or (without -i) to a line with a single dot."""
    lines: list[bytes] = []
    total = 0
    while line := stream.readline(MAX_MESSAGE - total + 1):
        if dot_ends and line.rstrip(b"\r\n") == b".":
            break
        total += len(line)
        if total > MAX_MESSAGE:
            raise Malformed(f"the message is larger than {MAX_MESSAGE // 2**20} MiB")
        lines.append(line)
    return b"".join(lines)


# --- one run ----------------------------------------------------------------------------------


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
            self.fields["errormsg"] = _quoted(reason)
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


def run(
    argv: Sequence[str],
    *,
    stdin: BinaryIO | None = None,
    err: TextIO | None = None,
    prog: str = "sendmail",
) -> Sysexit:
    """Send the message on `stdin` as `argv` asks; the exit code (never raises)."""
    err = err or sys.stderr
    state = Run(prog, err)
    try:
        options = parse(argv)
    except UsageError as error:
        state.say(f"{error} (see {prog} --help)")
        return Sysexit.EX_USAGE
    if options.help:
        print(HELP, end="", flush=True)
        return Sysexit.EX_OK
    state.verbose = options.verbose
    if options.verbose:
        from mailsetup_tui.cli.output import configure_logging

        configure_logging(True, err)
    state.fields["caller"] = owner_name(os.getuid())  # which service sent it: what logs are for
    session = SetupSession.at(options.config)
    try:
        return _send(state, session, options, stdin or sys.stdin.buffer)
    except StoreError as error:  # the config, or the secret
        code = Sysexit.EX_NOPERM if error.permission else Sysexit.EX_CONFIG
        return state.end(code, f"cannot use the saved account: {error}")
    except UnknownLocalRecipient as error:
        return state.end(
            Sysexit.EX_NOUSER,
            f"not sent: no address for the local recipient {error.name!r}: add one to the "
            f"[aliases] table of {session.config_path} (mailsetup aliases {error.name}=ADDRESS"
            ", or default=ADDRESS for every local name)",
        )
    except (Malformed, InvalidMessage) as error:
        return state.end(Sysexit.EX_DATAERR, f"not sent: {error}")
    except KeyboardInterrupt:
        return state.end(Sysexit.EX_TEMPFAIL, "interrupted; the message was not sent")
    except Exception as error:  # last resort: no traceback, which might carry a secret
        text = session.secrets.redact(f"{type(error).__name__}: {error}")
        return state.end(Sysexit.EX_SOFTWARE, f"internal error: {text}")


def _send(state: Run, session: SetupSession, options: Options, stdin: BinaryIO) -> Sysexit:
    """Read, prepare and send the message, filling in its record as each fact is known; the
    errors on the way are mapped to exit codes by `run`."""
    state.config = session.sending_config()
    account = state.config.account
    state.fields["server"] = f"{account.server}:{account.port}"
    state.fields["tls"] = "off" if account.transport_security is Security.NONE else "on"
    state.fields["from"] = account.email
    if options.sender_wish and options.sender_wish.lower() != account.email.lower():
        state.fields["requested_from"] = _value(options.sender_wish)
        state.note(f"the envelope sender is {account.email}, not {options.sender_wish}")
    message = read_message(stdin, dot_ends=options.dot_ends)
    state.fields["mailsize"] = str(len(message))
    wanted = [*options.recipients, *(["(-t)"] if options.from_headers else [])]
    state.fields["recipients"] = _value(",".join(wanted))  # the resolved ones once known
    handover = Handover(
        message,
        tuple(options.recipients),
        from_headers=options.from_headers,
        sender_wish=options.sender_wish,
        full_name=options.full_name,
    )
    return _finish(state, asyncio.run(session.relay(handover, state.config)))


def _finish(state: Run, outcome: RelayOutcome) -> Sysexit:
    prepared = outcome.prepared
    state.fields["message_id"] = prepared.message_id
    state.fields["recipients"] = ",".join(prepared.recipients)
    for note in prepared.notes:
        state.note(note)
    if outcome.sent is not None:
        state.fields["mailsize"] = str(outcome.sent.size)
        state.fields["smtpmsg"] = _quoted(outcome.sent.reply)
        state.note(f"sent to {', '.join(outcome.sent.recipients)}: {outcome.sent.reply}")
        return state.end(Sysexit.EX_OK)
    if outcome.temporary:
        return state.end(Sysexit.EX_TEMPFAIL, f"not sent (temporary failure): {outcome.reason}")
    code = Sysexit.EX_DATAERR if outcome.too_large else Sysexit.EX_UNAVAILABLE
    return state.end(code, f"not sent: {outcome.reason}")


# --- the record ---------------------------------------------------------------------------


def record(
    line: str, *, error: bool, log: Path | None, note: Callable[[str], None] | None = None
) -> None:
    """`line` to the system log and, when the config names one, to the log file: best
    effort, since the message's fate is already decided and the exit code says it."""
    _to_syslog(line, error=error)
    if log is None:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        descriptor = os.open(
            log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640
        )
        with os.fdopen(descriptor, "a", encoding="utf-8") as file:
            file.write(f"{stamp} {line}\n")
    except OSError as problem:
        warning = f"cannot write the log file {log} ({problem.strerror})"
        _to_syslog(warning, error=True)
        if note is not None:
            note(warning)


def _to_syslog(line: str, *, error: bool) -> None:
    """One RFC 3164 datagram to the local syslog socket (journald and rsyslog both listen
    there); nothing where there is none, as in a container."""
    where = os.environ.get(SYSLOG_ENV, SYSLOG_SOCKET)
    if where in {"", "none"}:
        return
    priority = LOG_MAIL | (LOG_ERR if error else LOG_INFO)
    stamp = time.strftime("%b %e %H:%M:%S")
    packet = f"<{priority}>{stamp} {SYSLOG_IDENT}[{os.getpid()}]: {line}".encode()
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(where)
        sock.send(packet)


def _quoted(text: str) -> str:
    """Text (perhaps a server's) for a log line: one line, sanitised, in single quotes."""
    return "'" + shown(" ".join(text.split())).replace("'", '"') + "'"


def _value(text: str) -> str:
    """A caller's word for a log line: as it is, or quoted when it holds a space or a quote
    (so that one field never reads as two)."""
    return shown(text) if re.fullmatch(r"[^\s'\"]+", text) else _quoted(text)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point (`mailsetup-sendmail`, or a link named `sendmail`)."""
    from mailsetup_tui.core.hardening import no_core_dumps

    no_core_dumps()  # the password is in memory while sending
    words = sys.argv[1:] if argv is None else argv
    sys.exit(run(words, prog=Path(sys.argv[0]).name or "sendmail"))
