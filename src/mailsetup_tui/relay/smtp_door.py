"""SMTP on loopback, for the applications configured with "SMTP server localhost, port 25".

aiosmtpd speaks the protocol; this adds what makes it safe to run: loopback addresses only
(checked in the settings, and again for every peer, so it never becomes an open relay), no
AUTH (the relay holds the account; a local caller proves nothing with a password), the
intake's limits, and a 250 only once the message is on disk. Who is calling is read from the
kernel's table of TCP sockets: the local user who owns the client's end.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import weakref
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailsetup_tui.core.handover import Handover
from mailsetup_tui.core.store import owner_name
from mailsetup_tui.relay.intake import Caller, Intake, Refusal

_TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


class LoopbackSMTP(SMTP):
    """aiosmtpd's server, refusing any peer that is not on this host before saying anything
    else."""

    _refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if not _is_loopback(peer):
            self._refused = True
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(b"554 5.7.1 this relay takes mail from this host only\r\n")
            transport.close()
            return
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if not self._refused:
            super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        if self._refused:
            return None
        result: bool | None = super().eof_received()
        return result


class SmtpDoor:
    """The aiosmtpd handler: RCPT counted, DATA to the intake."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self._callers: weakref.WeakKeyDictionary[Session, Caller] = weakref.WeakKeyDictionary()
        """Who is at the other end of each connection, read once per connection."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if len(envelope.rcpt_tos) >= self.intake.settings.max_recipients:
            return "452 4.5.3 too many recipients"
        try:
            self.intake.check_recipient(address)
        except Refusal as refusal:
            return refusal.reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        handover = Handover(
            content, tuple(envelope.rcpt_tos), sender_wish=envelope.mail_from or None
        )
        caller = self._callers.get(session)
        if caller is None:  # once per connection: the kernel's table is read, not cached
            caller = self._callers[session] = _caller(session.peer, server.transport)
        try:
            accepted = await self.intake.accept(handover, caller, "smtp")
        except Refusal as refusal:
            return refusal.reply
        return f"250 2.0.0 queued as {accepted.entry.id}"


def smtp_factory(door: SmtpDoor, hostname: str, size_limit: int) -> LoopbackSMTP:
    return LoopbackSMTP(
        door,
        hostname=hostname,
        ident="mailsetup relay",
        data_size_limit=size_limit,
        enable_SMTPUTF8=True,
        decode_data=False,
        timeout=300,
    )


def _is_loopback(peer: Any) -> bool:
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%")[0])
    except (TypeError, IndexError, ValueError):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _caller(peer: Any, transport: Any) -> Caller:
    """The local user who owns the client's end of the connection, else its address."""
    try:
        ours = transport.get_extra_info("sockname")
        uid = local_peer_uid(peer, ours)
    except (OSError, ValueError, TypeError, IndexError):
        uid = None
    if uid is None:
        return Caller(f"smtp:{peer[0]}" if peer else "smtp")
    return Caller(owner_name(uid), uid)


def local_peer_uid(peer: tuple[Any, ...], ours: tuple[Any, ...]) -> int | None:
    """The uid owning the TCP socket whose local end is `peer` and remote end `ours`, from
    /proc/net/tcp{,6}; None where the table does not say (another system, a race)."""
    wanted = (_hex_endpoint(peer), _hex_endpoint(ours))
    v6 = ":" in str(ours[0])
    for table in _TCP_TABLES[1:] if v6 else _TCP_TABLES:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 7 and (fields[1], fields[2]) in {wanted, _mapped(wanted)}:
                return int(fields[7])
    return None


def _hex_endpoint(endpoint: tuple[Any, ...]) -> str:
    """An address and port as /proc/net/tcp writes them: each 32-bit word of the address in
    host byte order, in hex, then the port."""
    host, port = str(endpoint[0]).split("%")[0], int(endpoint[1])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    packed = socket.inet_pton(family, host)
    words = [packed[i : i + 4] for i in range(0, len(packed), 4)]
    text = "".join(int.from_bytes(word, "little").to_bytes(4, "big").hex() for word in words)
    return f"{text.upper()}:{port:04X}"


def _mapped(pair: tuple[str, str]) -> tuple[str, str]:
    """The same endpoints as an IPv4 connection to an IPv6 socket lists them (::ffff:a.b.c.d)."""

    def mapped(endpoint: str) -> str:
        address, port = endpoint.split(":")
        if len(address) != 8:
            return endpoint
        return f"0000000000000000FFFF0000{address}:{port}"

    return (mapped(pair[0]), mapped(pair[1]))
