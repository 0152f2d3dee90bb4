"""How a local program hands a message to the relay over its Unix socket, and asks it how it
stands: one line each way (`key=value` words), the message's bytes after the request line.

This is the sendmail command's fast path, and a burst of callers each pays for every import:
so nothing here but `os` and the interpreter's own `_socket` (no `socket`, `json`, `re` or
`enum`, which together cost a caller three times what the rest of its run does). The format
is small enough to need none of them: words separated by spaces, each `key=value`, a list as
the same key repeated, and in a value `%`, space, `=` and every control byte written as `%XX`.
The relay knows who is calling from the socket's peer credentials, never from the request.
"""

from __future__ import annotations

import _socket
import os

TYPE_CHECKING = False  # not `typing`: the fast path never imports it
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    Where = str | os.PathLike[str]
    Value = str | int | float | bool | Sequence[str] | None

DEFAULT_SOCKET = "/run/mailsetup/relay.sock"
SOCKET_ENV = "MAILSETUP_RELAY_SOCKET"
"""Where the sendmail command looks for the relay: a caller outside the readers group cannot
read the config, so it cannot learn the socket's path from there."""
MAX_LINE = 1 << 20
"""Bytes of one request or reply line at most (recipients included)."""
_ESCAPED = frozenset(b"% =\x7f") | frozenset(range(0x21))


class RelayUnavailable(Exception):
    """No relay answers at the socket (none there, or nothing listening): send another way."""


class RelayBroken(Exception):
    """The relay answered, then the conversation broke off: whether the message was queued is
    not known, so the caller must be told to try again (at least once, never silently lost)."""


class Fields:
    """One decoded line: each key's values, read as the type the reader expects."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    def __repr__(self) -> str:
        return f"Fields({self.values!r})"

    def text(self, key: str, default: str = "") -> str:
        found = self.values.get(key)
        return found[0] if found else default

    def texts(self, key: str) -> list[str]:
        return list(self.values.get(key, ()))

    def number(self, key: str) -> float | None:
        try:
            return float(self.text(key))
        except ValueError:
            return None

    def count(self, key: str) -> int:
        number = self.number(key)
        return int(number) if number is not None else 0

    def flag(self, key: str) -> bool:
        return self.text(key) == "1"

    @property
    def ok(self) -> bool:
        return self.flag("ok")


def encode(fields: Mapping[str, Value]) -> bytes:
    """`fields` as one line (with its newline); None and empty lists are left out."""
    words: list[bytes] = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            items: Sequence[str] = ["1" if value else "0"]
        elif isinstance(value, int | float | str):
            items = [str(value)]
        else:
            items = value
        words.extend(key.encode() + b"=" + _escape(item.encode()) for item in items)
    return b" ".join(words) + b"\n"


def decode(line: bytes) -> Fields:
    """One line (without its newline) as `Fields`; ValueError for a line that is not one."""
    values: dict[str, list[str]] = {}
    for word in line.split(b" "):
        if not word:
            continue
        key, equals, value = word.partition(b"=")
        if not equals or not key.replace(b"_", b"").isalnum():
            raise ValueError(f"not key=value: {word[:40]!r}")
        values.setdefault(key.decode("ascii"), []).append(_unescape(value).decode("utf-8"))
    return Fields(values)


def _escape(data: bytes) -> bytes:
    if not any(byte in _ESCAPED for byte in data):
        return data
    return b"".join(b"%%%02X" % byte if byte in _ESCAPED else bytes((byte,)) for byte in data)


def _unescape(data: bytes) -> bytes:
    if b"%" not in data:
        return data
    parts = data.split(b"%")
    out = [parts[0]]
    for part in parts[1:]:
        if len(part) < 2:
            raise ValueError("a % without two hex digits")
        out.append(bytes((int(part[:2], 16),)) + part[2:])
    return b"".join(out)


def socket_path(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(SOCKET_ENV) or DEFAULT_SOCKET


def relay_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """False when $MAILSETUP_RELAY_SOCKET is `none`: always send directly."""
    environ = os.environ if environ is None else environ
    return environ.get(SOCKET_ENV, "").lower() != "none"


def connect(path: Where, timeout: float = 30.0) -> _socket.socket:
    """A connection to the relay at `path`; `RelayUnavailable` when nobody listens there."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(os.fspath(path))
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as error:
        sock.close()
        raise RelayUnavailable(f"{os.fspath(path)}: {error.strerror}") from None
    except OSError:
        sock.close()
        raise
    return sock


def ask(
    path: Where, request: Mapping[str, Value], body: bytes = b"", timeout: float = 30.0
) -> Fields:
    """Send one request (and `body` after it) and return the relay's one-line answer."""
    sock = connect(path, timeout)
    try:
        return exchange(sock, request, body)
    finally:
        sock.close()


def exchange(sock: _socket.socket, request: Mapping[str, Value], body: bytes = b"") -> Fields:
    """One request and its answer over a connection `connect` made (`RelayBroken` when the
    answer does not come)."""
    cut_off: OSError | None = None
    try:
        sock.sendall(encode({**request, "size": len(body)}))
        if body:
            sock.sendall(body)
        sock.shutdown(_socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError) as error:
        # The relay may refuse on the size the request names, answer and close before the
        # body is all written: its answer is still there to read, and it is the answer (a
        # message too large is refused for good, not "try again").
        cut_off = error
    try:
        answer = _read_line(sock)
    except OSError as error:
        raise RelayBroken(f"the relay broke off: {error.strerror or error}") from None
    if answer is None:
        if cut_off is not None:
            raise RelayBroken(f"the relay broke off: {cut_off.strerror or cut_off}")
        raise RelayBroken("the relay closed the connection without an answer")
    try:
        return decode(answer)
    except ValueError:
        raise RelayBroken("the relay's answer is not understood") from None


def _read_line(sock: _socket.socket) -> bytes | None:
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
        if total > MAX_LINE:
            raise RelayBroken("the relay's answer is longer than any answer can be")
