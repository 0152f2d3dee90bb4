"""How a local program hands a message to the relay over its Unix socket, and asks it how it
stands: one JSON line each way, the message's bytes after the request line.

Standard library only, and nothing else of mailsetup: the sendmail command speaks this on its
fast path, which must not load an SMTP client, TLS, a keyring or e-mail validation (a burst of
callers each pays for every import). The relay knows who is calling from the socket's peer
credentials, never from what the request says.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = Path("/run/mailsetup/relay.sock")
SOCKET_ENV = "MAILSETUP_RELAY_SOCKET"
"""Where the sendmail command looks for the relay: a caller outside the readers group cannot
read the config, so it cannot learn the socket's path from there."""
MAX_REQUEST_LINE = 1 << 20
"""Bytes of one request or reply line at most (recipients included)."""


class RelayUnavailable(Exception):
    """No relay answers at the socket (none there, or nothing listening): send another way."""


class RelayBroken(Exception):
    """The relay answered, then the conversation broke off: whether the message was queued is
    not known, so the caller must be told to try again (at least once, never silently lost)."""


def socket_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(SOCKET_ENV) or DEFAULT_SOCKET)


def relay_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """False when $MAILSETUP_RELAY_SOCKET is `none`: always send directly."""
    environ = os.environ if environ is None else environ
    return environ.get(SOCKET_ENV, "").lower() != "none"


def connect(path: Path, timeout: float = 30.0) -> socket.socket:
    """A connection to the relay at `path`; `RelayUnavailable` when nobody listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(os.fspath(path))
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as error:
        sock.close()
        raise RelayUnavailable(f"{path}: {error.strerror}") from None
    except OSError:
        sock.close()
        raise
    return sock


def ask(path: Path, request: Mapping[str, Any], body: bytes = b"", timeout: float = 30.0) -> Any:
    """Send one request (and `body` after it) and return the relay's one-line answer."""
    with connect(path, timeout) as sock:
        return exchange(sock, request, body)


def exchange(sock: socket.socket, request: Mapping[str, Any], body: bytes = b"") -> Any:
    """One request and its answer over a connection `connect` made (`RelayBroken` when the
    answer does not come)."""
    line = json.dumps({**request, "size": len(body)}).encode() + b"\n"
    try:
        sock.sendall(line)
        if body:
            sock.sendall(body)
        sock.shutdown(socket.SHUT_WR)
        answer = read_line(sock)
    except OSError as error:
        raise RelayBroken(f"the relay broke off: {error.strerror or error}") from None
    if answer is None:
        raise RelayBroken("the relay closed the connection without an answer")
    try:
        return json.loads(answer)
    except ValueError:
        raise RelayBroken("the relay's answer is not understood") from None


def read_line(sock: socket.socket, limit: int = MAX_REQUEST_LINE) -> bytes | None:
    """One line from `sock` (without its newline), None at end of stream before one came."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        end = chunk.find(b"\n")
        if end >= 0:
            chunks.append(chunk[:end])
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise RelayBroken("the relay's answer is longer than any answer can be")
