"""Commands at once, as real processes: one writer at a time (the lock beside the config),
readers that see the old pair or the new one and never a mix, and sends that go on while the
account is saved again.

Each loop's rounds come from $MAILSETUP_RACE_ROUNDS (a few by default, so `make test` stays
quick; `.ci/run` raises it to the hundreds a race needs to show).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mailsetup_tui.core.store import AccountStore, NoSavedAccount

from support.cli import mailsetup_env, run_mailsetup
from support.servers import PASSWORD, Certificates, SmtpServer, other_account

ROUNDS = int(os.environ.get("MAILSETUP_RACE_ROUNDS", "20"))
BIN = Path(sys.executable).parent

SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mailsetup_tui.core.account import Account
    from mailsetup_tui.core.store import AccountStore

    store = AccountStore(Path(sys.argv[1]))
    who, rounds = sys.argv[2], int(sys.argv[3])
    account = Account.create(
        "other", "Codes", f"{who}@example.com", server="smtp.example.com", port=587
    )
    for n in range(rounds):
        store.save(account, f"pw-{who}-{n}")
    """
)

ALIASER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mailsetup_tui.core.store import AccountStore

    store = AccountStore(Path(sys.argv[1]))
    while not store.path.exists():  # aliases need an account: wait for the first save
        time.sleep(0.005)
    for n in range(int(sys.argv[2])):
        store.set_sendmail_settings(add={f"name{n}": "ops@example.com"})
    """
)

RESAVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mailsetup_tui.core.store import AccountStore
    from support.servers import PASSWORD, other_account

    store = AccountStore(Path(sys.argv[1]))
    account = other_account(int(sys.argv[2]))
    stop = Path(sys.argv[3])
    while not stop.exists():
        store.save(account, PASSWORD)
        time.sleep(0.01)
    """
)


@contextmanager
def running(*commands: list[str], env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    children = [subprocess.Popen(command, env=env) for command in commands]
    try:
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=60)


def test_two_saves_and_an_alias_change_at_once_leave_a_working_pair_and_lose_nothing(
    tmp_path: Path,
) -> None:
    env = mailsetup_env(tmp_path)
    config = Path(env["MAILSETUP_CONFIG"])
    store = AccountStore(config)
    python = [sys.executable, "-c"]
    with running(
        [*python, SAVER, str(config), "alice", str(ROUNDS)],
        [*python, SAVER, str(config), "bob", str(ROUNDS)],
        [*python, ALIASER, str(config), str(ROUNDS)],
        env=env,
    ) as children:
        while any(child.poll() is None for child in children):
            try:
                saved, secret = store.load_with_secret()
            except NoSavedAccount:
                continue  # before the first save
            who = saved.account.email.split("@")[0]
            assert secret.startswith(f"pw-{who}-"), (saved.account.email, saved.generation)
        assert [child.returncode for child in children] == [0, 0, 0]
    saved, secret = store.load_with_secret()
    assert secret.startswith(f"pw-{saved.account.email.split('@')[0]}-")
    assert secret.endswith(f"-{ROUNDS - 1}")  # each writer's last save is whole
    assert sorted(saved.alias_map) == sorted(f"name{n}" for n in range(ROUNDS))
    leftovers = sorted(p.name for p in config.parent.iterdir())
    assert leftovers == ["account.secret", "account.toml", "account.toml.lock"]


@pytest.mark.parametrize("command", ["send", "sendmail"])
def test_sends_while_the_account_is_saved_again_all_succeed(
    command: str,
    starttls_server: SmtpServer,
    certificates: Certificates,
    tmp_path: Path,
    no_keyring: None,
) -> None:
    env = mailsetup_env(tmp_path)
    config = Path(env["MAILSETUP_CONFIG"])
    AccountStore(config).save(
        other_account(starttls_server.port), PASSWORD, ca_file=certificates.ca_file
    )
    stop = tmp_path / "stop"
    resaver = [sys.executable, "-c", RESAVER, str(config), str(starttls_server.port), str(stop)]
    sends = max(ROUNDS // 4, 5)
    with running(resaver, env=env):
        time.sleep(0.2)
        for n in range(sends):
            if command == "send":
                ran = run_mailsetup(
                    "send", "--to", "alice@example.org", "--subject", f"code {n}",
                    env=env, stdin="Your code is 1.\n",
                )  # fmt: skip
                code, err = ran.code, ran.err
            else:
                finished = subprocess.run(
                    [str(BIN / "mailsetup-sendmail"), "alice@example.org"],
                    input=f"Subject: code {n}\n\nYour code is 1.\n".encode(),
                    capture_output=True, env=env, timeout=60, check=False,
                )  # fmt: skip
                code, err = finished.returncode, finished.stderr.decode()
            assert code == 0, (n, err)
        stop.touch()
    assert len(starttls_server.handler.delivered) == sends
