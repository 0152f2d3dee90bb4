"""The saved account's files, as an administrator meets them: the CA travels with the account,
untrusted places are refused, a crash at any instant of a save leaves a working pair, a stray
password variable does not break the saved account, and no secret can end up in a core dump.
(Readers and owners as real users: test_service_access.py, as root.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailsetup_tui.core.outcomes import renewal_text
from mailsetup_tui.core.probe import probe
from mailsetup_tui.core.store import AccountStore, SecretError, StoreError

from support.cli import mailsetup_env, run_mailsetup
from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Authenticator,
    Certificates,
    SmtpServer,
    other_account,
    run_smtp_server,
)

TESTS = Path(__file__).resolve().parent
README = TESTS.parent / "README.md"


def account_args(port: int, *extra: str) -> list[str]:
    return [
        "--smtp-mail", "other", "--display-name", "Codes", "--email", LOGIN,
        "--server", HOST, "--port", str(port), *extra,
    ]  # fmt: skip


def save_with_ca(env: dict[str, str], server: SmtpServer, certificates: Certificates) -> None:
    """`mailsetup save` of an account on `server`, trusting the test CA with --ca-file."""
    saved = run_mailsetup(
        "save", *account_args(server.port, "--password-stdin"),
        "--ca-file", str(certificates.ca_file), env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert saved.code == 0, saved.out + saved.err


# --- the CA travels with the account --------------------------------------------------------


def test_the_ca_file_given_at_save_is_used_by_later_tests_sends_and_the_api(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path)
    save_with_ca(env, starttls_server, certificates)
    config = tmp_path / "config" / "account.toml"
    assert f'ca_file = "{certificates.ca_file}"' in config.read_text()
    assert run_mailsetup("test", env=env).code == 0
    sent = run_mailsetup("send", "--to", "alice@example.org", env=env, stdin="Code 1\n")
    assert sent.code == 0, sent.out + sent.err
    shown = run_mailsetup("show", env=env)
    assert f"Trusted CA:       {certificates.ca_file}" in shown.out
    api = subprocess.run(
        [sys.executable, "-c", "from mailsetup_tui.core.mailer import Mailer\n"
         "Mailer.from_saved().send('bob@example.org', 'Code', 'Code 2')"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert api.returncode == 0, api.stderr


def test_a_ca_given_now_overrides_the_saved_one(
    starttls_server: SmtpServer,
    certificates: Certificates,
    foreign_certificates: Certificates,
    tmp_path: Path,
) -> None:
    env = mailsetup_env(tmp_path)
    save_with_ca(env, starttls_server, certificates)
    other = run_mailsetup("test", "--ca-file", str(foreign_certificates.ca_file), env=env)
    assert other.code == 1 and "certificate is not trusted" in other.lines[1]


# --- untrusted places -------------------------------------------------------------------------


def test_a_config_in_a_directory_others_may_write_is_refused(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path)
    save_with_ca(env, starttls_server, certificates)
    directory = tmp_path / "config"
    directory.chmod(0o777)  # anyone could replace account.toml with a server of theirs
    try:
        for command in (["test"], ["send", "--to", "a@example.org"], ["show"]):
            ran = run_mailsetup(*command, env=env, stdin="x\n")
            assert ran.code == 3, (command, ran.out, ran.err)
            assert f"{directory} is writable by others (mode 0777)" in ran.err
            assert "chmod go-w" in ran.err
    finally:
        directory.chmod(0o700)
    assert starttls_server.handler.delivered == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_a_config_in_another_users_directory_is_refused(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path)
    save_with_ca(env, starttls_server, certificates)
    directory = tmp_path / "config"
    logins_before = len(starttls_server.auth_attempts)
    os.chown(directory, 65534, 65534)  # nobody: could swap the config for one of theirs
    ran = run_mailsetup("send", "--to", "a@example.org", env=env, stdin="x\n")
    assert ran.code == 3
    assert f"{directory} belongs to nobody, not to root" in ran.err
    assert len(starttls_server.auth_attempts) == logins_before  # the password never left


def test_the_secret_file_may_be_open_to_the_readers_group_only(
    store: AccountStore, no_keyring: None
) -> None:
    store.save(other_account(25), PASSWORD)
    secret = store.secret_path
    for mode, words in [(0o604, "open to other users"), (0o640, "not the account's readers")]:
        secret.chmod(mode)
        with pytest.raises(SecretError, match=words):
            store.read_secret(other_account(25))
    secret.chmod(0o600)
    assert store.read_secret(other_account(25)) == PASSWORD


# --- a crash-safe save ----------------------------------------------------------------------

CRASH = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    import keyring, keyring.backends.fail
    keyring.set_keyring(keyring.backends.fail.Keyring())
    from pathlib import Path
    from mailsetup_tui.core.store import AccountStore
    from support.servers import other_account

    real, calls = os.replace, 0

    def replace(source, target):
        global calls
        calls += 1
        if calls == {step} and {before}:
            os._exit(9)  # the new file is written and synced, not yet in place
        real(source, target)
        if calls == {step}:
            os._exit(9)

    os.replace = replace
    AccountStore(Path({path!r})).save(other_account({port}), "new-password")
    print(calls)
    """
)


@pytest.mark.parametrize("before", [True, False], ids=["before-rename", "after-rename"])
@pytest.mark.parametrize("step", [1, 2, 3])
async def test_a_save_killed_at_any_step_leaves_a_working_account(
    certificates: Certificates, tmp_path: Path, no_keyring: None, step: int, before: bool
) -> None:
    old_auth = Authenticator(password="old-password")
    new_auth = Authenticator(password="new-password")
    with (
        run_smtp_server("starttls", certificates, authenticator=old_auth) as old_server,
        run_smtp_server("starttls", certificates, authenticator=new_auth) as new_server,
    ):
        store = AccountStore(tmp_path / "config" / "account.toml")
        store.save(other_account(old_server.port), "old-password")
        script = CRASH.format(
            tests=str(TESTS), step=step, before=before, path=str(store.path), port=new_server.port
        )
        killed = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
        assert killed.returncode == 9, killed.stdout + killed.stderr
        account = store.load()
        assert account is not None
        secret = store.read_secret(account)
        assert (account.port, secret) in {
            (old_server.port, "old-password"),
            (new_server.port, "new-password"),
        }
        result = await probe(account, secret, timeout=5, ca_file=certificates.ca_file)
        assert result.ok, result.failure
        # The next save finishes the job and leaves no temporary file (one may hold a secret).
        store.save(other_account(new_server.port), "new-password")
        leftovers = [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []
        assert store.read_secret(other_account(new_server.port)) == "new-password"


def test_a_whole_save_renames_three_times(tmp_path: Path, no_keyring: None) -> None:
    # The crash test's steps cover the whole save: secret (both generations), config, secret.
    store = AccountStore(tmp_path / "config" / "account.toml")
    store.save(other_account(25), "old-password")
    script = CRASH.format(tests=str(TESTS), step=99, before=False, path=str(store.path), port=26)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "3"


# --- where a password may come from ---------------------------------------------------------


def test_a_stray_password_variable_does_not_break_the_saved_account(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path)
    save_with_ca(env, starttls_server, certificates)
    stray = env | {"MAILSETUP_PASSWORD": "left-over-from-another-script"}
    ran = run_mailsetup("test", env=stray)
    assert ran.code == 0, ran.out + ran.err
    assert "MAILSETUP_PASSWORD is ignored" in ran.err
    assert "left-over-from-another-script" not in ran.out + ran.err


def test_password_stdin_with_a_value_is_refused_without_echo(tmp_path: Path) -> None:
    ran = run_mailsetup("test", "--password-stdin=hunter2-secret", env=mailsetup_env(tmp_path))
    assert ran.code == 2
    assert "--password-stdin takes no value" in ran.err
    assert "hunter2-secret" not in ran.out + ran.err


# --- clear text -------------------------------------------------------------------------------


def test_a_saved_clear_text_account_warns_at_every_test_and_send(
    cleartext_auth_server: SmtpServer, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path)
    saved = run_mailsetup(
        "save", *account_args(cleartext_auth_server.port, "--security", "none", "--password-stdin"),
        env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert saved.code == 0, saved.out + saved.err
    for command in (["test"], ["send", "--to", "a@example.org"]):
        ran = run_mailsetup(*command, env=env, stdin="Code\n")
        assert ran.code == 0, ran.out + ran.err
        assert "warning: Security None sends the password unencrypted" in ran.err


# --- core dumps -------------------------------------------------------------------------------


def test_mailsetup_never_dumps_core(tmp_path: Path) -> None:
    env = mailsetup_env(tmp_path)
    mailsetup = shutil.which("mailsetup", path=str(Path(sys.executable).parent))
    assert mailsetup is not None
    # `send` waits for its body on standard input: a process holding what it read so far.
    waiting = subprocess.Popen(
        [mailsetup, "send", "--to", "a@example.org"], stdin=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + 10
        limits = ""
        while "Max core file size" not in limits and time.monotonic() < deadline:
            limits = Path(f"/proc/{waiting.pid}/limits").read_text()
            time.sleep(0.05)
        time.sleep(0.3)
        limits = Path(f"/proc/{waiting.pid}/limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
    finally:
        waiting.kill()
        waiting.wait(5)
    check = subprocess.run(
        [sys.executable, "-c", "from mailsetup_tui.core.hardening import no_core_dumps, "
         "dumpable\nno_core_dumps()\nprint(dumpable())"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert check.stdout.strip() == "False"


# --- Microsoft sign-in's 90 days --------------------------------------------------------------


def test_show_warns_well_before_an_unused_sign_in_expires() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    fresh = renewal_text(now - timedelta(days=3), now)
    assert fresh == "renewed 2026-11-22 (3 days ago)"
    stale = renewal_text(now - timedelta(days=61), now)
    assert stale is not None and "unused for 90 days" in stale and "mailsetup test" in stale
    assert renewal_text(None, now) is None


# --- the README's line-mode example -----------------------------------------------------------


def test_the_readmes_line_mode_example_works_as_written(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    text = README.read_text()
    start = text.index("$ printf '%s\\n' o ")
    command = text[
        start + 2 : text.index("| mailsetup --plain", start) + len("| mailsetup --plain")
    ]
    command = command.replace("\\\n", " ")
    command = command.replace("smtp.example.com", HOST).replace(
        " 587 ", f" {starttls_server.port} "
    )
    command = command.replace("codes@example.com", LOGIN)
    env = mailsetup_env(tmp_path, PASSWORD=PASSWORD, SSL_CERT_FILE=str(certificates.ca_file))
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    ran = subprocess.run(
        ["/bin/bash", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Connected successfully" in ran.stdout
    assert "Saved to" in ran.stdout
    assert PASSWORD not in ran.stdout + ran.stderr


def test_store_errors_are_store_errors(tmp_path: Path) -> None:
    # An unreadable file is a clear StoreError, never a crash.
    store = AccountStore(tmp_path / "config" / "account.toml")
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"\xff\xfe")
    with pytest.raises(StoreError, match="not a text file"):
        store.load()
