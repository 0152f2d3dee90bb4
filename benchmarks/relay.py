"""A burst of messages through the relay, against the ways a host sends without it, in one run.

Every row sends the same burst (200 by default) to the same aiosmtpd server on loopback
(STARTTLS, AUTH, a trustme certificate) and reports how fast the messages were handed over,
when the server had them all, and how many logins that took:

- the relay, over loopback SMTP (one connection, as an application configured with
  "localhost:25" sends);
- the relay, through 20 parallel `mailsetup-sendmail` callers (the Unix socket);
- `mailsetup-sendmail` sending directly (no relay), 20 parallel callers;
- msmtp (Debian's package), 20 parallel callers;
- Postfix as a null client (a private instance relaying to the same server), over loopback SMTP.

Targets: the relay's socket hand-over at least half msmtp's rate; the relay accepts SMTP at
least as fast as Postfix; the burst through the relay in at most 10 logins. Needs msmtp and
postfix (and root, for Postfix); a row whose program is missing says so. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mailsetup_tui.core.store import AccountStore

from support.cli import mailsetup_env
from support.mailsystem import POSTFIX_SERVICES, postfix_base
from support.relay import add_relay_table, relay_table, start_relay
from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Certificates,
    SmtpServer,
    free_port,
    other_account,
    run_smtp_server,
)

BIN = Path(sys.executable).parent
CALLERS = 20


@dataclass
class Row:
    name: str
    handed_over: float
    """Seconds until every message was handed over (accepted, or sent by the caller)."""
    delivered: float
    """Seconds until the server had every message."""
    logins: int
    count: int

    @property
    def rate(self) -> float:
        return self.count / self.handed_over if self.handed_over else 0.0

    def line(self) -> str:
        return (
            f"{self.name:<44} {self.rate:>9.1f}/s {self.handed_over:>8.2f} s "
            f"{self.delivered:>9.2f} s {self.logins:>7}"
        )


def message(number: int) -> bytes:
    return (
        f"To: alice@example.org\nSubject: Your code\nX-Number: {number}\n\n"
        f"Your verification code is {100000 + number}.\n"
    ).encode()


def wait_for(server: SmtpServer, total: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(server.handler.delivered) < total:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(server.handler.delivered)} of {total} arrived")
        time.sleep(0.01)


def warm_up(server: SmtpServer, port: int) -> None:
    """A few messages first, so that no row pays for its program's first-use costs (lazy
    imports, bytecode, Postfix's processes starting): the burst is what is measured."""
    before = len(server.handler.delivered)
    over_smtp(port, 5)
    wait_for(server, before + 5)


def measure(name: str, server: SmtpServer, count: int, hand_over: Callable[[], None]) -> Row:
    before_logins = len(server.auth_attempts)
    before = len(server.handler.delivered)
    started = time.perf_counter()
    hand_over()
    handed = time.perf_counter() - started
    wait_for(server, before + count)
    delivered = time.perf_counter() - started
    return Row(name, handed, delivered, len(server.auth_attempts) - before_logins, count)


def over_smtp(port: int, count: int) -> None:
    with smtplib.SMTP(HOST, port, timeout=60) as client:
        for number in range(count):
            client.sendmail("app@localhost", ["alice@example.org"], message(number))


def in_parallel(command: list[str], count: int, env: dict[str, str]) -> None:
    def one(number: int) -> None:
        finished = subprocess.run(
            command, input=message(number), env=env, capture_output=True, check=False
        )
        if finished.returncode != 0:
            raise SystemExit(f"{command[0]} exited {finished.returncode}: {finished.stderr!r}")

    with ThreadPoolExecutor(CALLERS) as pool:
        list(pool.map(one, range(count)))


@contextlib.contextmanager
def postfix_null_client(root: Path, upstream: int, ca_file: Path) -> Iterator[int]:
    """A private Postfix that relays everything to the upstream with SASL over STARTTLS;
    yields the loopback port it accepts SMTP on."""
    port = free_port()
    conf = root / "postfix"
    conf.mkdir(parents=True)
    for name in ("queue", "data"):
        (root / name).mkdir()
    shutil.chown(root / "data", user="postfix")
    (conf / "sasl_passwd").write_text(f"[{HOST}]:{upstream} {LOGIN}:{PASSWORD}\n")
    (conf / "main.cf").write_text(
        postfix_base(root, root / "maillog")
        + f"""myhostname = nullclient.example.com
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [{HOST}]:{upstream}
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:{conf}/sasl_passwd
smtp_sasl_security_options = noanonymous
smtp_tls_security_level = encrypt
smtp_tls_CAfile = {ca_file}
"""
    )
    (conf / "master.cf").write_text(f"{HOST}:{port} inet n - n - - smtpd\n{POSTFIX_SERVICES}")
    run = ["postfix", "-c", str(conf)]
    started = subprocess.run(
        [*run, "start"], capture_output=True, text=True, timeout=60, check=False
    )
    if started.returncode != 0:
        raise SystemExit(f"Postfix did not start: {started.stdout}{started.stderr}")
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), smtplib.SMTP(HOST, port, timeout=2):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"Postfix did not start: {(root / 'maillog').read_text()}")
            time.sleep(0.1)
        yield port
    finally:
        subprocess.run([*run, "stop"], check=False, capture_output=True, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    count = parser.parse_args().messages
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation notes
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mailsetup-bench-") as directory:
        tmp = Path(directory)
        os.chmod(tmp, 0o755)  # noqa: S103 - Postfix's own users must reach its directories
        certificates = Certificates.create(tmp, "bench")
        with run_smtp_server("starttls", certificates) as server:
            config = tmp / "config" / "account.toml"
            os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
            AccountStore(config).save(
                other_account(server.port), PASSWORD, ca_file=certificates.ca_file
            )
            # Byte-compiled, as an installed package is (PYTHONDONTWRITEBYTECODE would make
            # every caller compile the sources again), with the bytecode in the temp dir.
            env = mailsetup_env(tmp, PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            # One caller (root) sends every row: no rate limit here, the point is throughput.
            table = relay_table(tmp, retry_first=1, rate=1_000_000)
            add_relay_table(config, table)
            relay = start_relay(env, table, tmp / "relay.log")
            try:
                warm_up(server, relay.port)
                rows.append(
                    measure("relay, SMTP (one connection)", server, count,
                            lambda: over_smtp(relay.port, count))
                )  # fmt: skip
                socket_env = env | {"MAILSETUP_RELAY_SOCKET": table["socket"]}
                rows.append(
                    measure(f"relay, {CALLERS} x mailsetup-sendmail", server, count,
                            lambda: in_parallel([str(BIN / "mailsetup-sendmail"), "-t"], count,
                                                socket_env))
                )  # fmt: skip
            finally:
                relay.stop()
            direct_env = env | {"MAILSETUP_RELAY_SOCKET": "none"}
            rows.append(
                measure(f"mailsetup-sendmail direct, {CALLERS} callers", server, count,
                        lambda: in_parallel([str(BIN / "mailsetup-sendmail"), "-t"], count,
                                            direct_env))
            )  # fmt: skip
            msmtp = shutil.which("msmtp")
            if msmtp:
                conf = tmp / "msmtprc"
                conf.write_text(
                    f"account default\nhost {HOST}\nport {server.port}\ntls on\n"
                    f"tls_starttls on\ntls_trust_file {certificates.ca_file}\nauth on\n"
                    f"user {LOGIN}\npassword {PASSWORD}\nfrom {LOGIN}\n"
                )
                conf.chmod(0o600)
                rows.append(
                    measure(f"msmtp, {CALLERS} callers", server, count,
                            lambda: in_parallel([msmtp, "-C", str(conf), "-t"], count, env))
                )  # fmt: skip
            else:
                notes.append("msmtp: not installed (Debian: apt install msmtp)")
            if shutil.which("postfix") and os.geteuid() == 0:
                with postfix_null_client(tmp / "null", server.port, certificates.ca_file) as port:
                    warm_up(server, port)
                    rows.append(
                        measure("Postfix null client, SMTP (one connection)", server, count,
                                lambda: over_smtp(port, count))
                    )  # fmt: skip
            else:
                notes.append("Postfix: needs postfix installed and root")
    print(f"A burst of {count} messages to one aiosmtpd server (STARTTLS, AUTH), one run")
    print(f"{'':<44} {'hand-over':>11} {'all in':>10} {'delivered':>11} {'logins':>7}")
    for row in rows:
        print(row.line())
    for note in notes:
        print(f"  {note}")
    relay_smtp, relay_socket = rows[0], rows[1]
    print("Targets:")
    print(f"  logins through the relay: {relay_smtp.logins} and {relay_socket.logins} (<= 10)")
    msmtp_row = next((row for row in rows if row.name.startswith("msmtp")), None)
    if msmtp_row:
        ratio = relay_socket.rate / msmtp_row.rate
        print(f"  relay socket hand-over / msmtp: {ratio:.2f}x (>= 0.50)")
    postfix_row = next((row for row in rows if row.name.startswith("Postfix")), None)
    if postfix_row:
        ratio = relay_smtp.rate / postfix_row.rate
        print(f"  relay SMTP accept / Postfix accept: {ratio:.2f}x (>= 1.00)")


if __name__ == "__main__":
    main()
