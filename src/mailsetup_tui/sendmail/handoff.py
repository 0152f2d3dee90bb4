"""The fast path: hand the message to the relay over its Unix socket, and exit 0 once the
relay says it is on disk.

Any local user may do this, in or out of the readers group: the relay holds the secret and
knows the caller from the kernel. It loads no SMTP client, TLS, keyring or e-mail validation
(the relay checks the message with the same rules as the direct way), so a burst of callers
costs little each. When no relay answers, the caller sends directly (`sendmail.command`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, TextIO

from mailsetup_tui.core.relay_wire import RelayBroken, connect, exchange
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.exit_codes import Sysexit
from mailsetup_tui.mail_log import as_field, quoted, recipients_field, record
from mailsetup_tui.sendmail.options import Options

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


def hand_over(options: Options, *, path: Path, stdin: BinaryIO, err: TextIO, prog: str) -> Sysexit:
    """Queue the message with the relay at `path`; `RelayUnavailable` (before reading
    anything) when none answers there."""
    sock = connect(path)  # first: without a relay, the direct way reads standard input
    fields = {"caller": _me(), "relay": as_field(str(path))}
    with sock:
        try:
            message = read_message(stdin, dot_ends=options.dot_ends)
        except TooLarge as error:
            return _end(fields, prog, err, Sysexit.EX_DATAERR, f"not sent: {error}")
        fields["mailsize"] = str(len(message))
        wanted = [*options.recipients, *(["(-t)"] if options.from_headers else [])]
        fields["recipients"] = recipients_field(wanted)
        if options.sender_wish:
            fields["requested_from"] = as_field(options.sender_wish)
        request = {
            "op": "submit",
            "recipients": options.recipients,
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
                Sysexit.EX_TEMPFAIL,
                f"not queued: {error}; try again (the relay may have kept it: at worst it is "
                "sent twice)",
            )
    if not isinstance(answer, dict):
        return _end(fields, prog, err, Sysexit.EX_TEMPFAIL, "not queued: the relay said nothing")
    if answer.get("ok"):
        fields["queued"] = as_field(str(answer.get("id", "")))
        fields["message_id"] = as_field(str(answer.get("message_id", "")))
        fields["recipients"] = recipients_field([str(r) for r in answer.get("recipients", [])])
        if options.verbose:
            print(f"{prog}: queued by the relay as {shown(str(answer.get('id')))}", file=err)
        return _end(fields, prog, err, Sysexit.EX_OK)
    try:
        code = Sysexit[str(answer.get("exit"))]
    except KeyError:
        code = Sysexit.EX_TEMPFAIL
    return _end(fields, prog, err, code, f"not queued: {answer.get('reason', 'refused')}")


def _end(
    fields: dict[str, str], prog: str, err: TextIO, code: Sysexit, reason: str = ""
) -> Sysexit:
    if code is not Sysexit.EX_OK:
        print(f"{prog}: {shown(reason)}", file=err, flush=True)
        fields["errormsg"] = quoted(reason)
    fields["exitcode"] = code.name
    record(
        " ".join(f"{k}={v}" for k, v in fields.items()), error=code is not Sysexit.EX_OK, log=None
    )
    return code


def _me() -> str:
    """The caller's name, without the store (light: `pwd` only)."""
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())
