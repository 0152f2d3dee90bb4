"""The one line each message leaves at each step (handed over, queued, sent, deferred,
failed): in the system log (LOG_MAIL) and, when the config names one, in a log file, in the
manner of msmtp. The sendmail command and the relay both write here, each under its own tag.
Never the body, never a secret; every caller-supplied or server-supplied value passes the one
sanitiser and is quoted.
"""

from __future__ import annotations

import _socket
import os
import time

from mailsetup_tui.core.untrusted import shown

TYPE_CHECKING = False  # not `typing`: the fast path to the relay never imports it

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

SYSLOG_SOCKET = "/dev/log"
SYSLOG_ENV = "MAILSETUP_SYSLOG"
"""Another socket for the system log, or `none` for no system log (a container without one,
a test that must not write to the machine's journal)."""
SYSLOG_IDENT = "mailsetup-sendmail"
LOG_MAIL = 2 << 3
LOG_ERR, LOG_INFO = 3, 6
RECIPIENTS_SHOWN = 400
"""Characters of the recipient list in one record line at most; the rest is counted. A line
must fit one syslog datagram, whatever a caller hands over (12,000 recipients did not)."""


def record(
    line: str,
    *,
    error: bool,
    log: Path | None,
    note: Callable[[str], None] | None = None,
    ident: str = SYSLOG_IDENT,
) -> None:
    """`line` to the system log and, when the config names one, to the log file: best
    effort, since the message's fate is already decided and the exit code says it."""
    _to_syslog(line, error=error, ident=ident)
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
        _to_syslog(warning, error=True, ident=ident)
        if note is not None:
            note(warning)


def _to_syslog(line: str, *, error: bool, ident: str) -> None:
    """One RFC 3164 datagram to the local syslog socket (journald and rsyslog both listen
    there); nothing where there is none, as in a container."""
    where = os.environ.get(SYSLOG_ENV, SYSLOG_SOCKET)
    if where in {"", "none"}:
        return
    priority = LOG_MAIL | (LOG_ERR if error else LOG_INFO)
    stamp = time.strftime("%b %e %H:%M:%S")
    packet = f"<{priority}>{stamp} {ident}[{os.getpid()}]: {line}".encode()
    # `_socket`, not `socket`, and no `contextlib`: the sendmail command's fast path logs too.
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        sock.connect(where)
        sock.send(packet)
    except OSError:
        pass
    finally:
        sock.close()


def recipients_field(recipients: Sequence[str]) -> str:
    """The recipients for a record line: as many as fit, then how many more."""
    shown_ones: list[str] = []
    for recipient in recipients:
        if sum(len(r) + 1 for r in shown_ones) + len(recipient) > RECIPIENTS_SHOWN:
            break
        shown_ones.append(recipient)
    more = len(recipients) - len(shown_ones)
    text = ",".join(shown_ones) + (f",...(+{more} more)" if more else "")
    return as_field(text)


def quoted(text: str) -> str:
    """Text (perhaps a server's) for a log line: one line, sanitised, in single quotes."""
    return "'" + shown(" ".join(text.split())).replace("'", '"') + "'"


def as_field(text: str) -> str:
    """A caller's word for a log line: as it is, or quoted when it holds a space or a quote
    (so that one field never reads as two), control characters escaped either way."""
    plain = text and not any(ch.isspace() or ch in "'\"" for ch in text)
    return shown(text) if plain else quoted(text)
