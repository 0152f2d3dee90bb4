"""The Unix socket the sendmail command hands messages to (`core.relay_wire` is the protocol).

Any local user may connect (the socket is 0666): that is the point, since a caller outside
the readers group cannot read the secret and needs no more than this. Who is calling comes from
the kernel (SO_PEERCRED), never from the request. Besides `submit`, `status` says how the queue
stands (counts for anyone; the problem, if any, for root and the relay's own user) and `wake`
asks the courier to look at the queue now (after `mailsetup queue --flush`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from mailsetup_tui.core.handover import Handover
from mailsetup_tui.core.relay_wire import MAX_LINE, decode, encode
from mailsetup_tui.core.spool import SpoolError
from mailsetup_tui.core.store import owner_name
from mailsetup_tui.exit_codes import Sysexit
from mailsetup_tui.relay.intake import Caller, Intake, Refusal

if TYPE_CHECKING:
    from mailsetup_tui.core.relay_wire import Value

_PEERCRED = struct.Struct("3i")


class SocketDoor:
    def __init__(self, intake: Intake, status: Callable[[], dict[str, Value]]) -> None:
        self.intake = intake
        self.status = status

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer = await self._answer(reader, writer)
        except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            answer = _refused(Sysexit.EX_SOFTWARE, f"not understood: {error}")
        except (ConnectionError, TimeoutError):
            writer.close()
            return
        try:
            writer.write(encode(answer))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, Value]:
        caller = _peer(writer)
        async with asyncio.timeout(60):
            line = await reader.readline()
        if not line.endswith(b"\n"):
            raise ValueError("no request line")
        request = decode(line[:-1])
        operation = request.text("op")
        if operation == "status":
            return self.status() | {"ok": True, "you": caller.name}
        if operation == "wake":
            self.intake.wake()
            return {"ok": True}
        if operation != "submit":
            raise ValueError(f"unknown op {operation!r}")
        size_text = request.text("size")
        if not size_text.isdigit():
            raise ValueError("size must be a whole number")
        size = int(size_text)
        if size > self.intake.max_size:
            # Not read at all: the caller learns at once, and a runaway pipe fills nothing.
            return _refused(
                Sysexit.EX_DATAERR,
                f"the message is {size} bytes; at most {self.intake.max_size} are taken",
            )
        async with asyncio.timeout(300):
            message = await reader.readexactly(size)
        try:
            handover = Handover(
                message,
                tuple(request.texts("recipient")),
                from_headers=request.flag("from_headers"),
                sender_wish=request.values.get("sender_wish", [None])[0],
                full_name=request.values.get("full_name", [None])[0],
            )
            accepted = await self.intake.accept(handover, caller, "socket")
        except Refusal as refusal:
            return _refused(refusal.exit_code, refusal.reason)
        except SpoolError as error:
            return _refused(Sysexit.EX_TEMPFAIL, str(error))
        entry = accepted.entry
        return {
            "ok": True,
            "id": entry.id,
            "message_id": entry.envelope.message_id,
            "recipient": list(entry.envelope.recipients),
            "size": entry.envelope.size,
        }


async def open_socket_door(door: SocketDoor, path: os.PathLike[str]) -> asyncio.Server:
    """Listen at `path` (0666); a stale socket left by a crash is replaced, a live one (another
    relay) is an error."""
    where = os.fspath(path)
    if os.path.exists(where):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(where)
        except (ConnectionRefusedError, FileNotFoundError):
            os.unlink(where)
        else:
            raise OSError(f"another relay is already listening at {where}")
        finally:
            probe.close()
    server = await asyncio.start_unix_server(door.serve, where, limit=MAX_LINE)
    os.chmod(where, 0o666)  # noqa: S103 - any local user may hand a message over
    return server


def _peer(writer: asyncio.StreamWriter) -> Caller:
    sock = writer.get_extra_info("socket")
    try:
        _pid, uid, _gid = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        )
    except (OSError, AttributeError):
        return Caller("socket")
    return Caller(owner_name(uid), uid)


def _refused(code: Sysexit, reason: str) -> dict[str, Value]:
    """A refusal: the exit code the sendmail command exits with, by number and by name (the
    caller records the name without loading the table of codes)."""
    return {"ok": False, "exit": int(code), "exit_name": code.name, "reason": reason}
