"""Fixtures: real SMTP servers on loopback, keyring backends, and a sandboxed home."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.store import AccountStore
from mailsetup_tui.tui.app import MailSetupApp

from support.authserver import AuthServer, XOAuth2Handler, run_auth_server
from support.cli import mailsetup_env
from support.dns import empty_nameserver
from support.keyrings import MemoryKeyring
from support.servers import Authenticator, Certificates, SmtpServer, run_smtp_server


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test's files in its temp dir, whatever the code under test defaults to."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("MAILSETUP_CONFIG", str(tmp_path / "config" / "account.toml"))
    monkeypatch.delenv("MAILSETUP_PASSWORD", raising=False)
    monkeypatch.setenv("MAILSETUP_SYSLOG", "none")  # never the machine's journal
    monkeypatch.setenv("MAILSETUP_RELAY_SOCKET", str(tmp_path / "no-relay.sock"))
    monkeypatch.setenv("MAILSETUP_NAMESERVER", empty_nameserver())  # never the machine's DNS
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("MAILSETUP_AUTHORITY_HOST", raising=False)
    # The sign-in tests talk HTTPS to 127.0.0.1: never through a proxy of the machine's.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An in-memory keyring for every test; `no_keyring` replaces it with keyring's fail one."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> None:
    """The headless-server case: keyring finds no backend at all."""
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "config" / "account.toml")


@pytest.fixture
def keyring_file(tmp_path: Path) -> Path:
    """Where a subprocess's keyring (support.keyrings.JsonFileKeyring) keeps its entries."""
    return tmp_path / "keyring.json"


@pytest.fixture
def env(tmp_path: Path, keyring_file: Path) -> dict[str, str]:
    """The environment for running `mailsetup` in a subprocess, all inside tmp_path."""
    return mailsetup_env(tmp_path, keyring_file=keyring_file)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """The CA the client trusts (via --ca-file / ca_file)."""
    return Certificates.create(tmp_path_factory.mktemp("certs"), "trusted")


@pytest.fixture(scope="session")
def foreign_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA the client does not trust."""
    return Certificates.create(tmp_path_factory.mktemp("certs"), "foreign")


@pytest.fixture
def starttls_server(certificates: Certificates) -> Iterator[SmtpServer]:
    with run_smtp_server("starttls", certificates) as server:
        yield server


@pytest.fixture
def implicit_tls_server(certificates: Certificates) -> Iterator[SmtpServer]:
    with run_smtp_server("implicit", certificates) as server:
        yield server


@pytest.fixture
def untrusted_server(foreign_certificates: Certificates) -> Iterator[SmtpServer]:
    with run_smtp_server("starttls", foreign_certificates) as server:
        yield server


@pytest.fixture
def cleartext_auth_server() -> Iterator[SmtpServer]:
    """Offers AUTH on a plain connection and no STARTTLS at all."""
    with run_smtp_server("plain", None, authenticator=Authenticator()) as server:
        yield server


@pytest.fixture
def auth_server(certificates: Certificates) -> Iterator[AuthServer]:
    """Microsoft's login service, as far as MSAL and the device-code sign-in see it."""
    with run_auth_server(certificates) as server:
        yield server


@pytest.fixture
def microsoft_server(certificates: Certificates, auth_server: AuthServer) -> Iterator[SmtpServer]:
    """Exchange Online as SMTP sees it: STARTTLS, AUTH XOAUTH2 with a token from `auth_server`,
    and password logins refused with 535 5.7.139."""
    with run_smtp_server(
        "starttls",
        certificates,
        authenticator=Authenticator(
            reject_reply="535 5.7.139 Authentication unsuccessful, basic authentication is "
            "disabled.",
            accepts_password=False,
        ),
        handler=XOAuth2Handler(auth_server.state),
    ) as server:
        yield server


@pytest.fixture
def make_app(store: AccountStore, certificates: Certificates) -> Callable[..., MailSetupApp]:
    """Builds the form's app on the test's store, trusting the test CA, at xterm-256color."""

    def make(
        *,
        timeout: float = 5.0,
        ca_file: str | None = str(certificates.ca_file),
        environ: dict[str, str] | None = None,
    ) -> MailSetupApp:
        session = SetupSession(store, timeout=timeout, ca_file=ca_file)
        return MailSetupApp(session, environ=environ or {"TERM": "xterm-256color"})

    return make
