"""The connection test: connect, encrypt, log in and ask to send, without sending anything.

One coroutine under one deadline (`SmtpDialogue`). The steps: resolve, connect, greeting,
EHLO, STARTTLS (or implicit TLS), EHLO again, one AUTH, MAIL FROM the account's address and
RCPT TO postmaster@ its domain (which catches an account that may not send as that address:
Postfix reports a sender-login mismatch at RCPT time), RSET, QUIT. Every failure becomes a
`ProbeFailure` (`core.failures`) whose reason says what to change. `-v` logs each step with the
server's reply; no log line and no reason carries a secret. The dialogue logs in with one
`Credential` (`core.credential`), whatever kind it is; sending (`core.delivery`) runs the same
dialogue with its own work after the login. Front ends reach this through `core.session`
(ARCHITECTURE.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiosmtplib
from aiosmtplib import SMTP, SMTPResponse

from mailsetup_tui.core.account import Account, fully_qualified
from mailsetup_tui.core.credential import Credential, Password
from mailsetup_tui.core.failures import (
    CertificateFacts,
    Failed,
    FailureKind,
    ProbeFailure,
    ProbeResult,
    Step,
    certificate_failure,
    dns_failure,
    mechanism_unsupported,
    no_usable_login,
    recipient_refusal,
    refused_failure,
    reply_failure,
    timeout_failure,
    transport_failure,
    verification_error,
)
from mailsetup_tui.core.providers import Security
from mailsetup_tui.core.redact import auth_forms, redact

__all__ = [
    "FailureKind",
    "ProbeFailure",
    "ProbeResult",
    "SmtpDialogue",
    "Step",
    "probe",
    "tls_context",
]

log = logging.getLogger(__name__)

GREETING_PATIENCE = 3.0
"""Seconds a server may stay silent before Security Auto asks whether it wants TLS instead."""

PASSWORD_MECHANISMS = ("plain", "login")
"""In order of preference: PLAIN takes one round trip, LOGIN two."""


def tls_context(ca_file: str | os.PathLike[str] | None = None) -> ssl.SSLContext:
    """A verifying client context: the system store (honouring SSL_CERT_FILE) or `ca_file`.

    `ssl.create_default_context` loads OpenSSL's default paths, which is where SSL_CERT_FILE and
    SSL_CERT_DIR take effect. A `ca_file` replaces the system store rather than adding to it, so
    that "trusted" means exactly what the administrator named.
    """
    if ca_file is not None:
        return ssl.create_default_context(cafile=os.fspath(ca_file))
    return ssl.create_default_context()


async def probe(
    account: Account,
    credential: Credential | str,
    *,
    timeout: float,
    ca_file: str | os.PathLike[str] | None = None,
) -> ProbeResult:
    """Test `account` with `credential` against its server, within `timeout` seconds overall.

    A plain string is a password (for an account with Microsoft sign-in: an access token in
    hand, sent with AUTH XOAUTH2).

    Never raises for a connection problem: every failure is a `ProbeResult` with a reason.
    Cancelling the task closes the connection before `CancelledError` propagates.
    """
    if isinstance(credential, str):
        credential = Password.of(account, credential)
    return await SmtpDialogue(account, credential, timeout, ca_file).run()


Work = Callable[["SmtpDialogue", SMTP], Awaitable[None]]
"""What to do once logged in, instead of the sender check: `Mailer` sends a message."""


class _Untrusted(Exception):
    """The certificate failed verification: `run` fetches it to say why, then fails."""

    def __init__(self, error: ssl.SSLCertVerificationError) -> None:
        super().__init__(error)
        self.error = error


class SmtpDialogue:
    """One connection's state: the step reached and the open connection, for cleanup and
    reasons. The probe and sending both use it, so sending connects exactly as testing
    does: same deadline, same TLS rules, same single login, same failure reasons."""

    def __init__(
        self,
        account: Account,
        credential: Credential,
        timeout: float,
        ca_file: str | os.PathLike[str] | None,
    ) -> None:
        self.account = account
        self.credential = credential
        self.secret = ""
        """What AUTH sends, asked of the credential just before connecting."""
        self.timeout = timeout
        self.ca_file = ca_file
        self.step = Step.RESOLVE
        self.smtp: SMTP | None = None
        self.recipient: str | None = None
        """The recipient being offered in RCPT TO while sending, so a refusal names it."""
        self.socket: socket.socket | None = None
        """Our own handle on the connection; aiosmtplib gets a dup() of it (see `_close`)."""
        self.tls_version: str | None = None
        self.certificate_expires: float | None = None
        self.note: str | None = None
        self._sent: tuple[str, ...] = ()
        """What AUTH carried (the secret, its base64 payloads), masked in every reply after."""
        self.started = time.monotonic()
        self._deadline: asyncio.Timeout | None = None

    def extend_deadline(self) -> None:
        """A fresh deadline from now: each message of a burst gets the whole of it."""
        if self._deadline is not None:
            self._deadline.reschedule(asyncio.get_running_loop().time() + self.timeout)

    @property
    def where(self) -> str:
        return f"{self.account.server}:{self.account.port}"

    @property
    def host(self) -> str:
        """The server name for DNS and for checking its certificate: an IPv6 literal without
        its brackets, so that the certificate is checked against the address."""
        return self.account.server.strip("[]")

    async def run(self, work: Work | None = None) -> ProbeResult:
        """Connect, encrypt, log in, then `work` (default: the sender check), all within
        the deadline; never raises for a connection problem.

        The secret is had first, outside the deadline: a Microsoft sign-in may need a token
        refresh, which has its own deadline and fails as a login step that never connected.
        """
        failure: ProbeFailure | None = None
        try:
            self.secret = await self.credential.login_secret(
                timeout=self.timeout, ca_file=self.ca_file
            )
        except Failed as failed:
            return ProbeResult(failed.failure, Step.AUTH, time.monotonic() - self.started)
        self.started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout) as self._deadline:
                await self._steps(work)
        except TimeoutError:
            failure = timeout_failure(self.account, self.step, self.timeout).failure
        except Failed as failed:
            failure = failed.failure
        finally:
            self._close()
        if failure is not None:
            log.info("%s failed during %s: %s", self.where, self.step, failure.reason)
        else:
            self.step = Step.DONE
            log.info("%s: the test succeeded", self.where)
        elapsed = time.monotonic() - self.started
        return ProbeResult(
            failure, self.step, elapsed, self.tls_version, self.note, self.certificate_expires
        )

    async def _steps(self, work: Work | None) -> None:
        try:
            smtp = await self.open(tls_context(self.ca_file))
        except _Untrusted as untrusted:
            facts = await self._certificate_facts()
            raise certificate_failure(self.account, untrusted.error, facts) from None
        await self._login(smtp)
        if work is None:
            await self._check_sender(smtp)
        else:
            await work(self, smtp)
        self.step = Step.DONE
        with contextlib.suppress(aiosmtplib.SMTPException):
            await smtp.quit()

    async def _certificate_facts(self) -> CertificateFacts | None:
        """Fetch the certificate that failed verification, to tell the user what it is.

        A second connection with verification off, which stops right after the handshake: it
        never reaches AUTH, so nothing secret crosses it. Best effort: None if it fails.
        """
        step = self.step
        self._close()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            smtp = await self.open(context, quiet=True)
            ssl_object = smtp.get_transport_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        except (Failed, _Untrusted):
            der = None
        finally:
            self._close()
            self.step = step
        return CertificateFacts.of(der) if der else None

    async def open(self, context: ssl.SSLContext, *, quiet: bool = False) -> SMTP:
        """Connect and reach an EHLO'd session, encrypted unless security is NONE."""
        security = self.account.transport_security
        self.socket = await self._connect(quiet=quiet)
        ehlo_name = _ehlo_name(self.socket)
        self.smtp = smtp = SMTP(
            hostname=self.host,
            sock=self.socket.dup(),
            # aiosmtplib would otherwise ask socket.getfqdn(): a DNS query nobody asked for.
            local_hostname=ehlo_name,
            use_tls=security is Security.TLS,
            start_tls=False,
            tls_context=context,
            timeout=self.timeout,
        )
        say = _say_nothing if quiet else self.log_reply
        self.step = Step.TLS_HANDSHAKE if security is Security.TLS else Step.GREETING
        with self.classified():
            say("greeting", await self._greeting(smtp))
            self._encrypted(smtp, quiet)
            self.step = Step.EHLO
            say(f"EHLO {ehlo_name}", await smtp.ehlo(), extensions=True)
            if security is Security.STARTTLS:
                self.step = Step.STARTTLS
                if not smtp.supports_extension("starttls"):
                    raise Failed(
                        FailureKind.NO_STARTTLS,
                        f"{self.account.server} does not offer STARTTLS; refusing to send "
                        "the password unencrypted",
                    )
                say("STARTTLS", await smtp.starttls())
                self._encrypted(smtp, quiet)
                self.step = Step.EHLO
                say(f"EHLO {ehlo_name}", await smtp.ehlo(), extensions=True)
        return smtp

    async def _greeting(self, smtp: SMTP) -> SMTPResponse:
        """The server's greeting. With Security Auto on a port other than 465 the server is
        expected to greet in clear for STARTTLS; one silent for a few seconds may instead be
        waiting for a TLS handshake (implicit TLS on another port), which would otherwise
        show only as the whole deadline running out. Then, within the same deadline, a second
        connection tries a handshake and sends nothing else: if it is answered, the reason
        says to choose TLS. Nothing is switched silently."""
        chose_starttls = self.account.transport_security is Security.STARTTLS
        if self.account.security is not Security.AUTO or not chose_starttls:
            return await smtp.connect()
        patience = min(GREETING_PATIENCE, self.timeout / 3)
        greeted = asyncio.ensure_future(smtp.connect())
        try:
            done, _ = await asyncio.wait({greeted}, timeout=patience)
            if not done and await self._answers_tls_handshake():
                raise Failed(
                    FailureKind.TLS_MISMATCH,
                    f"{self.where} sent no greeting within {patience:g} s, but answers a TLS "
                    f"handshake: port {self.account.port} expects implicit TLS; choose "
                    "Security TLS",
                )
            return await greeted
        finally:
            if not greeted.done():
                greeted.cancel()
                with contextlib.suppress(BaseException):
                    await greeted

    async def _answers_tls_handshake(self) -> bool:
        """Whether the server completes a TLS handshake on a connection of its own (no
        certificate check: this only asks which protocol the port speaks)."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            _, writer = await asyncio.open_connection(
                self.host, self.account.port, ssl=context, server_hostname=self.host
            )
        except (OSError, ssl.SSLError):
            return False
        writer.transport.abort()
        return True

    def _encrypted(self, smtp: SMTP, quiet: bool) -> None:
        ssl_object = smtp.get_transport_info("ssl_object") if smtp.is_connected else None
        if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
            return
        self.tls_version = ssl_object.version()
        cert = ssl_object.getpeercert() or {}
        with contextlib.suppress(ValueError, TypeError, KeyError):
            self.certificate_expires = ssl.cert_time_to_seconds(str(cert["notAfter"]))
        if quiet:
            return
        log.info(
            "TLS: %s, certificate subject %s, issuer %s",
            self.tls_version,
            _name(cert.get("subject", ())),
            _name(cert.get("issuer", ())),
        )

    async def _connect(self, *, quiet: bool = False) -> socket.socket:
        """Resolve and connect ourselves, so DNS, refusal and timeouts get their own reasons."""
        loop = asyncio.get_running_loop()
        self.step = Step.RESOLVE
        try:
            addresses = await loop.getaddrinfo(
                self.host, self.account.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (socket.gaierror, UnicodeError) as error:
            raise dns_failure(self.account, error) from error
        self.step = Step.CONNECT
        last_error: OSError | None = None
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError as error:
                sock.close()
                last_error = error
                continue
            except BaseException:
                sock.close()
                raise
            if not quiet:
                log.info("connect: %s (%s port %s)", self.where, address[0], address[1])
            return sock
        raise refused_failure(self.account, last_error)

    async def _login(self, smtp: SMTP) -> None:
        """One AUTH command: lock-out counters (fail2ban, Microsoft's, Google's) are real, so a
        refused password is never tried again with another mechanism. Only a server that says
        the mechanism itself is unavailable gets the next one."""
        self.step = Step.AUTH
        if not smtp.supports_extension("auth"):
            encrypted = self.tls_version is not None
            raise Failed(
                FailureKind.NO_AUTH,
                f"{self.account.server} does not offer login (AUTH) on this connection"
                + ("" if encrypted else "; it may offer it after STARTTLS"),
            )
        offered = smtp.server_auth_methods
        login = self.account.email
        if self.account.signin is not None:
            if "xoauth2" not in offered:
                raise Failed(
                    FailureKind.NO_AUTH,
                    f"{self.account.server} does not offer Microsoft sign-in (AUTH XOAUTH2; it "
                    f"lists: {' '.join(offered).upper() or 'none'}); choose App password as "
                    "the sign-in",
                )
            mechanisms = ["xoauth2"]
        else:
            mechanisms = [m for m in PASSWORD_MECHANISMS if m in offered]
            if not mechanisms:
                raise no_usable_login(self.account, offered)
        self._sent = auth_forms(login, self.secret)
        for position, mechanism in enumerate(mechanisms, start=1):
            command = f"AUTH {mechanism.upper()} ****"
            with self.classified():
                try:
                    response = await getattr(smtp, f"auth_{mechanism}")(login, self.secret)
                except aiosmtplib.SMTPAuthenticationError as refused:
                    if position == len(mechanisms) or not mechanism_unsupported(
                        refused.code, refused.message
                    ):
                        raise
                    text = " ".join(self.heard(refused.message).split())
                    log.info("%s: %s %s (the next mechanism)", command, refused.code, text)
                    continue
            self.log_reply(command, response)
            return

    async def _check_sender(self, smtp: SMTP) -> None:
        """MAIL FROM the account's address, RCPT TO postmaster@ its domain (which must exist,
        RFC 5321 4.5.1), RSET: the server says whether this login may send as that address
        without a message being sent. A refusal of postmaster@ alone says nothing about the
        sender, so it only becomes a note."""
        sender = self.account.email
        postmaster = f"postmaster@{sender.rsplit('@', 1)[1]}"
        with self.classified():
            self.step = Step.MAIL_FROM
            self.log_reply(f"MAIL FROM:<{sender}>", await smtp.mail(sender))
            self.step = Step.RCPT_TO
            command = f"RCPT TO:<{postmaster}>"
            try:
                self.log_reply(command, await smtp.rcpt(postmaster))
            except aiosmtplib.SMTPRecipientRefused as refused:
                text = self.heard(refused.message)
                self.log_reply(command, SMTPResponse(refused.code, text))
                failed = recipient_refusal(self.account, refused.code, text)
                if failed is not None:
                    raise failed from None
                self.note = (
                    f"the server refused the test recipient {postmaster} ({refused.code} "
                    f"{' '.join(text.split())}), so it could not confirm that {sender} may "
                    "send; Send test checks that with a real message"
                )
            self.step = Step.RSET
            self.log_reply("RSET", await smtp.rset())

    def heard(self, text: str) -> str:
        """A server's words after AUTH, with anything it echoes of what AUTH carried masked."""
        return redact(text, *self._sent) if self._sent else text

    def log_reply(self, command: str, response: SMTPResponse, *, extensions: bool = False) -> None:
        text = self.heard(response.message)
        if extensions and self.smtp is not None:
            offered = " ".join(name.upper() for name in self.smtp.esmtp_extensions)
            text = f"{text.splitlines()[0] if text else ''}; offers {offered or 'nothing'}"
        log.info("%s: %s %s", command, response.code, " ".join(text.split()))

    @contextlib.contextmanager
    def classified(self) -> Iterator[None]:
        """Turn aiosmtplib's and ssl's exceptions into a `Failed` for the current step."""
        try:
            yield
        except (Failed, _Untrusted, TimeoutError, asyncio.CancelledError):
            raise
        except aiosmtplib.SMTPTimeoutError as error:
            raise TimeoutError from error
        except aiosmtplib.SMTPResponseException as error:
            text = self.heard(error.message)
            log.info("%s refused: %s %s", self.step, error.code, " ".join(text.split()))
            raise reply_failure(
                self.account, self.step, error.code, text, recipient=self.recipient
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            certificate = verification_error(error)
            if certificate is not None:
                raise _Untrusted(certificate) from error
            offered = self.smtp.server_auth_methods if self.smtp else []
            raise transport_failure(self.account, self.step, error, offered) from error

    def _close(self) -> None:
        """Drop the connection now, whatever state it is in.

        aiosmtplib's transport owns a dup() of our socket and closes it on its own schedule
        (a TLS close even waits for the peer's close_notify, which a stalled or cancelled
        server never sends). Shutting down our handle ends the TCP connection at once for
        both; closing only our own fd never frees a number the event loop still watches.
        """
        if self.smtp is not None:
            if isinstance(self.smtp.transport, asyncio.WriteTransport):
                self.smtp.transport.abort()
            self.smtp.close()
            self.smtp = None
        if self.socket is not None:
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_RDWR)
            self.socket.close()
            self.socket = None


def _ehlo_name(sock: socket.socket) -> str:
    """This host's name for EHLO, without DNS: its hostname when that is fully qualified,
    otherwise the address literal RFC 5321 (4.1.3) allows. A short name such as `vm` is
    refused by servers with reject_non_fqdn_helo_hostname, as Postfix submission ports
    commonly are."""
    name = socket.gethostname().rstrip(".")
    if fully_qualified(name):
        return name
    address = ipaddress.ip_address(sock.getsockname()[0].split("%")[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"[{address.ipv4_mapped}]"
        return f"[IPv6:{address}]"
    return f"[{address}]"


def _say_nothing(command: str, response: SMTPResponse, *, extensions: bool = False) -> None:
    """`SmtpDialogue.log_reply` for the certificate fetch, which is not a step of the test."""


def _name(rdns: Any) -> str:
    """A certificate name from `getpeercert()` (nested tuples) as `CN=..., O=...`."""
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU"}
    pairs = [pair for rdn in rdns for pair in rdn]
    return ", ".join(f"{short.get(key, key)}={value}" for key, value in pairs) or "(none)"
