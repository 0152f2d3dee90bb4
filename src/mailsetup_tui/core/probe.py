"""The connection test: connect, encrypt, log in and ask to send, without sending anything.

One coroutine under one deadline. The steps: resolve, connect, greeting, EHLO, STARTTLS (or
implicit TLS), EHLO again, AUTH, MAIL FROM and RCPT TO the account's own address (which catches
an account that may not send as that address), RSET, QUIT. Every failure becomes a
`ProbeFailure` whose reason says what to change; no reason ever contains the password. The
front ends reach this through `core.session` (ARCHITECTURE.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib
from aiosmtplib import SMTP

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.providers import ProviderId, Security
from mailsetup_tui.core.redact import redact

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0


class Step(StrEnum):
    """How far a probe got; named as a user would read it in "during <step>"."""

    RESOLVE = "name lookup"
    CONNECT = "connect"
    TLS_HANDSHAKE = "TLS handshake"
    GREETING = "greeting"
    EHLO = "EHLO"
    STARTTLS = "STARTTLS"
    AUTH = "login"
    MAIL_FROM = "MAIL FROM"
    RCPT_TO = "RCPT TO"
    RSET = "RSET"
    DATA = "DATA"
    DONE = "done"


class FailureKind(StrEnum):
    """Why a probe failed; stable names for scripts (`--json`) and tests."""

    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS_MISMATCH = "tls_mismatch"
    TLS = "tls"
    CERTIFICATE = "certificate"
    NOT_SMTP = "not_smtp"
    NO_STARTTLS = "no_starttls"
    STARTTLS_REQUIRED = "starttls_required"
    NO_AUTH = "no_auth"
    APP_PASSWORD_REQUIRED = "app_password_required"
    CREDENTIALS = "credentials"
    OAUTH_REQUIRED = "oauth_required"
    SMTP_AUTH_DISABLED = "smtp_auth_disabled"
    SIGNIN = "signin"
    """Microsoft sign-in failed before SMTP (declined, expired, wrong app or tenant...)."""
    SIGNIN_REVOKED = "signin_revoked"
    """The stored Microsoft sign-in no longer works: someone must sign in again."""
    SENDER_REFUSED = "sender_refused"
    RECIPIENT_REFUSED = "recipient_refused"
    MESSAGE_REFUSED = "message_refused"
    CLOSED = "closed"
    SERVER_ERROR = "server_error"


@dataclass(frozen=True)
class ProbeFailure:
    """A failed probe: its kind and a one-line reason the user can act on."""

    kind: FailureKind
    reason: str


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe."""

    failure: ProbeFailure | None
    step: Step
    """The step reached: DONE on success, the failing step otherwise."""
    elapsed: float
    """Seconds from start to outcome."""
    tls_version: str | None = None
    """The TLS version negotiated, or None for a clear-text connection."""

    @property
    def ok(self) -> bool:
        return self.failure is None


class Failed(Exception):
    """Carries a classified failure out of the step sequence (raised inside `Session`)."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


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
    password: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    ca_file: str | os.PathLike[str] | None = None,
) -> ProbeResult:
    """Test `account` with `password` against its server, within `timeout` seconds overall.

    For an account with Microsoft sign-in, `password` is a current access token, sent with
    AUTH XOAUTH2 (`core.oauth.probe_signed_in` gets one first).

    Never raises for a connection problem: every failure is a `ProbeResult` with a reason.
    Cancelling the task closes the connection before `CancelledError` propagates.
    """
    session = Session(account, account.provider.normalize_password(password), timeout, ca_file)
    return await session.run()


Work = Callable[["Session", SMTP], Awaitable[None]]
"""What to do once logged in, instead of the sender check: `Mailer` sends a message."""


class Session:
    """One connection's state: the step reached and the open connection, for cleanup and
    reasons. The probe and the mailer both use it, so sending connects exactly as testing
    does: same deadline, same TLS rules, same failure reasons."""

    def __init__(
        self,
        account: Account,
        password: str,
        timeout: float,
        ca_file: str | os.PathLike[str] | None,
    ) -> None:
        self.account = account
        self.password = password
        self.timeout = timeout
        self.ca_file = ca_file
        self.step = Step.RESOLVE
        self.smtp: SMTP | None = None
        self.recipient: str | None = None
        """The recipient being offered in RCPT TO while sending (None for the probe's own
        address), so a refusal names the right party."""
        self.socket: socket.socket | None = None
        """Our own handle on the connection; aiosmtplib gets a dup() of it (see `_close`)."""
        self.started = time.monotonic()

    @property
    def where(self) -> str:
        return f"{self.account.server}:{self.account.port}"

    async def run(self, work: Work | None = None) -> ProbeResult:
        """Connect, encrypt, log in, then `work` (default: the sender check), all within
        the deadline; never raises for a connection problem."""
        tls_version: str | None = None
        failure: ProbeFailure | None
        try:
            async with asyncio.timeout(self.timeout):
                tls_version = await self._steps(work)
        except TimeoutError:
            failure = ProbeFailure(FailureKind.TIMEOUT, self._timeout_reason())
        except Failed as failed:
            failure = ProbeFailure(failed.kind, failed.reason)
        else:
            failure = None
        finally:
            self._close()
        if failure is not None:
            failure = ProbeFailure(failure.kind, redact(failure.reason, self.password))
            log.info("%s failed during %s: %s", self.where, self.step, failure.reason)
        else:
            self.step = Step.DONE
            log.info("%s succeeded", self.where)
        return ProbeResult(failure, self.step, time.monotonic() - self.started, tls_version)

    async def _steps(self, work: Work | None) -> str | None:
        try:
            smtp = await self.open(tls_context(self.ca_file))
        except Failed as failed:
            if failed.kind is FailureKind.CERTIFICATE:
                details = await self._untrusted_certificate_details()
                if details:
                    raise Failed(failed.kind, f"{failed.reason}; {details}") from failed
            raise
        tls_version = _tls_version(smtp)
        await self._login(smtp)
        if work is None:
            await self._check_sender(smtp)
        else:
            await work(self, smtp)
        self.step = Step.DONE
        with contextlib.suppress(aiosmtplib.SMTPException):
            await smtp.quit()
        return tls_version

    async def _untrusted_certificate_details(self) -> str | None:
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
            smtp = await self.open(context)
            ssl_object = smtp.get_transport_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        except Failed:
            der = None
        finally:
            self._close()
            self.step = step
        return describe_certificate(der) if der else None

    async def open(self, context: ssl.SSLContext) -> SMTP:
        """Connect and reach an EHLO'd session, encrypted unless security is NONE."""
        security = self.account.transport_security
        self.socket = await self._connect()
        self.smtp = smtp = SMTP(
            hostname=self.account.server,
            sock=self.socket.dup(),
            # aiosmtplib would otherwise ask socket.getfqdn(): a DNS query nobody asked for.
            local_hostname=_ehlo_name(self.socket),
            use_tls=security is Security.TLS,
            start_tls=False,
            tls_context=context,
            timeout=self.timeout,
        )
        self.step = Step.TLS_HANDSHAKE if security is Security.TLS else Step.GREETING
        with self.classified():
            await smtp.connect()
            self.step = Step.EHLO
            await smtp.ehlo()
            if security is Security.STARTTLS:
                self.step = Step.STARTTLS
                if not smtp.supports_extension("starttls"):
                    raise Failed(
                        FailureKind.NO_STARTTLS,
                        f"{self.account.server} does not offer STARTTLS; refusing to send "
                        "the password unencrypted",
                    )
                await smtp.starttls()
                self.step = Step.EHLO
                await smtp.ehlo()
        return smtp

    async def _connect(self) -> socket.socket:
        """Resolve and connect ourselves, so DNS, refusal and timeouts get their own reasons."""
        loop = asyncio.get_running_loop()
        host = self.account.server.strip("[]")
        self.step = Step.RESOLVE
        try:
            addresses = await loop.getaddrinfo(
                host, self.account.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (socket.gaierror, UnicodeError) as error:
            raise Failed(
                FailureKind.DNS, f'server name "{self.account.server}" could not be resolved'
            ) from error
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
            return sock
        detail = f" ({last_error.strerror})" if last_error and last_error.strerror else ""
        raise Failed(
            FailureKind.REFUSED,
            f"nothing accepts connections on {self.account.server} port {self.account.port}"
            f"{detail}",
        )

    async def _login(self, smtp: SMTP) -> None:
        self.step = Step.AUTH
        if not smtp.supports_extension("auth"):
            encrypted = _tls_version(smtp) is not None
            raise Failed(
                FailureKind.NO_AUTH,
                f"{self.account.server} does not offer login (AUTH) on this connection"
                + ("" if encrypted else "; it may offer it after STARTTLS"),
            )
        with self.classified():
            if self.account.signin is None:
                await smtp.login(self.account.email, self.password)
                return
            if "xoauth2" not in smtp.server_auth_methods:
                offered = " ".join(smtp.server_auth_methods) or "none"
                raise Failed(
                    FailureKind.NO_AUTH,
                    f"{self.account.server} does not offer Microsoft sign-in (AUTH XOAUTH2; it "
                    f"lists: {offered}); choose App password as the sign-in",
                )
            await smtp.auth_xoauth2(self.account.email, self.password)

    async def _check_sender(self, smtp: SMTP) -> None:
        with self.classified():
            self.step = Step.MAIL_FROM
            await smtp.mail(self.account.email)
            self.step = Step.RCPT_TO
            await smtp.rcpt(self.account.email)
            self.step = Step.RSET
            await smtp.rset()

    @contextlib.contextmanager
    def classified(self) -> Iterator[None]:
        """Turn aiosmtplib's and ssl's exceptions into a `Failed` for the current step."""
        try:
            yield
        except (Failed, TimeoutError, asyncio.CancelledError):
            raise
        except aiosmtplib.SMTPTimeoutError as error:
            raise TimeoutError from error
        except aiosmtplib.SMTPResponseException as error:
            raise self._reply_failure(error.code, error.message) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise self._transport_failure(error) from error

    def _transport_failure(self, error: BaseException) -> Failed:
        chain = _chain(error)
        cause = chain[-1]
        server = self.account.server
        # Search the whole chain: which link is deepest depends on how asyncio's SSL
        # protocol happened to raise it (a subprocess saw a context below the real cause).
        certificate = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
        if certificate is not None:
            return Failed(FailureKind.CERTIFICATE, self._certificate_reason(certificate))
        tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
        if tls is not None:
            return self._tls_failure(tls)
        message = str(error)
        if "No suitable authentication method" in message:
            offered = " ".join(self.smtp.server_auth_methods) if self.smtp else ""
            return Failed(
                FailureKind.NO_AUTH,
                f"{server} offers no login method mailsetup can use (it lists: "
                f"{offered or 'none'})",
            )
        if isinstance(cause, UnicodeDecodeError) or "Malformed SMTP response" in message:
            return Failed(FailureKind.NOT_SMTP, f"{self.where} does not speak SMTP")
        if isinstance(error, aiosmtplib.SMTPServerDisconnected) or isinstance(
            cause, ConnectionError | aiosmtplib.SMTPServerDisconnected
        ):
            return self._closed_failure()
        return Failed(FailureKind.SERVER_ERROR, f"{self.where}: {message} (during {self.step})")

    def _closed_failure(self) -> Failed:
        security = self.account.transport_security
        if self.step is Step.TLS_HANDSHAKE:
            return Failed(
                FailureKind.TLS_MISMATCH,
                f"{self.where} closed the connection during the TLS handshake: port "
                f"{self.account.port} may expect STARTTLS, choose that security",
            )
        if self.step is Step.GREETING and security is not Security.TLS:
            return Failed(
                FailureKind.CLOSED,
                f"{self.account.server} closed the connection during the greeting "
                "(not an SMTP server, or it refuses this client)",
            )
        return Failed(
            FailureKind.CLOSED, f"{self.account.server} closed the connection during {self.step}"
        )

    def _tls_failure(self, error: ssl.SSLError) -> Failed:
        text = f"{error.reason or ''} {error}".upper()
        if self.step is Step.TLS_HANDSHAKE and (
            "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER" in text or "UNKNOWN_PROTOCOL" in text
        ):
            return Failed(
                FailureKind.TLS_MISMATCH,
                f"port {self.account.port} expects STARTTLS, not implicit TLS: choose STARTTLS "
                "(or Auto) as the security",
            )
        return Failed(
            FailureKind.TLS,
            f"TLS with {self.where} failed: {error.reason or error.strerror or error}",
        )

    def _certificate_reason(self, error: ssl.SSLCertVerificationError) -> str:
        what = error.verify_message or "verification failed"
        return (
            f"{self.account.server}'s certificate is not trusted ({what}); "
            "use --ca-file for a private CA"
        )

    def _timeout_reason(self) -> str:
        seconds = f"{self.timeout:g}"
        if self.step is Step.RESOLVE:
            return f'looking up "{self.account.server}" took longer than {seconds} s'
        if self.step in {Step.CONNECT, Step.GREETING, Step.TLS_HANDSHAKE}:
            hint = "wrong port or firewall?"
            if self.step is Step.GREETING:
                hint = (
                    f"wrong port or firewall? If port {self.account.port} expects implicit TLS, "
                    "choose TLS"
                )
            return f"{self.where} did not answer within {seconds} s ({hint})"
        return f"{self.where} stopped answering during {self.step} (no reply within {seconds} s)"

    def _reply_failure(self, code: int, message: str) -> Failed:
        """Classify a negative SMTP reply by code and enhanced status code."""
        text = " ".join(message.split())
        reply = f"{code} {text}".strip()
        entry = self.account.provider
        if code < 0:  # aiosmtplib's code for a reply line that is not "NNN text"
            return Failed(FailureKind.NOT_SMTP, f"{self.where} does not speak SMTP")
        if self.step in {Step.GREETING, Step.TLS_HANDSHAKE}:
            return Failed(
                FailureKind.SERVER_ERROR, f"{self.account.server} refused the session: {reply}"
            )
        if code == 530 and ("STARTTLS" in text.upper() or "5.7.0" in text):
            return Failed(
                FailureKind.STARTTLS_REQUIRED,
                "the server requires STARTTLS: choose STARTTLS (or Auto) as the security",
            )
        # Microsoft's 5.7.139 comes in two kinds: SMTP AUTH off altogether (no sign-in method
        # helps until an administrator turns it on), or only password sign-in off.
        if "SmtpClientAuthentication" in text or ("5.7.139" in text and self.account.signin):
            return Failed(
                FailureKind.SMTP_AUTH_DISABLED,
                f"SMTP AUTH is turned off for {self.account.email} or its tenant: an Exchange "
                f"administrator must allow it (Set-CASMailbox -Identity {self.account.email} "
                f"-SmtpClientAuthenticationDisabled $false) ({reply})",
            )
        if ("5.7.139" in text or "5.7.30" in text) and self.account.signin is None:
            return Failed(
                FailureKind.OAUTH_REQUIRED,
                "SMTP AUTH with a password is disabled for this account or tenant: "
                "Microsoft sign-in is required. Choose Sign-in: Microsoft sign-in in the form, "
                f"or run `mailsetup signin` (README: Microsoft sign-in) ({reply})",
            )
        if self.step is Step.AUTH and self.account.signin is not None and code in {535, 534, 530}:
            return Failed(
                FailureKind.CREDENTIALS,
                f"the server did not accept the Microsoft sign-in for {self.account.email} "
                f"({reply}): sign in as the user of that mailbox, and check that the app "
                "registration has the SMTP.Send permission",
            )
        if code == 534 and ("5.7.9" in text or entry.id is ProviderId.GMAIL):
            return Failed(
                FailureKind.APP_PASSWORD_REQUIRED,
                f"{entry.label} needs an app password: {entry.app_password_hint} ({reply})",
            )
        if self.step is Step.AUTH and code in {535, 534, 454, 530, 500, 501, 504}:
            return Failed(
                FailureKind.CREDENTIALS,
                f"the server rejected the e-mail or password ({reply}); {entry.app_password_hint}",
            )
        if self.step is Step.DATA:
            return Failed(FailureKind.MESSAGE_REFUSED, f"the server refused the message ({reply})")
        if self.step is Step.RCPT_TO and self.recipient is not None:
            return Failed(
                FailureKind.RECIPIENT_REFUSED,
                f"the server refused the recipient {self.recipient} ({reply})",
            )
        if self.step in {Step.MAIL_FROM, Step.RCPT_TO}:
            return Failed(
                FailureKind.SENDER_REFUSED,
                f"the server does not let this account send as {self.account.email} ({reply})",
            )
        if self.step is Step.STARTTLS:
            return Failed(
                FailureKind.NO_STARTTLS,
                f"{self.account.server} refused STARTTLS ({reply}); refusing to send the "
                "password unencrypted",
            )
        return Failed(FailureKind.SERVER_ERROR, f"{self.account.server} answered {reply}")

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
    """This host's name for EHLO, without DNS: its hostname if that is a valid domain,
    otherwise the address literal RFC 5321 allows for a host with no usable name."""
    name = socket.gethostname()
    if re.fullmatch(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*", name):
        return name
    address = sock.getsockname()[0]
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and its causes and contexts, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def describe_certificate(der: bytes) -> str:
    """Subject, issuer, expiry and SHA-256 fingerprint: what an admin compares with the server."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return "the server sent a certificate that cannot be parsed"
    fingerprint = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    return (
        f"subject {cert.subject.rfc4514_string()}, issuer {cert.issuer.rfc4514_string()}, "
        f"expires {cert.not_valid_after_utc:%Y-%m-%d}, SHA-256 {fingerprint}"
    )


def _tls_version(smtp: SMTP) -> str | None:
    ssl_object = smtp.get_transport_info("ssl_object") if smtp.is_connected else None
    if isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return ssl_object.version()
    return None
