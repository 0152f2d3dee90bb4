"""The Unix socket the sendmail command hands messages to (`core.relay_wire` is the protocol).

Any local user may connect (the socket is 0666): that is the point, since a caller outside
the readers group cannot read the secret and needs no more than this. Who is calling comes from
the kernel (SO_PEERCRED), never from the request. Besides `submit`, `status` says how the queue
stands (counts for anyone; the problem, if any, for root and the relay's own user) and `wake`
asks the courier to look at the queue now (after `mailsetup queue --flush`).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from mailsetup_tui.core.handover import Handover
from mailsetup_tui.core.relay_wire import MAX_REQUEST_LINE
from mailsetup_tui.core.spool import SpoolError
from mailsetup_tui.core.store import owner_name
from mailsetup_tui.exit_codes import Sysexit
from mailsetup_tui.relay.intake import Caller, Intake, Refusal

_PEERCRED = struct.Struct("3i")


class SocketDoor:
    def __init__(self, intake: Intake, status: Callable[[], dict[str, Any]]) -> None:
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
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, Any]:
        caller = _peer(writer)
        async with asyncio.timeout(60):
            line = await reader.readline()
        if not line.endswith(b"\n"):
            raise ValueError("no request line")
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("the request is not an object")
        operation = request.get("op")
        if operation == "status":
            return self.status() | {"ok": True, "you": caller.name}
        if operation == "wake":
            self.intake.wake()
            return {"ok": True}
        if operation != "submit":
            raise ValueError(f"unknown op {operation!r}")
        size = request.get("size")
        if not isinstance(size, int) or size < 0:
            raise ValueError("size must be a whole number")
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
                _strings(request.get("recipients", [])),
                from_headers=bool(request.get("from_headers")),
                sender_wish=_optional(request.get("sender_wish")),
                full_name=_optional(request.get("full_name")),
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
            "recipients": list(entry.envelope.recipients),
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
    server = await asyncio.start_unix_server(door.serve, where, limit=MAX_REQUEST_LINE)
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


def _refused(code: Sysexit, reason: str) -> dict[str, Any]:
    return {"ok": False, "exit": code.name, "reason": reason, "at": time.time()}


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("recipients must be a list of strings")
    return tuple(value)


def _optional(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("expected a string")
