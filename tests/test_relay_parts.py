"""The relay's parts on their own: the [relay] table, the spool's rules, the rate limit, who
owns a local TCP connection, and `mailsetup check`'s answers in the Monitoring Plugins
convention (each exit status, perfdata as the convention writes it)."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

import pytest

from mailsetup_tui.core.relay_settings import RelaySettings, relay_from_toml, relay_to_toml
from mailsetup_tui.core.relay_wire import connect, decode, encode, exchange
from mailsetup_tui.core.spool import Busy, Entry, EntryState, Envelope, Spool, SpoolError
from mailsetup_tui.core.store import AccountStore, StoreError
from mailsetup_tui.exit_codes import Sysexit
from mailsetup_tui.relay.rate import RateLimit
from mailsetup_tui.relay.smtp_door import local_peer_uid
from mailsetup_tui.sendmail import handoff

from support.cli import mailsetup_env, run_mailsetup
from support.relay import add_relay_table, relay_table
from support.servers import PASSWORD, Certificates, SmtpServer, free_port, other_account

HERE = Path("/etc/mailsetup/account.toml")

# --- the [relay] table ---------------------------------------------------------------------


def test_the_relay_table_round_trips_with_only_what_differs_from_the_defaults() -> None:
    table = {"listen": ["127.0.0.1:2525", "[::1]:2525"], "rate": 30, "spool": "/srv/spool"}
    settings = relay_from_toml(table, HERE)
    assert settings.listen == (("127.0.0.1", 2525), ("::1", 2525))
    assert settings.retry_first == RelaySettings().retry_first
    assert relay_to_toml(settings) == table
    assert relay_to_toml(RelaySettings()) == {}


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ({"listen": ["0.0.0.0:25"]}, "not a loopback address"),
        ({"listen": ["192.0.2.1:25"]}, "never becomes an open relay"),
        ({"listen": ["[::]:25"]}, "not a loopback address"),
        ({"listen": ["127.0.0.1:70000"]}, "the port must be 1-65535"),
        ({"listen": ["mail.example.com:25"]}, "is not HOST:PORT"),
        ({"listen": "127.0.0.1:25"}, "listen is a list"),
        ({"rate": 0}, "rate must be a whole number above 0"),
        ({"retry_first": True}, "retry_first must be a whole number"),
        ({"retry_first": 600, "retry_max": 60}, "retry_max must not be below retry_first"),
        ({"spool": "relative/spool"}, "spool must be an absolute path"),
        ({"queue_dir": "/x"}, "unknown key 'queue_dir' in [relay]"),
    ],
)
def test_a_bad_relay_table_names_the_file_and_the_key(table: dict[str, object], said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)) as raised:
        relay_from_toml(table, HERE)
    assert str(raised.value).startswith(f"{HERE}: [relay]") or "unknown key" in str(raised.value)


def test_a_bad_relay_table_is_a_clear_store_error_when_the_account_is_read(
    tmp_path: Path, no_keyring: None
) -> None:
    config = tmp_path / "account.toml"
    store = AccountStore(config)
    store.save(other_account(2525), PASSWORD)
    add_relay_table(config, {"listen": ["0.0.0.0:25"]})
    with pytest.raises(StoreError, match="not a loopback address"):
        store.saved_config()


def test_the_back_off_doubles_up_to_its_cap() -> None:
    settings = RelaySettings(retry_first=60, retry_max=600)
    assert [settings.retry_delay(n) for n in range(1, 7)] == [60, 120, 240, 480, 600, 600]


# --- the wire ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["plain", "", "two words", "a=b", "100%", "line\nbreak\r", "Grüße ✓", "\x00\x1b[2J", "%41"],
)
def test_the_wire_carries_any_text_exactly(value: str) -> None:
    line = encode({"op": "submit", "recipient": [value, "second"], "full_name": value})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    fields = decode(line[:-1])
    assert fields.texts("recipient") == [value, "second"] and fields.text("full_name") == value


def test_the_wire_leaves_out_nothing_but_none_and_says_numbers_and_flags() -> None:
    fields = decode(encode({"ok": True, "size": 12, "age": 1.5, "gone": None, "to": []})[:-1])
    assert fields.ok and fields.count("size") == 12 and fields.number("age") == 1.5
    assert "gone" not in fields.values and fields.texts("to") == []
    with pytest.raises(ValueError):
        decode(b"no-equals-sign")
    with pytest.raises(ValueError):
        decode(b"key=%4")


def test_the_fast_paths_exit_numbers_are_the_sysexits() -> None:
    assert (handoff.EX_OK, handoff.EX_DATAERR, handoff.EX_TEMPFAIL) == (
        Sysexit.EX_OK,
        Sysexit.EX_DATAERR,
        Sysexit.EX_TEMPFAIL,
    )


# --- the spool ------------------------------------------------------------------------------


def envelope(*recipients: str) -> Envelope:
    return Envelope(recipients or ("a@example.org",), "<id@example.com>", "tester", "socket")


def test_an_accepted_message_is_on_disk_whole_with_its_envelope(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    entry = spool.accept(b"Subject: x\r\n\r\nbody\r\n", envelope())
    assert spool.message(entry.id) == b"Subject: x\r\n\r\nbody\r\n"
    (listed,) = spool.entries()
    assert listed.envelope.recipients == ("a@example.org",) and listed.envelope.size == 20
    assert listed.state is EntryState.QUEUED and listed.tries.attempts == 0
    assert oct((tmp_path / "spool" / "queue").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "spool" / "queue" / entry.id).stat().st_mode & 0o777) == "0o600"


def test_ids_sort_by_acceptance_and_never_repeat(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    ids = [spool.accept(b"x", envelope()).id for _ in range(200)]
    assert len(set(ids)) == 200 and ids == sorted(ids)
    assert [entry.id for entry in spool.entries()] == ids


def test_start_clears_what_a_crash_left_but_never_a_queued_message(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    kept = spool.accept(b"x", envelope())
    (tmp_path / "incoming" / "half-written").write_bytes(b"Subj")
    (tmp_path / "queue" / "gone-message.state").write_text("{}")
    spool.prepare()
    assert os.listdir(tmp_path / "incoming") == []
    assert sorted(os.listdir(tmp_path / "queue")) == [kept.id]


def test_deferred_failed_retried_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    entry = spool.accept(b"x", envelope())
    spool.deferred(entry, "421 try later", time.time() + 60)
    assert spool.due() == [] and spool.next_due() is not None
    (again,) = spool.entries()
    spool.fail(again, "550 no such user")
    (failed,) = spool.entries()
    assert (failed.state, failed.tries.reason, failed.tries.attempts) == (
        EntryState.FAILED,
        "550 no such user",
        1,
    )
    assert spool.figures().failed == 1 and spool.figures().queued == 0
    assert spool.retry(entry.id) is True
    (retried,) = spool.due()
    assert retried.state is EntryState.QUEUED
    assert spool.drop(entry.id) is True and spool.entries() == []
    assert spool.drop(entry.id) is False and spool.retry(entry.id) is False


def test_a_message_being_delivered_cannot_be_dropped_from_under_the_courier(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    entry = spool.accept(b"x", envelope())
    other = Spool(tmp_path)
    with spool.claimed(entry.id) as held:
        assert held
        with pytest.raises(Busy):
            other.drop(entry.id)
    assert other.drop(entry.id) is True


def test_expired_failures_go_and_are_returned_for_the_log(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    entry = spool.accept(b"x", envelope())
    spool.fail(entry, "550")
    assert spool.expired_failures(keep=3600) == []
    (expired,) = spool.expired_failures(keep=3600, now=time.time() + 7200)
    assert expired.id == entry.id and spool.entries() == []


def test_an_id_that_is_a_path_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    with pytest.raises(SpoolError, match="not a queue id"):
        spool.drop("../../etc/passwd")


def test_an_unwritable_spool_says_so_and_queues_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "missing" / "spool")
    with pytest.raises(SpoolError, match="cannot write to the spool"):
        spool.accept(b"x", envelope())


def test_the_json_object_never_holds_the_body(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    spool.accept(b"Subject: secret code 123456\r\n\r\n123456\r\n", envelope())
    (entry,) = spool.entries()
    shown = json.dumps(entry.as_json())
    assert "123456" not in shown
    assert isinstance(entry, Entry)


# --- the relay's small parts ----------------------------------------------------------------


def test_the_rate_limit_takes_a_burst_then_a_steady_pace() -> None:
    limit = RateLimit(per_minute=60)
    assert all(limit.allow("cron", now=0.0) for _ in range(60))
    assert not limit.allow("cron", now=0.0)
    assert limit.allow("www-data", now=0.0)  # each caller has its own
    assert limit.allow("cron", now=1.0)  # one a second comes back
    assert not limit.allow("cron", now=1.0)


def test_the_owner_of_a_local_tcp_connection_is_read_from_the_kernel() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            accepted, peer = server.accept()
            with accepted:
                assert local_peer_uid(peer, accepted.getsockname()) == os.getuid()
                assert client.getsockname() == peer


# --- mailsetup check --------------------------------------------------------------------------

PERFDATA = re.compile(r"^'?[a-z_]+'?=-?[\d.]+(s|%|B|c)?(;[\d.]*){0,4}$")


def check(env: dict[str, str], *args: str) -> tuple[int, str, list[str]]:
    ran = run_mailsetup("check", *args, env=env)
    status, _, perfdata = ran.out.strip().partition(" | ")
    return ran.code, status, perfdata.split()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return mailsetup_env(tmp_path)


@pytest.fixture
def saved(
    tmp_path: Path, starttls_server: SmtpServer, certificates: Certificates, no_keyring: None
) -> Path:
    config = tmp_path / "config" / "account.toml"
    AccountStore(config).save(
        other_account(starttls_server.port), PASSWORD, ca_file=certificates.ca_file
    )
    add_relay_table(config, relay_table(tmp_path))
    return config


def test_check_ok_logs_in_once_and_writes_perfdata_the_convention_reads(
    saved: Path, env: dict[str, str], starttls_server: SmtpServer, tmp_path: Path
) -> None:
    Spool(tmp_path / "spool").prepare()
    prom = tmp_path / "check.prom"
    code, status, perfdata = check(env, "--prometheus", str(prom))
    assert code == 0, status
    assert status.startswith("MAILSETUP OK - login OK in ")
    assert "relay not running" in status and "0 queued, 0 failed" in status
    assert len(starttls_server.auth_attempts) == 1
    assert all(PERFDATA.match(item) for item in perfdata), perfdata
    labels = {item.split("=")[0] for item in perfdata}
    assert labels >= {"login_time", "cert_days_left", "queued", "oldest_age", "failed"}
    text = prom.read_text()
    assert "mailsetup_check_state 0" in text and "mailsetup_login_time_seconds " in text
    assert oct(prom.stat().st_mode & 0o777) == "0o644"


def test_check_warns_on_a_failed_message_and_a_near_certificate_end(
    saved: Path, env: dict[str, str], tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    spool.fail(spool.accept(b"x", envelope()), "550 no such user")
    code, status, _ = check(env, "--no-login")
    assert code == 1 and status.startswith("MAILSETUP WARNING - 1 messages failed"), status
    code, status, _ = check(env, "--failed-warning", "5", "--cert-warning", "999999")
    assert code == 1 and "certificate ends in" in status, status


def test_check_is_critical_when_the_login_is_refused_or_mail_is_stuck(
    saved: Path,
    env: dict[str, str],
    tmp_path: Path,
    starttls_server: SmtpServer,
    certificates: Certificates,
) -> None:
    AccountStore(saved).save(
        other_account(starttls_server.port), "revoked", ca_file=certificates.ca_file
    )
    code, status, _ = check(env)
    assert code == 2 and status.startswith("MAILSETUP CRITICAL - the login failed"), status
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    spool.accept(b"x", envelope())
    code, status, _ = check(env, "--no-login")
    assert code == 2 and "the relay is not running and 1 messages wait" in status


def test_check_is_unknown_without_an_account_or_with_bad_options(
    env: dict[str, str], tmp_path: Path
) -> None:
    code, status, _ = check(env, "--no-login")
    assert code == 3 and status.startswith("MAILSETUP UNKNOWN - no saved account"), status
    assert run_mailsetup("check", "--age-warning", "soon", env=env).code == 3
    ran = run_mailsetup("check", "--no-login", "--json", env=env)
    assert json.loads(ran.out)["status"] == "unknown" and ran.code == 3


def test_check_warns_when_the_upstream_is_down(
    tmp_path: Path, env: dict[str, str], certificates: Certificates, no_keyring: None
) -> None:
    config = tmp_path / "config" / "account.toml"
    AccountStore(config).save(other_account(free_port()), PASSWORD, ca_file=certificates.ca_file)
    code, status, _ = check(env)
    assert code == 1 and "the login failed" in status  # temporary: a WARNING


def test_a_refusal_sent_before_the_body_is_read_is_the_answer(tmp_path: Path) -> None:
    """The relay refuses on the size the request names, answers and closes without reading the
    body: the caller's write then breaks (EPIPE), and the answer it already has is still the
    answer (a message too large is refused for good, 65, not "try again", 75)."""
    import threading

    path = tmp_path / "relay.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def refuse_at_once() -> None:
        conn, _ = listener.accept()
        conn.settimeout(10)
        with conn:
            head = b""
            while not head.endswith(b"\n"):
                head += conn.recv(1)
            conn.sendall(encode({"ok": False, "exit": 65, "reason": "at most 2000 bytes"}))

    door = threading.Thread(target=refuse_at_once, daemon=True)
    door.start()
    sock = connect(path, timeout=10)
    try:
        answer = exchange(sock, {"op": "submit"}, b"x" * (8 << 20))  # beyond any buffer
    finally:
        sock.close()
        door.join(10)
        listener.close()
    assert not answer.ok and answer.count("exit") == 65
    assert answer.text("reason") == "at most 2000 bytes"
