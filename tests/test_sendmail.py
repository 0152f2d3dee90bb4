"""The sendmail command end to end: the installed `mailsetup-sendmail` (and a link named
sendmail, and `mailsetup sendmail`) in a subprocess, driven as its callers drive sendmail
(PHP's `-t -i`, cron, s-nail, git send-email), against the loopback SMTP servers. Each test
checks what arrived: the envelope, the headers, no Bcc, the body byte for byte."""

from __future__ import annotations

import asyncio
import email
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from mailsetup_tui.core.store import AccountStore
from mailsetup_tui.exit_codes import Sysexit

from support.callers import GIT, S_NAIL, git_send_email
from support.cli import Ran, mailsetup_env, run_mailsetup
from support.servers import (
    LOGIN,
    PASSWORD,
    Certificates,
    Delivered,
    RecordingHandler,
    SmtpServer,
    other_account,
    run_smtp_server,
)

BIN = Path(sys.executable).parent
SENDMAIL = BIN / "mailsetup-sendmail"
ROOT = Path(__file__).resolve().parent.parent

PHP_MESSAGE = (
    b"To: Alice <alice@example.org>\n"
    b"Cc: bob@example.org\n"
    b"Bcc: hidden@example.org\n"
    b"Subject: Your verification code\n"
    b"From: Web Shop <shop@acme.example>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=UTF-8\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"Gr\xc3\xbc\xc3\x9fe! Your code is 482913.\n"
    b".\n"
    b"..a line that starts with a dot\n"
    b"trailing spaces stay   \n"
)


@dataclass
class Arrived:
    delivered: Delivered
    message: EmailMessage
    body: bytes
    """The body as the server received it, CRLF line endings."""


def arrived(server: SmtpServer) -> Arrived:
    (delivered,) = server.handler.delivered
    message = email.message_from_bytes(delivered.data, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return Arrived(delivered, message, delivered.data.split(b"\r\n\r\n", 1)[1])


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def body_of(message: bytes) -> bytes:
    return message.split(b"\n\n", 1)[1]


def sendmail(
    *args: str, message: bytes, env: dict[str, str], program: Path | str = SENDMAIL
) -> Ran:
    finished = subprocess.run(
        [str(program), *args], input=message, capture_output=True, env=env, timeout=60, check=False
    )
    return Ran(finished.returncode, finished.stdout.decode(), finished.stderr.decode())


def save_account(tmp_path: Path, server: SmtpServer, certificates: Certificates) -> AccountStore:
    """The account, saved as `mailsetup save` saves it, with its password in the secret file
    (the subprocesses have no keyring)."""
    store = AccountStore(tmp_path / "config" / "account.toml")
    store.save(other_account(server.port), PASSWORD, ca_file=certificates.ca_file)
    return store


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No keyring at all, as on a server: the secret is in the secret file."""
    return mailsetup_env(tmp_path)


@pytest.fixture
def server(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path, no_keyring: None
) -> SmtpServer:
    """A STARTTLS server with the saved account on it."""
    save_account(tmp_path, starttls_server, certificates)
    return starttls_server


@pytest.fixture
def log_file(tmp_path: Path, env: dict[str, str], server: SmtpServer) -> Path:
    path = tmp_path / "sendmail.log"
    ran = run_mailsetup("aliases", "--log", str(path), env=env)
    assert ran.code == 0, ran.err
    return path


def test_php_mail_minus_t_minus_i(server: SmtpServer, env: dict[str, str], log_file: Path) -> None:
    ran = sendmail("-t", "-i", message=PHP_MESSAGE, env=env)
    assert (ran.code, ran.out, ran.err) == (0, "", "")
    got = arrived(server)
    assert got.delivered.mail_from == LOGIN
    assert got.delivered.rcpt_tos == ["alice@example.org", "bob@example.org", "hidden@example.org"]
    assert server.handler.mail_options[0][0] == "BODY=8BITMIME"
    assert b"hidden@example.org" not in got.delivered.data
    assert got.message["Bcc"] is None
    assert got.message["From"] == "Web Shop <mfa@example.com>"
    assert got.message["Reply-To"] == "Web Shop <shop@acme.example>"
    assert got.message["To"] == "Alice <alice@example.org>"
    assert got.message["Cc"] == "bob@example.org"
    assert got.message["Subject"] == "Your verification code"
    assert got.message["Date"].datetime is not None
    assert got.message["Message-ID"].endswith("@example.com>")
    assert got.body == crlf(body_of(PHP_MESSAGE))  # the lone dot too: -i
    (line,) = log_file.read_text().splitlines()
    assert f"message_id={got.message['Message-ID']}" in line
    assert f"from={LOGIN} requested_from" not in line  # no -f given
    assert "recipients=alice@example.org,bob@example.org,hidden@example.org" in line
    assert f"mailsize={len(got.delivered.data)}" in line
    assert "smtpmsg='250 Message accepted for delivery'" in line
    assert line.endswith("exitcode=EX_OK")
    assert "482913" not in line and PASSWORD not in line


def test_cron_mails_root_through_its_alias(
    server: SmtpServer, env: dict[str, str], tmp_path: Path
) -> None:
    ran = run_mailsetup("aliases", "root=ops@acme.example", env=env)
    assert ran.code == 0, ran.err
    assert "root  ->  ops@acme.example" in ran.lines
    cron = (
        b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@web1> /usr/local/bin/backup\n"
        b"MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
        b"Content-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\n"
        b"backup: /var is 97% full\n"
    )
    ran = sendmail("-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root", message=cron, env=env)
    assert (ran.code, ran.err) == (0, "")
    got = arrived(server)
    assert got.delivered.rcpt_tos == ["ops@acme.example"]
    assert got.message["From"] == "Cron Daemon <mfa@example.com>"
    assert got.message["Reply-To"] is None  # root has no address to reply to
    assert got.message["To"] == "ops@acme.example"
    assert got.message["X-Cron-Env"] == "<SHELL=/bin/sh>"
    assert got.body == crlf(body_of(cron))


def test_a_link_named_sendmail_and_mailsetup_sendmail_are_the_same_command(
    server: SmtpServer, env: dict[str, str], tmp_path: Path
) -> None:
    link = tmp_path / "sbin" / "sendmail"
    link.parent.mkdir()
    link.symlink_to(SENDMAIL)
    # No -i: a lone dot ends the message, as it does for /usr/sbin/sendmail.
    ran = sendmail(
        "alice@example.org", message=b"Subject: one\n\nfirst\n.\nnot sent\n", env=env, program=link
    )
    assert (ran.code, ran.err) == (0, "")
    assert arrived(server).body == b"first\r\n"
    server.handler.delivered.clear()
    # The main command, as a link named sendmail and as `mailsetup sendmail`.
    link.unlink()
    link.symlink_to(BIN / "mailsetup")
    ran = sendmail(
        "-t", message=b"To: bob@example.org\nSubject: two\n\nsecond\n", env=env, program=link
    )
    assert (ran.code, ran.err) == (0, "")
    assert arrived(server).delivered.rcpt_tos == ["bob@example.org"]
    server.handler.delivered.clear()
    ran = sendmail(
        "sendmail",
        "-i",
        "carol@example.org",
        message=b"third\n",
        env=env,
        program=BIN / "mailsetup",
    )
    assert (ran.code, ran.err) == (0, "")
    got = arrived(server)
    assert got.delivered.rcpt_tos == ["carol@example.org"]
    assert got.message["From"] == "Verification Codes <mfa@example.com>"


def test_a_server_without_8bitmime_gets_quoted_printable(
    certificates: Certificates, tmp_path: Path, env: dict[str, str], no_keyring: None
) -> None:
    handler = RecordingHandler()
    handler.hidden = {"8BITMIME"}
    with run_smtp_server("starttls", certificates, handler=handler) as seven_bit:
        save_account(tmp_path, seven_bit, certificates)
        ran = sendmail("-t", "-i", message=PHP_MESSAGE, env=env)
        assert ran.code == 0, ran.err
        got = arrived(seven_bit)
    assert got.delivered.data.isascii()
    assert not any(option.startswith("BODY=") for option in handler.mail_options[0])
    assert got.message["Content-Transfer-Encoding"] == "quoted-printable"
    text = body_of(PHP_MESSAGE).decode()
    assert got.message.get_content().replace("\r\n", "\n") == text
    assert got.message["Bcc"] is None


def test_verbose_says_what_was_changed_and_the_servers_reply(
    server: SmtpServer, env: dict[str, str]
) -> None:
    ran = sendmail("-v", "-t", "-f", "www-data@web1", message=PHP_MESSAGE, env=env)
    assert ran.code == 0
    assert (
        "mailsetup-sendmail: the envelope sender is mfa@example.com, not www-data@web1" in ran.err
    )
    assert "replaced by mfa@example.com (the account's address)" in ran.err
    assert (
        "sendmail: sent to alice@example.org, bob@example.org, hidden@example.org: 250" in ran.err
    )
    assert "RCPT TO:<hidden@example.org>: 250" in ran.err  # each step, as mailsetup -v
    assert PASSWORD not in ran.err


def test_the_record_goes_to_syslog(server: SmtpServer, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "log.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as journal:
        journal.bind(str(path))
        journal.settimeout(10)
        ran = sendmail(
            "-f",
            "www@web1",
            "alice@example.org",
            message=b"Subject: s\n\nbody\n",
            env=env | {"MAILSETUP_SYSLOG": str(path)},
        )
        assert ran.code == 0
        sent = journal.recv(4096).decode()
        ran = sendmail(
            "backup", message=b"Subject: s\n\nbody\n", env=env | {"MAILSETUP_SYSLOG": str(path)}
        )
        assert ran.code == 67
        refused = journal.recv(4096).decode()
    # <22>: facility mail, severity info; <19>: mail, error.
    assert sent.startswith("<22>") and " mailsetup-sendmail[" in sent
    assert "from=mfa@example.com requested_from=www@web1 " in sent
    assert "smtpmsg='250 Message accepted for delivery' exitcode=EX_OK" in sent
    assert refused.startswith("<19>")
    assert 'errormsg=\'not sent: no address for the local recipient "backup"' in refused
    assert " recipients=backup " in refused
    assert refused.endswith("exitcode=EX_NOUSER")


# --- mailq, newaliases, --which ----------------------------------------------------------------


def without_end_of_input(program: Path | str, *args: str, env: dict[str, str]) -> Ran:
    """Run with a standard input that never ends, as a terminal's: a command that reads it
    would wait until the time-out."""
    reader, writer = os.pipe()
    try:
        finished = subprocess.run(
            [str(program), *args], stdin=reader, capture_output=True, env=env, timeout=20
        )
    finally:
        os.close(reader)
        os.close(writer)
    return Ran(finished.returncode, finished.stdout.decode(), finished.stderr.decode())


def test_mailq_and_newaliases_links_answer_at_once_without_a_relay(
    server: SmtpServer, env: dict[str, str], log_file: Path, tmp_path: Path
) -> None:
    """Other MTAs leave mailq and newaliases as links to /usr/sbin/sendmail; Debian's scripts
    call newaliases. Neither reads a message, fails, or leaves an error in the log."""
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    (sbin / "sendmail").symlink_to(SENDMAIL)
    for name, target in [("mailq", "sendmail"), ("newaliases", "sendmail")]:
        (sbin / name).symlink_to(target)
    no_queue = f"There is no queue: no mailsetup relay answers at {tmp_path / 'no-relay.sock'}"
    for ran in (
        without_end_of_input(sbin / "mailq", env=env),
        without_end_of_input(sbin / "sendmail", "-bp", env=env),
        without_end_of_input(BIN / "mailsetup", "sendmail", "-bp", env=env),
    ):
        assert (ran.code, ran.err) == (0, "")
        assert ran.out.startswith(no_queue)
    for ran in (
        without_end_of_input(sbin / "newaliases", env=env),
        without_end_of_input(sbin / "sendmail", "-bi", env=env),
    ):
        assert ran == Ran(0, "", "")  # silent: scripts call it
    queue_run = without_end_of_input(sbin / "sendmail", "-q", env=env)
    assert queue_run.code == 0 and queue_run.out.startswith("There is no queue to run")
    # A link named mailq to the main command is the same.
    (sbin / "mailq").unlink()
    (sbin / "mailq").symlink_to(BIN / "mailsetup")
    assert without_end_of_input(sbin / "mailq", env=env).out.startswith(no_queue)
    assert log_file.read_text() == "" and server.handler.mail_from == []


def which(*args: str, env: dict[str, str]) -> Ran:
    return sendmail("--which", *args, message=b"", env=env)


def test_which_follows_every_link_and_names_the_package(
    env: dict[str, str], tmp_path: Path
) -> None:
    link = tmp_path / "bin" / "sendmail"
    link.parent.mkdir()
    link.symlink_to("../real/sendmail")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "sendmail").symlink_to(SENDMAIL)
    ran = which(str(link), env=env)
    assert ran.code == 0, ran
    assert ran.out.splitlines()[0] == (
        f"{link} -> {tmp_path / 'real' / 'sendmail'} -> {SENDMAIL}: mailsetup's sendmail."
    )
    # A program that is not ours: not mailsetup's, and how to make it so.
    (tmp_path / "real" / "sendmail").unlink()
    (tmp_path / "real" / "sendmail").write_bytes(b"\x7fELF not ours")
    ran = which(str(link), env=env)
    assert ran.code == 1
    assert ": not mailsetup's (not from any package)." in ran.out
    assert f"  dpkg-divert --local --rename --divert {link}.before-mailsetup --add {link}\n" in (
        ran.out
    )
    assert f"  ln -s {SENDMAIL} {link}\n" in ran.out
    missing = which(str(tmp_path / "none"), env=env)
    assert missing.code == 1 and "does not exist: nothing on this host is sendmail" in missing.out


def test_which_says_when_other_users_cannot_run_the_interpreter(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A venv made from an interpreter under a private directory (pyenv in /root) fails for
    every service's user with "Permission denied" (exit 126): --which says so."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    interpreter = private / "python3"
    interpreter.symlink_to(os.path.realpath(sys.executable))
    script = tmp_path / "venv" / "bin" / "mailsetup-sendmail"
    script.parent.mkdir(parents=True)
    script.write_text(f"#!{interpreter}\n" + SENDMAIL.read_text().split("\n", 1)[1])
    script.chmod(0o755)
    ran = which(str(script), env=env)
    assert ran.code == 0, ran  # it is ours; the warning is under it
    (_, warning, *_) = ran.out.splitlines()
    assert warning.startswith("  Other users cannot run it: ")
    assert warning.endswith("(directory, mode 0700) is not open to others.")


@pytest.mark.skipif(
    not Path("/usr/sbin/sendmail").exists() or shutil.which("dpkg-query") is None,
    reason="needs a Debian host with an MTA (CI installs Postfix)",
)
def test_which_names_the_hosts_mta_package(env: dict[str, str]) -> None:
    ran = which(env=env)
    if ran.code == 0:  # a host where mailsetup is the sendmail already
        assert "mailsetup's sendmail" in ran.out
        return
    first = ran.out.splitlines()[0]
    assert first.startswith("/usr/sbin/sendmail") and "package's)." in first, ran.out


@pytest.mark.skipif(
    shutil.which("dpkg-divert") is None or os.geteuid() != 0, reason="needs dpkg-divert, as root"
)
def test_the_readmes_debian_steps_replace_an_mta_and_which_says_so(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The README's commands, run as written inside a root of their own ($DPKG_ROOT, as dpkg
    runs for an image being built) that holds another MTA's sendmail, as Postfix leaves it."""
    root = tmp_path / "root"
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "usr" / "sbin").mkdir(parents=True)
    (root / "usr" / "bin").mkdir()
    (root / "usr" / "sbin" / "sendmail").write_bytes(b"\x7fELF another MTA")
    for name in ("mailq", "newaliases"):
        (root / "usr" / "bin" / name).symlink_to("../sbin/sendmail")
    # The install the README assumes, in /opt/mailsetup, on the system's interpreter.
    (root / "usr" / "bin" / "python3").symlink_to(os.path.realpath("/usr/bin/python3"))
    installed = root / "opt" / "mailsetup" / "bin" / "mailsetup-sendmail"
    installed.parent.mkdir(parents=True)
    script = SENDMAIL.read_text().split("\n", 1)[1]
    installed.write_text(f"#!/usr/bin/python3\n{script}")
    installed.chmod(0o755)
    readme = (ROOT / "README.md").read_text()
    block = readme.split("Divert it, the Debian way", 1)[1].split("```", 2)[1].strip("\n")
    commands = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    divert, link, check = commands[:3]
    assert divert.startswith("dpkg-divert ") and check == "mailsetup sendmail --which"
    dpkg_env = env | {"DPKG_ROOT": str(root)}
    subprocess.run(shlex.split(divert), env=dpkg_env, check=True, capture_output=True)
    _ln, _s, target, where = shlex.split(link)
    (root / where.lstrip("/")).symlink_to(target)
    assert (root / "usr" / "sbin" / "sendmail.before-mailsetup").read_bytes().endswith(b"MTA")
    ran = sendmail("--which", message=b"", env=dpkg_env)
    shown = block.split(f"# {check}\n", 1)[1].split("\n# ", 1)[0]
    assert (ran.code, ran.out) == (0, shown + "\n")


# --- one case for each exit code ------------------------------------------------------------


def test_64_usage(server: SmtpServer, env: dict[str, str]) -> None:
    ran = sendmail("-x", "alice@example.org", message=b"body\n", env=env)
    assert ran.code == 64
    assert ran.err == "mailsetup-sendmail: unknown option -x (see mailsetup-sendmail --help)\n"
    ran = sendmail("-bi", "root", message=b"", env=env)
    assert ran.code == 64 and "newaliases (-bi) takes no recipients" in ran.err
    helped = sendmail("--help", message=b"", env=env)
    assert helped.code == 0 and "-t " in helped.out and "75 temporary failure" in helped.out
    listed = " ".join(helped.out.split())
    assert all(f"{code.value} {code.meaning}" in listed for code in Sysexit)
    assert server.handler.mail_from == []


@pytest.mark.parametrize(
    ("message", "args", "reason"),
    [
        (b"", ("alice@example.org",), "no message on standard input"),
        (b"Subject: x\n\nbody\n", ("-t",), "no recipients"),
        (b"Subject: a\x00b\n\nbody\n", ("alice@example.org",), "the Subject header holds control"),
        (b"Subject: x\n\nbody\n", ("a b c",), "recipient 'a b c' is not an address"),
        (b"Subject: x\n\nbody\n", ("x@",), "recipient 'x@' is not an address"),
        (b"Subject: x\n\nbody\n", ("a@example..org",), "recipient 'a@example..org'"),
    ],
)
def test_65_malformed(
    server: SmtpServer, env: dict[str, str], message: bytes, args: tuple[str, ...], reason: str
) -> None:
    ran = sendmail(*args, message=message, env=env)
    assert ran.code == 65
    assert ran.err.startswith("mailsetup-sendmail: not sent: ") and reason in ran.err
    assert len(ran.err.splitlines()) == 1
    assert server.handler.mail_from == []


def test_65_too_large_for_the_servers_size(
    certificates: Certificates, tmp_path: Path, env: dict[str, str], no_keyring: None
) -> None:
    with run_smtp_server("starttls", certificates, data_size_limit=2000) as small:
        save_account(tmp_path, small, certificates)
        ran = sendmail(
            "alice@example.org", message=b"Subject: big\n\n" + b"x" * 70 + b"\n" * 50, env=env
        )
        assert ran.code == 0, ran.err  # under the limit
        ran = sendmail(
            "alice@example.org", message=b"Subject: big\n\n" + (b"x" * 70 + b"\n") * 50, env=env
        )
        assert ran.code == 65
        assert "takes at most 2000 (its SIZE)" in ran.err
        assert len(small.handler.mail_from) == 1  # refused before MAIL FROM: nothing uploaded
    # A server without SIZE that says so after the upload (552 5.3.4): the same code.
    handler = RecordingHandler(refuse_data="552 5.3.4 Message size exceeds fixed limit")
    with run_smtp_server("starttls", certificates, handler=handler) as strict:
        save_account(tmp_path, strict, certificates)
        ran = sendmail("alice@example.org", message=b"Subject: big\n\nbody\n", env=env)
    assert ran.code == 65
    assert ran.err == (
        "mailsetup-sendmail: not sent: the message is too large for the server "
        "(552 5.3.4 Message size exceeds fixed limit)\n"
    )


def test_67_unknown_local_recipient(
    server: SmtpServer, env: dict[str, str], tmp_path: Path
) -> None:
    ran = sendmail("-i", "root", message=b"Subject: x\n\nbody\n", env=env)
    assert ran.code == 67
    config = tmp_path / "config" / "account.toml"
    assert ran.err == (
        "mailsetup-sendmail: not sent: no address for the local recipient 'root': add one to the "
        f"[aliases] table of {config} (mailsetup aliases root=ADDRESS, or default=ADDRESS for "
        "every local name)\n"
    )
    assert server.handler.mail_from == []


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (
            RecordingHandler(refuse_recipient=("alice@example.org", "550 5.1.1 no such user")),
            "the server refused the recipient alice@example.org (550 5.1.1 no such user)",
        ),
        (
            RecordingHandler(refuse_data="554 5.7.1 message looks like spam"),
            "the server refused the message (554 5.7.1 message looks like spam)",
        ),
    ],
)
def test_69_refused_permanently(
    certificates: Certificates,
    tmp_path: Path,
    env: dict[str, str],
    no_keyring: None,
    handler: RecordingHandler,
    reason: str,
) -> None:
    with run_smtp_server("starttls", certificates, handler=handler) as refusing:
        save_account(tmp_path, refusing, certificates)
        ran = sendmail("alice@example.org", message=b"Subject: x\n\nbody\n", env=env)
    assert ran.code == 69
    assert ran.err == f"mailsetup-sendmail: not sent: {reason}\n"


def test_75_temporary_failure(
    certificates: Certificates, tmp_path: Path, env: dict[str, str], no_keyring: None
) -> None:
    handler = RecordingHandler(refuse_data="451 4.3.0 try again later")
    with run_smtp_server("starttls", certificates, handler=handler) as busy:
        save_account(tmp_path, busy, certificates)
        ran = sendmail("alice@example.org", message=b"Subject: x\n\nbody\n", env=env)
        assert ran.code == 75
        assert ran.err.startswith("mailsetup-sendmail: not sent (temporary failure): ")
        assert "451 4.3.0 try again later" in ran.err
        port = busy.port
    # The server gone: connection refused is temporary too, and nothing is queued.
    ran = sendmail("alice@example.org", message=b"Subject: x\n\nbody\n", env=env)
    assert ran.code == 75, ran.err
    assert f"nothing accepts connections on 127.0.0.1 port {port}" in ran.err


def test_78_no_account_or_a_broken_config(env: dict[str, str], tmp_path: Path) -> None:
    ran = sendmail("alice@example.org", message=b"Subject: x\n\nbody\n", env=env)
    assert ran.code == 78
    config = tmp_path / "config" / "account.toml"
    assert ran.err == (
        "mailsetup-sendmail: cannot use the saved account: no saved account at "
        f"{config}; run mailsetup to set one up\n"
    )
    config.parent.mkdir(mode=0o700)
    config.write_text("schema = [broken\n")
    config.chmod(0o600)
    ran = sendmail("alice@example.org", message=b"Subject: x\n\nbody\n", env=env)
    assert ran.code == 78
    assert ran.err.startswith(f"mailsetup-sendmail: cannot use the saved account: {config}")
    assert config.read_text() == "schema = [broken\n"  # never rewritten


def test_78_a_missing_secret(server: SmtpServer, env: dict[str, str], tmp_path: Path) -> None:
    for secret in (tmp_path / "config").glob("*secret*"):
        secret.unlink()
    ran = sendmail("alice@example.org", message=b"Subject: x\n\nbody\n", env=env)
    assert ran.code == 78
    assert "cannot use the saved account: the secret file" in ran.err


def test_a_log_file_that_cannot_be_written_does_not_fail_the_send(
    server: SmtpServer, env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "logdir").mkdir()
    ran = run_mailsetup("aliases", "--log", str(tmp_path / "logdir" / "mail.log"), env=env)
    assert ran.code == 0, ran.err
    shutil.rmtree(tmp_path / "logdir")
    ran = sendmail("alice@example.org", message=b"Subject: x\n\nbody\n", env=env)
    assert (ran.code, ran.err) == (0, "")
    ran = sendmail("-v", "alice@example.org", message=b"Subject: x\n\nbody\n", env=env)
    assert ran.code == 0
    assert f"cannot write the log file {tmp_path / 'logdir' / 'mail.log'}" in ran.err


# --- real callers -------------------------------------------------------------------------


@pytest.fixture
def client_home(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment of a mail client run by the test: its own home, no rc files."""
    home = tmp_path / "client"
    home.mkdir()
    return env | {"HOME": str(home), "MAILRC": "/dev/null", "LC_ALL": "C.UTF-8"}


@pytest.mark.skipif(S_NAIL is None, reason="SKIPPED: s-nail is not installed")
def test_s_nail_sends_through_the_command(server: SmtpServer, client_home: dict[str, str]) -> None:
    run_mailsetup("aliases", "root=ops@acme.example", env=client_home)
    body = "Grüße from mailx\n.\nline after a lone dot\n"
    finished = subprocess.run(
        [
            str(S_NAIL), "-n", "-S", f"mta={SENDMAIL}", "-S", "sendcharsets=utf-8",
            "-s", "Disk report", "-c", "bob@example.org", "-b", "hidden@example.org",
            "root", "alice@example.org",
        ],
        input=body.encode(),
        capture_output=True,
        env=client_home,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    got = arrived(server)
    assert got.delivered.mail_from == LOGIN
    assert got.delivered.rcpt_tos == [
        "ops@acme.example", "alice@example.org", "bob@example.org", "hidden@example.org"
    ]  # fmt: skip
    assert got.message["To"] == "ops@acme.example, alice@example.org"
    assert got.message["Cc"] == "bob@example.org"
    assert b"hidden@example.org" not in got.delivered.data
    assert got.message["Subject"] == "Disk report"
    assert got.message["From"] == "Verification Codes <mfa@example.com>"
    assert got.message.get_content().replace("\r\n", "\n") == body


@pytest.mark.skipif(
    not git_send_email(),
    reason="SKIPPED: git send-email is not installed",
)
def test_git_send_email_sends_a_patch_through_the_command(
    server: SmtpServer, client_home: dict[str, str], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    git_env = client_home | {
        "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@acme.example",
        "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@acme.example",
        "GIT_CONFIG_NOSYSTEM": "1",
    }  # fmt: skip

    def git(*args: str) -> str:
        done = subprocess.run(
            [str(GIT), "-C", str(repo), *args], capture_output=True, env=git_env, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    repo.mkdir()
    git("init", "-q")
    (repo / "notes.txt").write_text("Grüße\n")
    git("add", "notes.txt")
    git("commit", "-q", "-m", "Add notes: ünïcode")
    patch = Path(git("format-patch", "-1", "-o", str(tmp_path / "patches")).strip())
    git(
        "send-email", "--confirm=never", "--suppress-cc=all", f"--sendmail-cmd={SENDMAIL}",
        "--to=list@example.org", "--bcc=hidden@example.org", str(patch),
    )  # fmt: skip
    got = arrived(server)
    assert got.delivered.mail_from == LOGIN
    assert got.delivered.rcpt_tos == ["list@example.org", "hidden@example.org"]
    assert got.message["From"] == "Dev <mfa@example.com>"
    assert got.message["Reply-To"] == "Dev <dev@acme.example>"
    assert got.message["Subject"] == "[PATCH] Add notes: ünïcode"
    assert got.message["Bcc"] is None and b"hidden@example.org" not in got.delivered.data
    assert got.message["X-Mailer"].startswith("git-send-email")
    sent_body = got.body.replace(b"\r\n", b"\n")
    assert b"+Gr\xc3\xbc\xc3\x9fe\n" in sent_body  # the patch, 8-bit, unchanged
    assert sent_body == body_of(patch.read_bytes())


# --- the aliases command ----------------------------------------------------------------------


def test_aliases_are_shown_set_and_removed(
    server: SmtpServer, env: dict[str, str], tmp_path: Path
) -> None:
    ran = run_mailsetup("aliases", env=env)
    assert ran.code == 0
    assert ran.lines[0].startswith("No aliases: mail to a local name such as root is refused")
    ran = run_mailsetup("aliases", "root=ops@acme.example", "default=it@acme.example", env=env)
    assert ran.lines == [
        "default  ->  it@acme.example",
        "root     ->  ops@acme.example",
        "Log file: none (the system log only)",
    ]
    config = (tmp_path / "config" / "account.toml").read_text()
    assert '[aliases]\ndefault = "it@acme.example"\nroot = "ops@acme.example"' in config
    as_json = json.loads(run_mailsetup("aliases", "--unset", "default", "--json", env=env).out)
    assert as_json == {
        "status": "ok",
        "config_path": str(tmp_path / "config" / "account.toml"),
        "aliases": {"root": "ops@acme.example"},
        "log": None,
    }
    shown = run_mailsetup("show", env=env)
    assert "Aliases:          root -> ops@acme.example" in shown.lines
    # A new save keeps them.
    saved = run_mailsetup(
        "save", "--smtp-mail", "other", "--display-name", "New Name", "--email", LOGIN,
        "--server", "127.0.0.1", "--port", str(server.port), "--password-stdin",
        env=env, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert saved.code == 0, saved.err
    assert "root -> ops@acme.example" in run_mailsetup("show", env=env).out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["root"], "write NAME=ADDRESS"),
        (["ro ot=a@b.example"], "is not a local name"),
        (["root=not-an-address"], "is not an e-mail address"),
        (["--unset", "nobody"], "there is no alias 'nobody'"),
        (["--log", "relative.log"], "give an absolute path"),
    ],
)
def test_aliases_refuses_what_cannot_work(
    server: SmtpServer, env: dict[str, str], args: list[str], error: str
) -> None:
    ran = run_mailsetup("aliases", *args, env=env)
    assert ran.code == 2
    assert error in ran.err


def test_aliases_without_an_account(env: dict[str, str]) -> None:
    ran = run_mailsetup("aliases", "root=ops@acme.example", env=env)
    assert ran.code == 3
    assert "no saved account" in ran.err


def test_a_log_file_is_made_for_its_writers(
    server: SmtpServer, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "mail.log"
    assert run_mailsetup("aliases", "--log", str(path), env=env).code == 0
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600  # the owner alone sends
    assert f'log = "{path}"' in (tmp_path / "config" / "account.toml").read_text()
    assert run_mailsetup("aliases", "--log", "none", env=env).code == 0
    assert "log =" not in (tmp_path / "config" / "account.toml").read_text()
    assert path.exists()  # kept: it is a record


# --- what other MTAs' callers pass, and what must never get through (issue 19) ---------------


@pytest.mark.parametrize(
    "args",
    [
        ("-t", "-i", "-h", "10"),
        ("-t", "-h10", "-N", "never", "-R", "hdrs", "-V", "envid"),
        ("-t", "-L", "cron", "-X", "/tmp/traffic", "-O", "DeliveryMode=b", "-em"),
        ("-t", "-G", "-U", "-Am", "-odi", "-oem"),
    ],
)
def test_other_mtas_options_are_accepted_and_the_message_is_sent(
    server: SmtpServer, env: dict[str, str], args: tuple[str, ...]
) -> None:
    # `-h N` is a hop count to sendmail and Postfix: it once printed help and exited 0
    # with nothing sent.
    ran = sendmail(*args, message=b"To: a@example.org\nSubject: t\n\nx\n", env=env)
    assert (ran.code, ran.out, ran.err) == (0, "", "")
    assert arrived(server).delivered.rcpt_tos == ["a@example.org"]


def test_help_with_a_message_to_send_is_a_usage_error_not_a_success(
    server: SmtpServer, env: dict[str, str]
) -> None:
    ran = sendmail("-t", "--help", message=b"To: a@example.org\n\nx\n", env=env)
    assert ran.code == 64 and "nothing was sent" in ran.err
    assert server.handler.mail_from == []


@pytest.mark.parametrize(
    ("args", "message", "named"),
    [
        (("-F", "Evil\r\nBcc: victim@example.net\r\n\r\nInjected body", "-t"), b"", "-F"),
        (("-F", "Evil\nBcc: victim@example.net", "-t"), b"", "-F"),
        (("-f", "x@y\r\nBcc: victim@example.net", "-t"), b"", "-f"),
        (("-t",), b"X-Cr: a\rBcc: evil@example.net\n", "X-Cr"),
        (("-t",), b"Subject: a\x1b]0;owned\x07\n", "Subject"),
        (("-t",), b"Subject: fine\n folded\rBcc: evil@example.net\n", "Subject"),
    ],
)
def test_a_control_character_in_a_header_or_a_name_is_refused_before_anything_is_sent(
    server: SmtpServer, env: dict[str, str], args: tuple[str, ...], message: bytes, named: str
) -> None:
    ran = sendmail(*args, message=b"To: a@example.org\n" + message + b"\nbody\n", env=env)
    assert ran.code == 65, ran.err
    assert named in ran.err and "control characters" in ran.err
    assert server.handler.mail_from == []


def test_a_long_display_name_and_long_lines_are_folded_or_encoded_and_arrive_whole(
    server: SmtpServer, env: dict[str, str]
) -> None:
    name = "Acme " * 250  # a From line far over 998 characters
    long_line = "x" * 3000
    message = f"To: a@example.org\nSubject: long\n\nshort line\n{long_line}\nend\n".encode()
    ran = sendmail("-t", "-F", name.strip(), message=message, env=env)
    assert ran.code == 0, ran.err
    got = arrived(server)
    assert all(len(line) <= 998 for line in got.delivered.data.split(b"\r\n"))
    assert got.message["From"].addresses[0].display_name == name.strip()
    assert got.message.get_content().replace("\r\n", "\n") == f"short line\n{long_line}\nend\n"


def test_an_mbox_from_line_is_dropped(server: SmtpServer, env: dict[str, str]) -> None:
    message = b"From cron@host Sat Dec  5 02:00:00 2026\nTo: a@example.org\nSubject: s\n\nbody\n"
    ran = sendmail("-t", message=message, env=env)
    assert ran.code == 0, ran.err
    got = arrived(server)
    assert not got.delivered.data.startswith(b"From ")
    assert got.message["Subject"] == "s"


def test_utf8_without_mime_headers_reads_back_from_a_server_without_8bitmime(
    certificates: Certificates, tmp_path: Path, env: dict[str, str], no_keyring: None
) -> None:
    # What cron and mailx write: no MIME-Version, no Content-Type, UTF-8 bytes.
    message = "To: a@example.org\nSubject: cron\n\nGrüße, déjà vu\n".encode()
    handler = RecordingHandler()
    handler.hidden = {"8BITMIME"}
    with run_smtp_server("starttls", certificates, handler=handler) as seven_bit:
        save_account(tmp_path, seven_bit, certificates)
        ran = sendmail("-t", message=message, env=env)
        assert ran.code == 0, ran.err
        got = arrived(seven_bit)
    assert got.delivered.data.isascii()
    assert got.message["MIME-Version"] == "1.0"
    assert got.message.get_content_charset() == "utf-8"
    assert got.message.get_content().replace("\r\n", "\n") == "Grüße, déjà vu\n"


def test_a_callers_message_id_cannot_forge_fields_in_the_record(
    server: SmtpServer, env: dict[str, str], log_file: Path
) -> None:
    forged = "<x@y> exitcode=EX_OK smtpmsg='250 2.0.0 queued'"
    message = f"To: a@example.org\nMessage-ID: {forged}\nSubject: s\n\nbody\n".encode()
    ran = sendmail("-t", message=message, env=env)
    assert ran.code == 0, ran.err
    (line,) = log_file.read_text().splitlines()
    words = shlex.split(line)[1:]  # after the time stamp: key=value, values quoted as needed
    fields = [word.split("=", 1) for word in words]
    assert [key for key, _ in fields].count("exitcode") == 1
    assert dict(fields)["message_id"] == '<x@y> exitcode=EX_OK smtpmsg="250 2.0.0 queued"'
    assert dict(fields)["exitcode"] == "EX_OK"


def test_every_message_gets_its_record_line_even_with_thousands_of_recipients(
    server: SmtpServer, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "log.sock"
    recipients = [f"user{n}@example.org" for n in range(12_000)]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as journal:
        journal.bind(str(path))
        journal.settimeout(30)
        ran = sendmail(
            "-t", *recipients[:1], message=("To: " + ", ".join(recipients) + "\n\nx\n").encode(),
            env=env | {"MAILSETUP_SYSLOG": str(path)},
        )  # fmt: skip
        line = journal.recv(65536).decode()
    assert ran.code in {0, 69, 75}, ran.err
    assert "(+" in line and "more)" in line and "exitcode=" in line


class StallAtRecipient(RecordingHandler):
    """Takes MAIL FROM, then says nothing after RCPT TO: a sender stuck mid-delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.rcpt_seen = threading.Event()

    async def handle_RCPT(self, *args: Any) -> str:
        self.rcpt_seen.set()
        await asyncio.sleep(30)
        return "451 too late"


def test_sigterm_still_records_the_message_and_says_try_again(
    certificates: Certificates, tmp_path: Path, env: dict[str, str], no_keyring: None
) -> None:
    handler = StallAtRecipient()
    with run_smtp_server("starttls", certificates, handler=handler) as stalling:
        save_account(tmp_path, stalling, certificates)
        log = tmp_path / "sendmail.log"
        assert run_mailsetup("aliases", "--log", str(log), env=env).code == 0
        child = subprocess.Popen(
            [str(SENDMAIL), "a@example.org"], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env,
        )  # fmt: skip
        assert child.stdin is not None
        child.stdin.write(b"Subject: s\n\nbody\n")
        child.stdin.close()
        assert handler.rcpt_seen.wait(20)
        child.terminate()
        assert child.wait(timeout=20) == 75
    (line,) = log.read_text().splitlines()
    assert "exitcode=EX_TEMPFAIL" in line and "interrupted" in line, line[150:]
