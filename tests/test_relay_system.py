"""The relay on a real system, as root: a local user outside the readers group sends through
it and still cannot read the secret or the queue; a peer that is not on this host is refused;
a full disk refuses (452, 75) and loses nothing. Throwaway users, a private network namespace
and a tmpfs are made by the fixtures and removed after.

Needs root; CI runs as root. Elsewhere these tests are skipped, and `make test` says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailsetup_tui.core.relay_wire import ask
from mailsetup_tui.core.store import AccountStore

from support.cli import mailsetup_env
from support.relay import add_relay_table, relay_running, relay_table
from support.servers import PASSWORD, Certificates, SmtpServer, other_account, run_smtp_server
from support.users import Users, as_user, mailsetup_as, throwaway_users

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="SKIPPED: the relay's system tests need root (users, namespaces, a tmpfs)",
)


@pytest.fixture
def place() -> Iterator[Path]:
    """A directory the throwaway users can reach (pytest's own are root's, 0700)."""
    root = Path(tempfile.mkdtemp(prefix="mailsetup-relay-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def users() -> Iterator[Users]:
    with throwaway_users() as made:
        yield made


def test_a_stranger_sends_through_the_socket_and_still_cannot_read_the_secret_or_queue(
    place: Path,
    users: Users,
    starttls_server: SmtpServer,
    certificates: Certificates,
    tmp_path: Path,
    no_keyring: None,
) -> None:
    config = place / "etc" / "account.toml"
    AccountStore(config).save(
        other_account(starttls_server.port), PASSWORD, ca_file=certificates.ca_file
    )
    env = mailsetup_env(tmp_path, MAILSETUP_CONFIG=str(config))
    table = relay_table(place)
    (place / "run").mkdir(mode=0o755)
    add_relay_table(config, table)
    with relay_running(env, table, tmp_path / "relay.log", "-v") as relay:
        stranger_env = env | {"MAILSETUP_RELAY_SOCKET": str(relay.socket)}

        def send() -> int:
            import io

            from mailsetup_tui import sendmail

            return sendmail.run(["ops@example.org"], stdin=io.BytesIO(b"Subject: s\n\ncode\n"))

        sent = as_user(users.stranger, send, env=stranger_env)
        assert (sent.code, sent.err) == (0, "")
        relay.wait_until(lambda: len(starttls_server.handler.delivered) == 1, what="delivery")
        assert f"caller={users.stranger} " in relay.output()  # from SO_PEERCRED

        def read_secret() -> int:
            try:
                config.with_name("account.secret").read_bytes()
            except PermissionError:
                return 13
            return 0

        assert as_user(users.stranger, read_secret, env=stranger_env).code == 13
        spool_entries = as_user(
            users.stranger, lambda: len(os.listdir(table["spool"] + "/queue")), env=stranger_env
        )
        assert spool_entries.code != 0 and "PermissionError" in spool_entries.err
        queue = mailsetup_as(users.stranger, "queue", env=stranger_env)
        assert queue.code == 3 and "Permission denied" in queue.err
        status = as_user(
            users.stranger,
            lambda: 0 if ask(relay.socket, {"op": "status"}).flag("running") else 1,
            env=stranger_env,
        )
        assert status.code == 0


def test_a_peer_that_is_not_on_this_host_is_refused(
    tmp_path: Path, starttls_server: SmtpServer, certificates: Certificates, no_keyring: None
) -> None:
    if not (shutil.which("unshare") and shutil.which("ip")):
        pytest.skip("SKIPPED: needs unshare (util-linux) and ip (iproute2)")
    config = tmp_path / "config" / "account.toml"
    AccountStore(config).save(
        other_account(starttls_server.port), PASSWORD, ca_file=certificates.ca_file
    )
    env = mailsetup_env(tmp_path)
    table = relay_table(tmp_path, port=2525)
    add_relay_table(config, table)
    helper = Path(__file__).parent / "support" / "netns_peer.py"
    finished = subprocess.run(
        ["unshare", "--net", "--", sys.executable, str(helper),
         json.dumps(env), json.dumps(table), str(tmp_path / "relay.log")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    told = json.loads(finished.stdout)
    assert told["foreign"].startswith("554 5.7.1") and "this host only" in told["foreign"]
    assert told["local"].startswith("220")


@pytest.fixture
def small_disk(place: Path) -> Iterator[Path]:
    mount = place / "small"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_with_452_and_75_and_loses_nothing(
    small_disk: Path, tmp_path: Path, certificates: Certificates, no_keyring: None
) -> None:
    from support.servers import free_port

    port = free_port()
    config = tmp_path / "config" / "account.toml"
    AccountStore(config).save(other_account(port), PASSWORD, ca_file=certificates.ca_file)
    env = mailsetup_env(tmp_path)
    table = relay_table(tmp_path, spool=str(small_disk / "spool"))
    add_relay_table(config, table)
    body = b"Subject: big\n\n" + b"0123456789abcdef\n" * 2000  # 34 kB each
    with relay_running(env, table, tmp_path / "relay.log") as relay:
        answers = [
            ask(relay.socket, {"op": "submit", "recipient": ["a@example.org"]}, body)
            for _ in range(12)
        ]
        accepted = [answer.text("id") for answer in answers if answer.ok]
        refused = [answer for answer in answers if not answer.ok]
        assert accepted and refused
        assert {answer.text("exit_name") for answer in refused} == {"EX_TEMPFAIL"}
        assert {answer.count("exit") for answer in refused} == {75}
        assert all("is full" in answer.text("reason") for answer in refused)
        assert sorted(entry.id for entry in relay.spool.entries()) == sorted(accepted)
        assert os.listdir(small_disk / "spool" / "incoming") == []  # nothing half-written
        import smtplib

        with smtplib.SMTP("127.0.0.1", relay.port) as client:
            client.ehlo()
            client.mail("a@localhost")
            client.rcpt("a@example.org")
            code, reply = client.data(body.replace(b"\n", b"\r\n"))
            assert (code, b"is full" in reply) == (452, True), reply
        with run_smtp_server("starttls", certificates, port=port) as server:
            relay.wait_until(
                lambda: len(server.handler.delivered) == len(accepted), timeout=30, what="all"
            )
        assert all(d.data.endswith(b"0123456789abcdef\r\n") for d in server.handler.delivered)
