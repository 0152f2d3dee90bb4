"""Telling systemd how the relay stands (`Type=notify`): ready once both doors are open,
stopping when it is told to stop. A datagram to $NOTIFY_SOCKET, as sd_notify(3) sends it; no
library, and nothing at all where no service manager asked."""

from __future__ import annotations

import contextlib
import os
import socket

NOTIFY_ENV = "NOTIFY_SOCKET"


def notify(state: str) -> bool:
    """Send `state` (`READY=1`, `STOPPING=1`, `STATUS=...`); False where nobody listens."""
    where = os.environ.get(NOTIFY_ENV, "")
    if not where:
        return False
    address = "\0" + where[1:] if where.startswith("@") else where
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
        return True
    return False
