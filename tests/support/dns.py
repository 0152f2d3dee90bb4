"""A small authoritative DNS server on 127.0.0.1 for the discovery tests (dnslib), and an HTTPS
server for autoconfig files that answers by the Host header, as a virtual host would."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dnslib import AAAA, MX, QTYPE, RCODE, RR, SRV, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

Zone = dict[tuple[str, str], list[Any]]
"""(name, type) -> rdata: ("acme.example", "MX") -> [MX("mx.acme.example.", 10)]."""


@dataclass
class ZoneResolver(BaseResolver):  # type: ignore[misc]
    zone: Zone
    delay: float = 0.0
    """Seconds before each answer: a slow resolver."""
    asked: list[tuple[str, str]] = field(default_factory=list)

    def resolve(self, request: Any, handler: Any) -> Any:
        if self.delay:
            time.sleep(self.delay)
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        self.asked.append((name, kind))
        reply = request.reply()
        records = self.zone.get((name, kind), [])
        for rdata in records:
            reply.add_answer(RR(request.q.qname, getattr(QTYPE, kind), rdata=rdata, ttl=60))
        if not records and not any(key[0] == name for key in self.zone):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@contextlib.contextmanager
def dns_server(zone: Zone, *, delay: float = 0.0) -> Iterator[tuple[str, ZoneResolver]]:
    """Yields `127.0.0.1:PORT` (for $MAILSETUP_NAMESERVER) and the resolver (what was asked)."""
    resolver = ZoneResolver(zone, delay)
    quiet = DNSLogger(logf=lambda line: None)
    server = DNSServer(resolver, address="127.0.0.1", port=0, logger=quiet)
    server.start_thread()
    port = server.server.server_address[1]
    try:
        yield f"127.0.0.1:{port}", resolver
    finally:
        server.stop()


def silent_nameserver() -> str:
    """An address where no resolver answers (a UDP port nobody reads)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


def address_records(*names: str) -> Zone:
    """Every name at 127.0.0.1 (and no IPv6)."""
    return {(name, "A"): [A("127.0.0.1")] for name in names} | {
        (name, "AAAA"): [] for name in names
    }


__all__ = ["AAAA", "MX", "SRV", "A", "Zone", "address_records", "dns_server", "silent_nameserver"]


# --- autoconfig over HTTPS ---------------------------------------------------------------------


@dataclass
class Site:
    """What each (host, path) answers: a body with 200, or ("redirect", URL)."""

    pages: dict[tuple[str, str], bytes | tuple[str, str]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)


@contextlib.contextmanager
def https_site(site: Site, context: ssl.SSLContext) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 (a free port) serving `site`; yields the port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            site.requests.append((host, self.path))
            page = site.pages.get((host, self.path))
            if page is None:
                self.send_error(404)
            elif isinstance(page, tuple):
                self.send_response(302)
                self.send_header("Location", page[1])
                self.end_headers()
            else:
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.end_headers()
                self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def autoconfig_xml(host: str, port: int, socket_type: str, *, kind: str = "smtp") -> bytes:
    return f"""<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="acme.example">
    <domain>acme.example</domain>
    <incomingServer type="imap"><hostname>imap.acme.example</hostname><port>993</port>
      <socketType>SSL</socketType></incomingServer>
    <outgoingServer type="{kind}">
      <hostname>{host}</hostname>
      <port>{port}</port>
      <socketType>{socket_type}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
""".encode()


_EMPTY: list[str] = []


def empty_nameserver() -> str:
    """A resolver on 127.0.0.1 that knows no name (NXDOMAIN at once), started on first use and
    kept for the session: every test points mailsetup's lookups here unless it serves a zone of
    its own, so that nothing ever asks the machine's DNS."""
    if not _EMPTY:
        quiet = DNSLogger(logf=lambda line: None)
        server = DNSServer(ZoneResolver({}), address="127.0.0.1", port=0, logger=quiet)
        server.start_thread()
        _EMPTY.append(f"127.0.0.1:{server.server.server_address[1]}")
    return _EMPTY[0]
