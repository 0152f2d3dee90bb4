"""Debian's Postfix and Dovecot as a private mail system on loopback, for the interop suite.

Everything lives in one temporary directory: Postfix's main.cf and master.cf (`postfix -c`),
its queue, its log (`maillog_file`, no syslog), the delivered Maildirs, and Dovecot's config,
runtime directory and log (`dovecot -c`). The system's /etc/postfix and /etc/dovecot are never
read or changed, and both are stopped by the PIDs they wrote. Postfix's master must start as
root, so the suite runs only as root (CI runs as root).

The instance is built the way an administrator sets up a submission server:
- `submission`: STARTTLS, `smtpd_tls_auth_only`, SASL through Dovecot;
- `submissions`: implicit TLS on its own port;
- `strict`: as submission, plus `reject_non_fqdn_helo_hostname`;
- `reject_sender_login_mismatch` with `smtpd_sender_login_maps`, and the default
  `smtpd_delay_reject = yes`, which moves sender refusals to RCPT time;
- a sender that gets a temporary `451` (through an access map).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import trustme

from support.servers import HOST, free_port

POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin") or "/usr/sbin/postfix"
DOVECOT = shutil.which("dovecot", path="/usr/sbin:/usr/bin") or "/usr/sbin/dovecot"
DOMAIN = "example.com"

USERS = {
    "codes@example.com": "Codes-app-pass-4711",
    "noreply@example.com": "Noreply-app-pass-4711",
    "other@example.com": "Other-app-pass-4711",
    "later@example.com": "Later-app-pass-4711",
}
"""Logins Dovecot accepts. noreply@ has no mailbox (a send-only sender); other@ may not send
as itself (its address is owned by ops@); later@ gets a temporary refusal."""

MAILBOXES = ("codes", "postmaster", "alice")


def missing() -> str | None:
    """Why the suite cannot run here, or None."""
    if not (Path(POSTFIX).exists() and Path(DOVECOT).exists()):
        return "postfix and dovecot-core are not installed (.ci/run installs them)"
    if os.geteuid() != 0:
        return "Postfix's master must start as root (CI runs as root)"
    for user in ("postfix", "dovecot", "dovenull", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"the system user {user!r} is missing (it comes with the packages)"
    return None


@dataclass
class Ports:
    submission: int
    submissions: int
    strict: int
    auth: int


class MailSystem:
    """A running private Postfix + Dovecot; `log_since` and `messages` read what they did."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = Ports(free_port(), free_port(), free_port(), free_port())
        self.ca = trustme.CA(organization_name="mailsetup interop CA")
        self.ca_file = root / "ca.pem"
        self.maillog = root / "maillog"
        self.mail = root / "mail"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._write_dovecot()
        self._write_postfix()
        self._run([DOVECOT, "-c", str(self.dovecot_conf)])
        self._run([POSTFIX, "-c", str(self.postfix_dir), "start"])
        self._wait_listening(self.ports.submission, self.ports.auth)

    def stop(self) -> None:
        for pid_file in (self.root / "queue/pid/master.pid", self.root / "dovecot/run/master.pid"):
            _stop_by_pid(pid_file)

    def restart_dovecot(self) -> None:
        """A fresh Dovecot: its auth penalty (a growing delay for an address after failed
        logins, as it should be in production) must not slow the next test down."""
        _stop_by_pid(self.root / "dovecot/run/master.pid")
        self._run([DOVECOT, "-c", str(self.dovecot_conf)])
        self._wait_listening(self.ports.auth)

    # --- what happened ----------------------------------------------------------------------

    def log_mark(self) -> int:
        return self.maillog.stat().st_size if self.maillog.exists() else 0

    def log_since(self, mark: int) -> str:
        with self.maillog.open("rb") as log:
            log.seek(mark)
            return log.read().decode("utf-8", "replace")

    def wait_for_log(self, mark: int, needle: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_since(mark)
            if needle in text:
                return text
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not in the Postfix log:\n{self.log_since(mark)}")

    def messages(self, mailbox: str) -> list[tuple[bytes, EmailMessage]]:
        """The messages delivered to `mailbox`@example.com, raw and parsed."""
        new = self.mail / DOMAIN / mailbox / "new"
        found = []
        for path in sorted(new.glob("*")) if new.is_dir() else []:
            raw = path.read_bytes()
            parsed = BytesParser(policy=default).parsebytes(raw)
            assert isinstance(parsed, EmailMessage)
            found.append((raw, parsed))
        return found

    def wait_for_message(self, mailbox: str, timeout: float = 15) -> tuple[bytes, EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.messages(mailbox):
                return found[-1]
            time.sleep(0.1)
        raise AssertionError(f"nothing delivered to {mailbox}; log:\n{self.log_since(0)}")

    # --- configuration ----------------------------------------------------------------------

    @property
    def dovecot_conf(self) -> Path:
        return self.root / "dovecot" / "dovecot.conf"

    @property
    def postfix_dir(self) -> Path:
        return self.root / "postfix"

    def _write_dovecot(self) -> None:
        directory = self.dovecot_conf.parent
        directory.mkdir()
        users = directory / "users"
        users.write_text("".join(f"{login}:{{PLAIN}}{pw}\n" for login, pw in USERS.items()))
        users.chmod(0o640)
        shutil.chown(users, group="dovecot")
        self.dovecot_conf.write_text(
            f"""
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
instance_name = mailsetup-interop
protocols = none
ssl = no
auth_mechanisms = plain login
auth_verbose = yes
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  inet_listener {{
    address = {HOST}
    port = {self.ports.auth}
  }}
}}
"""
        )

    def _write_postfix(self) -> None:
        root, directory = self.root, self.postfix_dir
        directory.mkdir()
        for name in ("queue", "data"):
            (root / name).mkdir()
        shutil.chown(root / "data", user="postfix")
        self.mail.mkdir()
        shutil.chown(self.mail, user="nobody", group="nogroup")
        leaf = self.ca.issue_cert(HOST, "localhost", "mail.example.com")
        key = directory / "server.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(key))
        key.chmod(0o600)
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        maps = {
            "mailboxes": "".join(f"{m}@{DOMAIN} {DOMAIN}/{m}/\n" for m in MAILBOXES),
            # Each login owns its own address, except other@, which belongs to ops@.
            "sender_logins": "".join(
                f"{login} {'ops@example.com' if login.startswith('other@') else login}\n"
                for login in USERS
            ),
            "sender_access": "later@example.com 451 4.3.0 Temporary lookup failure\n",
        }
        for name, text in maps.items():
            (directory / name).write_text(text)
        (directory / "main.cf").write_text(
            postfix_base(root, self.maillog)
            + f"""
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
biff = no
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = texthash:{directory}/mailboxes
virtual_uid_maps = static:{pwd.getpwnam("nobody").pw_uid}
virtual_gid_maps = static:{pwd.getpwnam("nobody").pw_gid}
virtual_minimum_uid = 1
smtpd_tls_cert_file = {key}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:{HOST}:{self.ports.auth}
smtpd_sasl_auth_enable = yes
smtpd_sender_login_maps = texthash:{directory}/sender_logins
smtpd_sender_restrictions = reject_sender_login_mismatch,
    check_sender_access texthash:{directory}/sender_access
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
"""
        )
        (directory / "master.cf").write_text(
            f"""
{HOST}:{self.ports.submission} inet n - n - - smtpd
{HOST}:{self.ports.submissions} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
{HOST}:{self.ports.strict} inet n - n - - smtpd -o smtpd_helo_required=yes
  -o smtpd_helo_restrictions=reject_non_fqdn_helo_hostname
{POSTFIX_SERVICES}"""
        )

    def _run(self, argv: list[str]) -> None:
        # Output to a file, not a pipe: the daemons keep what they inherit, and a pipe would
        # never close.
        output = self.root / "start.log"
        with output.open("ab") as sink:
            finished = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, timeout=60, check=False
            )
        if finished.returncode != 0:
            log = self.maillog.read_text() if self.maillog.exists() else ""
            raise RuntimeError(
                f"{' '.join(argv)} failed ({finished.returncode}): {output.read_text()}{log}"
            )

    def _wait_listening(self, *ports: int, timeout: float = 20) -> None:
        import socket

        deadline = time.monotonic() + timeout
        for port in ports:
            while True:
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nothing listens on {HOST}:{port}; log:\n{self.maillog}")
                time.sleep(0.1)


POSTFIX_SERVICES = """\
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""
"""master.cf's internal services, as Debian's default has them (the listeners differ)."""


def postfix_base(root: Path, maillog: Path) -> str:
    """The main.cf lines every private Postfix here shares: its queue, data and log under
    `root` (never the system's), loopback IPv4 only, no aliases, no local delivery names."""
    return f"""
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {maillog}
maillog_file_prefixes = {root}
mydestination =
inet_interfaces = {HOST}
inet_protocols = ipv4
alias_maps =
alias_database =
smtputf8_enable = no
"""


def _stop_by_pid(pid_file: Path, timeout: float = 10) -> None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)


@contextlib.contextmanager
def running_mail_system() -> Iterator[MailSystem]:
    """A private mail system for the session, removed with its directory afterwards."""
    # The daemons run as postfix, dovecot and nobody: they must be able to reach the directory,
    # which pytest's own temporary directories (0700, root's) do not allow.
    root = Path(tempfile.mkdtemp(prefix="mailsetup-interop-"))
    root.chmod(0o755)
    system = MailSystem(root)
    try:
        system.start()
        yield system
    finally:
        system.stop()
        shutil.rmtree(root, ignore_errors=True)
