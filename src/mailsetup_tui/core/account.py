"""The account value the form, the CLI and the store share, and its validation.

One convention: a draft (the values as typed) checks itself into an `Account`, or raises one
`InvalidAccount` carrying every problem at once, per field, so that a form can mark all bad
fields in one pass and a script gets one complete error report instead of a fix-one-rerun loop.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from mailsetup_tui.core.fields import Field
from mailsetup_tui.core.providers import Hosted, Provider, ProviderId, Security, provider

if TYPE_CHECKING:
    from email.headerregistry import Address

    from email_validator import ValidatedEmail

DISPLAY_NAME_MAX = 78
"""RFC 5322's recommended line length: a longer From name gets folded or truncated by clients."""

PORT_MIN, PORT_MAX = 1, 65535

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
AUTHORITY_HOST_ENV = "MAILSETUP_AUTHORITY_HOST"
"""Where Microsoft sign-in goes for a new sign-in: a national cloud's login host (e.g.
https://login.microsoftonline.us). A saved account keeps the host it signed in at."""


class SignInMethod(StrEnum):
    """How the account logs in to SMTP: a password (AUTH LOGIN/PLAIN) or Microsoft's OAuth2
    (AUTH XOAUTH2 with a token from the device-code sign-in)."""

    PASSWORD = "password"
    MICROSOFT = "microsoft"

    @property
    def label(self) -> str:
        return "App password" if self is SignInMethod.PASSWORD else "Microsoft sign-in"


class MicrosoftSignIn(NamedTuple):
    """The administrator's own app registration that Microsoft sign-in goes through.

    No client secret: a device-code sign-in is a public client, so nothing here is secret and
    all of it lives in the config file.
    """

    client_id: str
    """The Application (client) ID of the app registration, a GUID."""
    tenant: str
    """The Directory (tenant) ID or a domain of the tenant; `consumers` for Outlook.com."""
    authority_host: str = DEFAULT_AUTHORITY_HOST

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant}"


def default_authority_host(environ: Mapping[str, str] | None = None) -> str:
    """$MAILSETUP_AUTHORITY_HOST if set, else Microsoft's global login host; `ValueError`
    names the variable if its value is not an https origin."""
    environ = os.environ if environ is None else environ
    value = environ.get(AUTHORITY_HOST_ENV, "").strip()
    if not value:
        return DEFAULT_AUTHORITY_HOST
    problem = authority_host_problem(value)
    if problem:
        raise ValueError(f"{AUTHORITY_HOST_ENV}={value!r}: {problem}")
    return value.rstrip("/")


def authority_host_problem(value: str) -> str | None:
    """Why `value` is not usable as a login host, or None."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return "not a valid URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// URL, e.g. https://login.microsoftonline.com"
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        return "give the host only, without a path, e.g. https://login.microsoftonline.us"
    return None


class FieldProblem(NamedTuple):
    """One thing wrong with one field, worded so the user knows what to change."""

    field: Field
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidAccount(ValueError):
    """Raised by `AccountDraft.check` when validation found problems; carries all of them."""

    def __init__(self, problems: tuple[FieldProblem, ...]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class Account(NamedTuple):
    """Everything about the sending account except its password.

    For the presets, server, port and security always equal the catalogue's values (use
    `Account.create`); only Other carries values of the user's own.
    """

    provider_id: ProviderId
    display_name: str
    email: str
    server: str
    port: int
    security: Security
    signin: MicrosoftSignIn | None = None
    """The app registration for Microsoft sign-in; None when the account uses a password."""
    hosted: Hosted | None = None
    """Who handles the address's domain, as its MX said when the account was checked: what
    lets Gmail take a Google Workspace address (`Provider.mx_service`)."""

    @classmethod
    def create(
        cls,
        provider_id: ProviderId | str,
        display_name: str,
        email: str,
        *,
        server: str | None = None,
        port: int | None = None,
        security: Security | str | None = None,
        signin: MicrosoftSignIn | None = None,
        hosted: Hosted | None = None,
    ) -> Account:
        """Build an account, taking server, port and security from the catalogue for presets.

        For Other, missing values are left empty (server "", port 0) so that `validate` reports
        them as missing rather than this constructor guessing. A provider with a fixed tenant
        (Hotmail) gets it here, as presets get their server.
        """
        entry = provider(provider_id)
        if entry.connection is not None:
            server, port, security = entry.connection
        if signin is not None and entry.fixed_tenant is not None:
            signin = signin._replace(tenant=entry.fixed_tenant)
        return cls(
            provider_id=entry.id,
            display_name=display_name,
            email=email,
            server=server if server is not None else "",
            port=port if port is not None else 0,
            security=Security(security) if security is not None else entry.security,
            signin=signin,
            # Kept only where it is what lets the address pass (a Workspace domain for Gmail):
            # for Exchange, which takes any domain, what the MX said is a warning, not a fact.
            hosted=hosted if hosted is entry.mx_service and not entry.domains.accepts_any else None,
        )

    @property
    def provider(self) -> Provider:
        return provider(self.provider_id)

    @property
    def signin_method(self) -> SignInMethod:
        return SignInMethod.PASSWORD if self.signin is None else SignInMethod.MICROSOFT

    def stored_values(self) -> dict[Field, str | int]:
        """Each field as the config file and `show --json` hold it (never a password; a
        Microsoft field only with Microsoft sign-in), to go under its `FieldSpec.key`."""
        values: dict[Field, str | int] = {
            Field.SMTP_MAIL: self.provider_id.value,
            Field.DISPLAY_NAME: self.display_name,
            Field.EMAIL: self.email,
            Field.SERVER: self.server,
            Field.PORT: self.port,
            Field.SECURITY: self.security.value,
            Field.SIGN_IN: self.signin_method.value,
        }
        if self.signin is not None:
            values |= {Field.CLIENT_ID: self.signin.client_id, Field.TENANT: self.signin.tenant}
        return values

    @property
    def transport_security(self) -> Security:
        """The security actually used on the wire: never AUTO."""
        return self.security.resolved(self.port)

    @property
    def sends_password_in_clear(self) -> bool:
        return self.transport_security is Security.NONE

    def from_address(self) -> Address:
        """The From header value: display name and address.

        Built as an `Address` so that the email package quotes specials and RFC 2047-encodes a
        non-ASCII display name, instead of us formatting `"Name" <addr>` by hand.
        """
        from email.headerregistry import Address  # deferred: the form's first paint

        return Address(display_name=self.display_name.strip(), addr_spec=self.email)

    def normalized(self) -> Account:
        """The account with whitespace trimmed and the e-mail address in canonical form.

        Call after `validate` found no problems; invalid input is returned trimmed only.
        """
        from email_validator import EmailNotValidError

        email = self.email.strip()
        with contextlib.suppress(EmailNotValidError):
            email = _validated_email(email, self.provider).normalized
        signin = self.signin
        if signin is not None:
            signin = signin._replace(
                client_id=signin.client_id.strip().lower(), tenant=signin.tenant.strip()
            )
        return self._replace(
            display_name=self.display_name.strip(),
            email=email,
            server=self.server.strip().rstrip(".").lower(),
            signin=signin,
        )


@dataclass(frozen=True)
class AccountDraft:
    """The values as entered, before validation: the form's fields, the wizard's answers.

    Two equal drafts mean "nothing changed", which is what the Save gate and the quit
    confirmation compare.
    """

    provider_id: ProviderId
    display_name: str = ""
    email: str = ""
    password: str = field(default="", repr=False)
    """Left out of the repr: a draft may be printed in a log or a report of an error."""
    server: str = ""
    port: str = ""
    security: Security = Security.AUTO
    signin: SignInMethod = SignInMethod.PASSWORD
    client_id: str = ""
    tenant: str = ""
    authority_host: str = DEFAULT_AUTHORITY_HOST
    """Not typed by the user: the saved account's, or $MAILSETUP_AUTHORITY_HOST's."""
    hosted: Hosted | None = field(default=None, compare=False)
    """Not typed either: what the address's MX said (`SetupSession.mx_fact`). A fact about the
    values, not a value: two drafts that differ only here are the same values on screen."""

    @classmethod
    def of(cls, account: Account, password: str = "") -> AccountDraft:
        signin = account.signin
        return cls(
            account.provider_id,
            account.display_name,
            account.email,
            password,
            account.server,
            str(account.port),
            account.security,
            account.signin_method,
            signin.client_id if signin else "",
            signin.tenant if signin else "",
            signin.authority_host if signin else DEFAULT_AUTHORITY_HOST,
            account.hosted,
        )

    def account(self) -> Account:
        """The account as entered, unchecked (a port that is no number becomes 0)."""
        signin = None
        if self.signin is SignInMethod.MICROSOFT:
            signin = MicrosoftSignIn(self.client_id, self.tenant, self.authority_host)
        return Account.create(
            self.provider_id,
            self.display_name,
            self.email,
            server=self.server,
            port=int(self.port) if port_problem(self.port) is None else 0,
            security=self.security,
            signin=signin,
            hosted=self.hosted,
        )

    def problems(self, *, with_password: bool = True) -> tuple[FieldProblem, ...]:
        """Every problem with the draft, the port's own wording included (and the password's,
        unless `with_password` is False)."""
        account = self.account()
        problems = validate(account, self.password if with_password else None)
        # The typed port is Other's alone: a preset's comes from the catalogue (`create`).
        port = port_problem(self.port) if account.provider.connection is None else None
        if port is not None:
            problems = (*(p for p in problems if p.field is not Field.PORT), port)
        return problems

    def check(self, *, with_password: bool = True) -> Account:
        """The validated, normalized account; `InvalidAccount` with every problem otherwise."""
        problems = self.problems(with_password=with_password)
        if problems:
            raise InvalidAccount(problems)
        return self.account().normalized()


def validate(account: Account, password: str | None = None) -> tuple[FieldProblem, ...]:
    """Every problem with `account` (and `password`, unless None or the account signs in with
    Microsoft), in form order."""
    checks = (
        _display_name_problems(account.display_name),
        _email_problems(account.email, account.provider, account.hosted),
        # Microsoft sign-in has no password: its secret is a token the sign-in obtains.
        ()
        if password is None or account.signin is not None
        else _password_problems(password, account.provider),
        _server_problems(account),
        _port_problems(account),
        _security_problems(account),
        _signin_problems(account),
    )
    return tuple(problem for check in checks for problem in check)


def port_problem(port: str | int) -> FieldProblem | None:
    """What is wrong with a port, typed as text (the form, the line mode, `--port`) or read as
    a number (a config file), or None: the one port rule."""
    if isinstance(port, str):
        text = port.strip()
        if not text:
            return FieldProblem(Field.PORT, "enter the port number (587 for STARTTLS, 465 for TLS)")
        if not text.isascii() or not text.isdigit():
            return FieldProblem(Field.PORT, f"{text!r} is not a number")
        port = int(text)
    if not PORT_MIN <= port <= PORT_MAX:
        return FieldProblem(Field.PORT, f"{port} is out of range ({PORT_MIN}-{PORT_MAX})")
    return None


def line_break_in(text: str) -> bool:
    """True if `text` holds anything a mail header or SMTP line would treat as a line end."""
    return any(ch in text for ch in "\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


# Format characters that only reorder or hide text (bidi overrides and isolates): used to make
# "Support" read as something else in a From line. Joiners (ZWJ/ZWNJ) stay allowed: scripts and
# emoji need them.
_SPOOFING_FORMAT_CHARS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e") | frozenset(
    chr(c) for c in range(0x2066, 0x206A)
)


def _display_name_problems(name: str) -> Iterator[FieldProblem]:
    if line_break_in(name):
        yield FieldProblem(Field.DISPLAY_NAME, "must be one line (no line breaks)")
        return
    stripped = name.strip()
    if not stripped:
        yield FieldProblem(Field.DISPLAY_NAME, "enter the name recipients see in the From line")
        return
    if any(_is_control(ch) for ch in name):
        yield FieldProblem(Field.DISPLAY_NAME, "must not contain control characters")
    if len(stripped) > DISPLAY_NAME_MAX:
        yield FieldProblem(
            Field.DISPLAY_NAME,
            f"is {len(stripped)} characters long; at most {DISPLAY_NAME_MAX} are allowed",
        )


def _is_control(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category in {"Cc", "Cs", "Co", "Zl", "Zp"} or ch in _SPOOFING_FORMAT_CHARS


def _validated_email(email: str, entry: Provider) -> ValidatedEmail:
    """The address checked, in canonical form; email-validator's `EmailNotValidError` says
    what is wrong with it."""
    # Deferred: email-validator builds its tables at import, which the form's first paint
    # does not need.
    from email_validator import validate_email

    # Other may be an internal relay whose domains (corp.local, mailhost) are not globally
    # deliverable; the presets are public services, where such a domain is always a typo.
    # No DNS: validating must never cause network traffic.
    return validate_email(
        email,
        check_deliverability=False,
        allow_smtputf8=False,
        globally_deliverable=entry.is_preset,
    )


def _email_problems(email: str, entry: Provider, hosted: Hosted | None) -> Iterator[FieldProblem]:
    # Line breaks first, before any trimming could hide a header-injection attempt.
    if line_break_in(email):
        yield FieldProblem(Field.EMAIL, "must be one line (no line breaks)")
        return
    email = email.strip()
    if not email:
        yield FieldProblem(Field.EMAIL, "enter the address the codes are sent from")
        return
    from email_validator import EmailNotValidError

    try:
        domain = _validated_email(email, entry).ascii_domain
    except EmailNotValidError as error:
        yield FieldProblem(Field.EMAIL, _email_error_text(error))
        return
    if not entry.domains.matches(domain) and not (hosted and hosted is entry.mx_service):
        elsewhere = f"; {entry.domains.elsewhere}" if entry.domains.elsewhere else ""
        yield FieldProblem(
            Field.EMAIL,
            f"a {entry.label} address must end in {entry.domains.description} (not @{domain})"
            + elsewhere,
        )


def _email_error_text(error: Exception) -> str:
    text = str(error).strip()
    # email-validator words its errors as full sentences about "The email address";
    # the field name already says which field, so keep the substance only.
    text = re.sub(r"^The (email )?address ", "", text)
    text = re.sub(r"^The part after the @-sign ", "the domain ", text)
    text = re.sub(r"^The part before the @-sign ", "the name before @ ", text)
    text = text.rstrip(".")
    return text[:1].lower() + text[1:] if text else "is not a valid e-mail address"


def _password_problems(password: str, entry: Provider) -> Iterator[FieldProblem]:
    if line_break_in(password):
        yield FieldProblem(Field.PASSWORD, "must be one line (no line breaks)")
    elif not entry.normalize_password(password):
        yield FieldProblem(Field.PASSWORD, "enter the password (for most services an app password)")


# Patterns are compiled at first use (re caches them), not at import: the form's start-up
# needs none of them.
_HOST_LABEL = r"(?i)(?!-)[a-z0-9-]{1,63}(?<!-)"


def fully_qualified(name: str) -> bool:
    """Whether `name` is a fully qualified host name: two labels or more, the last not a
    number (so not an IPv4 address)."""
    labels = name.split(".")
    return (
        len(labels) > 1
        and all(re.fullmatch(_HOST_LABEL, label) for label in labels)
        and not labels[-1].isdigit()
    )


def _server_problems(account: Account) -> Iterator[FieldProblem]:
    entry = account.provider
    if line_break_in(account.server):
        yield FieldProblem(Field.SERVER, "must be one line (no line breaks)")
        return
    server = account.server.strip()
    if entry.is_preset:
        if server != entry.server:
            yield FieldProblem(
                Field.SERVER, f"{entry.label} uses {entry.server}; choose Other for another server"
            )
        return
    if not server:
        yield FieldProblem(Field.SERVER, "enter the SMTP server's host name, e.g. smtp.example.com")
        return
    problem = _hostname_problem(server)
    if problem:
        yield FieldProblem(Field.SERVER, problem)


def _hostname_problem(server: str) -> str | None:
    if "://" in server:
        return "enter the host name only, without a scheme such as smtp://"
    if any(ch.isspace() for ch in server):
        return "must not contain spaces"
    if "/" in server:
        return "enter the host name only, without a path"
    literal = server[1:-1] if server.startswith("[") and server.endswith("]") else server
    try:
        ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        return None
    if ":" in server:
        return "put the port in SMTP Server Port, not after the name"
    name = server.rstrip(".")
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return f"{server!r} is not a valid host name"
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(re.fullmatch(_HOST_LABEL, label) for label in labels):
        return f"{server!r} is not a valid host name"
    if all(label.isdigit() for label in labels):
        return f"{server!r} is not a valid IP address"
    return None


def _port_problems(account: Account) -> Iterator[FieldProblem]:
    entry = account.provider
    if entry.connection is not None:
        if account.port != entry.connection.port:
            yield FieldProblem(Field.PORT, f"{entry.label} uses port {entry.port}")
        return
    problem = port_problem(account.port or "")  # 0: none given
    if problem is not None:
        yield problem


_GUID = r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_TENANT_ALIASES = frozenset({"organizations", "common", "consumers"})


def _signin_problems(account: Account) -> Iterator[FieldProblem]:
    signin, entry = account.signin, account.provider
    if signin is None:
        return
    if not entry.microsoft_signin:
        yield FieldProblem(
            Field.SIGN_IN, f"{entry.label} does not offer Microsoft sign-in; use an app password"
        )
        return
    client_id = signin.client_id.strip()
    if line_break_in(signin.client_id):
        yield FieldProblem(Field.CLIENT_ID, "must be one line (no line breaks)")
    elif not client_id:
        yield FieldProblem(
            Field.CLIENT_ID, "enter the Application (client) ID of your app registration"
        )
    elif not re.fullmatch(_GUID, client_id):
        yield FieldProblem(
            Field.CLIENT_ID,
            "is a GUID like 00000000-0000-0000-0000-000000000000 (Application (client) ID)",
        )
    yield from _tenant_problems(signin.tenant, entry)
    problem = authority_host_problem(signin.authority_host)
    if problem:
        yield FieldProblem(Field.SIGN_IN, f"login host {signin.authority_host!r}: {problem}")


def _tenant_problems(text: str, entry: Provider) -> Iterator[FieldProblem]:
    tenant = text.strip()
    if entry.fixed_tenant is not None:
        if tenant != entry.fixed_tenant:
            yield FieldProblem(Field.TENANT, f"{entry.label} signs in at {entry.fixed_tenant}")
        return
    if line_break_in(text):
        yield FieldProblem(Field.TENANT, "must be one line (no line breaks)")
    elif not tenant:
        yield FieldProblem(
            Field.TENANT, "enter the Directory (tenant) ID or a domain of it, e.g. contoso.com"
        )
    elif not (
        re.fullmatch(_GUID, tenant)
        or tenant.lower() in _TENANT_ALIASES
        or ("." in tenant and _hostname_problem(tenant) is None)
    ):
        yield FieldProblem(
            Field.TENANT, "is the Directory (tenant) ID (a GUID) or a domain such as contoso.com"
        )


def _security_problems(account: Account) -> Iterator[FieldProblem]:
    entry = account.provider
    if entry.is_preset and account.security is not entry.security:
        yield FieldProblem(
            Field.SECURITY, f"{entry.label} uses {entry.security.label}; choose Other to change it"
        )
