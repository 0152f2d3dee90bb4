"""The CLI and `Mailer` against Debian's Postfix 3.7 with Dovecot SASL, configured as a
submission server usually is (support/mailsystem.py). The assertions read Postfix's own log
and the delivered Maildir: what a real MTA saw and stored."""

from __future__ import annotations

import json
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.mailer import Mailer
from mailsetup_tui.core.probe import FailureKind, probe
from mailsetup_tui.core.providers import ProviderId, Security
from mailsetup_tui.core.store import AccountStore

from support.cli import Ran, mailsetup_env, run_mailsetup
from support.mailsystem import USERS, MailSystem
from support.servers import HOST

CODES = "codes@example.com"


def account_args(mail_system: MailSystem, email: str, port: int, *extra: str) -> list[str]:
    return [
        "--smtp-mail", "other", "--display-name", "Acme Verification", "--email", email,
        "--server", HOST, "--port", str(port), "--ca-file", str(mail_system.ca_file), *extra,
    ]  # fmt: skip


def save_with_the_cli(mail_system: MailSystem, tmp_path: Path, email: str) -> dict[str, str]:
    """`mailsetup save` of `email` on the submission port; the environment it saved in."""
    env = mailsetup_env(tmp_path)
    saved = run_mailsetup(
        "save", *account_args(mail_system, email, mail_system.ports.submission),
        "--password-stdin", env=env, stdin=USERS[email] + "\n",
    )  # fmt: skip
    assert saved.code == 0, saved.out + saved.err
    return env


def mailsetup(tmp_path: Path, *args: str, password: str | None = None) -> Ran:
    env = mailsetup_env(tmp_path)
    return run_mailsetup(*args, "--password-stdin", env=env, stdin=f"{password}\n")


def account(mail_system: MailSystem, email: str, port: int, security: Security) -> Account:
    return Account.create(
        ProviderId.OTHER, "Acme Verification", email, server=HOST, port=port, security=security
    )


def sasl_failures(log: str) -> list[str]:
    return re.findall(r"SASL (\S+) authentication failed", log)


@pytest.fixture
def fresh_dovecot(mail_system: MailSystem) -> object:
    """For tests with a wrong password: Dovecot's penalty for the address then delays every
    later login, which must not spill into the next test."""
    yield None
    mail_system.restart_dovecot()


def test_submission_with_starttls_accepts_the_login(
    mail_system: MailSystem, tmp_path: Path
) -> None:
    mark = mail_system.log_mark()
    ran = mailsetup(
        tmp_path, "test", *account_args(mail_system, CODES, mail_system.ports.submission),
        password=USERS[CODES],
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert ran.lines[0] == "Connected successfully"
    log = mail_system.wait_for_log(mark, "disconnect from")
    assert f"sasl_method=PLAIN, sasl_username={CODES}" in log
    assert "starttls=1" in log and "auth=1" in log and "rcpt=1" in log


@pytest.mark.usefixtures("fresh_dovecot")
def test_a_wrong_password_costs_exactly_one_failed_login(
    mail_system: MailSystem, tmp_path: Path
) -> None:
    mark = mail_system.log_mark()
    started = time.monotonic()
    ran = mailsetup(
        tmp_path, "test", *account_args(mail_system, CODES, mail_system.ports.submission),
        "--json", password="not-the-password",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    data = json.loads(ran.out)
    assert (ran.code, data["reason_kind"], data["temporary"]) == (1, "credentials", False)
    assert data["tls"].startswith("TLSv1.")  # reported, though the failure came after TLS
    log = mail_system.wait_for_log(mark, "disconnect from")
    assert sasl_failures(log) == ["PLAIN"], log
    assert "auth=0/1" in log
    # Dovecot delays a failure by 2 s; two attempts took more than twice that.
    assert elapsed < 4.5, f"{elapsed:.1f} s"


def test_submissions_on_implicit_tls(mail_system: MailSystem, tmp_path: Path) -> None:
    ran = mailsetup(
        tmp_path, "test",
        *account_args(mail_system, CODES, mail_system.ports.submissions, "--security", "tls"),
        password=USERS[CODES],
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert "over TLSv1." in ran.lines[1]


def test_no_password_crosses_before_starttls(mail_system: MailSystem, tmp_path: Path) -> None:
    # smtpd_tls_auth_only: Postfix offers AUTH only after STARTTLS; Security None must not
    # find a way to log in on the clear connection.
    mark = mail_system.log_mark()
    ran = mailsetup(
        tmp_path, "test",
        *account_args(mail_system, CODES, mail_system.ports.submission, "--security", "none"),
        password=USERS[CODES],
    )  # fmt: skip
    assert ran.code == 1
    assert (
        "does not offer login (AUTH) on this connection; it may offer it after STARTTLS"
        in (ran.lines[1])
    )
    assert "auth=" not in mail_system.wait_for_log(mark, "disconnect from")


def test_a_login_that_may_not_send_as_its_address_is_a_refused_sender(
    mail_system: MailSystem, tmp_path: Path
) -> None:
    email = "other@example.com"
    ran = mailsetup(
        tmp_path, "test", *account_args(mail_system, email, mail_system.ports.submission),
        "--json", password=USERS[email],
    )  # fmt: skip
    data = json.loads(ran.out)
    assert (ran.code, data["reason_kind"]) == (1, "sender_refused"), data
    assert "Sender address rejected: not owned by user other@example.com" in data["reason"]
    assert f"does not let this account send as {email}" in data["reason"]


def test_a_send_only_address_without_a_mailbox_passes_and_sends(
    mail_system: MailSystem, tmp_path: Path
) -> None:
    email = "noreply@example.com"
    env = save_with_the_cli(mail_system, tmp_path, email)
    sent = run_mailsetup(
        "send", "--to", "alice@example.com", "--subject", "Ihr Prüfcode",
        "--ca-file", str(mail_system.ca_file), env=env,
        stdin="Ihr Prüfcode lautet 482913.\n",
    )  # fmt: skip
    assert sent.code == 0, sent.out + sent.err
    raw, message = mail_system.wait_for_message("alice")
    assert message["From"] == f'"Acme Verification" <{email}>' or (
        message["From"].addresses[0].addr_spec == email
    )
    assert message["Subject"] == "Ihr Prüfcode"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] and message["Date"]
    assert message.get_content() == "Ihr Prüfcode lautet 482913.\n"
    assert f"Return-Path: <{email}>".encode() in raw


async def test_a_strict_helo_port_accepts_this_systems_ehlo(
    mail_system: MailSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = mail_system.ports.strict
    # The control: this port does refuse a short name, at RCPT time (smtpd_delay_reject).
    with smtplib.SMTP(HOST, port, local_hostname="vm", timeout=10) as client:
        client.starttls(context=ssl.create_default_context(cafile=mail_system.ca_file))
        client.ehlo("vm")
        client.login(CODES, USERS[CODES])
        client.mail(CODES)
        code, reply = client.rcpt("postmaster@example.com")
    assert (code, b"Helo command rejected" in reply) == (504, True)
    # With the same short host name, the probe sends the address literal and passes.
    monkeypatch.setattr(socket, "gethostname", lambda: "vm")
    result = await probe(
        account(mail_system, CODES, port, Security.STARTTLS),
        USERS[CODES],
        timeout=10,
        ca_file=mail_system.ca_file,
    )
    assert result.ok, result.failure


def test_a_temporary_refusal_is_temporary_and_send_exits_75(
    mail_system: MailSystem, tmp_path: Path
) -> None:
    email = "later@example.com"
    tested = mailsetup(
        tmp_path, "test", *account_args(mail_system, email, mail_system.ports.submission),
        "--json", password=USERS[email],
    )  # fmt: skip
    data = json.loads(tested.out)
    assert (tested.code, data["reason_kind"], data["temporary"]) == (75, "deferred", True)
    assert "451 4.3.0" in data["reason"] and "try again in a few minutes" in data["reason"]
    mailer = Mailer(
        account(mail_system, email, mail_system.ports.submission, Security.STARTTLS),
        USERS[email],
        timeout=10,
        ca_file=mail_system.ca_file,
    )
    from mailsetup_tui.core.mailer import SendError

    with pytest.raises(SendError) as caught:
        mailer.send("alice@example.com", "Code", "Your code is 482913.")
    assert caught.value.temporary
    assert caught.value.failure.kind is FailureKind.DEFERRED


def test_the_mailer_delivers_through_postfix(mail_system: MailSystem) -> None:
    mailer = Mailer(
        account(mail_system, CODES, mail_system.ports.submissions, Security.TLS),
        USERS[CODES],
        timeout=10,
        ca_file=mail_system.ca_file,
    )
    sent = mailer.send("codes@example.com", "Your verification code", "Your code is 482913.")
    raw, message = mail_system.wait_for_message("codes")
    assert message["Message-ID"] == sent.message_id
    assert message["To"] == "codes@example.com"
    assert message.get_content() == "Your code is 482913.\n"
    assert b"Your code is 482913." in raw


def test_the_sendmail_command_delivers_through_postfix(
    mail_system: MailSystem, tmp_path: Path, no_keyring: None
) -> None:
    email = "noreply@example.com"
    env = save_with_the_cli(mail_system, tmp_path, email)
    body = b"Gr\xc3\xbc\xc3\x9fe: your code is 482913.\n.\n..dot\n"
    message = (
        b"From: Web Shop <shop@acme.example>\nTo: alice@example.com\nBcc: codes@example.com\n"
        b"Subject: Code\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: 8bit\n\n" + body
    )
    sendmail = str(Path(sys.executable).parent / "mailsetup-sendmail")
    sent = subprocess.run(
        [sendmail, "-t", "-i"], input=message, env=env, capture_output=True, check=False
    )
    assert (sent.returncode, sent.stderr) == (0, b"")
    _, first = mail_system.wait_for_message("alice")
    (copy,) = [
        m for m in mail_system.messages("codes") if m[1]["Message-ID"] == first["Message-ID"]
    ]
    for raw, arrived in (mail_system.wait_for_message("alice"), copy):
        assert f"Return-Path: <{email}>".encode() in raw
        assert b"\nBcc:" not in raw and arrived["To"] == "alice@example.com"
        assert arrived["From"].addresses[0].addr_spec == email
        assert arrived["Reply-To"] == "Web Shop <shop@acme.example>"
        assert raw.split(b"\n\n", 1)[1] == body  # Postfix stores LF line endings

    # later@ gets Postfix's 451 at MAIL FROM (so it cannot pass a test; saved directly, with
    # the secret in the file as the subprocess finds it): the caller is told to retry.
    later = tmp_path / "later"
    env = mailsetup_env(later)
    store = AccountStore(later / "config" / "account.toml")
    store.save(
        account(mail_system, "later@example.com", mail_system.ports.submission, Security.STARTTLS),
        USERS["later@example.com"],
        ca_file=mail_system.ca_file,
    )
    deferred = subprocess.run(
        [sendmail, "alice@example.com"], input=b"Subject: x\n\nx\n", env=env, capture_output=True,
        check=False,
    )  # fmt: skip
    assert deferred.returncode == 75
    assert b"451 4.3.0" in deferred.stderr


def test_the_relay_delivers_a_burst_through_postfix_over_few_logins(
    mail_system: MailSystem, tmp_path: Path, no_keyring: None
) -> None:
    from support.relay import add_relay_table, relay_running, relay_table

    email = "noreply@example.com"
    env = save_with_the_cli(mail_system, tmp_path, email)
    table = relay_table(tmp_path)
    add_relay_table(Path(env["MAILSETUP_CONFIG"]), table)
    mark = mail_system.log_mark()
    with relay_running(env, table, tmp_path / "relay.log") as relay:
        with smtplib.SMTP(HOST, relay.port) as client:
            for number in range(20):
                client.sendmail("app@localhost", ["alice@example.com"], f"Subject: {number}\n\nx\n")
        relay.wait_until(lambda: len(mail_system.messages("alice")) >= 20, timeout=60, what="20")
        relay.wait_until(lambda: relay.spool.entries() == [], what="an empty queue")
    log = mail_system.log_since(mark)
    connections = re.findall(r"postfix/smtpd\[\d+\]: connect from", log)
    assert 1 <= len(connections) <= 3, log  # one login each: a connection, not a message
    for raw, _ in mail_system.messages("alice")[-20:]:
        assert f"Return-Path: <{email}>".encode() in raw
