"""The fast path: hand the message to the relay over its Unix socket, and exit 0 once the
relay says it is on disk.

Any local user may do this, in or out of the readers group: the relay holds the secret and
knows the caller from the kernel. It loads no SMTP client, TLS, keyring or e-mail validation
(the relay checks the message with the same rules as the direct way), so a burst of callers
costs little each. When no relay answers, the caller sends directly (`sendmail.command`).
"""

from __future__ import annotations

import os

from mailsetup_tui.core.relay_wire import RelayBroken, connect, exchange
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.mail_log import as_field, quoted, recipients_field, record

TYPE_CHECKING = False  # not `typing`: the fast path to the relay never imports it

if TYPE_CHECKING:
    from typing import BinaryIO, TextIO

    from mailsetup_tui.core.relay_wire import Value
    from mailsetup_tui.sendmail.options import Options

EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75
"""The sysexits this path can end with, as numbers: `exit_codes.Sysexit` is an enum, and
`enum` alone would double what a hand-over costs (a test holds these to the enum)."""
MAX_MESSAGE = 64 * 1024 * 1024
"""Bytes of one message at most: more than any provider takes (Gmail: 25 MB), so a runaway
pipe fails fast instead of filling memory."""


class TooLarge(ValueError):
    """More than any message can be (sendmail's EX_DATAERR)."""


def read_message(stream: BinaryIO, *, dot_ends: bool) -> bytes:
    """The message on `stream`: to its end, or (without -i) to a line with a single dot."""
    lines: list[bytes] = []
    total = 0
    while line := stream.readline(MAX_MESSAGE - total + 1):
        if dot_ends and line.rstrip(b"\r\n") == b".":
            break
        total += len(line)
        if total > MAX_MESSAGE:
            raise TooLarge(f"the message is larger than {MAX_MESSAGE // 2**20} MiB")
        lines.append(line)
    return b"".join(lines)


def hand_over(options: Options, *, path: str, stdin: BinaryIO, err: TextIO, prog: str) -> int:
    """Queue the message with the relay at `path` and return the exit code (0 once it is on
    disk; the relay's refusal in sysexits otherwise); `RelayUnavailable` (before reading
    anything) when none answers there."""
    sock = connect(path)  # first: without a relay, the direct way reads standard input
    fields = {"caller": _me(), "relay": as_field(path)}
    try:
        try:
            message = read_message(stdin, dot_ends=options.dot_ends)
        except TooLarge as error:
            return _end(fields, prog, err, (EX_DATAERR, "EX_DATAERR"), f"not sent: {error}")
        fields["mailsize"] = str(len(message))
        wanted = [*options.recipients, *(["(-t)"] if options.from_headers else [])]
        fields["recipients"] = recipients_field(wanted)
        if options.sender_wish:
            fields["requested_from"] = as_field(options.sender_wish)
        request: dict[str, Value] = {
            "op": "submit",
            "recipient": options.recipients,
            "from_headers": options.from_headers,
            "sender_wish": options.sender_wish,
            "full_name": options.full_name,
        }
        try:
            answer = exchange(sock, request, message)
        except (RelayBroken, OSError) as error:
            return _end(
                fields,
                prog,
                err,
                (EX_TEMPFAIL, "EX_TEMPFAIL"),
                f"not queued: {error}; try again (the relay may have kept it: at worst it is "
                "sent twice)",
            )
    finally:
        sock.close()
    if answer.ok:
        fields["queued"] = as_field(answer.text("id"))
        fields["message_id"] = as_field(answer.text("message_id"))
        fields["recipients"] = recipients_field(answer.texts("recipient"))
        if options.verbose:
            print(f"{prog}: queued by the relay as {shown(answer.text('id'))}", file=err)
        return _end(fields, prog, err, (EX_OK, "EX_OK"))
    code = answer.count("exit") or EX_TEMPFAIL
    name = answer.text("exit_name", "EX_TEMPFAIL")
    return _end(fields, prog, err, (code, name), f"not queued: {answer.text('reason', 'refused')}")


def _end(
    fields: dict[str, str], prog: str, err: TextIO, code: tuple[int, str], reason: str = ""
) -> int:
    """Say why (unless queued), write the record line, and return the exit code."""
    number, name = code
    if number != EX_OK:
        print(f"{prog}: {shown(reason)}", file=err, flush=True)
        fields["errormsg"] = quoted(reason)
    fields["exitcode"] = name
    record(" ".join(f"{k}={v}" for k, v in fields.items()), error=number != EX_OK, log=None)
    return number


def _me() -> str:
    """The caller's name, without the store (light: `pwd` only)."""
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
