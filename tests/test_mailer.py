"""Sending through the account, read back from the local server: headers, encoding, envelope."""

from __future__ import annotations

import email
from email.policy import default as default_policy
from pathlib import Path

import pytest

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.mailer import InvalidMessage, Mailer, SendError
from mailsetup_tui.core.probe import FailureKind
from mailsetup_tui.core.providers import ProviderId
from mailsetup_tui.core.store import AccountStore, StoreError

from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Certificates,
    RecordingHandler,
    SmtpServer,
    other_account,
    run_smtp_server,
)


def mailer_for(server: SmtpServer, certificates: Certificates, name: str = "Überprüfung") -> Mailer:
    account = Account.create(ProviderId.OTHER, name, LOGIN, server=HOST, port=server.port)
    return Mailer(account, PASSWORD, timeout=5, ca_file=certificates.ca_file)


async def test_a_code_is_delivered_with_correct_headers_and_envelope(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    mailer = mailer_for(starttls_server, certificates)
    sent = await mailer.send_async("alice@example.org", "Your code", "Your code is 482913.\n")
    (delivered,) = starttls_server.handler.delivered
    assert delivered.mail_from == LOGIN
    assert delivered.rcpt_tos == ["alice@example.org"]
    message = email.message_from_bytes(delivered.data, policy=default_policy)
    assert delivered.data.isascii()  # RFC 2047 for the non-ASCII display name
    assert b"From: =?utf-8?q?=C3=9Cberpr=C3=BCfung?= <mfa@example.com>" in delivered.data
    assert str(message["From"]) == "Überprüfung <mfa@example.com>"
    assert message["To"] == "alice@example.org"
    assert message["Subject"] == "Your code"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None and message["Date"].datetime is not None
    assert message["Message-ID"] == sent.message_id
    assert sent.message_id.endswith("@example.com>")
    assert message.get_content().replace("\r\n", "\n") == "Your code is 482913.\n"
    assert sent.recipients == ("alice@example.org",)


async def test_html_alternative_and_several_recipients(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    mailer = mailer_for(starttls_server, certificates, name="Codes")
    await mailer.send_async(
        ["a@example.org", "b@example.org"], "Code", "Code: 1", html="<p>Code: <b>1</b></p>"
    )
    (delivered,) = starttls_server.handler.delivered
    assert delivered.rcpt_tos == ["a@example.org", "b@example.org"]
    message = email.message_from_bytes(delivered.data, policy=default_policy)
    assert message.get_content_type() == "multipart/alternative"
    body = message.get_body(("html",))
    assert body is not None and "<b>1</b>" in body.get_content()


def test_sync_send_works_outside_an_event_loop(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    sent = mailer_for(starttls_server, certificates).send("a@example.org", "Code", "1")
    assert sent.message_id
    assert len(starttls_server.handler.delivered) == 1


async def test_sync_send_inside_a_loop_points_to_send_async(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    with pytest.raises(RuntimeError, match="await send_async"):
        mailer_for(starttls_server, certificates).send("a@example.org", "Code", "1")


@pytest.mark.parametrize(
    ("to", "subject", "message"),
    [
        ("not-an-address", "Code", "recipient 'not-an-address'"),
        ("a@example.org\r\nBcc: x@example.org", "Code", "must be one line"),
        ("a@example.org", "Code\r\nBcc: x@example.org", "subject must be one line"),
        ([], "Code", "at least one recipient"),
    ],
)
async def test_bad_recipients_and_header_injection_are_refused_before_connecting(
    starttls_server: SmtpServer,
    certificates: Certificates,
    to: str | list[str],
    subject: str,
    message: str,
) -> None:
    with pytest.raises(InvalidMessage, match=message):
        await mailer_for(starttls_server, certificates).send_async(to, subject, "x")
    assert starttls_server.auth_attempts == []


async def test_refused_recipient_sends_nothing(certificates: Certificates) -> None:
    handler = RecordingHandler(refuse_recipient=("b@example.org", "550 5.1.1 No such user"))
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        with pytest.raises(SendError) as caught:
            await mailer_for(server, certificates).send_async(
                ["a@example.org", "b@example.org"], "Code", "1"
            )
    failure = caught.value.failure
    assert failure.kind is FailureKind.RECIPIENT_REFUSED
    assert "refused the recipient b@example.org (550 5.1.1 No such user)" in failure.reason
    assert handler.delivered == []


async def test_refused_message(certificates: Certificates) -> None:
    handler = RecordingHandler(refuse_data="554 5.7.1 Message rejected as spam")
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        with pytest.raises(SendError) as caught:
            await mailer_for(server, certificates).send_async("a@example.org", "Code", "1")
    assert caught.value.failure.kind is FailureKind.MESSAGE_REFUSED
    assert "refused the message (554 5.7.1 Message rejected as spam)" in str(caught.value)


async def test_connection_failures_are_the_probes(
    starttls_server: SmtpServer, certificates: Certificates
) -> None:
    account = other_account(starttls_server.port)
    wrong = Mailer(account, "wrong-password", timeout=5, ca_file=certificates.ca_file)
    with pytest.raises(SendError) as caught:
        await wrong.send_async("a@example.org", "Code", "1")
    assert caught.value.failure.kind is FailureKind.CREDENTIALS
    assert "wrong-password" not in str(caught.value)
    untrusted = Mailer(account, PASSWORD, timeout=5)  # no CA: the private CA is not trusted
    with pytest.raises(SendError) as caught:
        await untrusted.send_async("a@example.org", "Code", "1")
    assert caught.value.failure.kind is FailureKind.CERTIFICATE
    assert PASSWORD not in repr(untrusted)


async def test_from_saved_uses_the_saved_account_and_secret(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    config = tmp_path / "saved.toml"
    AccountStore(config).save(other_account(starttls_server.port), PASSWORD)
    mailer = Mailer.from_saved(config, timeout=5, ca_file=certificates.ca_file)
    await mailer.send_async("a@example.org", "Code", "1")
    assert len(starttls_server.handler.delivered) == 1
    with pytest.raises(StoreError, match="no saved account"):
        Mailer.from_saved(tmp_path / "none.toml")
