"""What the store holds and says, without doing anything: the values a saved account is made
of, where its parts are, and the errors it raises.

Front ends may import these (to show a location, catch an error, type a value); only the
session opens the store (`AccountStore`) and acts on it.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import NamedTuple

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.relay_settings import RelaySettings

CONFIG_ENV = "MAILSETUP_CONFIG"


class StoreError(Exception):
    """The config or the secret could not be read or written; the text names the file."""

    def __init__(self, message: str, *, permission: bool = False) -> None:
        super().__init__(message)
        self.permission = permission
        """The running user may not do this (read the account, or change it), as opposed to
        there being no account or a broken one: sendmail's callers get a different code."""


class SecretError(StoreError):
    """The password could not be stored or read; the text says where and why."""

    def __init__(self, message: str, *, missing: bool = False, permission: bool = False) -> None:
        super().__init__(message, permission=permission)
        self.missing = missing
        """True when nothing is stored (as opposed to something stored but unreadable)."""


class NoSavedAccount(StoreError):
    """There is no saved account where one was needed; the text says what to do instead."""

    def __init__(self, path: Path, remedy: str = "run mailsetup to set one up") -> None:
        super().__init__(f"no saved account at {path}; {remedy}")


# --- where the config is, and what it holds ----------------------------------------------


class Chosen(StrEnum):
    """Why a config path is the one in use."""

    OPTION = "given with --config"
    ENVIRONMENT = f"named by ${CONFIG_ENV}"
    ROOT = "the system account, since you are root"
    OWN = "your own account"
    FALLBACK = "the system account, since you have no account of your own"
    NEW_OWN = "an account of your own (there is no system account yet)"


class ConfigLocation(NamedTuple):
    """The config in use and why: root sets up the system account, which services use unless
    their user has an account of their own (Postfix's sasl_passwd convention)."""

    path: Path
    chosen: Chosen = Chosen.OPTION

    @property
    def is_system(self) -> bool:
        """The system account: its secret is a root-owned file beside it (readers can be
        given access), never root's keyring, which services cannot read."""
        return self.chosen in {Chosen.ROOT, Chosen.FALLBACK}


class StoredConfig(NamedTuple):
    """A config file as saved: the account, and what travels with it."""

    account: Account
    generation: int = 0
    """Which secret record goes with this config (0: a secret saved before generations)."""
    ca_file: Path | None = None
    """The CA file the account was tested with (`--ca-file` at save): later tests and sends
    trust it unless told otherwise."""
    group: str | None = None
    """The group whose members may read the account (`mailsetup access --group`)."""
    aliases: tuple[tuple[str, str], ...] = ()
    """Where mail to a local name goes (`root` -> ops@example.com; `default` for any other),
    for programs that mail local users through the sendmail command (cron, mailx)."""
    log: Path | None = None
    """A file the sendmail command adds one line to per message, besides the system log."""
    relay: RelaySettings | None = None
    """The `[relay]` table, when the file has one (the relay's defaults otherwise)."""

    @property
    def relay_settings(self) -> RelaySettings:
        return self.relay or RelaySettings()

    @property
    def alias_map(self) -> dict[str, str]:
        return dict(self.aliases)


# --- where the secret is --------------------------------------------------------------------


class SecretPlace(StrEnum):
    """Where a secret is kept: the keyring, or the file beside the config."""

    KEYRING = "keyring"
    FILE = "file"


class SecretType(StrEnum):
    """What the secret of an account is: its password, or the refresh token of its Microsoft
    sign-in. Both live in the same place (one keyring entry, or one file)."""

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


class SecretLocation(NamedTuple):
    """Where a secret is (or would be) kept, in words an administrator can check."""

    place: SecretPlace
    where: str
    """The keyring backend and entry, or the file's path."""
    why: str = "no system keyring is available"
    """Why a file: what decided it, and who may read it."""

    def describe(self) -> str:
        if self.place is SecretPlace.KEYRING:
            return f"the system keyring ({self.where})"
        return f"the file {self.where} ({self.why})"


class SecretState(StrEnum):
    STORED = "stored"
    MISSING = "missing"
    UNREADABLE = "unreadable"


class SecretStatus(NamedTuple):
    """Whether an account's secret can be read, and where it is (or would be) kept."""

    type: SecretType
    location: SecretLocation
    state: SecretState
    problem: str | None = None
    renewed: datetime | None = None
    """When a Microsoft sign-in's refresh token was last stored (file-kept sign-ins)."""

    def describe(self) -> str:
        if self.state is SecretState.STORED:
            return f"stored in {self.location.describe()}"
        return f"{self.state.value}: {self.problem}"


# --- what a change did ----------------------------------------------------------------------


class Keep(Enum):
    KEEP = "keep"


KEEP = Keep.KEEP
"""For `save`'s CA file and readers group: what the saved config records now."""


class SaveReport(NamedTuple):
    """What a save did, for the form and the CLI to tell the user."""

    config_path: Path
    secret: SecretLocation
    backup_path: Path | None = None
    """Where an unreadable config that this save replaced was kept, if there was one."""
    secret_type: SecretType = SecretType.PASSWORD
    warnings: tuple[str, ...] = ()
    """What was saved but will not work for everyone (a CA file the readers cannot read)."""


class Readers(NamedTuple):
    """Who can use the saved account: its owner, and the members of its readers group."""

    config_path: Path
    owner: str
    group: str | None
    members: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        lines = [f"{self.config_path}: {self.owner} owns it (reads and changes it)"]
        if self.group is None:
            lines.append("no readers group: nobody else can read it (mailsetup access --group)")
        else:
            who = ", ".join(self.members) or "no members yet"
            lines.append(f"the group {self.group} may use it (test, send, show): {who}")
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)
