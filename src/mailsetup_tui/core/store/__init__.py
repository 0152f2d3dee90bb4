"""Where a saved account lives: a TOML config file and a secret kept apart from it.

The config never holds the password (`config`); the secret goes to the OS keyring when one is
usable and, on a headless server without one, to a 0600 file beside the config (`secrets`);
both are written atomically (`files`). This module keeps the two a pair.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mailsetup_tui.core.account import Account, MicrosoftSignIn
from mailsetup_tui.core.store.config import (
    CONFIG_ENV,
    CONFIG_FILE_NAME,
    SCHEMA_VERSION,
    account_from_toml,
    account_to_toml,
    default_config_path,
    resolve_config_path,
)
from mailsetup_tui.core.store.errors import SecretError, StoreError
from mailsetup_tui.core.store.files import atomic_write, ensure_private_dir
from mailsetup_tui.core.store.secrets import (
    KEYRING_SERVICE,
    SecretKind,
    SecretLocation,
    SecretState,
    SecretStatus,
    SecretStore,
    SecretType,
    usable_keyring,
)

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE_NAME",
    "KEYRING_SERVICE",
    "SCHEMA_VERSION",
    "AccountStore",
    "SaveReport",
    "SecretError",
    "SecretKind",
    "SecretLocation",
    "SecretState",
    "SecretStatus",
    "SecretType",
    "StoreError",
    "account_from_toml",
    "account_to_toml",
    "atomic_write",
    "default_config_path",
    "ensure_private_dir",
    "resolve_config_path",
    "usable_keyring",
]


@dataclass(frozen=True)
class SaveReport:
    """What a save did, for the form and the CLI to tell the user."""

    config_path: Path
    secret: SecretLocation
    backup_path: Path | None = None
    """Where an unreadable config that this save replaced was kept, if there was one."""
    secret_type: SecretType = SecretType.PASSWORD


class AccountStore:
    """The saved account at `path` and its secret."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.secrets = SecretStore(self.secret_path)

    @classmethod
    def at(cls, explicit: str | os.PathLike[str] | None = None) -> AccountStore:
        return cls(resolve_config_path(explicit))

    @property
    def secret_path(self) -> Path:
        """The fallback secret file: beside the config, same stem, `.secret`."""
        return self.path.with_name(self.path.stem + ".secret")

    def load(self) -> Account | None:
        """The saved account, None if there is none; `StoreError` if it cannot be read."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise StoreError(f"{self.path}: not a text file (invalid UTF-8)") from None
        except OSError as error:
            raise StoreError(f"{self.path}: cannot be read ({error.strerror})") from None
        return account_from_toml(text, self.path)

    def save(self, account: Account, password: str) -> SaveReport:
        """Store the secret (the password, or the refresh token of a Microsoft sign-in), then
        the config; on failure, leave what was saved before.

        Callers must only save an account that passed the probe (the spec's rule): the
        session (`core.session`) is the one gate every front end goes through.
        """
        backup: Path | None = None
        previous = None
        try:
            saved = self.load()
        except StoreError:
            backup = self._move_aside_unreadable_config()
        else:
            previous = self.secrets.snapshot(saved)
        kind = SecretType.of(account)
        if kind is SecretType.PASSWORD:
            password = account.provider.normalize_password(password)
        location = self.secrets.write(account.email, password, kind)
        try:
            atomic_write(self.path, account_to_toml(account).encode("utf-8"))
        except OSError as error:
            self.secrets.restore(account.email, previous)
            raise StoreError(f"{self.path}: cannot be written ({error.strerror})") from None
        if previous and previous.email != account.email and location.kind is SecretKind.KEYRING:
            self.secrets.forget_keyring_entry(previous.email)
        return SaveReport(self.path, location, backup, kind)

    def read_secret(self, account: Account) -> str:
        """The stored secret of `account`: its password, or the refresh token of its Microsoft
        sign-in. `SecretError` says where it looked and why not."""
        return self.secrets.read(account)

    def secret_status(self, account: Account) -> SecretStatus:
        return self.secrets.status(account)

    def keeps_sign_in(self, email: str, signin: MicrosoftSignIn | None) -> bool:
        """Whether the saved account signs in as `email` through `signin` (an unreadable
        config counts as no)."""
        try:
            saved = self.load()
        except StoreError:
            return False
        return saved is not None and (saved.email, saved.signin) == (email, signin)

    def replace_refresh_token(self, account: Account, token: str) -> None:
        """Keep the newer refresh token Microsoft handed out while refreshing, if it belongs to
        the saved account's sign-in: each token extends the sign-in's lifetime, so keeping
        only the first would let a busy system's sign-in run out."""
        if self.keeps_sign_in(account.email, account.signin):
            try:
                self.secrets.write(account.email, token, SecretType.REFRESH_TOKEN)
            except SecretError:
                pass  # the old token still works; the next refresh tries again

    def _move_aside_unreadable_config(self) -> Path | None:
        """Keep a config that does not load, instead of overwriting it silently."""
        if not self.path.is_file():
            return None  # e.g. a directory in its place: the write reports that
        backup = self.path.with_name(f"{self.path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        try:
            os.replace(self.path, backup)
        except OSError as error:
            raise StoreError(
                f"{self.path}: unreadable, and cannot be moved aside ({error.strerror})"
            ) from None
        return backup
