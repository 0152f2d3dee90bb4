"""The connection test against real SMTP servers on 127.0.0.1: every outcome the design names."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from mailsetup_tui.core.probe import FailureKind, ProbeResult, Step, probe
from mailsetup_tui.core.providers import Security

from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Authenticator,
    Certificates,
    RecordingHandler,
    SmtpServer,
    free_port,
    other_account,
    run_raw_server,
    run_smtp_server,
)

WRONG = "not-the-password-0815"


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture every client-side log line, so tests can check none carries the password."""
    with caplog.at_level(logging.DEBUG):
        yield
    client_lines = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("mailsetup_tui", "aiosmtplib", "asyncio"))
    ]
    for line in client_lines:
        assert PASSWORD not in line
        assert WRONG not in line


def assert_failed(result: ProbeResult, kind: FailureKind, *fragments: str) -> str:
    assert not result.ok, "the probe should have failed"
    assert result.failure is not None
    assert result.failure.kind is kind, result.failure.reason
    for fragment in fragments:
        assert fragment in result.failure.reason
    assert PASSWORD not in result.failure.reason
    assert WRONG not in result.failure.reason
    return result.failure.reason


# --- success --------------------------------------------------------------------------------


async def test_good_login_over_starttls(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    result = await probe(
        other_account(starttls_server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
    )
    assert result.ok, result.failure
    assert result.step is Step.DONE
    assert result.tls_version and result.tls_version.startswith("TLSv1.")
    assert [(a.login, a.encrypted) for a in starttls_server.auth_attempts] == [(LOGIN, True)]
    # The sender check asks the server, but nothing is ever delivered.
    assert starttls_server.handler.mail_from == [LOGIN]
    assert starttls_server.handler.delivered == []


async def test_good_login_over_implicit_tls(
    implicit_tls_server: SmtpServer, certificates: Certificates
) -> None:
    result = await probe(
        other_account(implicit_tls_server.port, Security.TLS),
        PASSWORD,
        timeout=5,
        ca_file=certificates.ca_file,
    )
    assert result.ok, result.failure
    assert result.tls_version is not None
    assert [a.encrypted for a in implicit_tls_server.auth_attempts] == [True]


async def test_ssl_cert_file_is_honoured(
    starttls_server: SmtpServer, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    result = await probe(other_account(starttls_server.port), PASSWORD, timeout=5)
    assert result.ok, result.failure


async def test_clear_text_login_only_when_security_is_none(
    cleartext_auth_server: SmtpServer,
) -> None:
    result = await probe(
        other_account(cleartext_auth_server.port, Security.NONE), PASSWORD, timeout=5
    )
    assert result.ok, result.failure
    assert result.tls_version is None
    assert [a.encrypted for a in cleartext_auth_server.auth_attempts] == [False]


# --- rejected logins ------------------------------------------------------------------------


async def test_wrong_password_is_rejected_with_the_reply(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    result = await probe(
        other_account(starttls_server.port), WRONG, timeout=5, ca_file=certificates.ca_file
    )
    assert_failed(result, FailureKind.CREDENTIALS, "rejected the e-mail or password", "535")
    assert result.step is Step.AUTH


async def test_server_echo_of_the_password_is_masked(certificates: Certificates) -> None:
    echo = Authenticator(reject_reply=f"535 5.7.8 {WRONG} is not the password")
    with run_smtp_server("starttls", certificates, authenticator=echo) as server:
        result = await probe(
            other_account(server.port), WRONG, timeout=5, ca_file=certificates.ca_file
        )
    reason = assert_failed(result, FailureKind.CREDENTIALS)
    assert "********" in reason


@pytest.mark.parametrize(
    ("reply", "kind", "fragment"),
    [
        (
            "534 5.7.9 Application-specific password required",
            FailureKind.APP_PASSWORD_REQUIRED,
            "app password",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
            FailureKind.SMTP_AUTH_DISABLED,
            "-SmtpClientAuthenticationDisabled $false",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
            FailureKind.OAUTH_REQUIRED,
            "Microsoft sign-in is required",
        ),
        (
            "550 5.7.30 Basic authentication is not supported for Client Submission",
            FailureKind.OAUTH_REQUIRED,
            "disabled for this account or tenant",
        ),
    ],
)
async def test_provider_specific_rejections_say_what_to_do(
    certificates: Certificates, reply: str, kind: FailureKind, fragment: str
) -> None:
    with run_smtp_server(
        "starttls", certificates, authenticator=Authenticator(reject_reply=reply)
    ) as server:
        result = await probe(
            other_account(server.port), WRONG, timeout=5, ca_file=certificates.ca_file
        )
    assert_failed(result, kind, fragment)


async def test_starttls_demanded_at_login(certificates: Certificates) -> None:
    must_tls = Authenticator(reject_reply="530 5.7.0 Must issue a STARTTLS command first")
    with run_smtp_server("plain", None, authenticator=must_tls) as server:
        result = await probe(other_account(server.port, Security.NONE), WRONG, timeout=5)
    assert_failed(result, FailureKind.STARTTLS_REQUIRED, "choose STARTTLS")


async def test_sender_refused_at_mail_from(certificates: Certificates) -> None:
    refusing = RecordingHandler(
        refuse_sender="550 5.7.60 SMTP; Client does not have permissions to send as this sender"
    )
    with run_smtp_server("starttls", certificates, handler=refusing) as server:
        result = await probe(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
    assert_failed(result, FailureKind.SENDER_REFUSED, f"send as {LOGIN}", "5.7.60")
    assert result.step is Step.MAIL_FROM


# --- encryption -----------------------------------------------------------------------------


async def test_untrusted_certificate_is_described_and_password_not_sent(
    untrusted_server: SmtpServer, certificates: Certificates
) -> None:
    result = await probe(
        other_account(untrusted_server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
    )
    reason = assert_failed(
        result,
        FailureKind.CERTIFICATE,
        "certificate is not trusted",
        "mailsetup test CA foreign",  # the issuer, so the admin can recognise it
        "SHA-256 ",
        "expires ",
        "--ca-file",
    )
    assert "unable to get local issuer certificate" in reason
    assert untrusted_server.auth_attempts == []


async def test_system_store_does_not_trust_a_private_ca(starttls_server: SmtpServer) -> None:
    result = await probe(other_account(starttls_server.port), PASSWORD, timeout=5)
    assert_failed(result, FailureKind.CERTIFICATE, "--ca-file")
    assert starttls_server.auth_attempts == []


async def test_no_starttls_offered_refuses_to_send_password(
    cleartext_auth_server: SmtpServer,
) -> None:
    result = await probe(other_account(cleartext_auth_server.port), PASSWORD, timeout=5)
    assert_failed(result, FailureKind.NO_STARTTLS, "refusing to send the password unencrypted")
    assert cleartext_auth_server.auth_attempts == []


async def test_explicit_starttls_is_never_downgraded(cleartext_auth_server: SmtpServer) -> None:
    result = await probe(
        other_account(cleartext_auth_server.port, Security.STARTTLS), PASSWORD, timeout=5
    )
    assert_failed(result, FailureKind.NO_STARTTLS)
    assert cleartext_auth_server.auth_attempts == []


async def test_no_auth_offered(certificates: Certificates) -> None:
    with run_smtp_server("starttls", certificates, auth=False) as server:
        result = await probe(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
    assert_failed(result, FailureKind.NO_AUTH, "does not offer login (AUTH)")


async def test_auth_hidden_before_starttls_is_explained(
    starttls_server: SmtpServer,
) -> None:
    result = await probe(other_account(starttls_server.port, Security.NONE), PASSWORD, timeout=5)
    assert_failed(result, FailureKind.NO_AUTH, "after STARTTLS")
    assert starttls_server.auth_attempts == []


async def test_implicit_tls_on_a_starttls_port_names_the_mismatch(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    result = await probe(
        other_account(starttls_server.port, Security.TLS),
        PASSWORD,
        timeout=5,
        ca_file=certificates.ca_file,
    )
    assert_failed(result, FailureKind.TLS_MISMATCH, "expects STARTTLS")


async def test_starttls_on_an_implicit_tls_port_times_out_with_a_hint(
    implicit_tls_server: SmtpServer, certificates: Certificates
) -> None:
    started = time.monotonic()
    result = await probe(
        other_account(implicit_tls_server.port, Security.STARTTLS),
        PASSWORD,
        timeout=1,
        ca_file=certificates.ca_file,
    )
    assert time.monotonic() - started < 2
    assert_failed(result, FailureKind.TIMEOUT, "did not answer within 1 s", "choose TLS")


async def test_auto_on_an_implicit_tls_port_says_choose_tls_well_before_the_deadline(
    implicit_tls_server: SmtpServer, certificates: Certificates
) -> None:
    started = time.monotonic()
    result = await probe(
        other_account(implicit_tls_server.port, Security.AUTO),
        PASSWORD,
        timeout=15,
        ca_file=certificates.ca_file,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 6, f"{elapsed:.2f} s: it waited out the deadline"
    assert_failed(
        result, FailureKind.TLS_MISMATCH, "answers a TLS handshake", "choose Security TLS"
    )
    assert result.failure is not None and not result.failure.temporary
    assert implicit_tls_server.auth_attempts == []  # nothing but a handshake crossed


async def test_auto_still_waits_for_a_slow_greeting_on_a_plain_port() -> None:
    # A silent server that is not TLS either: the usual time-out, after the same deadline.
    async with run_raw_server("stall") as server:
        started = time.monotonic()
        result = await probe(other_account(server.port), PASSWORD, timeout=2)
        assert 1.5 < time.monotonic() - started < 3
    assert_failed(result, FailureKind.TIMEOUT, "did not answer within 2 s")


# --- network-level failures -----------------------------------------------------------------


async def test_nothing_listening_is_refused() -> None:
    port = free_port()
    result = await probe(other_account(port), PASSWORD, timeout=5)
    assert_failed(result, FailureKind.REFUSED, f"nothing accepts connections on {HOST} port {port}")
    assert result.step is Step.CONNECT


async def test_unresolvable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OS resolver is the one part replaced: a real lookup would leave loopback.
    loop = asyncio.get_running_loop()

    async def no_such_host(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(loop, "getaddrinfo", no_such_host)
    account = other_account(25).__class__.create(
        "other", "Codes", LOGIN, server="smtp.nowhere.example.com", port=587
    )
    result = await probe(account, PASSWORD, timeout=5)
    assert_failed(result, FailureKind.DNS, '"smtp.nowhere.example.com" could not be resolved')
    assert result.step is Step.RESOLVE


async def test_stalled_server_fails_within_the_deadline() -> None:
    async with run_raw_server("stall") as server:
        started = time.monotonic()
        result = await probe(other_account(server.port), PASSWORD, timeout=1)
        elapsed = time.monotonic() - started
        assert elapsed < 2, f"took {elapsed:.2f} s for a 1 s deadline"
        assert_failed(result, FailureKind.TIMEOUT, "did not answer within 1 s")
        await asyncio.wait_for(server.hangups.wait(), 1)


async def test_server_silent_after_greeting_times_out_in_ehlo() -> None:
    async with run_raw_server("banner_then_stall") as server:
        result = await probe(other_account(server.port), PASSWORD, timeout=1)
    assert_failed(result, FailureKind.TIMEOUT, "stopped answering during EHLO")


async def test_server_that_closes_at_once() -> None:
    async with run_raw_server("close") as server:
        result = await probe(other_account(server.port), PASSWORD, timeout=5)
    assert_failed(result, FailureKind.CLOSED, "closed the connection during the greeting")


async def test_server_that_is_not_smtp() -> None:
    async with run_raw_server("http") as server:
        result = await probe(other_account(server.port), PASSWORD, timeout=5)
    assert_failed(result, FailureKind.NOT_SMTP, f"{HOST}:{server.port} does not speak SMTP")


async def test_a_garbled_reply_after_a_real_greeting_is_temporary() -> None:
    # It greeted as SMTP does, so it is an SMTP server; a garbled reply is a fault on the way.
    async with run_raw_server("banner_then_garbage") as server:
        result = await probe(other_account(server.port), PASSWORD, timeout=5)
    assert_failed(result, FailureKind.SERVER_ERROR, "sent a reply that is not SMTP during EHLO")
    assert result.failure is not None and result.failure.temporary


async def test_cancellation_closes_the_connection() -> None:
    async with run_raw_server("stall") as server:
        task = asyncio.create_task(probe(other_account(server.port), PASSWORD, timeout=30))
        while server.connections == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The server sees the hang-up at once: no socket was left open behind the cancel.
        await asyncio.wait_for(server.hangups.wait(), 1)


async def test_auth_without_a_usable_method(certificates: Certificates) -> None:
    # AUTH advertised with an empty mechanism list: nothing mailsetup could log in with.
    with run_smtp_server("starttls", certificates, auth_exclude=("LOGIN", "PLAIN")) as server:
        result = await probe(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
    assert_failed(result, FailureKind.NO_AUTH, "offers no login method mailsetup can use")


async def test_many_probes_in_one_event_loop(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    # The form runs every test in the same loop: a socket left behind by one probe would
    # break the next (file descriptor reuse under a live transport).
    for _ in range(5):
        result = await probe(
            other_account(starttls_server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
        assert result.ok, result.failure
    for _ in range(3):
        result = await probe(other_account(starttls_server.port), PASSWORD, timeout=5)
        assert_failed(result, FailureKind.CERTIFICATE)
