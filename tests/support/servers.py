"""Real SMTP servers on 127.0.0.1 for the tests: aiosmtpd with trustme certificates, and raw
TCP servers that misbehave the way broken or wrong servers do."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.providers import ProviderId, Security

HOST = "127.0.0.1"
LOGIN = "mfa@example.com"
PASSWORD = "S3cret-app-pass-4711"  # distinctive, so a leak is easy to grep for


def other_account(port: int, security: Security = Security.AUTO) -> Account:
    """An Other account pointing at a loopback test server."""
    return Account.create(
        ProviderId.OTHER,
        "Verification Codes",
        LOGIN,
        server=HOST,
        port=port,
        security=security,
    )


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Certificates:
    """A private CA, its PEM file for --ca-file, and a server context for 127.0.0.1."""

    ca: trustme.CA
    ca_file: Path
    server_context: ssl.SSLContext

    @classmethod
    def create(
        cls,
        directory: Path,
        name: str,
        *identities: str,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> Certificates:
        """A CA named `name` and a server certificate for `identities` (default: 127.0.0.1,
        ::1 and localhost), valid as trustme makes it unless `not_before`/`not_after`."""
        ca = trustme.CA(organization_name=f"mailsetup test CA {name}")
        leaf = ca.issue_cert(
            *(identities or (HOST, "::1", "localhost")), not_before=not_before, not_after=not_after
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        ca_file = directory / f"{name}-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        return cls(ca, ca_file, context)


@dataclass
class AuthAttempt:
    login: str
    password: str
    encrypted: bool


@dataclass
class Authenticator:
    """Accepts LOGIN/PASSWORD; any other pair gets `reject_reply` (535 5.7.8 by default)."""

    reject_reply: str | None = None
    attempts: list[AuthAttempt] = field(default_factory=list)
    accepts_password: bool = True
    """False: every password login is refused, as where only OAuth2 is allowed."""
    password: str = PASSWORD
    """The one password this server accepts for LOGIN."""

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode()
        password = auth_data.password.decode()
        assert server.transport is not None
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.attempts.append(AuthAttempt(login, password, encrypted))
        if self.accepts_password and (login, password) == (LOGIN, self.password):
            return AuthResult(success=True)
        # handled=False makes aiosmtpd send the reply; with the default it sends none.
        return AuthResult(success=False, handled=False, message=self.reject_reply)


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class RecordingHandler:
    """Records what was delivered; refuses MAIL FROM with `refuse_sender` when set."""

    hide_auth: bool

    def __init__(
        self,
        refuse_sender: str | None = None,
        *,
        refuse_recipient: tuple[str, str] | None = None,
        refuse_data: str | None = None,
    ) -> None:
        self.refuse_sender = refuse_sender
        self.refuse_recipient = refuse_recipient
        """(address, reply): RCPT TO that address gets that reply."""
        self.refuse_data = refuse_data
        self.hide_auth = False
        """Drop AUTH from the EHLO reply: a relay that offers no login at all."""
        self.hidden: set[str] = set()
        """Other extensions to drop from the EHLO reply (e.g. 8BITMIME)."""
        self.mail_options: list[list[str]] = []
        self.delivered: list[Delivered] = []
        self.mail_from: list[str] = []

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        hidden = self.hidden | ({"AUTH"} if self.hide_auth else set())
        return [line for line in responses if line[4:].split(" ")[0] not in hidden]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mail_from.append(address)
        self.mail_options.append(list(options))
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_recipient and address == self.refuse_recipient[0]:
            return self.refuse_recipient[1]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        content = envelope.original_content or b""
        self.delivered.append(Delivered(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A running aiosmtpd server and what it saw."""

    port: int
    authenticator: Authenticator | None
    handler: RecordingHandler
    certificates: Certificates | None

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        return self.authenticator.attempts if self.authenticator else []


Mode = Literal["starttls", "implicit", "plain"]


@contextlib.contextmanager
def run_smtp_server(
    mode: Mode,
    certificates: Certificates | None,
    *,
    authenticator: Authenticator | None = None,
    handler: RecordingHandler | None = None,
    auth: bool = True,
    auth_exclude: tuple[str, ...] = (),
    host: str = HOST,
    port: int | None = None,
    **smtp_options: Any,
) -> Iterator[SmtpServer]:
    """Start aiosmtpd in a thread on a free loopback port (of `host`); stop it on exit.
    `smtp_options` go to aiosmtpd's SMTP (e.g. data_size_limit, which it offers as SIZE)."""
    handler = handler or RecordingHandler()
    if auth and authenticator is None:
        authenticator = Authenticator()
    if not auth:
        authenticator = None
        handler.hide_auth = True
    port = port or free_port(host)
    kwargs: dict[str, Any] = {
        "hostname": host,
        "port": port,
        "authenticator": authenticator,
        "auth_required": False,
        "auth_exclude_mechanism": list(auth_exclude),
        **smtp_options,
    }
    if mode == "starttls":
        assert certificates is not None
        kwargs |= {"tls_context": certificates.server_context, "require_starttls": True}
    elif mode == "implicit":
        assert certificates is not None
        # aiosmtpd does not count implicit TLS as TLS for its AUTH rule (design.md).
        kwargs |= {"ssl_context": certificates.server_context, "auth_require_tls": False}
    else:
        kwargs |= {"auth_require_tls": False}
    controller = Controller(handler, **kwargs)
    controller.start()
    try:
        yield SmtpServer(port, authenticator, handler, certificates)
    finally:
        controller.stop()


# --- raw servers that are not (well-behaved) SMTP servers --------------------------------------


Behaviour = Literal["stall", "close", "http", "banner_then_stall", "banner_then_garbage"]


@dataclass
class RawServer:
    """An asyncio TCP server in the test's own loop, recording when its clients hang up."""

    port: int
    connections: int = 0
    hangups: asyncio.Event = field(default_factory=asyncio.Event)
    received: bytearray = field(default_factory=bytearray)


@contextlib.asynccontextmanager
async def run_raw_server(behaviour: Behaviour) -> AsyncIterator[RawServer]:
    state = RawServer(port=0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            if behaviour == "close":
                return
            if behaviour == "http":
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
            if behaviour in {"banner_then_stall", "banner_then_garbage"}:
                writer.write(b"220 raw.example.com ESMTP\r\n")
                await writer.drain()
            if behaviour == "banner_then_garbage":
                await reader.readline()  # EHLO
                writer.write(b"\xff\xfe garbled by a broken middlebox\r\n")
                await writer.drain()
            while chunk := await reader.read(4096):
                state.received.extend(chunk)
        except ConnectionError:
            pass
        finally:
            state.hangups.set()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(serve, HOST, 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


class ThreadedRawServer:
    """A raw server in its own thread, for subprocess tests where no test loop runs."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with run_raw_server(self.behaviour) as state:
            self.port = state.port
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedRawServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
