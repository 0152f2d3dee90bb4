"""The config store and the secret: round trip, file modes, atomicity, damaged files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import keyring
import pytest

from mailsetup_tui.core.account import Account, AccountDraft
from mailsetup_tui.core.credential import Password
from mailsetup_tui.core.providers import ProviderId, Security
from mailsetup_tui.core.session import SetupSession, Tested
from mailsetup_tui.core.store import (
    KEYRING_SERVICE,
    AccountStore,
    SecretError,
    SecretPlace,
    SecretState,
    StoreError,
    resolve_config,
    resolve_config_path,
)
from mailsetup_tui.core.store.types import Chosen, ConfigLocation

from support.cli import mailsetup_env, run_mailsetup
from support.keyrings import MemoryKeyring

PASSWORD = "S3cret-app-pass-4711"
GMAIL = Account.create(ProviderId.GMAIL, "Überprüfung", "codes@gmail.com")
OTHER = Account.create(
    ProviderId.OTHER,
    "Codes",
    "codes@example.com",
    server="smtp.example.com",
    port=2525,
    security=Security.STARTTLS,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- where ----------------------------------------------------------------------------------


def test_config_lookup_order(tmp_path: Path, sandbox: Path) -> None:
    explicit = tmp_path / "explicit.toml"
    env = {"MAILSETUP_CONFIG": "/env.toml"}
    assert resolve_config(explicit, env, euid=1000) == ConfigLocation(explicit, Chosen.OPTION)
    assert resolve_config(None, env, euid=0) == ConfigLocation(
        Path("/env.toml"), Chosen.ENVIRONMENT
    )
    system = Path("/etc/mailsetup/account.toml")
    # Root keeps the system account; a service user without an account of its own uses it.
    assert resolve_config(None, {}, euid=0) == ConfigLocation(system, Chosen.ROOT)
    own = sandbox / ".config" / "mailsetup" / "account.toml"
    installed = tmp_path / "etc" / "account.toml"
    with_system = {"MAILSETUP_SYSTEM_CONFIG": str(installed)}
    # Neither exists: a user's new account is their own; once root saved one, they use it.
    assert resolve_config(None, with_system, euid=1000) == ConfigLocation(own, Chosen.NEW_OWN)
    installed.parent.mkdir()
    installed.write_text("")
    fallback = ConfigLocation(installed, Chosen.FALLBACK)
    assert resolve_config(None, with_system, euid=1000) == fallback
    own.parent.mkdir(parents=True)
    own.write_text("")
    assert resolve_config(None, with_system, euid=1000) == ConfigLocation(own, Chosen.OWN)
    assert resolve_config(None, {}, euid=0).path == system  # root: the system account, always
    moved = {"MAILSETUP_SYSTEM_CONFIG": "/srv/mailsetup/account.toml"}
    assert resolve_config(None, moved, euid=0).path == Path("/srv/mailsetup/account.toml")
    assert resolve_config_path(None, env) == Path("/env.toml")


# --- round trip and modes -------------------------------------------------------------------


@pytest.mark.parametrize("account", [GMAIL, OTHER], ids=["gmail", "other"])
def test_round_trip_keeps_the_account_and_not_the_password(
    store: AccountStore, account: Account, memory_keyring: MemoryKeyring
) -> None:
    report = store.save(account, PASSWORD)
    assert store.load() == account
    text = store.path.read_text()
    assert PASSWORD not in text
    assert "schema = 1" in text
    assert report.secret.place is SecretPlace.KEYRING
    assert memory_keyring.entries == {(KEYRING_SERVICE, f"{account.email}#1"): PASSWORD}
    assert store.read_secret(account) == PASSWORD


def test_presets_store_only_what_the_user_chose(store: AccountStore) -> None:
    store.save(GMAIL, PASSWORD)
    text = store.path.read_text()
    assert 'smtp_mail = "gmail"' in text
    assert "server" not in text and "port" not in text


def test_files_are_0600_and_new_directories_0700(tmp_path: Path, no_keyring: None) -> None:
    store = AccountStore(tmp_path / "new" / "deeper" / "account.toml")
    store.save(OTHER, PASSWORD)
    assert mode(store.path) == 0o600
    assert mode(store.secret_path) == 0o600
    assert mode(store.path.parent) == 0o700
    assert mode(store.path.parent.parent) == 0o700


def test_existing_directories_keep_their_mode(tmp_path: Path) -> None:
    shared = tmp_path / "etc"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)  # noqa: S103  (a shared dir such as /etc)
    AccountStore(shared / "account.toml").save(OTHER, PASSWORD)
    assert mode(shared) == 0o755


def test_no_saved_account_loads_as_none(store: AccountStore) -> None:
    assert store.load() is None


def test_gmail_password_is_stored_without_grouping_spaces(store: AccountStore) -> None:
    # The session saves the password a test used, as the server took it (`Password.of`); the
    # store keeps exactly what it is given.
    draft = AccountDraft.of(GMAIL, "abcd efgh ijkl mnop")
    session = SetupSession(store)
    used = Password.of(GMAIL, draft.password)
    session.tested = Tested(draft, GMAIL, used.secret, None)
    session.save(draft)
    assert store.read_secret(GMAIL) == "abcdefghijklmnop"


def test_changing_the_address_removes_the_old_keyring_entry(
    store: AccountStore, memory_keyring: MemoryKeyring
) -> None:
    store.save(GMAIL, PASSWORD)
    renamed = Account.create(ProviderId.GMAIL, "Codes", "other@gmail.com")
    store.save(renamed, "new-password")
    assert memory_keyring.entries == {(KEYRING_SERVICE, "other@gmail.com#2"): "new-password"}


# --- the fallback secret file ---------------------------------------------------------------


def test_without_a_keyring_the_secret_goes_to_a_0600_file(
    store: AccountStore, no_keyring: None
) -> None:
    report = store.save(OTHER, PASSWORD)
    assert report.secret.place is SecretPlace.FILE
    assert report.secret.where == str(store.secret_path)
    assert "no system keyring is available" in report.secret.describe()
    assert mode(store.secret_path) == 0o600
    assert PASSWORD not in store.path.read_text()
    assert store.read_secret(OTHER) == PASSWORD


def test_a_secret_file_open_to_others_is_refused(store: AccountStore, no_keyring: None) -> None:
    store.save(OTHER, PASSWORD)
    os.chmod(store.secret_path, 0o644)
    with pytest.raises(SecretError, match=r"open to other users \(mode 0644\); run: chmod 600"):
        store.read_secret(OTHER)
    status = store.secret_status(OTHER)
    assert status.state is SecretState.UNREADABLE


def test_a_missing_secret_says_so(store: AccountStore, no_keyring: None) -> None:
    store.save(OTHER, PASSWORD)
    store.secret_path.unlink()
    with pytest.raises(SecretError, match="does not exist; save the account again"):
        store.read_secret(OTHER)
    assert store.secret_status(OTHER).state is SecretState.MISSING


def test_a_damaged_secret_file_says_so(store: AccountStore, no_keyring: None) -> None:
    store.save(OTHER, PASSWORD)
    store.secret_path.write_text("password = [unterminated")
    with pytest.raises(SecretError, match="is damaged"):
        store.read_secret(OTHER)


def test_moving_to_a_keyring_removes_the_fallback_file(
    store: AccountStore, memory_keyring: MemoryKeyring
) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    store.save(OTHER, PASSWORD)
    assert store.secret_path.exists()
    keyring.set_keyring(memory_keyring)
    store.save(OTHER, PASSWORD)
    assert not store.secret_path.exists()
    assert store.read_secret(OTHER) == PASSWORD


def test_a_keyring_that_refuses_is_reported_and_nothing_is_saved(store: AccountStore) -> None:
    class LockedKeyring(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.KeyringLocked("the collection is locked")

    keyring.set_keyring(LockedKeyring())
    with pytest.raises(SecretError, match=r"refused the password .*locked.*nothing was saved"):
        store.save(OTHER, PASSWORD)
    assert not store.path.exists()
    assert not store.secret_path.exists()


def test_a_failed_config_write_restores_the_previous_secret(
    store: AccountStore, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(OTHER, "old-password")

    def read_only_filesystem(src: object, dst: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", read_only_filesystem)
    with pytest.raises(StoreError, match=r"cannot be written \(Read-only file system\)"):
        store.save(OTHER, "new-password")
    monkeypatch.undo()
    assert store.read_secret(OTHER) == "old-password"
    assert store.load() == OTHER


# --- damaged and hand-edited configs --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('schema = 1\n[account\nsmtp_mail = "gmail"\n', r"account.toml:2:\d+: not valid TOML"),
        ("[account]\n", "schema is missing; this mailsetup reads schema = 1"),
        ("schema = 2\n", "schema is 2"),
        ("schema = 1\n", r"the \[account\] table is missing"),
        ('schema = 1\n[account]\nsmtp_mail = "aol"\n', "smtp_mail is 'aol'; choose one of"),
        (
            'schema = 1\n[account]\nsmtp_mail = "gmail"\ndisplay_name = "C"\n'
            'email = "c@gmail.com"\nservr = "x"\n',
            "unknown key 'servr'",
        ),
        (
            'schema = 1\n[account]\nsmtp_mail = "gmail"\ndisplay_name = "C"\n'
            'email = "c@gmail.com"\nport = 25\n',
            "port is fixed for smtp_mail = 'gmail'",
        ),
        (
            'schema = 1\n[account]\nsmtp_mail = "other"\ndisplay_name = "C"\n'
            'email = "c@example.com"\nserver = "smtp.example.com"\nport = "587"\n',
            "port must be a int, not '587'",
        ),
        (
            'schema = 1\n[account]\nsmtp_mail = "gmail"\ndisplay_name = "C"\n'
            'email = "c@example.com"\n',
            "Email: a Gmail address must end in @gmail.com",
        ),
        ('schema = 1\n[account]\nsmtp_mail = "gmail"\n', "display_name is missing"),
    ],
)
def test_a_bad_config_is_reported_with_path_and_place(
    store: AccountStore, text: str, message: str
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(text)
    with pytest.raises(StoreError, match=message) as caught:
        store.load()
    assert str(store.path) in str(caught.value)
    assert store.path.read_text() == text  # reading never rewrites


def test_an_unreadable_config_is_reported(store: AccountStore) -> None:
    store.path.mkdir(parents=True)  # unreadable as a file, whoever runs the test
    with pytest.raises(StoreError, match=r"account.toml: cannot be read \(Is a directory\)"):
        store.load()


def test_a_binary_config_is_reported(store: AccountStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StoreError, match="not a text file"):
        store.load()


def test_saving_over_a_corrupt_config_keeps_it_as_a_backup(store: AccountStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("this is [not toml")
    report = store.save(OTHER, PASSWORD)
    assert report.backup_path is not None
    assert report.backup_path.read_text() == "this is [not toml"
    assert store.load() == OTHER


# --- atomicity ------------------------------------------------------------------------------


def test_a_crash_mid_write_leaves_the_old_file(store: AccountStore, tmp_path: Path) -> None:
    store.save(OTHER, PASSWORD)
    before = store.path.read_bytes()
    # A real process dies (os._exit, no cleanup) after writing and syncing the new file but
    # before the rename that would publish it.
    script = textwrap.dedent(
        f"""
        import os, keyring
        import keyring.backends.fail
        keyring.set_keyring(keyring.backends.fail.Keyring())
        from pathlib import Path
        from mailsetup_tui.core.store import account_to_toml, files
        from mailsetup_tui.core.account import Account

        def die(src, dst):
            os._exit(9)

        files.os.replace = die
        account = Account.create("gmail", "Crash", "crash@gmail.com")
        files.atomic_write(Path({str(store.path)!r}), account_to_toml(account).encode())
        """
    )
    finished = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert finished.returncode == 9
    assert store.path.read_bytes() == before
    assert store.load() == OTHER


def test_a_failed_write_leaves_no_temp_file(
    store: AccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(OTHER, PASSWORD)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StoreError, match="No space left on device"):
        store.save(GMAIL, PASSWORD)
    monkeypatch.undo()
    assert store.load() == OTHER
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "account.toml",
        "account.toml.lock",
    ]


@pytest.mark.parametrize("where", ["keyring", "file"])
def test_a_first_save_whose_config_cannot_be_written_leaves_no_secret(
    where: str, store: AccountStore, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "file":
        keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    from mailsetup_tui.core.store import account_store

    def config_fails(path: Path, data: bytes, *, group: int | None = None) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(account_store, "atomic_write", config_fails)
    with pytest.raises(StoreError, match="No space left on device"):
        store.save(OTHER, PASSWORD)
    assert not store.secret_path.exists()
    assert PASSWORD not in memory_keyring.entries.values()


def test_the_next_command_clears_what_a_killed_save_left(tmp_path: Path) -> None:
    env = mailsetup_env(tmp_path)
    config = Path(env["MAILSETUP_CONFIG"])
    config.parent.mkdir(mode=0o700)
    # A save killed between its writes: a temporary file, and a secret that no config names.
    stale = config.parent / ".account.secret.k1ll3d.tmp"
    stale.write_text(f"password = {PASSWORD!r}\n")
    secret = config.with_name("account.secret")
    secret.write_text(f"password = {PASSWORD!r}\n")
    secret.chmod(0o600)
    ran = run_mailsetup("show", env=env)
    assert ran.code == 3  # no saved account
    assert not stale.exists() and not secret.exists()


@pytest.mark.parametrize(("failing", "said"), [(1, "cannot be written"), (2, "power cut")])
def test_a_directory_that_cannot_be_synced_fails_the_save_and_keeps_a_working_pair(
    failing: int, said: str, store: AccountStore, no_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The directory's fsync after the secret's rename (1), or after the config's (2).
    store.save(OTHER, PASSWORD)
    real_fsync = os.fsync
    synced_directories = 0

    def directory_fails(fd: int) -> None:
        nonlocal synced_directories
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            synced_directories += 1
            if synced_directories == failing:
                raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", directory_fails)
    with pytest.raises(StoreError, match=said):
        store.save(GMAIL, "gmail-app-password")
    monkeypatch.undo()
    # Whichever config is on disk finds its own secret.
    config, secret = store.load_with_secret()
    assert secret == {OTHER: PASSWORD, GMAIL: "gmail-app-password"}[config.account]
