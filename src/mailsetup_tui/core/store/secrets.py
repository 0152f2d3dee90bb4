"""The secret beside the config: the OS keyring for a personal account when one is usable,
otherwise a file readable by its owner (and the account's readers group, if it has one).

The secret is the password, or the refresh token of a Microsoft sign-in. Every save and every
read says where it is, because an administrator must know where a credential sits.

Secrets are kept by generation: the config names the generation that goes with it, and a save
writes the new generation beside the old before it writes the config, then drops the old. So
whatever instant a save is killed at, the config on disk finds its own secret.
"""

from __future__ import annotations

import contextlib
import grp
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.store.files import atomic_write, group_name, owner_name
from mailsetup_tui.core.store.types import (
    SecretError,
    SecretLocation,
    SecretPlace,
    SecretState,
    SecretStatus,
    SecretType,
)

KEYRING_SERVICE = "mailsetup"
SECRET_SCHEMA = 2
"""The secret file's format: a list of records by generation (1: one record, generation 0)."""


class Record:
    """One generation of an account's secret.

    A plain class whose `repr` names no secret: a dataclass would cost the form's start-up
    its generated methods, compiled (ARCHITECTURE.md), and a tuple would give the secret to
    anything that iterates it.
    """

    __slots__ = ("email", "generation", "kind", "renewed", "secret")

    def __init__(
        self,
        generation: int,
        email: str,
        kind: SecretType,
        secret: str,
        renewed: datetime | None = None,
    ) -> None:
        self.generation = generation
        self.email = email
        self.kind = kind
        self.secret = secret
        self.renewed = renewed

    def __repr__(self) -> str:
        return f"Record({self.generation}, {self.email!r}, {self.kind.name})"


class SecretStore:
    """Where the secrets of one config live: the keyring (`keyring` True and one usable), one
    entry per address and generation; otherwise the file at `path`."""

    def __init__(self, path: Path, *, keyring: bool = True, group: str | None = None) -> None:
        self.path = path
        self.allow_keyring = keyring and group is None
        """A system account's secret, or one shared with a group, must be in the file: a
        keyring is one user's."""
        self.group = group

    # --- where ------------------------------------------------------------------------------

    def _backend(self) -> Any | None:
        return usable_keyring() if self.allow_keyring else None

    def location(self, email: str, generation: int = 0) -> SecretLocation:
        backend = self._backend()
        if backend is not None:
            name = type(backend).__name__
            module = type(backend).__module__.removeprefix("keyring.backends.")
            return SecretLocation(
                SecretPlace.KEYRING,
                f"{module}.{name}, service {KEYRING_SERVICE!r}, user "
                f"{_keyring_user(email, generation)!r}",
            )
        if self.group is not None:
            why = f"mode 0640; readable by the group {self.group}"
        elif not self.allow_keyring:
            why = "mode 0600; a system account's secret is never kept in a keyring"
        else:
            why = "mode 0600; no system keyring is available"
        return SecretLocation(SecretPlace.FILE, str(self.path), why)

    # --- reading ----------------------------------------------------------------------------

    def read(self, account: Account, generation: int = 0) -> str:
        """The stored secret of `account` at `generation`: its password, or the refresh token
        of its Microsoft sign-in. `SecretError` says where it looked and why not."""
        return self.record(account, generation).secret

    def record(self, account: Account, generation: int = 0) -> Record:
        email, kind = account.email, SecretType.of(account)
        backend = self._backend()
        if backend is not None:
            try:
                secret = backend.get_password(KEYRING_SERVICE, _keyring_user(email, generation))
            except Exception as error:  # keyring backends raise their own types
                raise SecretError(
                    f"the system keyring could not be read ({_keyring_error(error)})"
                ) from None
            if isinstance(secret, str):
                return Record(generation, email, kind, secret)
            if not self.path.exists():
                raise SecretError(
                    f"no {kind.noun} for {email} in {self.location(email).describe()}; "
                    f"{kind.remedy}",
                    missing=True,
                )
        for record in self._records(kind):
            if record.generation == generation and record.email == email:
                return record
        raise SecretError(
            f"the secret file {self.path} holds no {kind.noun} for {email}; {kind.remedy}",
            missing=True,
        )

    def status(self, account: Account, generation: int = 0) -> SecretStatus:
        kind, location = SecretType.of(account), self.location(account.email, generation)
        try:
            record = self.record(account, generation)
        except SecretError as error:
            state = SecretState.MISSING if error.missing else SecretState.UNREADABLE
            return SecretStatus(kind, location, state, str(error))
        return SecretStatus(kind, location, SecretState.STORED, renewed=record.renewed)

    def _records(self, kind: SecretType) -> list[Record]:
        path = self.path
        try:
            info = path.stat()
        except FileNotFoundError:
            raise SecretError(
                f"the secret file {path} does not exist; {kind.remedy}", missing=True
            ) from None
        except OSError as error:
            raise _unreadable(path, error) from None
        self._check_mode(info)
        import tomllib  # only a file that exists is parsed: a new account's start needs none

        try:
            return _parse_records(tomllib.loads(path.read_text(encoding="utf-8")))
        except OSError as error:
            raise _unreadable(path, error) from None
        except (ValueError, RecursionError):  # not TOML, not UTF-8, not our records
            raise SecretError(f"the secret file {path} is damaged; {kind.remedy}") from None

    def _check_mode(self, info: os.stat_result) -> None:
        """Owner root or the running user; group access only for the account's readers group,
        read only; nothing for others. Anything else was opened by hand or by someone else."""
        path, mode = self.path, stat.S_IMODE(info.st_mode)
        if info.st_uid not in {0, os.geteuid()}:
            raise SecretError(
                f"the secret file {path} belongs to {owner_name(info.st_uid)}, not to root or "
                f"{owner_name(os.geteuid())}: it is not used; save the account again"
            )
        if mode & 0o007:
            raise SecretError(
                f"the secret file {path} is open to other users (mode {mode:04o}); "
                f"run: chmod 600 {path}"
            )
        if mode & 0o070:
            readers = _gid(self.group) if self.group else None
            if readers is None or info.st_gid != readers or mode & 0o030:
                given = f"; or to share it: mailsetup access --group {group_name(info.st_gid)}"
                raise SecretError(
                    f"the secret file {path} is open to the group {group_name(info.st_gid)} "
                    f"(mode {mode:04o}), which is not the account's readers group "
                    f"({self.group or 'none'}); run: chmod 600 {path}"
                    + ("" if mode & 0o030 else given)
                )

    # --- writing ----------------------------------------------------------------------------

    def write(self, record: Record, *, keep: tuple[Record, ...] = ()) -> SecretLocation:
        """Store `record`, keeping `keep` beside it (the generation the config on disk still
        names, until the new config is written)."""
        location = self.location(record.email, record.generation)
        if location.place is SecretPlace.KEYRING:
            try:
                _keyring_module().set_password(
                    KEYRING_SERVICE, _keyring_user(record.email, record.generation), record.secret
                )
            except Exception as error:  # keyring backends raise their own types
                raise SecretError(
                    f"the system keyring refused the {record.kind.noun} "
                    f"({_keyring_error(error)}); nothing was saved"
                ) from None
            return location
        records = [r for r in keep if r.generation != record.generation] + [record]
        self._write_file(records)
        return location

    def prune(self, current: Record, previous: tuple[Record, ...]) -> None:
        """Drop every generation but `current` (after the config naming it was written): the
        file keeps one record, and old keyring entries (another address, an older generation)
        go. Best effort: a leftover is harmless and goes at the next save."""
        try:
            if self.location(current.email).place is SecretPlace.KEYRING:
                for old in previous:
                    if (old.email, old.generation) != (current.email, current.generation):
                        self.forget_keyring_entry(old.email, old.generation)
                # A password left in a file from a keyring-less past must not linger.
                self.path.unlink(missing_ok=True)
            else:
                self._write_file([current])
        except (OSError, SecretError):
            pass

    def discard(self, record: Record) -> None:
        """Take back `record`, the only secret of a first save whose config could not be
        written: a password must not stay where no config names it. Best effort."""
        if self.location(record.email).place is SecretPlace.KEYRING:
            self.forget_keyring_entry(record.email, record.generation)
        else:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)

    def replace(self, record: Record) -> None:
        """Store a newer secret for the same generation (a rotated refresh token)."""
        self.write(record, keep=())

    def forget_keyring_entry(self, email: str, generation: int) -> None:
        try:
            _keyring_module().delete_password(KEYRING_SERVICE, _keyring_user(email, generation))
        except Exception:  # noqa: S110  (best effort: the entry may be gone already)
            pass

    def _write_file(self, records: list[Record]) -> None:
        import tomli_w  # only a save writes TOML: the form's start-up reads at most

        text = tomli_w.dumps(
            {"schema": SECRET_SCHEMA, "secret": [_record_table(r) for r in records]}
        )
        gid = _gid(self.group) if self.group else None
        try:
            atomic_write(self.path, text.encode("utf-8"), group=gid)
        except OSError as error:
            raise SecretError(
                f"the secret file {self.path} cannot be written ({error.strerror})"
            ) from None


def _keyring_user(email: str, generation: int) -> str:
    return email if generation == 0 else f"{email}#{generation}"


def _record_table(record: Record) -> dict[str, Any]:
    table: dict[str, Any] = {"generation": record.generation, "email": record.email}
    table[record.kind.value] = record.secret
    if record.renewed is not None:
        table["renewed"] = record.renewed
    return table


def _unreadable(path: Path, error: OSError) -> SecretError:
    return SecretError(
        f"the secret file {path} cannot be read ({error.strerror})",
        permission=isinstance(error, PermissionError),
    )


def _parse_records(data: dict[str, Any]) -> list[Record]:
    if data.get("schema") == 1:  # one record, from before generations
        data = {"secret": [data | {"generation": 0}]}
    records = []
    tables = data.get("secret", [])
    if not isinstance(tables, list):
        raise ValueError("[[secret]] is not a list of tables")
    for table in tables:
        if not isinstance(table, dict):
            continue
        for kind in SecretType:
            value = table.get(kind.value)
            generation, email = table.get("generation"), table.get("email")
            if isinstance(value, str) and isinstance(generation, int) and isinstance(email, str):
                renewed = table.get("renewed")
                records.append(
                    Record(
                        generation,
                        email,
                        kind,
                        value,
                        renewed if isinstance(renewed, datetime) else None,
                    )
                )
    return records


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _gid(group: str) -> int | None:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return None


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
