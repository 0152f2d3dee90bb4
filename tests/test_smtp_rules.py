"""What real mail servers do, scripted: one login per test, a sender check that does not fail
working accounts, an EHLO name servers accept, temporary failures, 8-bit bodies, certificates
that fail for different reasons, IPv6 literals. (tests/interop/ runs Postfix itself.)"""

from __future__ import annotations

import base64
import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.mailer import Mailer, SendError
from mailsetup_tui.core.probe import FailureKind, ProbeResult, Step, probe
from mailsetup_tui.core.providers import ProviderId, Security

from support.scripted import Script, run_scripted_server
from support.servers import (
    LOGIN,
    PASSWORD,
    Certificates,
    RecordingHandler,
    SmtpServer,
    other_account,
    run_smtp_server,
)

WRONG = "not-the-password-0815"


def clear_text(port: int) -> Account:
    """A scripted server speaks clear text: Security None, the only mode that allows it."""
    return other_account(port, Security.NONE)


def failed(result: ProbeResult, kind: FailureKind) -> str:
    assert result.failure is not None, "the test should have failed"
    assert result.failure.kind is kind, result.failure.reason
    return result.failure.reason


# --- one login attempt ----------------------------------------------------------------------


async def test_a_wrong_password_is_tried_once_although_two_mechanisms_are_offered(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    result = await probe(
        other_account(starttls_server.port), WRONG, timeout=5, ca_file=certificates.ca_file
    )
    failed(result, FailureKind.CREDENTIALS)
    assert len(starttls_server.auth_attempts) == 1


async def test_plain_is_preferred_and_login_used_when_plain_is_not_offered() -> None:
    login_only = Script(
        ehlo=("250-scripted.example.com", "250 AUTH LOGIN"),
        replies={"AUTH LOGIN": "334 UGFzc3dvcmQ6", "CONTINUE": "235 2.7.0 Accepted"},
    )
    with run_scripted_server(login_only) as server:
        result = await probe(clear_text(server.port), PASSWORD, timeout=5)
    assert result.ok, result.failure
    assert [line.split()[:2] for line in server.commands("AUTH")] == [["AUTH", "LOGIN"]]


async def test_another_mechanism_only_after_mechanism_not_supported() -> None:
    script = Script(
        replies={
            "AUTH PLAIN": "504 5.5.4 Unrecognized authentication type",
            "AUTH LOGIN": "334 UGFzc3dvcmQ6",
            "CONTINUE": "235 2.7.0 Accepted",
        }
    )
    with run_scripted_server(script) as server:
        result = await probe(clear_text(server.port), PASSWORD, timeout=5)
    assert result.ok, result.failure
    assert [line.split()[1] for line in server.commands("AUTH")] == ["PLAIN", "LOGIN"]


async def test_never_another_mechanism_after_a_refused_password() -> None:
    script = Script(replies={"AUTH PLAIN": "535 5.7.8 Authentication credentials invalid"})
    with run_scripted_server(script) as server:
        result = await probe(clear_text(server.port), WRONG, timeout=5)
    failed(result, FailureKind.CREDENTIALS)
    assert len(server.commands("AUTH")) == 1


async def test_an_echo_of_the_auth_line_is_masked_in_the_reason_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = base64.b64encode(f"\0{LOGIN}\0{PASSWORD}".encode()).decode()
    script = Script(replies={"AUTH PLAIN": "535 5.7.8 no such login: {line}"})
    with caplog.at_level(logging.INFO), run_scripted_server(script) as server:
        result = await probe(clear_text(server.port), PASSWORD, timeout=5)
    reason = failed(result, FailureKind.CREDENTIALS)
    assert any(payload in line for line in server.received)  # the server did get it, and echo
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for text in (reason, logged):
        assert payload not in text and PASSWORD not in text
    assert "AUTH PLAIN ****" in logged


async def test_a_short_password_does_not_mask_text_it_never_entered(
    untrusted_server: SmtpServer, foreign_certificates: Certificates, certificates: Certificates
) -> None:
    # The certificate's fingerprint and names are full of single letters: none may be masked.
    result = await probe(other_account(untrusted_server.port), "x", timeout=5)
    reason = failed(result, FailureKind.CERTIFICATE)
    assert "****" not in reason
    assert "mailsetup test CA foreign" in reason


# --- the sender check -----------------------------------------------------------------------


async def test_the_sender_check_offers_postmaster_of_the_senders_domain(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    result = await probe(
        other_account(starttls_server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
    )
    assert result.ok, result.failure
    assert result.note is None
    assert starttls_server.handler.mail_from == [LOGIN]


async def test_a_send_only_address_without_a_mailbox_passes_with_a_note(
    certificates: Certificates,
) -> None:
    unknown = RecordingHandler(
        refuse_recipient=("postmaster@example.com", "550 5.1.1 <postmaster@example.com>: "
                          "Recipient address rejected: User unknown in virtual mailbox table")
    )  # fmt: skip
    with run_smtp_server("starttls", certificates, handler=unknown) as server:
        result = await probe(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
    assert result.ok, result.failure
    assert result.note is not None
    assert "could not confirm" in result.note and "550 5.1.1" in result.note


@pytest.mark.parametrize(
    "reply",
    [
        "553 5.7.1 <mfa@example.com>: Sender address rejected: not owned by user mfa@example.com",
        "550 5.7.60 SMTP; Client does not have permissions to send as this sender",
        "550 5.7.0 Requested action not taken: mfa@example.com not authorized to send as this",
    ],
)
async def test_a_refusal_about_the_sender_at_rcpt_time_is_a_refused_sender(
    certificates: Certificates, reply: str
) -> None:
    handler = RecordingHandler(refuse_recipient=("postmaster@example.com", reply))
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        result = await probe(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
    reason = failed(result, FailureKind.SENDER_REFUSED)
    assert f"send as {LOGIN}" in reason
    assert result.failure is not None and not result.failure.temporary


async def test_a_temporary_refusal_at_rcpt_is_temporary_not_a_sender_problem(
    certificates: Certificates,
) -> None:
    handler = RecordingHandler(
        refuse_recipient=("postmaster@example.com", "451 4.3.0 Temporary lookup failure")
    )
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        result = await probe(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
    reason = failed(result, FailureKind.DEFERRED)
    assert result.failure is not None and result.failure.temporary
    assert "451 4.3.0" in reason and "try again in a few minutes" in reason
    assert "send as" not in reason


async def test_a_refused_mail_from_is_a_refused_sender() -> None:
    script = Script(replies={"MAIL": "550 5.7.1 Sender rejected"})
    with run_scripted_server(script) as server:
        result = await probe(clear_text(server.port), PASSWORD, timeout=5)
    failed(result, FailureKind.SENDER_REFUSED)
    assert result.step is Step.MAIL_FROM


async def test_a_temporary_refusal_at_login_is_temporary() -> None:
    script = Script(replies={"AUTH PLAIN": "454 4.7.0 Temporary authentication failure"})
    with run_scripted_server(script) as server:
        result = await probe(clear_text(server.port), PASSWORD, timeout=5)
    failed(result, FailureKind.DEFERRED)
    assert result.failure is not None and result.failure.temporary


@pytest.mark.parametrize(
    ("kind", "temporary"),
    [("stall", True), ("refused", True), ("close", True)],
)
async def test_time_outs_and_network_errors_are_temporary(kind: str, temporary: bool) -> None:
    from support.servers import free_port, run_raw_server

    if kind == "refused":
        result = await probe(other_account(free_port()), PASSWORD, timeout=1)
    else:
        async with run_raw_server("stall" if kind == "stall" else "close") as server:
            result = await probe(other_account(server.port), PASSWORD, timeout=1)
    assert result.failure is not None
    assert result.failure.temporary is temporary
    assert "try again in a few minutes" in result.failure.reason


# --- the EHLO name --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostname", "sent"),
    [("vm", "[127.0.0.1]"), ("mail.example.com", "mail.example.com"), ("10.0.0.1", "[127.0.0.1]")],
)
async def test_ehlo_sends_a_fully_qualified_name_or_the_address_literal(
    monkeypatch: pytest.MonkeyPatch, hostname: str, sent: str
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: hostname)
    with run_scripted_server(Script()) as server:
        result = await probe(clear_text(server.port), PASSWORD, timeout=5)
    assert result.ok, result.failure
    assert server.commands("EHLO") == [f"EHLO {sent}"]


async def test_a_refused_ehlo_is_reported_as_such_never_as_a_sender_problem() -> None:
    script = Script(
        replies={"RCPT": "504 5.5.2 <vm>: Helo command rejected: need fully-qualified hostname"}
    )
    with run_scripted_server(script) as server:
        result = await probe(clear_text(server.port), PASSWORD, timeout=5)
    reason = failed(result, FailureKind.EHLO_REFUSED)
    assert "send as" not in reason
    assert "fully qualified" in reason


# --- TLS --------------------------------------------------------------------------------------


async def test_the_tls_version_is_reported_when_a_later_step_fails(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    result = await probe(
        other_account(starttls_server.port), WRONG, timeout=5, ca_file=certificates.ca_file
    )
    failed(result, FailureKind.CREDENTIALS)
    assert result.tls_version is not None and result.tls_version.startswith("TLSv1.")


async def test_a_name_mismatch_says_which_names_the_certificate_holds(tmp_path: Path) -> None:
    other_name = Certificates.create(tmp_path, "named", "mail.example.net")
    with run_smtp_server("starttls", other_name) as server:
        result = await probe(
            other_account(server.port), PASSWORD, timeout=5, ca_file=other_name.ca_file
        )
    reason = failed(result, FailureKind.CERTIFICATE)
    assert "it holds mail.example.net" in reason
    assert "--ca-file" not in reason
    assert server.auth_attempts == []


async def test_an_expired_certificate_says_when_it_expired(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    expired = Certificates.create(
        tmp_path, "expired", not_before=now - timedelta(days=60), not_after=now - timedelta(days=3)
    )
    with run_smtp_server("starttls", expired) as server:
        result = await probe(
            other_account(server.port), PASSWORD, timeout=5, ca_file=expired.ca_file
        )
    reason = failed(result, FailureKind.CERTIFICATE)
    assert f"expired on {(now - timedelta(days=3)):%Y-%m-%d}" in reason
    assert "--ca-file" not in reason


@pytest.mark.parametrize("server_name", ["::1", "[::1]"])
async def test_ipv6_literals_are_checked_against_the_certificates_address(
    certificates: Certificates, server_name: str
) -> None:
    with run_smtp_server("starttls", certificates, host="::1") as server:
        account = Account.create(
            ProviderId.OTHER, "Codes", LOGIN, server=server_name, port=server.port
        )
        result = await probe(account, PASSWORD, timeout=5, ca_file=certificates.ca_file)
    assert result.ok, result.failure
    assert result.tls_version is not None


# --- sending 8-bit text -----------------------------------------------------------------------

BODY = "Ihr Prüfcode lautet 482913. Gültig für 10 Minuten.\n"


async def test_a_non_ascii_body_goes_as_8bitmime_where_offered(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    mailer = Mailer(
        other_account(starttls_server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
    )
    sent = await mailer.send_async("alice@example.org", "Code", BODY)
    # aiosmtpd offers SIZE too: the size is declared, so a server refuses too large at once.
    assert starttls_server.handler.mail_options == [["BODY=8BITMIME", f"SIZE={sent.size}"]]
    (delivered,) = starttls_server.handler.delivered
    assert "Prüfcode".encode() in delivered.data


async def test_a_non_ascii_body_is_quoted_printable_without_8bitmime(
    certificates: Certificates,
) -> None:
    handler = RecordingHandler()
    handler.hidden = {"8BITMIME"}
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        mailer = Mailer(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
        await mailer.send_async("alice@example.org", "Code", BODY)
    assert [o for o in handler.mail_options[0] if not o.startswith("SIZE=")] == []
    (delivered,) = handler.delivered
    assert delivered.data.isascii()
    assert b"Content-Transfer-Encoding: quoted-printable" in delivered.data
    import email
    from email.policy import default

    message = email.message_from_bytes(delivered.data, policy=default)
    assert message.get_content().replace("\r\n", "\n") == BODY


async def test_send_error_says_whether_to_try_again(certificates: Certificates) -> None:
    handler = RecordingHandler(refuse_recipient=("alice@example.org", "452 4.2.2 Mailbox full"))
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        mailer = Mailer(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
        with pytest.raises(SendError) as caught:
            await mailer.send_async("alice@example.org", "Code", "Your code is 482913.")
    assert caught.value.temporary
    assert caught.value.failure.kind is FailureKind.DEFERRED
    assert handler.delivered == []


async def test_a_permanent_recipient_refusal_when_sending_names_the_recipient(
    certificates: Certificates,
) -> None:
    handler = RecordingHandler(refuse_recipient=("bob@example.org", "550 5.1.1 User unknown"))
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        mailer = Mailer(
            other_account(server.port), PASSWORD, timeout=5, ca_file=certificates.ca_file
        )
        with pytest.raises(SendError) as caught:
            await mailer.send_async(["alice@example.org", "bob@example.org"], "Code", "x")
    assert caught.value.failure.kind is FailureKind.RECIPIENT_REFUSED
    assert "bob@example.org" in caught.value.failure.reason
    assert not caught.value.temporary
