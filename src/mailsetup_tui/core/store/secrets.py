"""The secret beside the config: the OS keyring when one is usable, else a 0600 file.

The secret is the password, or the refresh token of a Microsoft sign-in. Every save and every
read says where it is, because an administrator must know where a credential sits.
"""

from __future__ import annotations

import contextlib
import stat
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import tomli_w

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.store.config import SCHEMA_VERSION
from mailsetup_tui.core.store.errors import SecretError
from mailsetup_tui.core.store.files import atomic_write

KEYRING_SERVICE = "mailsetup"


class SecretKind(StrEnum):
    KEYRING = "keyring"
    FILE = "file"


class SecretType(StrEnum):
    """What the secret of an account is: its password, or the refresh token of its Microsoft
    sign-in. Both live in the same place (one keyring entry, or one fallback file)."""

    PASSWORD = "password"
    REFRESH_TOKEN = "refresh_token"

    @classmethod
    def of(cls, account: Account) -> SecretType:
        return cls.PASSWORD if account.signin is None else cls.REFRESH_TOKEN

    @property
    def noun(self) -> str:
        return "password" if self is SecretType.PASSWORD else "Microsoft sign-in"

    @property
    def remedy(self) -> str:
        if self is SecretType.PASSWORD:
            return "save the account again"
        return "sign in again (mailsetup signin, or Test in the form)"


@dataclass(frozen=True)
class SecretLocation:
    """Where a password is (or would be) kept, in words an administrator can check."""

    kind: SecretKind
    where: str
    """The keyring backend and entry, or the fallback file's path."""

    def describe(self) -> str:
        if self.kind is SecretKind.KEYRING:
            return f"the system keyring ({self.where})"
        return f"the file {self.where} (mode 0600; no system keyring is available)"


class SecretState(StrEnum):
    STORED = "stored"
    MISSING = "missing"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class SecretStatus:
    """Whether an account's secret can be read, and where it is (or would be) kept."""

    type: SecretType
    location: SecretLocation
    state: SecretState
    problem: str | None = None

    def describe(self) -> str:
        if self.state is SecretState.STORED:
            return f"stored in {self.location.describe()}"
        return f"{self.state.value}: {self.problem}"


@dataclass(frozen=True)
class StoredSecret:
    """A secret as it was before a save, to put back if the save fails half-way."""

    email: str
    secret: str
    kind: SecretType


class SecretStore:
    """Where an account's secret lives: one keyring entry per address when a keyring is
    usable, otherwise the 0600 file at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def location(self, email: str) -> SecretLocation:
        backend = usable_keyring()
        if backend is None:
            return SecretLocation(SecretKind.FILE, str(self.path))
        name = type(backend).__name__
        module = type(backend).__module__.removeprefix("keyring.backends.")
        return SecretLocation(
            SecretKind.KEYRING, f"{module}.{name}, service {KEYRING_SERVICE!r}, user {email!r}"
        )

    def read(self, account: Account) -> str:
        """The stored secret of `account`: its password, or the refresh token of its Microsoft
        sign-in. `SecretError` says where it looked and why not."""
        email, kind = account.email, SecretType.of(account)
        backend = usable_keyring()
        if backend is not None:
            try:
                password = backend.get_password(KEYRING_SERVICE, email)
            except Exception as error:  # keyring backends raise their own types
                raise SecretError(
                    f"the system keyring could not be read ({_keyring_error(error)})"
                ) from None
            if isinstance(password, str):
                return password
            if not self.path.exists():
                raise SecretError(
                    f"no {kind.noun} for {email} in "
                    f"{self.location(email).describe()}; {kind.remedy}",
                    missing=True,
                )
        return self._read_file(email, kind)

    def status(self, account: Account) -> SecretStatus:
        kind, location = SecretType.of(account), self.location(account.email)
        try:
            self.read(account)
        except SecretError as error:
            state = SecretState.MISSING if error.missing else SecretState.UNREADABLE
            return SecretStatus(kind, location, state, str(error))
        return SecretStatus(kind, location, SecretState.STORED)

    def snapshot(self, account: Account | None) -> StoredSecret | None:
        """The secret stored for `account` now, to restore if a save fails; None if none."""
        if account is None:
            return None
        try:
            return StoredSecret(account.email, self.read(account), SecretType.of(account))
        except SecretError:
            return None

    def write(self, email: str, secret: str, kind: SecretType) -> SecretLocation:
        location = self.location(email)
        if location.kind is SecretKind.FILE:
            text = tomli_w.dumps({"schema": SCHEMA_VERSION, "email": email, kind.value: secret})
            try:
                atomic_write(self.path, text.encode("utf-8"))
            except OSError as error:
                raise SecretError(
                    f"the secret file {self.path} cannot be written ({error.strerror})"
                ) from None
            return location
        try:
            _keyring_module().set_password(KEYRING_SERVICE, email, secret)
        except Exception as error:  # keyring backends raise their own types
            raise SecretError(
                f"the system keyring refused the {kind.noun} ({_keyring_error(error)}); "
                "nothing was saved"
            ) from None
        # A password left in a fallback file from a keyring-less past must not linger.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return location

    def forget_keyring_entry(self, email: str) -> None:
        """Drop the keyring entry of an address the account no longer uses (best effort)."""
        with contextlib.suppress(Exception):
            _keyring_module().delete_password(KEYRING_SERVICE, email)

    def restore(self, email: str, previous: StoredSecret | None) -> None:
        """Undo `write(email, ...)`: put `previous` back, or remove what was written."""
        with contextlib.suppress(Exception):
            if previous is not None:
                self.write(previous.email, previous.secret, previous.kind)
            if previous is None or previous.email != email:
                if usable_keyring() is not None:
                    _keyring_module().delete_password(KEYRING_SERVICE, email)
                else:
                    self.path.unlink(missing_ok=True)

    def _read_file(self, email: str, kind: SecretType) -> str:
        path = self.path
        try:
            info = path.stat()
        except FileNotFoundError:
            raise SecretError(
                f"the secret file {path} does not exist; {kind.remedy}", missing=True
            ) from None
        except OSError as error:
            raise SecretError(f"the secret file {path} cannot be read ({error.strerror})") from None
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise SecretError(
                f"the secret file {path} is open to other users (mode {mode:04o}); "
                f"run: chmod 600 {path}"
            )
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise SecretError(f"the secret file {path} cannot be read ({error.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            raise SecretError(f"the secret file {path} is damaged; {kind.remedy}") from None
        if data.get("email") != email or not isinstance(data.get(kind.value), str):
            raise SecretError(
                f"the secret file {path} holds no {kind.noun} for {email}; {kind.remedy}",
                missing=True,
            )
        secret: str = data[kind.value]
        return secret


def _keyring_module() -> Any:
    # Deferred: importing keyring probes for backends (D-Bus and friends), which `--help`,
    # validation and the form's first paint must not wait for.
    import keyring

    return keyring


def usable_keyring() -> Any | None:
    """The keyring backend, or None where keyring has only its fail/null stand-ins."""
    keyring = _keyring_module()
    from keyring.backends import chainer, fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def _keyring_error(error: BaseException) -> str:
    return str(error) or type(error).__name__
