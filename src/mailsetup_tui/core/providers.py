"""The catalogue of SMTP Mail choices: servers, ports, security and accepted domains.

Kept as data so that a provider change is a one-row edit, checked by the tests, rather than an
if-chain spread over the form, the CLI and the probe. Servers, ports and security are the
providers' published SMTP settings; the consumer domains follow Thunderbird's ISPDB.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple


class ProviderId(StrEnum):
    """The SMTP Mail options of the spec, as stable identifiers for config files and the CLI."""

    EXCHANGE = "exchange"
    GMAIL = "gmail"
    HOTMAIL = "hotmail"
    YAHOO = "yahoo"
    OTHER = "other"


class Security(StrEnum):
    """How the connection is encrypted.

    AUTO picks implicit TLS on port 465 and requires STARTTLS everywhere else: it never falls back
    to a clear-text login. NONE is the only mode that sends the password unencrypted, and the
    interfaces ask for an explicit confirmation before they use it.
    """

    AUTO = "auto"
    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"

    def resolved(self, port: int) -> Security:
        """The concrete mode for `port`: AUTO becomes TLS on 465 and STARTTLS elsewhere."""
        if self is not Security.AUTO:
            return self
        return Security.TLS if port == IMPLICIT_TLS_PORT else Security.STARTTLS

    @property
    def label(self) -> str:
        return _SECURITY_LABELS[self]


IMPLICIT_TLS_PORT = 465


class Connection(NamedTuple):
    """Where and how a preset connects: what it fills in for server, port and security."""

    server: str
    port: int
    security: Security


_SECURITY_LABELS = {
    Security.AUTO: "Auto (TLS on 465, STARTTLS otherwise)",
    Security.STARTTLS: "STARTTLS",
    Security.TLS: "TLS (implicit)",
    Security.NONE: "None (password sent unencrypted)",
}

# Second-level labels under which providers register country domains (yahoo.co.uk,
# hotmail.com.br). Anything deeper, such as yahoo.evil.example, is not the provider.
_COUNTRY_SECOND_LEVEL = r"(?:co|com|ne|or|net|org)"
_ANY_PUBLIC_SUFFIX = rf"(?:[a-z]{{2,63}}|{_COUNTRY_SECOND_LEVEL}\.[a-z]{{2}})"


class DomainRule(NamedTuple):
    """Which e-mail domains a provider's accounts have.

    `families` are names registered under many public suffixes (``yahoo`` matches yahoo.com,
    yahoo.co.jp, yahoo.com.br); `exact` are single domains. An empty rule accepts any domain,
    as Exchange (the organisation's own domain) and Other do.
    """

    families: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    description: str = "any domain"
    elsewhere: str | None = None
    """Where an address on another domain belongs, said when one is entered here."""

    @property
    def accepts_any(self) -> bool:
        return not self.families and not self.exact

    def matches(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        if self.accepts_any or domain in self.exact:
            return True
        return any(
            re.fullmatch(rf"{re.escape(family)}\.{_ANY_PUBLIC_SUFFIX}", domain)
            for family in self.families
        )


class Hosted(StrEnum):
    """Who handles a domain's mail, as its MX records say."""

    GOOGLE = "google"
    MICROSOFT_365 = "microsoft365"
    ELSEWHERE = "elsewhere"


_GOOGLE_MX = (".google.com", ".googlemail.com")
_MICROSOFT_365_MX = (".mail.protection.outlook.com",)


def hosted_by(mx: tuple[str, ...]) -> Hosted:
    """Google (Workspace), Microsoft 365, or another host, from a domain's MX names: all of
    them must be the service's (a backup MX elsewhere means another host takes mail too)."""
    if mx and all(host.rstrip(".").lower().endswith(_GOOGLE_MX) for host in mx):
        return Hosted.GOOGLE
    if mx and all(host.rstrip(".").lower().endswith(_MICROSOFT_365_MX) for host in mx):
        return Hosted.MICROSOFT_365
    return Hosted.ELSEWHERE


class Provider(NamedTuple):
    """One SMTP Mail choice and everything the form, CLI and probe need to know about it."""

    id: ProviderId
    label: str
    """The name shown in the SMTP Mail list, exactly as the spec spells it."""
    server: str | None
    """The preset server; None for Other, where the user types it."""
    port: int | None
    security: Security
    domains: DomainRule
    app_password_hint: str
    """Where to get the password this provider wants, shown by help and on a rejected login."""
    strip_password_spaces: bool = False
    """Gmail and Yahoo display app passwords in groups (`abcd efgh ijkl mnop`); pasted spaces
    are a classic failure, and their real passwords never contain spaces."""
    notice: str | None = None
    """A one-line caveat shown under SMTP Mail when the provider is picked."""
    notice_detail: str | None = None
    """The caveat in full, for help screens and documentation."""
    microsoft_signin: bool = False
    """Offers Microsoft sign-in (OAuth2, AUTH XOAUTH2) as well as a password."""
    fixed_tenant: str | None = None
    """The Microsoft tenant every account of this provider signs in to (Hotmail: consumers);
    None where the user names their organisation's tenant."""
    mx_service: Hosted | None = None
    """The service whose MX proves an address is this provider's: a Gmail address may be any
    domain whose mail Google handles (Workspace); an Exchange address whose domain's mail
    goes elsewhere gets a warning."""

    @property
    def is_preset(self) -> bool:
        return self.id is not ProviderId.OTHER

    @property
    def connection(self) -> Connection | None:
        """The rule every front end and the config follow: a preset fills server, port and
        security (and they cannot be changed); only Other (None here) takes the user's."""
        if self.server is None or self.port is None:
            return None
        return Connection(self.server, self.port, self.security)

    @property
    def key(self) -> str:
        """The letter that picks it (the form's list, the line mode): its label's first,
        which no other provider's label starts with (a test holds the catalogue to that)."""
        return self.label[0].lower()

    def normalize_password(self, password: str) -> str:
        """The password as the server expects it (app-password grouping spaces removed)."""
        if self.strip_password_spaces:
            return "".join(password.split(" "))
        return password


_MICROSOFT_BASIC_AUTH_NOTICE = "Microsoft is ending SMTP passwords: use Microsoft sign-in."
_MICROSOFT_BASIC_AUTH_DETAIL = (
    "Microsoft is turning SMTP password sign-in off (Exchange Online: by default from the end "
    "of December 2026; Outlook.com/Hotmail: already). A 535 5.7.139 or 550 5.7.30 reply means "
    "it is off for this account: choose Sign-in: Microsoft sign-in."
)

PROVIDERS: dict[ProviderId, Provider] = {
    ProviderId.EXCHANGE: Provider(
        id=ProviderId.EXCHANGE,
        label="Exchange",
        server="smtp.office365.com",
        port=587,
        security=Security.STARTTLS,
        domains=DomainRule(description="your organisation's domain"),
        app_password_hint=(
            "use the mailbox password, or an app password if the account has multi-factor "
            "sign-in; the tenant must allow SMTP AUTH for this mailbox"
        ),
        notice=_MICROSOFT_BASIC_AUTH_NOTICE,
        notice_detail=_MICROSOFT_BASIC_AUTH_DETAIL,
        microsoft_signin=True,
        mx_service=Hosted.MICROSOFT_365,
    ),
    ProviderId.GMAIL: Provider(
        id=ProviderId.GMAIL,
        label="Gmail",
        server="smtp.gmail.com",
        port=587,
        security=Security.STARTTLS,
        domains=DomainRule(
            exact=("gmail.com", "googlemail.com"),
            description="@gmail.com",
            elsewhere=(
                "a Google Workspace address is taken when its domain's mail servers (MX) are "
                "Google's"
            ),
        ),
        app_password_hint=(
            "turn on 2-Step Verification, then create an app password at "
            "https://myaccount.google.com/apppasswords"
        ),
        strip_password_spaces=True,
        mx_service=Hosted.GOOGLE,
    ),
    ProviderId.HOTMAIL: Provider(
        id=ProviderId.HOTMAIL,
        label="Hotmail (Office 365)",
        server="smtp-mail.outlook.com",
        port=587,
        security=Security.STARTTLS,
        domains=DomainRule(
            families=("hotmail", "outlook", "live"),
            # Thunderbird's ISPDB entry for hotmail.com: the three families under country
            # suffixes, and these single domains.
            exact=("msn.com", "windowslive.com", "livemail.tw"),
            description="@hotmail.*, @outlook.*, @live.*, @msn.com",
            elsewhere="a Microsoft 365 work or school address uses Exchange",
        ),
        app_password_hint=(
            "create an app password under Security > Advanced security options at "
            "https://account.microsoft.com/security (2-step verification must be on)"
        ),
        notice=_MICROSOFT_BASIC_AUTH_NOTICE,
        notice_detail=_MICROSOFT_BASIC_AUTH_DETAIL,
        microsoft_signin=True,
        fixed_tenant="consumers",
    ),
    ProviderId.YAHOO: Provider(
        id=ProviderId.YAHOO,
        label="Yahoo",
        server="smtp.mail.yahoo.com",
        port=465,
        security=Security.TLS,
        domains=DomainRule(
            families=("yahoo",),
            exact=("ymail.com", "rocketmail.com"),
            description="@yahoo.*, @ymail.com, @rocketmail.com",
        ),
        app_password_hint=(
            "create an app password under Account security > Generate app password at "
            "https://login.yahoo.com/account/security"
        ),
        strip_password_spaces=True,
    ),
    ProviderId.OTHER: Provider(
        id=ProviderId.OTHER,
        label="Other",
        server=None,
        port=None,
        security=Security.AUTO,
        domains=DomainRule(),
        app_password_hint="use the password (or app password) your mail administrator gave you",
        # A Microsoft 365 national cloud (e.g. smtp.office365.us with MAILSETUP_AUTHORITY_HOST)
        # or a relay that takes Microsoft's tokens.
        microsoft_signin=True,
    ),
}


def provider(provider_id: ProviderId | str) -> Provider:
    """The catalogue entry for `provider_id` (a ProviderId or its string value)."""
    return PROVIDERS[ProviderId(provider_id)]


def listed(words: list[str]) -> str:
    """ "a, b or c", as a help text lists choices."""
    *first, last = words
    return f"{', '.join(first)} or {last}" if first else last


def keys_listed() -> str:
    """ "E, G, H, Y or O": the letters that pick each provider, in order, for help texts."""
    return listed([entry.key.upper() for entry in PROVIDERS.values()])
