"""What went wrong in an SMTP dialogue, in words an administrator can act on.

The SMTP dialogue (`core.probe`), of a test or a send, holds the conversation; this module
turns each way it can fail into a `ProbeFailure`: a stable kind for scripts, a reason that
says what to change, and whether the failure is temporary (a 4xx reply, a time-out, a network
error), which decides whether a caller should try again. Server text quoted in a reason is the
server's own, exact; `core.untrusted` makes it safe wherever it is shown.
"""

from __future__ import annotations

import re
import socket
import ssl
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.providers import ProviderId, Security

SERVER_SAID_LATER = "a temporary refusal: try again in a few minutes"
MAY_BE_TEMPORARY = "this may be temporary: if the settings are right, try again in a few minutes"


class Step(StrEnum):
    """How far a session got; named as a user would read it in "during <step>"."""

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
    """Why a session failed; stable names for scripts (`--json`) and tests."""

    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS_MISMATCH = "tls_mismatch"
    TLS = "tls"
    CERTIFICATE = "certificate"
    NOT_SMTP = "not_smtp"
    NO_STARTTLS = "no_starttls"
    STARTTLS_REQUIRED = "starttls_required"
    EHLO_REFUSED = "ehlo_refused"
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
    TOO_LARGE = "too_large"
    """The message is larger than the server takes (its SIZE, or a 552 reply)."""
    DEFERRED = "deferred"
    """The server said "not now" (a 4xx reply): the same request may pass later."""
    CLOSED = "closed"
    SERVER_ERROR = "server_error"


class ProbeFailure(NamedTuple):
    """A failed session: its kind, a one-line reason the user can act on, and whether trying
    again later may succeed."""

    kind: FailureKind
    reason: str
    temporary: bool = False


class ProbeResult(NamedTuple):
    """The outcome of one connection test."""

    failure: ProbeFailure | None
    step: Step
    """The step reached: DONE on success, the failing step otherwise."""
    elapsed: float
    """Seconds from start to outcome."""
    tls_version: str | None = None
    """The TLS version negotiated (also when a later step failed); None for clear text."""
    note: str | None = None
    """Something a passed test could not check, worth saying beside the success."""
    certificate_expires: float | None = None
    """When the server's verified certificate ends (epoch seconds); None without TLS."""

    @property
    def ok(self) -> bool:
        return self.failure is None


class Failed(Exception):
    """Carries a classified failure out of the step sequence."""

    def __init__(self, kind: FailureKind, reason: str, *, temporary: bool = False) -> None:
        super().__init__(reason)
        if temporary:
            later = SERVER_SAID_LATER if kind is FailureKind.DEFERRED else MAY_BE_TEMPORARY
            reason = f"{reason}; {later}"
        self.failure = ProbeFailure(kind, reason, temporary)


class CertificateFacts(NamedTuple):
    """What an administrator compares with the server's own certificate."""

    subject: str
    issuer: str
    names: tuple[str, ...]
    """The DNS names and IP addresses it is valid for."""
    expires: datetime
    sha256: str

    @classmethod
    def of(cls, der: bytes) -> CertificateFacts | None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return None
        try:
            alternatives = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            names: list[str] = []
        else:
            names = alternatives.value.get_values_for_type(x509.DNSName)
            names += [str(ip) for ip in alternatives.value.get_values_for_type(x509.IPAddress)]
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            names=tuple(names),
            expires=cert.not_valid_after_utc,
            sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        )

    def describe(self) -> str:
        return (
            f"subject {self.subject}, issuer {self.issuer}, expires {self.expires:%Y-%m-%d}, "
            f"SHA-256 {self.sha256}"
        )


# --- transport failures ----------------------------------------------------------------------


def dns_failure(account: Account, error: OSError | UnicodeError) -> Failed:
    temporary = isinstance(error, socket.gaierror) and error.errno == socket.EAI_AGAIN
    return Failed(
        FailureKind.DNS,
        f'server name "{account.server}" could not be resolved',
        temporary=temporary,
    )


def refused_failure(account: Account, error: OSError | None) -> Failed:
    detail = f" ({error.strerror})" if error and error.strerror else ""
    return Failed(
        FailureKind.REFUSED,
        f"nothing accepts connections on {account.server} port {account.port}{detail}",
        temporary=True,
    )


def timeout_failure(account: Account, step: Step, timeout: float) -> Failed:
    where, seconds = f"{account.server}:{account.port}", f"{timeout:g}"
    if step is Step.RESOLVE:
        reason = f'looking up "{account.server}" took longer than {seconds} s'
    elif step in {Step.CONNECT, Step.GREETING, Step.TLS_HANDSHAKE}:
        hint = "wrong port or firewall?"
        if step is Step.GREETING:
            hint = (
                f"wrong port or firewall? If port {account.port} expects implicit TLS, choose TLS"
            )
        reason = f"{where} did not answer within {seconds} s ({hint})"
    else:
        reason = f"{where} stopped answering during {step} (no reply within {seconds} s)"
    return Failed(FailureKind.TIMEOUT, reason, temporary=True)


def transport_failure(
    account: Account, step: Step, error: BaseException, offered_auth: list[str]
) -> Failed:
    """aiosmtplib's and ssl's exceptions other than a server reply."""
    import aiosmtplib

    chain = _chain(error)
    cause = chain[-1]
    where = f"{account.server}:{account.port}"
    # Search the whole chain: which link is deepest depends on how asyncio's SSL protocol
    # happened to raise it (a subprocess saw a context below the real cause).
    tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    if tls is not None:
        return tls_failure(account, step, tls)
    message = str(error)
    if "No suitable authentication method" in message:
        return no_usable_login(account, offered_auth)
    if isinstance(cause, UnicodeDecodeError) or "Malformed SMTP response" in message:
        return not_smtp(account, step)
    if isinstance(error, aiosmtplib.SMTPServerDisconnected) or isinstance(
        cause, ConnectionError | aiosmtplib.SMTPServerDisconnected
    ):
        return closed_failure(account, step)
    return Failed(FailureKind.SERVER_ERROR, f"{where}: {message} (during {step})")


def not_smtp(account: Account, step: Step) -> Failed:
    """A reply that is not SMTP: for a greeting, not an SMTP server; after a real greeting, a
    fault on the way or on its side, which trying again in a few minutes may not meet."""
    where = f"{account.server}:{account.port}"
    if step in {Step.RESOLVE, Step.CONNECT, Step.TLS_HANDSHAKE, Step.GREETING}:
        return Failed(FailureKind.NOT_SMTP, f"{where} does not speak SMTP")
    reason = f"{where} sent a reply that is not SMTP during {step}"
    return Failed(FailureKind.SERVER_ERROR, reason, temporary=True)


def no_usable_login(account: Account, offered: list[str]) -> Failed:
    listed = " ".join(method.upper() for method in offered) or "none"
    return Failed(
        FailureKind.NO_AUTH,
        f"{account.server} offers no login method mailsetup can use (it lists: {listed}; "
        "mailsetup logs in with PLAIN or LOGIN)",
    )


def closed_failure(account: Account, step: Step) -> Failed:
    where = f"{account.server}:{account.port}"
    if step is Step.TLS_HANDSHAKE:
        return Failed(
            FailureKind.TLS_MISMATCH,
            f"{where} closed the connection during the TLS handshake: port {account.port} may "
            "expect STARTTLS, choose that security",
        )
    if step is Step.GREETING and account.transport_security is not Security.TLS:
        return Failed(
            FailureKind.CLOSED,
            f"{account.server} closed the connection during the greeting (not an SMTP server, "
            "or it refuses this client)",
            temporary=True,
        )
    return Failed(
        FailureKind.CLOSED,
        f"{account.server} closed the connection during {step}",
        temporary=True,
    )


def tls_failure(account: Account, step: Step, error: ssl.SSLError) -> Failed:
    text = f"{error.reason or ''} {error}".upper()
    if step is Step.TLS_HANDSHAKE and (
        "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER" in text or "UNKNOWN_PROTOCOL" in text
    ):
        return Failed(
            FailureKind.TLS_MISMATCH,
            f"port {account.port} expects STARTTLS, not implicit TLS: choose STARTTLS (or Auto) "
            "as the security",
        )
    return Failed(
        FailureKind.TLS,
        f"TLS with {account.server}:{account.port} failed: "
        f"{error.reason or error.strerror or error}",
    )


_NAME_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED
_NOT_YET_VALID = 9  # X509_V_ERR_CERT_NOT_YET_VALID


def certificate_failure(
    account: Account, error: ssl.SSLCertVerificationError, facts: CertificateFacts | None
) -> Failed:
    """An untrusted certificate, with the advice that fits its fault: a name it does not
    hold, a date it is not valid on, or a CA that is not trusted (what a CA file fixes)."""
    server = account.server
    what = error.verify_message or "verification failed"
    details = f"; {facts.describe()}" if facts else ""
    if error.verify_code in _NAME_MISMATCH:
        holds = ", ".join(facts.names) if facts and facts.names else "other names"
        return Failed(
            FailureKind.CERTIFICATE,
            f"{server}'s certificate is not valid for {server}: it holds {holds}. Enter one "
            f"of those as SMTP Server Name, or have the certificate fixed{details}",
        )
    if error.verify_code == _EXPIRED:
        when = f" on {facts.expires:%Y-%m-%d}" if facts else ""
        return Failed(
            FailureKind.CERTIFICATE,
            f"{server}'s certificate expired{when}: the server's administrator must renew it"
            f"{details}",
        )
    if error.verify_code == _NOT_YET_VALID:
        return Failed(
            FailureKind.CERTIFICATE,
            f"{server}'s certificate is not valid yet: check this system's clock{details}",
        )
    return Failed(
        FailureKind.CERTIFICATE,
        f"{server}'s certificate is not trusted ({what}); for a private CA, trust its "
        f"certificate file: --ca-file, or F6 in the form{details}",
    )


# --- replies ---------------------------------------------------------------------------------

# Compiled at first use (re caches them), not at import: the form's start-up needs none.
_ABOUT_THE_SENDER = (
    r"(?i)sender address rejected|not owned by|sendasdenied|5\.7\.60|"
    r"not (?:authori[sz]ed|allowed|permitted) to send (?:as|from|on behalf)|"
    r"sender (?:denied|refused|rejected|not allowed)|5\.1\.[78]\b"
)
_ABOUT_THE_EHLO_NAME = r"(?i)helo command rejected|\bhelo\b.*\bhost ?name\b"
_MECHANISM_UNSUPPORTED = r"\b5\.5\.4\b|\b5\.7\.4\b"


def mechanism_unsupported(code: int, text: str) -> bool:
    """The server says the AUTH mechanism itself is not available (so another may be tried),
    as opposed to refusing the credentials (never tried twice)."""
    return code == 504 or bool(re.search(_MECHANISM_UNSUPPORTED, text))


def reply_failure(
    account: Account, step: Step, code: int, message: str, *, recipient: str | None = None
) -> Failed:
    """A negative SMTP reply at `step`, classified by code, enhanced status code and text.

    `recipient` is the address being offered at RCPT TO when sending; the probe's own
    recipient check goes through `recipient_refusal` first.
    """
    text = " ".join(message.split())
    reply = f"{code} {text}".strip()
    entry = account.provider
    if code < 0:  # aiosmtplib's code for a reply line that is not "NNN text"
        return not_smtp(account, step)
    if 400 <= code < 500:
        return Failed(
            FailureKind.DEFERRED,
            f"{account.server} cannot take this now ({reply}, during {step})",
            temporary=True,
        )
    if step in {Step.GREETING, Step.TLS_HANDSHAKE}:
        return Failed(FailureKind.SERVER_ERROR, f"{account.server} refused the session: {reply}")
    if step is Step.EHLO or re.search(_ABOUT_THE_EHLO_NAME, text):
        return Failed(
            FailureKind.EHLO_REFUSED,
            f"{account.server} refused this system's EHLO greeting ({reply}): give this host "
            "a fully qualified name (hostnamectl set-hostname), or ask the server's "
            "administrator to accept address literals",
        )
    if code == 530 and ("STARTTLS" in text.upper() or "5.7.0" in text):
        return Failed(
            FailureKind.STARTTLS_REQUIRED,
            "the server requires STARTTLS: choose STARTTLS (or Auto) as the security",
        )
    # Microsoft's 5.7.139 comes in two kinds: SMTP AUTH off altogether (no sign-in method
    # helps until an administrator turns it on), or only password sign-in off.
    if "SmtpClientAuthentication" in text or ("5.7.139" in text and account.signin):
        return Failed(
            FailureKind.SMTP_AUTH_DISABLED,
            f"SMTP AUTH is turned off for {account.email} or its tenant: an Exchange "
            f"administrator must allow it (Set-CASMailbox -Identity {account.email} "
            f"-SmtpClientAuthenticationDisabled $false) ({reply})",
        )
    if ("5.7.139" in text or "5.7.30" in text) and account.signin is None:
        return Failed(
            FailureKind.OAUTH_REQUIRED,
            "SMTP AUTH with a password is disabled for this account or tenant: Microsoft "
            "sign-in is required. Choose Sign-in: Microsoft sign-in in the form, or run "
            f"`mailsetup signin` (README: Microsoft sign-in) ({reply})",
        )
    if step is Step.AUTH and account.signin is not None and code in {535, 534, 530}:
        return Failed(
            FailureKind.CREDENTIALS,
            f"the server did not accept the Microsoft sign-in for {account.email} ({reply}): "
            "sign in as the user of that mailbox, and check that the app registration has the "
            "SMTP.Send permission",
        )
    if code == 534 and ("5.7.9" in text or entry.id is ProviderId.GMAIL):
        return Failed(
            FailureKind.APP_PASSWORD_REQUIRED,
            f"{entry.label} needs an app password: {entry.app_password_hint} ({reply})",
        )
    if step is Step.AUTH and code in {535, 534, 530, 500, 501, 504}:
        return Failed(
            FailureKind.CREDENTIALS,
            f"the server rejected the e-mail or password ({reply}); {entry.app_password_hint}",
        )
    if step in {Step.MAIL_FROM, Step.DATA} and (code == 552 or "5.3.4" in text):
        return Failed(FailureKind.TOO_LARGE, f"the message is too large for the server ({reply})")
    if step is Step.DATA:
        return Failed(FailureKind.MESSAGE_REFUSED, f"the server refused the message ({reply})")
    if step is Step.MAIL_FROM or re.search(_ABOUT_THE_SENDER, text):
        return Failed(
            FailureKind.SENDER_REFUSED,
            f"the server does not let this account send as {account.email} ({reply})",
        )
    if step is Step.RCPT_TO:
        return Failed(
            FailureKind.RECIPIENT_REFUSED,
            f"the server refused the recipient {recipient} ({reply})",
        )
    if step is Step.STARTTLS:
        return Failed(
            FailureKind.NO_STARTTLS,
            f"{account.server} refused STARTTLS ({reply}); refusing to send the password "
            "unencrypted",
        )
    return Failed(FailureKind.SERVER_ERROR, f"{account.server} answered {reply}")


def recipient_refusal(account: Account, code: int, message: str) -> Failed | None:
    """The probe's RCPT TO refused: a failure when the refusal is about the sender, the EHLO
    name, or temporary; None when it is about the recipient alone, which says nothing about
    whether this account may send."""
    if 400 <= code < 500 or re.search(_ABOUT_THE_SENDER, message):
        return reply_failure(account, Step.RCPT_TO, code, message)
    if re.search(_ABOUT_THE_EHLO_NAME, message):
        return reply_failure(account, Step.RCPT_TO, code, message)
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and its causes and contexts, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def verification_error(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure somewhere in `error`'s chain, if there is one."""
    return next((e for e in _chain(error) if isinstance(e, ssl.SSLCertVerificationError)), None)
