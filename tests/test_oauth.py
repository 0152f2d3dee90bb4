"""Microsoft sign-in against a loopback authorization server (HTTPS) and an SMTP server that
takes AUTH XOAUTH2 only with a currently valid token: real MSAL, real HTTP, real SMTP."""

from __future__ import annotations

import asyncio
import stat
import time
import tomllib
from pathlib import Path

import pytest

from mailsetup_tui.core import oauth
from mailsetup_tui.core.account import (
    AUTHORITY_HOST_ENV,
    DEFAULT_AUTHORITY_HOST,
    Account,
    MicrosoftSignIn,
    default_authority_host,
    validate,
)
from mailsetup_tui.core.credential import SignedIn
from mailsetup_tui.core.fields import Field
from mailsetup_tui.core.mailer import Mailer, SendError
from mailsetup_tui.core.oauth import DeviceCode, SignInError, SignInFailure, Tokens
from mailsetup_tui.core.probe import FailureKind, Step, probe
from mailsetup_tui.core.providers import ProviderId
from mailsetup_tui.core.store import AccountStore, StoreError, account_from_toml

from support.authserver import (
    CLIENT_ID,
    TENANT,
    UNKNOWN_CLIENT_ID,
    USER_CODE,
    AuthServer,
    microsoft_account,
)
from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer, free_port


def signin_for(auth_server: AuthServer, **changes: str) -> MicrosoftSignIn:
    values = {"client_id": CLIENT_ID, "tenant": TENANT} | changes
    return MicrosoftSignIn(values["client_id"], values["tenant"], auth_server.url)


async def run_sign_in(
    auth_server: AuthServer, certificates: Certificates, **changes: str
) -> tuple[Tokens, list[DeviceCode]]:
    shown: list[DeviceCode] = []
    tokens = await oauth.sign_in(
        signin_for(auth_server, **changes),
        shown.append,
        timeout=5,
        ca_file=certificates.ca_file,
    )
    return tokens, shown


# --- the device-code sign-in -------------------------------------------------------------------


async def test_sign_in_shows_the_code_polls_while_pending_and_returns_tokens(
    auth_server: AuthServer, certificates: Certificates
) -> None:
    auth_server.state.script = ["pending", "pending", "approved"]
    tokens, shown = await run_sign_in(auth_server, certificates)
    (code,) = shown
    assert code.user_code == USER_CODE
    assert code.verification_uri == "https://microsoft.com/devicelogin"
    assert code.expires_at > time.time() + 800
    assert tokens.username == LOGIN
    assert tokens.fresh
    assert tokens.access_token in auth_server.state.access_tokens
    assert tokens.refresh_token in auth_server.state.refresh_tokens
    (grant,) = auth_server.state.grants
    assert grant.tenant == TENANT
    assert "https://outlook.office.com/SMTP.Send" in grant.scope.split()
    assert "offline_access" in grant.scope.split()  # what yields the refresh token
    assert len(grant.polls) == 3
    gaps = [b - a for a, b in zip(grant.polls, grant.polls[1:], strict=False)]
    assert all(gap >= 0.9 for gap in gaps), gaps  # the server's interval (1 s)
    assert token_free(repr(tokens), tokens)


async def test_slow_down_lengthens_the_polling_interval_by_five_seconds(
    auth_server: AuthServer, certificates: Certificates
) -> None:
    auth_server.state.script = ["slow_down", "approved"]
    await run_sign_in(auth_server, certificates)
    first, second = auth_server.state.grants[0].polls
    assert second - first >= 5.9  # RFC 8628 3.5: interval + 5 s


@pytest.mark.parametrize(
    ("outcome", "kind", "words"),
    [
        ("declined", SignInFailure.DECLINED, "declined"),
        ("expired", SignInFailure.EXPIRED, "expired"),
    ],
)
async def test_declined_and_expired_codes_end_the_sign_in_plainly(
    auth_server: AuthServer,
    certificates: Certificates,
    outcome: str,
    kind: SignInFailure,
    words: str,
) -> None:
    auth_server.state.script = ["pending", outcome]
    with pytest.raises(SignInError) as raised:
        await run_sign_in(auth_server, certificates)
    assert raised.value.kind is kind
    assert words in raised.value.reason


async def test_a_code_that_runs_out_stops_the_polling(
    auth_server: AuthServer, certificates: Certificates
) -> None:
    auth_server.state.script = ["pending"]
    auth_server.state.expires_in = 2
    with pytest.raises(SignInError) as raised:
        await run_sign_in(auth_server, certificates)
    assert raised.value.kind is SignInFailure.EXPIRED
    assert len(auth_server.state.grants[0].polls) <= 2


async def test_cancelling_stops_polling_at_once(
    auth_server: AuthServer, certificates: Certificates
) -> None:
    auth_server.state.script = ["pending"]
    shown: list[DeviceCode] = []
    task = asyncio.create_task(
        oauth.sign_in(
            signin_for(auth_server), shown.append, timeout=5, ca_file=certificates.ca_file
        )
    )
    while not shown:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    polls = len(auth_server.state.grants[0].polls)
    await asyncio.sleep(1.5)
    assert len(auth_server.state.grants[0].polls) == polls


@pytest.mark.parametrize(
    ("changes", "kind", "words"),
    [
        (
            {"tenant": "nosuch.example"},
            SignInFailure.WRONG_TENANT,
            "'nosuch.example' was not found",
        ),
        ({"client_id": UNKNOWN_CLIENT_ID}, SignInFailure.WRONG_CLIENT, "check the Application"),
    ],
)
async def test_wrong_tenant_or_client_says_which(
    auth_server: AuthServer,
    certificates: Certificates,
    changes: dict[str, str],
    kind: SignInFailure,
    words: str,
) -> None:
    with pytest.raises(SignInError) as raised:
        await run_sign_in(auth_server, certificates, **changes)
    assert raised.value.kind is kind
    assert words in raised.value.reason
    assert "Trace ID" not in raised.value.reason


async def test_public_client_flows_off_names_the_portal_switch(
    auth_server: AuthServer, certificates: Certificates
) -> None:
    auth_server.state.public_client_flows = False
    with pytest.raises(SignInError) as raised:
        await run_sign_in(auth_server, certificates)
    assert raised.value.kind is SignInFailure.WRONG_CLIENT
    assert "Allow public client flows" in raised.value.reason


async def test_unreachable_login_host_is_a_network_error(certificates: Certificates) -> None:
    signin = MicrosoftSignIn(CLIENT_ID, TENANT, f"https://{HOST}:{free_port()}")
    with pytest.raises(SignInError) as raised:
        await oauth.sign_in(signin, lambda code: None, timeout=5, ca_file=certificates.ca_file)
    assert raised.value.kind is SignInFailure.NETWORK
    assert "cannot reach" in raised.value.reason


async def test_an_untrusted_login_certificate_is_refused(
    auth_server: AuthServer, foreign_certificates: Certificates
) -> None:
    with pytest.raises(SignInError) as raised:
        await run_sign_in(auth_server, foreign_certificates)
    assert raised.value.kind is SignInFailure.CERTIFICATE
    assert "not trusted" in raised.value.reason
    assert not auth_server.state.grants  # nothing was asked of an untrusted server


async def test_ca_file_wins_over_requests_own_ca_variables(
    monkeypatch: pytest.MonkeyPatch,
    auth_server: AuthServer,
    certificates: Certificates,
    foreign_certificates: Certificates,
) -> None:
    # requests would let these replace the trusted CAs; the sign-in trusts what SMTP trusts.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(foreign_certificates.ca_file))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(foreign_certificates.ca_file))
    auth_server.state.script = ["approved"]
    tokens, _ = await run_sign_in(auth_server, certificates)
    assert tokens.fresh
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates.ca_file))
    with pytest.raises(SignInError) as raised:
        await oauth.sign_in(signin_for(auth_server), lambda code: None, timeout=5)
    assert raised.value.kind is SignInFailure.CERTIFICATE


def test_requests_trusts_the_system_store_not_certifi(
    monkeypatch: pytest.MonkeyPatch, certificates: Certificates
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    assert oauth.http_verify(None) == str(certificates.ca_file)
    assert oauth.http_verify(certificates.ca_file) == str(certificates.ca_file)


# --- refresh -----------------------------------------------------------------------------------


async def test_refresh_rotates_tokens_and_a_revoked_sign_in_says_sign_in_again(
    auth_server: AuthServer, certificates: Certificates
) -> None:
    auth_server.state.script = ["approved"]
    tokens, _ = await run_sign_in(auth_server, certificates)
    signin = signin_for(auth_server)
    renewed = await oauth.refresh(
        signin, tokens.refresh_token, timeout=5, ca_file=certificates.ca_file
    )
    assert renewed.access_token != tokens.access_token
    assert renewed.refresh_token != tokens.refresh_token
    auth_server.state.revoke_refresh_tokens()
    with pytest.raises(SignInError) as raised:
        await oauth.refresh(signin, renewed.refresh_token, timeout=5, ca_file=certificates.ca_file)
    assert raised.value.kind is SignInFailure.REVOKED
    assert "mailsetup signin" in raised.value.reason
    assert renewed.refresh_token not in raised.value.reason


async def test_a_page_that_is_not_oauth_is_reported_not_crashed_on(
    auth_server: AuthServer, certificates: Certificates
) -> None:
    auth_server.state.html_from_token_endpoint = True
    with pytest.raises(SignInError) as raised:
        await oauth.refresh(
            signin_for(auth_server), "rt-anything", timeout=5, ca_file=certificates.ca_file
        )
    assert raised.value.kind is SignInFailure.SERVER
    assert "did not expect" in raised.value.reason
    assert "rt-anything" not in raised.value.reason


# --- SMTP with XOAUTH2 -------------------------------------------------------------------------


def signed_in(account: Account, refresh_token: str, tokens: Tokens | None = None) -> SignedIn:
    assert account.signin is not None
    return SignedIn(account.email, account.signin, refresh_token, tokens)


async def signed_in_tokens(auth_server: AuthServer, certificates: Certificates) -> Tokens:
    auth_server.state.script = ["approved"]
    tokens, _ = await run_sign_in(auth_server, certificates)
    return tokens


async def test_probe_logs_in_with_xoauth2_over_tls(
    auth_server: AuthServer, microsoft_server: SmtpServer, certificates: Certificates
) -> None:
    tokens = await signed_in_tokens(auth_server, certificates)
    account = microsoft_account(microsoft_server.port, auth_server.url)
    credential = signed_in(account, tokens.refresh_token, tokens)
    result = await probe(account, credential, timeout=5, ca_file=certificates.ca_file)
    assert result.ok, result.failure
    assert credential.tokens is tokens  # still fresh: no refresh
    assert auth_server.state.refreshes == 0
    (attempt,) = microsoft_server.handler.xoauth2  # type: ignore[attr-defined]
    assert (attempt.user, attempt.encrypted, attempt.accepted) == (LOGIN, True, True)
    assert microsoft_server.auth_attempts == []  # no password login was tried


async def test_probe_from_a_refresh_token_refreshes_first(
    auth_server: AuthServer, microsoft_server: SmtpServer, certificates: Certificates
) -> None:
    tokens = await signed_in_tokens(auth_server, certificates)
    account = microsoft_account(microsoft_server.port, auth_server.url)
    credential = signed_in(account, tokens.refresh_token)
    result = await probe(account, credential, timeout=5, ca_file=certificates.ca_file)
    assert result.ok
    assert credential.tokens is not None  # a rotated refresh token, for the session to keep
    assert credential.refresh_token == credential.tokens.refresh_token != tokens.refresh_token
    assert auth_server.state.refreshes == 1


async def test_a_rejected_token_fails_with_advice_and_no_token_in_the_reason(
    auth_server: AuthServer, microsoft_server: SmtpServer, certificates: Certificates
) -> None:
    account = microsoft_account(microsoft_server.port, auth_server.url)
    result = await probe(account, "at-forged-token-123", timeout=5, ca_file=certificates.ca_file)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.CREDENTIALS
    assert "sign in as the user of that mailbox" in result.failure.reason
    assert "at-forged-token-123" not in result.failure.reason


async def test_a_revoked_sign_in_fails_the_probe_as_signin_revoked(
    auth_server: AuthServer, microsoft_server: SmtpServer, certificates: Certificates
) -> None:
    tokens = await signed_in_tokens(auth_server, certificates)
    auth_server.state.revoke_refresh_tokens()
    account = microsoft_account(microsoft_server.port, auth_server.url)
    credential = signed_in(account, tokens.refresh_token)
    result = await probe(account, credential, timeout=5, ca_file=certificates.ca_file)
    assert result.failure is not None and credential.tokens is None
    assert result.failure.kind is FailureKind.SIGNIN_REVOKED
    assert result.step is Step.AUTH
    assert microsoft_server.handler.xoauth2 == []  # type: ignore[attr-defined]


async def test_a_password_where_microsoft_wants_oauth_says_how_to_switch(
    microsoft_server: SmtpServer, certificates: Certificates
) -> None:
    account = Account.create(
        ProviderId.OTHER, "Codes", LOGIN, server=HOST, port=microsoft_server.port
    )
    result = await probe(account, PASSWORD, timeout=5, ca_file=certificates.ca_file)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.OAUTH_REQUIRED
    assert "Microsoft sign-in" in result.failure.reason
    assert "mailsetup signin" in result.failure.reason


async def test_a_server_without_xoauth2_says_so(
    auth_server: AuthServer, starttls_server: SmtpServer, certificates: Certificates
) -> None:
    account = microsoft_account(starttls_server.port, auth_server.url)
    result = await probe(account, "at-whatever", timeout=5, ca_file=certificates.ca_file)
    assert result.failure is not None
    assert result.failure.kind is FailureKind.NO_AUTH
    assert "XOAUTH2" in result.failure.reason


# --- sending, refresh after expiry, keeping the newest refresh token ----------------------------


async def test_mailer_refreshes_an_expired_access_token_and_keeps_the_new_refresh_token(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    store: AccountStore,
) -> None:
    auth_server.state.access_token_lifetime = oauth.REFRESH_MARGIN + 1.5
    tokens = await signed_in_tokens(auth_server, certificates)
    account = microsoft_account(microsoft_server.port, auth_server.url)
    store.save(account, tokens.refresh_token)
    mailer = Mailer.from_saved(store.path, timeout=5, ca_file=certificates.ca_file)
    await mailer.send_async("alice@example.org", "Code", "Your code is 1.")
    await mailer.send_async("alice@example.org", "Code", "Your code is 2.")
    assert auth_server.state.refreshes == 1  # the second send reused the fresh token
    first = microsoft_server.handler.xoauth2[0].token  # type: ignore[attr-defined]
    await asyncio.sleep(1.6)  # the access token is now within the refresh margin
    await mailer.send_async("alice@example.org", "Code", "Your code is 3.")
    assert auth_server.state.refreshes == 2
    attempts = microsoft_server.handler.xoauth2  # type: ignore[attr-defined]
    assert [a.accepted for a in attempts] == [True, True, True]
    assert attempts[2].token != first
    assert len(microsoft_server.handler.delivered) == 3
    # The store holds the newest refresh token, which is the only one still valid.
    stored = store.read_secret(account)
    assert stored in auth_server.state.refresh_tokens
    assert stored != tokens.refresh_token


async def test_mailer_with_a_revoked_sign_in_raises_send_error(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    store: AccountStore,
) -> None:
    tokens = await signed_in_tokens(auth_server, certificates)
    store.save(microsoft_account(microsoft_server.port, auth_server.url), tokens.refresh_token)
    auth_server.state.revoke_refresh_tokens()
    mailer = Mailer.from_saved(store.path, timeout=5, ca_file=certificates.ca_file)
    with pytest.raises(SendError) as raised:
        await mailer.send_async("alice@example.org", "Code", "x")
    assert raised.value.failure.kind is FailureKind.SIGNIN_REVOKED
    assert microsoft_server.handler.delivered == []


# --- storing ---------------------------------------------------------------------------------


def token_free(text: str, tokens: Tokens) -> bool:
    return tokens.access_token not in text and tokens.refresh_token not in text


def test_config_keeps_the_app_registration_and_no_token(
    store: AccountStore, no_keyring: None
) -> None:
    account = microsoft_account(587, "https://login.microsoftonline.us")
    report = store.save(account, "rt-the-refresh-token")
    text = store.path.read_text()
    assert "rt-the-refresh-token" not in text
    data = tomllib.loads(text)["account"]
    assert data["signin"] == "microsoft"
    assert data["client_id"] == CLIENT_ID
    assert data["tenant"] == TENANT
    assert data["authority_host"] == "https://login.microsoftonline.us"
    assert store.load() == account
    # No keyring: the 0600 fallback file, under its own key.
    assert report.secret.where == str(store.secret_path)
    assert stat.S_IMODE(store.secret_path.stat().st_mode) == 0o600
    (secret,) = tomllib.loads(store.secret_path.read_text())["secret"]
    assert secret["refresh_token"] == "rt-the-refresh-token"
    assert "password" not in secret
    assert secret["renewed"]  # when the sign-in was last stored, for `show`'s warning
    assert store.read_secret(account) == "rt-the-refresh-token"


def test_hotmail_always_signs_in_at_consumers(tmp_path: Path) -> None:
    account = Account.create(
        ProviderId.HOTMAIL,
        "Codes",
        "codes@outlook.com",
        signin=MicrosoftSignIn(CLIENT_ID, "contoso.com"),
    )
    assert account.signin is not None and account.signin.tenant == "consumers"
    assert validate(account) == ()
    path = tmp_path / "a.toml"
    with pytest.raises(StoreError, match="always signs in at tenant 'consumers'"):
        account_from_toml(
            'schema = 1\n[account]\nsmtp_mail = "hotmail"\ndisplay_name = "C"\n'
            'email = "c@outlook.com"\nsignin = "microsoft"\n'
            f'client_id = "{CLIENT_ID}"\ntenant = "contoso.com"\n',
            path,
        )


@pytest.mark.parametrize(
    ("provider_id", "client_id", "tenant", "field", "words"),
    [
        (ProviderId.GMAIL, CLIENT_ID, TENANT, Field.SIGN_IN, "does not offer Microsoft sign-in"),
        (ProviderId.EXCHANGE, "", TENANT, Field.CLIENT_ID, "Application (client) ID"),
        (ProviderId.EXCHANGE, "my-app", TENANT, Field.CLIENT_ID, "is a GUID"),
        (ProviderId.EXCHANGE, CLIENT_ID, "", Field.TENANT, "Directory (tenant) ID"),
        (ProviderId.EXCHANGE, CLIENT_ID, "contoso", Field.TENANT, "a domain such as"),
        (ProviderId.EXCHANGE, CLIENT_ID, "a.com\r\nX: y", Field.TENANT, "one line"),
    ],
)
def test_sign_in_fields_are_validated(
    provider_id: ProviderId, client_id: str, tenant: str, field: Field, words: str
) -> None:
    email = "codes@gmail.com" if provider_id is ProviderId.GMAIL else "codes@example.com"
    account = Account.create(provider_id, "Codes", email, signin=MicrosoftSignIn(client_id, tenant))
    problems = [p for p in validate(account, "") if p.field is field]
    assert problems and words in problems[0].message, validate(account, "")
    # With Microsoft sign-in there is no password to ask for.
    assert not [p for p in validate(account, "") if p.field is Field.PASSWORD]


@pytest.mark.parametrize(
    "tenant", [TENANT, "organizations", "72f988bf-86f1-41af-91ab-2d7cd011db47"]
)
def test_tenant_ids_and_domains_are_accepted(tenant: str) -> None:
    account = Account.create(
        ProviderId.EXCHANGE, "Codes", "codes@example.com", signin=MicrosoftSignIn(CLIENT_ID, tenant)
    )
    assert validate(account) == ()


def test_the_login_host_comes_from_the_environment_and_must_be_https() -> None:
    assert default_authority_host({}) == DEFAULT_AUTHORITY_HOST
    assert default_authority_host({AUTHORITY_HOST_ENV: "https://login.microsoftonline.us/"}) == (
        "https://login.microsoftonline.us"
    )
    with pytest.raises(ValueError, match="must be an https:// URL"):
        default_authority_host({AUTHORITY_HOST_ENV: "http://login.example"})
    with pytest.raises(ValueError, match="without a path"):
        default_authority_host({AUTHORITY_HOST_ENV: "https://login.example/contoso"})
