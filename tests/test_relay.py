"""The relay as it runs: `mailsetup relay` in a subprocess against a config in a temp dir,
fed over loopback SMTP (smtplib, as applications configured with "localhost:25" do) and over
its socket (the installed `mailsetup-sendmail`), delivering to aiosmtpd with a real TLS login.
Each test counts what the upstream server saw: messages, and AUTH commands."""

from __future__ import annotations

import json
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailsetup_tui.core.spool import EntryState
from mailsetup_tui.core.store import AccountStore

from support.authserver import AuthServer, microsoft_account
from support.cli import mailsetup_env, run_mailsetup
from support.relay import RunningRelay, add_relay_table, relay_running, relay_table, start_relay
from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Certificates,
    RecordingHandler,
    SmtpServer,
    free_port,
    other_account,
    run_smtp_server,
)

SENDMAIL = Path(sys.executable).parent / "mailsetup-sendmail"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return mailsetup_env(tmp_path)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "config" / "account.toml"


def save(config: Path, port: int, certificates: Certificates, password: str = PASSWORD) -> None:
    AccountStore(config).save(other_account(port), password, ca_file=certificates.ca_file)


@pytest.fixture
def relay(
    tmp_path: Path,
    env: dict[str, str],
    config: Path,
    starttls_server: SmtpServer,
    certificates: Certificates,
    no_keyring: None,
) -> Iterator[RunningRelay]:
    save(config, starttls_server.port, certificates)
    table = relay_table(tmp_path)
    add_relay_table(config, table)
    with relay_running(env, table, tmp_path / "relay.log") as running:
        yield running


def smtp_send(relay: RunningRelay, count: int, *, to: str = "alice@example.org") -> list[str]:
    """`count` messages over one loopback SMTP connection; the replies' queue ids."""
    ids = []
    with smtplib.SMTP(HOST, relay.port, timeout=30) as client:
        client.ehlo()
        for number in range(count):
            message = f"Subject: code {number}\nX-Number: {number}\n\nYour code is {number}.\n"
            client.mail("app@localhost")
            client.rcpt(to)
            code, reply = client.data(message.encode())
            assert code == 250, reply
            ids.append(reply.decode().rsplit(" ", 1)[1])
    return ids


def hand_over(
    relay: RunningRelay, env: dict[str, str], message: bytes, *args: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(SENDMAIL), *args],
        input=message,
        env=env | {"MAILSETUP_RELAY_SOCKET": str(relay.socket)},
        capture_output=True,
        timeout=60,
        check=False,
    )


def numbers(server: SmtpServer) -> list[int]:
    found = []
    for delivered in server.handler.delivered:
        for line in delivered.data.split(b"\r\n"):
            if line.startswith(b"X-Number: "):
                found.append(int(line.split()[1]))
    return found


def auth_count(server: SmtpServer) -> int:
    return len(server.auth_attempts)


# --- taking mail in and delivering it ----------------------------------------------------------


def test_a_message_over_smtp_is_queued_then_delivered_through_the_account(
    relay: RunningRelay, starttls_server: SmtpServer
) -> None:
    with smtplib.SMTP(HOST, relay.port) as client:
        code, banner = client.ehlo()
        assert code == 250 and b"AUTH" not in banner  # no AUTH: the relay holds the account
        refused = client.sendmail(
            "shop@acme.example",
            ["alice@example.org"],
            b"From: Shop <shop@acme.example>\r\nSubject: code\r\n\r\nYour code is 4711.\r\n",
        )
    assert refused == {}
    relay.wait_until(lambda: len(starttls_server.handler.delivered) == 1, what="delivery")
    (delivered,) = starttls_server.handler.delivered
    assert delivered.mail_from == LOGIN and delivered.rcpt_tos == ["alice@example.org"]
    assert b"From: Shop <mfa@example.com>" in delivered.data
    assert b"Reply-To: Shop <shop@acme.example>" in delivered.data
    assert b"Your code is 4711." in delivered.data
    relay.wait_until(lambda: relay.spool.entries() == [], what="an empty queue")
    status = relay.status()
    assert (status.count("queued"), status.count("failed"), status.count("logins")) == (0, 0, 1)
    assert status.number("last_delivery") is not None


def test_the_sendmail_command_hands_over_to_the_relay_and_exits_0_once_queued(
    relay: RunningRelay, starttls_server: SmtpServer, env: dict[str, str]
) -> None:
    ran = hand_over(relay, env, b"To: bob@example.org\nSubject: hi\n\nhello\n", "-t", "-v")
    assert ran.returncode == 0, ran.stderr
    assert b"queued by the relay as " in ran.stderr
    relay.wait_until(lambda: len(starttls_server.handler.delivered) == 1, what="delivery")
    assert starttls_server.handler.delivered[0].rcpt_tos == ["bob@example.org"]


def test_the_fast_path_loads_no_smtp_client_tls_keyring_or_validation(
    relay: RunningRelay, env: dict[str, str]
) -> None:
    code = (
        "import io, sys\n"
        "from mailsetup_tui.sendmail import run\n"
        "result = run(['bob@example.org'], stdin=io.BytesIO(b'Subject: x\\n\\nx\\n'))\n"
        "heavy = {'aiosmtplib', 'ssl', 'keyring', 'email_validator', 'textual', 'msal',\n"
        "         'email', 'json', 're', 'enum', 'socket', 'typing', 'dataclasses'}\n"
        "print(int(result), sorted(heavy & set(sys.modules)))\n"
    )
    finished = subprocess.run(
        [str(SENDMAIL.parent / "python"), "-c", code],
        env=env | {"MAILSETUP_RELAY_SOCKET": str(relay.socket)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.stdout.strip() == "0 []", finished.stderr


def test_a_burst_of_200_over_smtp_and_the_socket_takes_a_handful_of_logins(
    relay: RunningRelay, starttls_server: SmtpServer, env: dict[str, str]
) -> None:
    over_socket: list[int] = []

    def socket_callers(start: int) -> None:
        for number in range(start, start + 25):
            message = f"To: bob@example.org\nX-Number: {number}\nSubject: s\n\nx\n".encode()
            ran = hand_over(relay, env, message, "-t")
            assert ran.returncode == 0, ran.stderr
            over_socket.append(number)

    callers = [threading.Thread(target=socket_callers, args=(1000 + 25 * i,)) for i in range(4)]
    for caller in callers:
        caller.start()
    smtp_send(relay, 100)
    for caller in callers:
        caller.join()
    relay.wait_until(lambda: len(starttls_server.handler.delivered) == 200, what="200 deliveries")
    assert sorted(numbers(starttls_server)) == sorted([*range(100), *over_socket])
    assert auth_count(starttls_server) <= 10
    assert relay.status().count("logins") == auth_count(starttls_server)


def test_upstream_down_messages_wait_and_go_when_it_returns(
    tmp_path: Path, env: dict[str, str], config: Path, certificates: Certificates, no_keyring: None
) -> None:
    port = free_port()
    save(config, port, certificates)
    table = relay_table(tmp_path)
    add_relay_table(config, table)
    with relay_running(env, table, tmp_path / "relay.log") as relay:
        smtp_send(relay, 3)
        relay.wait_until(
            lambda: (
                all(e.tries.attempts >= 1 for e in relay.spool.entries()) and relay.spool.entries()
            ),
            what="a failed first try",
        )
        (first, *_) = relay.spool.entries()
        assert (
            first.state is EntryState.QUEUED and "nothing accepts connections" in first.tries.reason
        )
        listed = run_mailsetup("queue", "--json", env=env)
        assert listed.code == 0, listed.err
        (entry, *_) = json.loads(listed.out)["messages"]
        assert set(entry) >= {
            "id",
            "state",
            "age",
            "caller",
            "recipients",
            "attempts",
            "next_try",
            "reason",
        }
        assert entry["state"] == "queued" and entry["recipients"] == ["alice@example.org"]
        # mailq: a link other MTAs leave to /usr/sbin/sendmail lists the same queue.
        mailq = tmp_path / "bin" / "mailq"
        mailq.parent.mkdir()
        mailq.symlink_to(SENDMAIL)
        shown = subprocess.run(
            [str(mailq)],
            env=env | {"MAILSETUP_RELAY_SOCKET": str(relay.socket)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith("Relay: running, 3 queued")
        assert first.id in shown.stdout and "    to alice@example.org" in shown.stdout
        assert shown.stdout.endswith("3 queued, 0 failed.\n")
        flushed = hand_over(relay, env, b"", "-q")
        assert (flushed.returncode, flushed.stdout) == (
            0,
            b"The relay was told to try its queue now.\n",
        )
        with run_smtp_server("starttls", certificates, port=port) as server:
            relay.wait_until(lambda: len(server.handler.delivered) == 3, what="delivery")
            assert sorted(numbers(server)) == [0, 1, 2]
            assert auth_count(server) == 1


class CloseAfter(RecordingHandler):
    """Says 421 (and closes) to the DATA of every `every`-th message, as a provider that
    limits messages per connection does."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        if self.count % self.every == 0:
            return "421 4.7.0 Too many messages on this connection, try again"
        return await super().handle_DATA(server, session, envelope)


def test_a_421_in_the_middle_of_a_burst_reconnects_and_loses_nothing(
    tmp_path: Path, env: dict[str, str], config: Path, certificates: Certificates, no_keyring: None
) -> None:
    with run_smtp_server("starttls", certificates, handler=CloseAfter(7)) as server:
        save(config, server.port, certificates)
        table = relay_table(tmp_path, retry_first=1)
        add_relay_table(config, table)
        with relay_running(env, table, tmp_path / "relay.log") as relay:
            smtp_send(relay, 30)
            relay.wait_until(lambda: len(set(numbers(server))) == 30, timeout=60, what="30")
            assert sorted(set(numbers(server))) == list(range(30))
            assert 2 <= auth_count(server) <= 12
            relay.wait_until(lambda: relay.spool.entries() == [], what="an empty queue")


def test_a_permanent_refusal_fails_the_message_with_its_reason_and_the_rest_go(
    tmp_path: Path, env: dict[str, str], config: Path, certificates: Certificates, no_keyring: None
) -> None:
    handler = RecordingHandler(refuse_recipient=("nobody@example.org", "550 5.1.1 no such user"))
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        save(config, server.port, certificates)
        table = relay_table(tmp_path)
        add_relay_table(config, table)
        with relay_running(env, table, tmp_path / "relay.log") as relay:
            smtp_send(relay, 1, to="nobody@example.org")
            smtp_send(relay, 2)
            relay.wait_until(lambda: len(server.handler.delivered) == 2, what="the others")
            relay.wait_until(
                lambda: [e.state for e in relay.spool.entries()] == [EntryState.FAILED],
                what="a failed message",
            )
            (failed,) = relay.spool.entries()
            assert "550" in failed.tries.reason and "no such user" in failed.tries.reason
            assert auth_count(server) == 1  # the refusal did not end the connection
            listed = run_mailsetup("queue", env=env)
            assert "failed" in listed.out and "no such user" in listed.out
            assert "Your code" not in listed.out  # never the body
            checked = run_mailsetup("check", "--no-login", env=env)
            assert checked.code == 1, checked.out  # one failed message: WARNING
            dropped = run_mailsetup("queue", "--drop", failed.id, "--yes", env=env)
            assert dropped.code == 0, dropped.err
            assert relay.spool.entries() == []


def test_a_refused_login_holds_the_queue_without_trying_again_until_the_account_is_saved(
    tmp_path: Path, env: dict[str, str], config: Path, certificates: Certificates, no_keyring: None
) -> None:
    with run_smtp_server("starttls", certificates) as server:
        save(config, server.port, certificates, password="revoked-app-password")
        table = relay_table(tmp_path, retry_first=1, retry_max=600)
        add_relay_table(config, table)
        with relay_running(env, table, tmp_path / "relay.log") as relay:
            smtp_send(relay, 2)
            relay.wait_until(lambda: auth_count(server) == 1, what="one login")
            time.sleep(3)  # three retry_first periods: a lock-out counter would climb
            assert auth_count(server) == 1 and server.handler.delivered == []
            assert "rejected the e-mail or password" in relay.status().text("problem")
            save(config, server.port, certificates)  # the fixed password
            assert "[relay]" in config.read_text()  # `save` keeps the table
            relay.wait_until(lambda: len(server.handler.delivered) == 2, what="delivery")
            assert auth_count(server) == 2


def test_a_new_save_sends_the_waiting_messages_at_once(
    tmp_path: Path, env: dict[str, str], config: Path, certificates: Certificates, no_keyring: None
) -> None:
    save(config, free_port(), certificates)  # a server that is not there
    table = relay_table(tmp_path, retry_first=600, retry_max=3600)  # the next try: in 10 min
    add_relay_table(config, table)
    with relay_running(env, table, tmp_path / "relay.log") as relay:
        smtp_send(relay, 2)
        relay.wait_until(
            lambda: any(e.tries.attempts for e in relay.spool.entries()), what="a failed try"
        )
        with run_smtp_server("starttls", certificates) as server:
            save(config, server.port, certificates)  # the administrator fixes the server
            relay.wait_until(lambda: len(server.handler.delivered) == 2, timeout=15, what="2")
    assert "the account was saved again: 2 queued messages are tried now" in relay.output()


# --- refusing ----------------------------------------------------------------------------------


def test_limits_are_said_by_both_doors(
    tmp_path: Path,
    env: dict[str, str],
    config: Path,
    starttls_server: SmtpServer,
    certificates: Certificates,
    no_keyring: None,
) -> None:
    save(config, starttls_server.port, certificates)
    table = relay_table(tmp_path, rate=3, max_size=2000, max_recipients=2)
    add_relay_table(config, table)
    with relay_running(env, table, tmp_path / "relay.log") as relay:
        with smtplib.SMTP(HOST, relay.port) as client:
            client.ehlo()
            client.mail("a@localhost")
            for address in ("x@example.org", "y@example.org"):
                assert client.rcpt(address)[0] == 250
            assert client.rcpt("z@example.org")[0] == 452
            client.rset()
            with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as too_large:
                client.sendmail(
                    "a@localhost", ["x@example.org"], b"Subject: big\r\n\r\n" + b"x" * 3000
                )
            assert too_large.value.smtp_code == 552  # at MAIL FROM SIZE=, as announced
        big = hand_over(relay, env, b"Subject: big\n\n" + b"x" * 3000, "x@example.org")
        assert big.returncode == 65 and b"at most 2000" in big.stderr
        codes = [
            hand_over(relay, env, b"Subject: s\n\nx\n", "x@example.org").returncode
            for _ in range(4)
        ]
        assert codes[:2] == [0, 0] and codes[-1] == 75  # rate: 3 a minute (the SMTP one counted)
        unknown = hand_over(relay, env, b"Subject: s\n\nx\n", "root")
        assert unknown.returncode == 67 and b"mailsetup aliases root=ADDRESS" in unknown.stderr


def test_malformed_smtp_input_is_refused_and_the_relay_carries_on(
    relay: RunningRelay, starttls_server: SmtpServer
) -> None:
    with socket.create_connection((HOST, relay.port), timeout=10) as raw:
        file = raw.makefile("rwb")
        assert file.readline().startswith(b"220")

        def say(line: bytes) -> bytes:
            file.write(line + b"\r\n")
            file.flush()
            return file.readline()

        assert say(b"DATA").startswith(b"503")  # no HELO, no MAIL FROM, no RCPT
        assert say(b"EHLO client.example").startswith(b"250")
        while not file.readline().startswith(b"250 "):  # the extension lines
            pass
        assert say(b"MAIL FROM:<a@localhost>").startswith(b"250")
        assert say(b"RCPT TO:<not an address>").startswith(b"5")
        assert say(b"FROB \x00\xff\x1b[2J").startswith(b"5")
        assert say(b"A" * 5000).startswith(b"5")  # a line longer than SMTP allows
        assert say(b"RCPT TO:<bob@example.org>").startswith(b"250")
        assert say(b"DATA").startswith(b"354")
        file.write(b"no headers at all, just a line\r\n.\r\n")
        file.flush()
        reply = file.readline()
        assert reply.startswith((b"250", b"550")), reply
        assert say(b"QUIT").startswith(b"221")
    assert smtp_send(relay, 1)  # still taking mail
    relay.wait_until(lambda: 1 <= len(starttls_server.handler.delivered), what="delivery")


def test_a_non_loopback_listen_address_is_refused_before_anything_opens(
    tmp_path: Path, env: dict[str, str], config: Path, starttls_server: SmtpServer,
    certificates: Certificates, no_keyring: None,
) -> None:  # fmt: skip
    save(config, starttls_server.port, certificates)
    add_relay_table(config, relay_table(tmp_path, listen=["0.0.0.0:2525"]))
    ran = run_mailsetup("relay", env=env)
    assert ran.code == 3
    assert "0.0.0.0:2525' is not a loopback address" in ran.err and "open relay" in ran.err


# --- stopping ----------------------------------------------------------------------------------


class SlowData(RecordingHandler):
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        import asyncio

        await asyncio.sleep(1.5)
        return await super().handle_DATA(server, session, envelope)


def test_sigterm_lets_the_message_in_flight_finish_and_keeps_the_rest(
    tmp_path: Path, env: dict[str, str], config: Path, certificates: Certificates, no_keyring: None
) -> None:
    with run_smtp_server("starttls", certificates, handler=SlowData()) as server:
        save(config, server.port, certificates)
        table = relay_table(tmp_path)
        add_relay_table(config, table)
        relay = start_relay(env, table, tmp_path / "relay.log")
        smtp_send(relay, 3)
        time.sleep(1.0)  # the first is in DATA now
        assert relay.stop(signal.SIGTERM) == 0
        assert not relay.socket.exists()
        delivered = len(server.handler.delivered)
        assert delivered >= 1
        assert len(relay.spool.entries()) == 3 - delivered  # the rest wait, none lost
        restarted = start_relay(env, table, tmp_path / "relay2.log")
        try:
            restarted.wait_until(lambda: len(server.handler.delivered) == 3, what="the rest")
        finally:
            restarted.stop()


def test_the_relay_refuses_to_start_without_an_account(tmp_path: Path, env: dict[str, str]) -> None:
    ran = run_mailsetup("relay", env=env)
    assert ran.code == 3 and "no saved account" in ran.err


def test_a_second_relay_on_the_same_socket_is_refused(
    relay: RunningRelay, env: dict[str, str], tmp_path: Path
) -> None:
    table: dict[str, Any] = dict(relay.table)
    second = run_mailsetup("relay", env=env | {"MAILSETUP_RELAY_SOCKET": table["socket"]})
    assert second.code == 75 and ("in use" in second.err or "already" in second.err)


def test_a_microsoft_sign_in_delivers_through_the_relay_and_keeps_the_rotated_token(
    tmp_path: Path,
    env: dict[str, str],
    config: Path,
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    no_keyring: None,
) -> None:
    refresh_token = auth_server.state.issue(LOGIN)["refresh_token"]
    account = microsoft_account(microsoft_server.port, auth_server.url)
    AccountStore(config).save(account, refresh_token, ca_file=certificates.ca_file)
    table = relay_table(tmp_path)
    add_relay_table(config, table)
    with relay_running(env, table, tmp_path / "relay.log") as relay:
        smtp_send(relay, 5)
        relay.wait_until(lambda: len(microsoft_server.handler.delivered) == 5, what="delivery")
        assert relay.stop() == 0  # the connection ends; then the session keeps what rotated
    # The relay ran as the account's owner, so the refresh token Microsoft rotated is kept.
    assert refresh_token not in config.with_name("account.secret").read_text()
