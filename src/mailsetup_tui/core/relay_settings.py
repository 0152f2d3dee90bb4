"""The relay's settings: the `[relay]` table of the account's config file.

Administrators edit it by hand, so every value is checked with a message that names the key,
and `save` keeps the table as it is. A missing key is its default; only the keys that differ
from their defaults are written back. The relay only ever listens on loopback: a `listen`
address that is not one is refused here, before any socket is opened.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, NamedTuple

from mailsetup_tui.core.relay_wire import DEFAULT_SOCKET

DEFAULT_SPOOL = Path("/var/lib/mailsetup/spool")
DEFAULT_LISTEN = (("127.0.0.1", 25), ("::1", 25))

_LISTEN = (  # compiled at first use (re caches it): the form's start-up needs none
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<v4>[0-9.]+)|(?P<name>localhost)):(?P<port>\d{1,5})"
)


class RelaySettings(NamedTuple):
    """How the relay listens, keeps and retries; every duration in seconds."""

    spool: Path = DEFAULT_SPOOL
    listen: tuple[tuple[str, int], ...] = DEFAULT_LISTEN
    """Loopback addresses and ports for SMTP; empty: the Unix socket only."""
    socket: Path = Path(DEFAULT_SOCKET)
    retry_first: int = 60
    """The wait after the first temporary failure; each next wait doubles."""
    retry_max: int = 3600
    """The longest wait between two tries."""
    give_up_after: int = 5 * 24 * 3600
    """A message still not delivered this long after it was accepted fails (as Postfix's
    maximal_queue_lifetime, 5 days)."""
    keep_failed: int = 30 * 24 * 3600
    """How long a failed message is kept for `mailsetup queue` before it is removed."""
    rate: int = 300
    """Messages per minute one caller may hand over; more are refused for now (4xx, 75)."""
    max_size: int = 25 * 1024 * 1024
    """Bytes of one message at most, unless the provider's server says less (its SIZE)."""
    max_recipients: int = 100
    """Recipients of one message at most."""

    def may_be_set_up(self) -> bool:
        """Whether a relay may be set up here at all: its socket or its spool exists. Where
        neither does (most hosts), there is no status to read."""
        return self.socket.exists() or self.spool.exists()

    def retry_delay(self, attempts: int) -> int:
        """The wait before the next try after `attempts` failed ones."""
        return int(min(self.retry_max, self.retry_first * 2 ** max(0, min(attempts - 1, 30))))


_DURATIONS = ("retry_first", "retry_max", "give_up_after", "keep_failed")
_COUNTS = ("rate", "max_size", "max_recipients")
KEYS = RelaySettings._fields


def listen_address(text: str) -> tuple[str, int]:
    """`127.0.0.1:25`, `[::1]:2525` or `localhost:25` as (host, port); ValueError with the
    reason for anything else, a non-loopback address above all."""
    match = re.fullmatch(_LISTEN, text.strip())
    if not match:
        raise ValueError(f"{text!r} is not HOST:PORT (127.0.0.1:25, [::1]:25)")
    port = int(match["port"])
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: the port must be 1-65535")
    if match["name"]:
        return "127.0.0.1", port
    host = match["v6"] or match["v4"]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: {host} is not an IP address") from None
    if not address.is_loopback:
        raise ValueError(
            f"{text!r} is not a loopback address: the relay takes mail from this host only "
            "(127.0.0.1 or ::1), and never becomes an open relay"
        )
    return str(address), port


def shown_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def relay_from_toml(table: object, path: Path) -> RelaySettings:
    """The `[relay]` table, checked; every error names `path` and the key."""
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [relay] must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key {unknown[0]!r} in [relay] ({', '.join(KEYS)})")
    settings = RelaySettings()
    values: dict[str, Any] = {}
    for key in ("spool", "socket"):
        if key in table:
            value = table[key]
            if not (isinstance(value, str) and Path(value).is_absolute()):
                raise ValueError(f"{path}: [relay] {key} must be an absolute path, not {value!r}")
            values[key] = Path(value)
    if "listen" in table:
        listen = table["listen"]
        if not (isinstance(listen, list) and all(isinstance(item, str) for item in listen)):
            raise ValueError(f'{path}: [relay] listen is a list such as ["127.0.0.1:25"]')
        try:
            values["listen"] = tuple(listen_address(item) for item in listen)
        except ValueError as error:
            raise ValueError(f"{path}: [relay] listen: {error}") from None
    for key in (*_DURATIONS, *_COUNTS):
        if key in table:
            value = table[key]
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{path}: [relay] {key} must be a whole number above 0")
            values[key] = value
    settings = settings._replace(**values)
    if settings.retry_max < settings.retry_first:
        raise ValueError(f"{path}: [relay] retry_max must not be below retry_first")
    return settings


def relay_to_toml(settings: RelaySettings) -> dict[str, Any]:
    """The `[relay]` table for `settings`: the keys that differ from their defaults."""
    default = RelaySettings()
    table: dict[str, Any] = {}
    for key in KEYS:
        value = getattr(settings, key)
        if value == getattr(default, key):
            continue
        if key == "listen":
            table[key] = [shown_address(host, port) for host, port in value]
        elif isinstance(value, Path):
            table[key] = str(value)
        else:
            table[key] = value
    return table
