"""Finding an address's submission server from the address alone, the way mail clients do.

Thunderbird, K-9 and `msmtp --configure` look, in this order, and so does this module, each
step under its own deadline, stopping at the first that answers:

1. the domain's own autoconfig file, over HTTPS with its certificate verified:
   `https://autoconfig.DOMAIN/mail/config-v1.1.xml`, then
   `https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml` (Thunderbird's format: the
   `outgoingServer` of type smtp);
2. the SRV records of RFC 6186 and RFC 8314: `_submissions._tcp.DOMAIN` (implicit TLS), then
   `_submission._tcp.DOMAIN` (STARTTLS);
3. the domain's MX: mail handled by Google (a Workspace domain) or by Microsoft 365 means their
   submission servers;
4. only when the user allows it, Thunderbird's public database (ISPDB): a third party then
   learns the domain.

Nothing but the lookups leaves the host: no e-mail address in any query, no redirect followed
(it is reported instead). Every lookup goes to `$MAILSETUP_NAMESERVER` when it is set (split-
horizon DNS, tests), the system's resolver otherwise; no resolver at all is a note, never an
error. Whatever a DNS answer or a file says is untrusted: host names are checked to be host
names, and front ends show the notes through `untrusted.shown`.
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from xml.etree import ElementTree

import dns.asyncresolver
import dns.exception
import dns.resolver

from mailsetup_tui.core.providers import (
    PROVIDERS,
    Hosted,
    Provider,
    ProviderId,
    Security,
    hosted_by,
)

NAMESERVER_ENV = "MAILSETUP_NAMESERVER"
"""`ADDR` or `ADDR:PORT` (`[ADDR]:PORT` for IPv6): the resolver every lookup goes to."""
STEP_DEADLINE = 4.0
"""Seconds each step may take: a domain with no autoconfig host must not hold the user long."""
MAX_CONFIG = 64 * 1024
"""Bytes of an autoconfig file at most (a real one is about 2 kB)."""
ISPDB = "autoconfig.thunderbird.net"
_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?"
)


class Source(StrEnum):
    AUTOCONFIG = "autoconfig"
    SRV = "srv"
    MX = "mx"
    ISPDB = "ispdb"


@dataclass(frozen=True)
class Found:
    """A submission server for the address, and where that was learnt."""

    server: str
    port: int
    security: Security
    source: Source
    origin: str
    """What said so: the URL of the file, or the record's name."""

    def sentence(self, domain: str) -> str:
        """ "smtp.acme.example, port 465, TLS (from acme.example's autoconfig)"."""
        security = "TLS" if self.security is Security.TLS else "STARTTLS"
        whose = {
            Source.AUTOCONFIG: f"{domain}'s autoconfig",
            Source.SRV: f"{domain}'s SRV record",
            Source.MX: f"{domain}'s mail servers (MX)",
            Source.ISPDB: "Thunderbird's database",
        }[self.source]
        return f"{self.server}, port {self.port}, {security} (from {whose})"

    def as_json(self) -> dict[str, object]:
        return {
            "server": self.server,
            "port": self.port,
            "security": self.security.value,
            "source": self.source.value,
            "origin": self.origin,
        }


@dataclass
class Discovery:
    """What the lookups found (None: nothing), and what each step said on the way."""

    domain: str
    found: Found | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MxFact:
    """What a domain's MX says about an address for its provider."""

    hosted: Hosted | None
    """None: DNS could not be asked (no resolver, no answer in time)."""
    mx: tuple[str, ...] = ()
    note: str | None = None
    """What to tell the user: the MX is not the provider's, or DNS could not be asked (then
    the rules are today's: Gmail takes @gmail.com only)."""


class NoDns(Exception):
    """No resolver answered: no configuration, a time-out, a refusal."""


def domain_of(address: str) -> str:
    """The domain of `address`; ValueError for anything that is not local@domain."""
    local, at, domain = address.strip().rpartition("@")
    domain = domain.rstrip(".").lower()
    if not at or not local or any(ch in address for ch in "\r\n\t ") or not _is_hostname(domain):
        raise ValueError(f"{address!r} is not an e-mail address (name@domain)")
    return domain


def _is_hostname(name: str) -> bool:
    return "." in name.strip(".") and bool(_HOSTNAME.fullmatch(name))


# --- DNS ------------------------------------------------------------------------------------


def make_resolver(environ: Mapping[str, str] | None = None) -> dns.asyncresolver.Resolver:
    """The resolver every lookup uses: $MAILSETUP_NAMESERVER, else the system's. `NoDns` when
    the system has none configured."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(NAMESERVER_ENV, "").strip()
    if chosen:
        resolver = dns.asyncresolver.Resolver(configure=False)
        host, port = _nameserver(chosen)
        resolver.nameservers = [host]
        resolver.port = port
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except (dns.resolver.NoResolverConfiguration, OSError) as error:
            raise NoDns(f"this host has no DNS resolver configured ({error})") from None
    resolver.lifetime = STEP_DEADLINE
    resolver.timeout = STEP_DEADLINE
    return resolver


def _nameserver(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


async def _answers(resolver: dns.asyncresolver.Resolver, name: str, kind: str) -> list[object]:
    """The records of `kind` for `name`; [] when there are none; `NoDns` when DNS failed."""
    try:
        answer = await resolver.resolve(name, kind, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout:
        raise NoDns(f"no answer from DNS for {name} within {STEP_DEADLINE:g} s") from None
    except (dns.resolver.NoNameservers, dns.exception.DNSException, OSError) as error:
        raise NoDns(f"DNS failed for {name}: {error}") from None
    return list(answer)


async def mx_hosts(domain: str, resolver: dns.asyncresolver.Resolver) -> tuple[str, ...]:
    """The domain's mail servers, most preferred first (lowercase, without the final dot)."""
    records = await _answers(resolver, domain, "MX")
    ordered = sorted(records, key=lambda record: getattr(record, "preference", 0))
    return tuple(str(getattr(record, "exchange", "")).rstrip(".").lower() for record in ordered)


async def from_srv(domain: str, resolver: dns.asyncresolver.Resolver) -> Found | None:
    """RFC 6186/8314: `_submissions._tcp` (implicit TLS) first, then `_submission._tcp`."""
    for label, security in (("_submissions", Security.TLS), ("_submission", Security.STARTTLS)):
        name = f"{label}._tcp.{domain}"
        records = await _answers(resolver, name, "SRV")
        usable = [r for r in records if str(getattr(r, "target", ".")) not in {".", ""}]
        if not usable:
            continue  # none, or "." (RFC 2782: the service is not offered here)
        best = min(usable, key=lambda r: (getattr(r, "priority", 0), -getattr(r, "weight", 0)))
        host = str(getattr(best, "target", "")).rstrip(".").lower()
        if _is_hostname(host):
            return Found(host, int(getattr(best, "port", 0)), security, Source.SRV, name)
    return None


def from_mx(mx: tuple[str, ...]) -> Found | None:
    """Google's or Microsoft 365's submission server, for a domain whose MX is theirs."""
    hosted = hosted_by(mx)
    if hosted is Hosted.ELSEWHERE:
        return None
    provider = PROVIDERS[ProviderId.GMAIL if hosted is Hosted.GOOGLE else ProviderId.EXCHANGE]
    connection = provider.connection
    assert connection is not None  # a preset
    return Found(connection.server, connection.port, connection.security, Source.MX, mx[0])


MX_DEADLINE = 3.0
"""Seconds the MX lookup on leaving Email (and before a test) may take."""


async def mx_fact(
    email: str,
    entry: Provider,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = MX_DEADLINE,
) -> MxFact | None:
    """For a provider whose MX proves its addresses (Gmail: Google Workspace; Exchange:
    Microsoft 365), who handles `email`'s domain. None where the MX would change nothing:
    another provider, an address that is not one yet, or a domain the provider's own rule
    already takes (@gmail.com). No DNS is a note, never an error."""
    if entry.mx_service is None:
        return None
    try:
        domain = domain_of(email)
    except ValueError:
        return None
    if not entry.domains.accepts_any and entry.domains.matches(domain):
        return None
    service = "Google" if entry.mx_service is Hosted.GOOGLE else "Microsoft 365"
    try:
        async with asyncio.timeout(timeout):
            mx = await mx_hosts(domain, make_resolver(environ))
    except (NoDns, TimeoutError) as error:
        reason = str(error) if isinstance(error, NoDns) else f"no answer within {timeout:g} s"
        return MxFact(None, (), f"{domain}'s mail servers could not be looked up ({reason})")
    hosted = hosted_by(mx)
    if hosted is entry.mx_service:
        return MxFact(hosted, mx, f"{domain}'s mail is handled by {service} (MX: {mx[0]})")
    shown_mx = ", ".join(mx[:3]) + (", ..." if len(mx) > 3 else "") if mx else "none"
    return MxFact(hosted, mx, f"{domain}'s mail is not handled by {service} (MX: {shown_mx})")


# --- autoconfig -----------------------------------------------------------------------------


def parse_autoconfig(data: bytes) -> tuple[str, int, Security] | None:
    """The first usable `outgoingServer type="smtp"` of a Thunderbird autoconfig file (host,
    port, security); None when there is none. ValueError when the file is not one."""
    try:
        root = ElementTree.fromstring(data)  # noqa: S314 - size-capped; expat refuses entity bombs
    except ElementTree.ParseError as error:
        raise ValueError(f"not an autoconfig file ({error})") from None
    if root.tag != "clientConfig":
        raise ValueError(f"not an autoconfig file (its root is <{root.tag[:40]}>)")
    for server in root.iter("outgoingServer"):
        if server.get("type") != "smtp":
            continue
        host = (server.findtext("hostname") or "").strip().lower()
        port_text = (server.findtext("port") or "").strip()
        socket_type = (server.findtext("socketType") or "").strip().upper()
        security = {"SSL": Security.TLS, "TLS": Security.TLS, "STARTTLS": Security.STARTTLS}.get(
            socket_type
        )
        if security is None or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            continue  # plain text, or nonsense: not offered to anyone
        if "%" in host or not _is_hostname(host):
            continue  # a placeholder (%EMAILDOMAIN%) or not a host name
        return host, int(port_text), security
    return None


def tls_context(ca_file: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """The system store, and `ca_file` as well when one is given."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=os.fspath(ca_file))
    return context


async def fetch(
    url_host: str,
    path: str,
    resolver: dns.asyncresolver.Resolver,
    context: ssl.SSLContext,
    port: int = 443,
) -> tuple[int, bytes, str]:
    """GET https://URL_HOST/PATH, the name resolved through `resolver`: (status, body, the
    Location of a redirect). OSError or `NoDns` when it cannot be had; within the deadline."""
    addresses = [str(record) for record in await _answers(resolver, url_host, "A")]
    addresses += [str(record) for record in await _answers(resolver, url_host, "AAAA")]
    if not addresses:
        raise OSError(f"{url_host} has no address in DNS")
    async with asyncio.timeout(STEP_DEADLINE):
        reader, writer = await asyncio.open_connection(
            addresses[0], port, ssl=context, server_hostname=url_host
        )
        try:
            request = (
                f"GET {path} HTTP/1.0\r\nHost: {url_host}\r\nUser-Agent: mailsetup\r\n"
                "Accept: application/xml, text/xml\r\nConnection: close\r\n\r\n"
            )
            writer.write(request.encode("ascii"))
            await writer.drain()
            response = b""
            while len(response) <= MAX_CONFIG + 16 * 1024:  # headers and a file, at most
                chunk = await reader.read(65536)
                if not chunk:
                    break
                response += chunk
        finally:
            writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise OSError(f"{url_host} did not answer HTTP")
    location = next(
        (
            line.split(":", 1)[1].strip()
            for line in lines[1:]
            if line.lower().startswith("location:")
        ),
        "",
    )
    return int(parts[1]), body[: MAX_CONFIG + 1], location


async def from_autoconfig(
    domain: str,
    resolver: dns.asyncresolver.Resolver,
    context: ssl.SSLContext,
    notes: list[str],
    port: int = 443,
) -> Found | None:
    """The domain's own autoconfig file, at its two places in turn."""
    places = (
        (f"autoconfig.{domain}", "/mail/config-v1.1.xml"),
        (domain, "/.well-known/autoconfig/mail/config-v1.1.xml"),
    )
    for host, path in places:
        url = f"https://{host}{path}"
        try:
            status, body, location = await fetch(host, path, resolver, context, port)
        except ssl.SSLCertVerificationError as error:
            notes.append(f"{url}: its certificate is not trusted ({error.verify_message})")
            continue
        except (OSError, TimeoutError, NoDns, ssl.SSLError) as error:
            notes.append(f"{url}: {_why(error)}")
            continue
        if 300 <= status < 400:
            notes.append(f"{url}: redirects to {location or 'nowhere'}; not followed")
            continue
        if status != 200:
            notes.append(f"{url}: HTTP {status}")
            continue
        if len(body) > MAX_CONFIG:
            notes.append(f"{url}: larger than {MAX_CONFIG // 1024} kB; not an autoconfig file")
            continue
        try:
            server = parse_autoconfig(body)
        except ValueError as error:
            notes.append(f"{url}: {error}")
            continue
        if server is None:
            notes.append(f"{url}: names no encrypted SMTP server")
            continue
        return Found(*server, Source.AUTOCONFIG, url)
    return None


def _why(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {STEP_DEADLINE:g} s"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


# --- the whole search -----------------------------------------------------------------------


async def discover(
    address: str,
    *,
    ca_file: str | os.PathLike[str] | None = None,
    ispdb: bool = False,
    environ: Mapping[str, str] | None = None,
    https_port: int = 443,
    timeout: float = 15.0,
) -> Discovery:
    """Look for `address`'s submission server in the mail clients' order; ValueError for an
    address that is not one. Never raises for what the network says, and returns within
    `timeout` seconds with what it has by then. (`https_port` is where the autoconfig files are
    fetched: 443, but for the tests' unprivileged servers.)"""
    discovery = Discovery(domain_of(address))
    domain, notes = discovery.domain, discovery.notes
    try:
        resolver = make_resolver(environ)
    except NoDns as error:
        notes.append(str(error))
        return discovery
    context = tls_context(ca_file)
    try:
        async with asyncio.timeout(timeout):
            discovery.found = (
                await from_autoconfig(domain, resolver, context, notes, https_port)
                or await _srv_step(domain, resolver, notes)
                or await _mx_step(domain, resolver, notes)
                or (await _ispdb(domain, resolver, context, notes, https_port) if ispdb else None)
            )
    except TimeoutError:
        notes.append(f"stopped after {timeout:g} s (the deadline) with nothing found")
    return discovery


async def _srv_step(
    domain: str, resolver: dns.asyncresolver.Resolver, notes: list[str]
) -> Found | None:
    try:
        found = await from_srv(domain, resolver)
    except NoDns as error:
        notes.append(f"SRV: {error}")
        return None
    if found is None:
        notes.append("SRV: no submission record")
    return found


async def _mx_step(
    domain: str, resolver: dns.asyncresolver.Resolver, notes: list[str]
) -> Found | None:
    try:
        mx = await mx_hosts(domain, resolver)
    except NoDns as error:
        notes.append(f"MX: {error}")
        return None
    found = from_mx(mx)
    if found is None:
        notes.append(
            f"MX: {', '.join(mx[:3])} (neither Google nor Microsoft 365)" if mx else "MX: none"
        )
    return found


async def _ispdb(
    domain: str,
    resolver: dns.asyncresolver.Resolver,
    context: ssl.SSLContext,
    notes: list[str],
    port: int,
) -> Found | None:
    url = f"https://{ISPDB}/v1.1/{domain}"
    try:
        status, body, _ = await fetch(ISPDB, f"/v1.1/{domain}", resolver, context, port)
        server = parse_autoconfig(body) if status == 200 else None
    except (OSError, TimeoutError, NoDns, ssl.SSLError, ValueError) as error:
        notes.append(f"{url}: {_why(error)}")
        return None
    if server is None:
        notes.append(f"{url}: nothing for {domain}")
        return None
    return Found(*server, Source.ISPDB, url)
