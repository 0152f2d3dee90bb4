"""The saved account: a TOML config file and a secret kept apart from it, as one pair.

The config never holds the password (`config`); the secret goes to the OS keyring for a
personal account when one is usable and otherwise to a file beside the config (`secrets`);
both are written atomically (`files`). `AccountStore` keeps the two a pair on disk at every
instant, lets only the account's owner change it, lets the readers group read it, and reads
nothing from a place another user could have planted it. It only stores: when to store (a
tested account, a rotated refresh token) is the session's decision.
"""

from __future__ import annotations

import contextlib
import grp
import os
import stat
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path

from mailsetup_tui.core.account import Account, MicrosoftSignIn
from mailsetup_tui.core.store.config import (
    config_from_toml,
    config_path_problem,
    config_to_toml,
    default_config_path,
    resolve_config,
)
from mailsetup_tui.core.store.files import (
    atomic_write,
    check_trusted,
    create_log_file,
    exclusive_lock,
    group_can_read,
    group_id,
    group_members,
    lock_if_free,
    owner_name,
    read_text_file,
    remove_stale_temp_files,
    share_dir,
    share_file,
    shared_lock,
)
from mailsetup_tui.core.store.secrets import Record, SecretStore, now
from mailsetup_tui.core.store.types import (
    KEEP,
    ConfigLocation,
    Keep,
    NoSavedAccount,
    Readers,
    SaveReport,
    SecretError,
    SecretPlace,
    SecretState,
    SecretStatus,
    SecretType,
    StoredConfig,
    StoreError,
)

PAIR_READS = 50
"""Times a reader without the lock reads config and secret again when a save changed them
between its reads: one save needs two reads; the rest is for a burst of saves."""


class AccountStore:
    """The saved account at `path` and its secret."""

    def __init__(self, path: Path, *, location: ConfigLocation | None = None) -> None:
        problem = config_path_problem(path)
        if problem:
            raise StoreError(f"{path}: cannot be the config: {problem}")
        self.path = path
        self.location = location or ConfigLocation(path)

    @classmethod
    def at(cls, explicit: str | os.PathLike[str] | None = None) -> AccountStore:
        """The account in use: `--config`, $MAILSETUP_CONFIG, the system account for root,
        the user's own account, else the system account."""
        location = resolve_config(explicit)
        return cls(location.path, location=location)

    @property
    def secret_path(self) -> Path:
        """The secret file: beside the config, same stem, `.secret`."""
        return self.path.with_name(self.path.stem + ".secret")

    def _secrets(self, group: str | None) -> SecretStore:
        return SecretStore(self.secret_path, keyring=not self.location.is_system, group=group)

    # --- reading ----------------------------------------------------------------------------

    def load_config(self) -> StoredConfig | None:
        """The saved config, None if there is none; `StoreError` if it cannot be read or sits
        where another user could have written it."""
        check_trusted(self.path)
        try:
            text = read_text_file(self.path)
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise StoreError(f"{self.path}: not a text file (invalid UTF-8)") from None
        except OSError as error:
            raise StoreError(
                f"{self.path}: cannot be read ({error.strerror})",
                permission=isinstance(error, PermissionError),
            ) from None
        return config_from_toml(text, self.path)

    def load(self) -> Account | None:
        """The saved account, None if there is none; `StoreError` if it cannot be read."""
        config = self.load_config()
        return config.account if config else None

    def _config_of(self, account: Account) -> StoredConfig:
        """The saved config when it is `account`'s (same address), else `account` alone."""
        try:
            config = self.load_config()
        except StoreError:
            config = None
        if config is not None and config.account.email == account.email:
            return config
        return StoredConfig(account)

    def read_secret(self, account: Account) -> str:
        """The stored secret of `account`: its password, or the refresh token of its Microsoft
        sign-in. `SecretError` says where it looked and why not."""
        return self._read_pair(lambda: self._config_of(account))[1]

    def saved_config(self, remedy: str = "run mailsetup to set one up") -> StoredConfig:
        """The saved config; `NoSavedAccount` (saying `remedy`) when there is none."""
        config = self.load_config()
        if config is None:
            raise NoSavedAccount(self.path, remedy)
        return config

    def load_with_secret(self) -> tuple[StoredConfig, str]:
        """The saved config and the secret that goes with it, read as one pair;
        `NoSavedAccount` when there is none."""
        return self._read_pair(self.saved_config)

    def _read_pair(self, read_config: Callable[[], StoredConfig]) -> tuple[StoredConfig, str]:
        """A config and its secret, as one pair. Under a shared lock where this user may open
        the lock file (its owner and readers group); without, a save that lands between the
        two reads has written the new secret beside the old, then the new config, then
        dropped the old secret, so a secret missing for a config that has since changed is
        read again, as the new pair, and never reported as an error."""
        check_trusted(self.secret_path)
        with shared_lock(self.lock_path):
            for attempt in range(PAIR_READS):
                config = read_config()
                try:
                    secret = self._secrets(config.group).read(config.account, config.generation)
                except SecretError:
                    if attempt == PAIR_READS - 1 or read_config() == config:
                        raise
                    time.sleep(0.001 * attempt)  # a burst of saves: let one finish
                    continue
                return config, secret
        raise AssertionError("unreachable")  # pragma: no cover

    def secret_status(self, account: Account) -> SecretStatus:
        config = self._config_of(account)
        try:
            check_trusted(self.secret_path)
        except StoreError as error:
            location = self._secrets(config.group).location(account.email, config.generation)
            return SecretStatus(
                SecretType.of(account), location, SecretState.UNREADABLE, str(error)
            )
        return self._secrets(config.group).status(account, config.generation)

    def keeps_sign_in(self, email: str, signin: MicrosoftSignIn | None) -> bool:
        """Whether the saved account signs in as `email` through `signin` (an unreadable
        config counts as no)."""
        try:
            saved = self.load()
        except StoreError:
            return False
        return saved is not None and (saved.email, saved.signin) == (email, signin)

    # --- who may do what --------------------------------------------------------------------

    def owner(self) -> int:
        """The account's owner: the config's, or (none yet) the directory's it will go in."""
        current = self.path
        while current != current.parent:
            try:
                return current.stat().st_uid
            except FileNotFoundError:
                current = current.parent
            except OSError:
                break  # not even visible to this user: someone else's
        return 0

    def check_may_change(self) -> None:
        """`StoreError` unless the running user may change the account: its owner, or root."""
        euid = os.geteuid()
        owner = self.owner()
        if euid in {0, owner}:
            return
        if self.location.is_system:
            raise StoreError(
                f"only root can change the system account ({self.path}); you are "
                f"{owner_name(euid)}, and may use it if you are in its readers group. For an "
                f"account of your own: --config {default_config_path()}",
                permission=True,
            )
        raise StoreError(
            f"only {owner_name(owner)}, who owns {self.path}, can change this account; you "
            f"are {owner_name(euid)}",
            permission=True,
        )

    def tidy(self) -> None:
        """What a killed or failed save left, taken away by the next command of any kind:
        temporary files (they may hold a password), and a secret file no config names (a
        first save killed between its two writes). Only by the account's owner, only while no
        writer holds the lock: housekeeping never waits, and never races a save."""
        if not self.path.parent.is_dir() or os.geteuid() not in {0, self.owner()}:
            return
        with lock_if_free(self.lock_path) as locked:
            if not locked:
                return
            remove_stale_temp_files(self.path)
            remove_stale_temp_files(self.secret_path)
            with contextlib.suppress(OSError):
                if not self.path.exists() and self.secret_path.is_file():
                    self.secret_path.unlink()

    @property
    def lock_path(self) -> Path:
        """The lock file every change takes: beside the config, its name and `.lock`."""
        return self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _changing(self) -> Iterator[StoredConfig]:
        """The saved config, for its owner to change, read again under the one writer's lock
        and held until the change is written; `StoreError` for anyone else, or when there is
        none."""
        self.check_may_change()
        with exclusive_lock(self.lock_path):
            yield self.saved_config("save one first")

    def readers(self) -> Readers:
        config = self.saved_config("save one first")
        members: tuple[str, ...] = ()
        if config.group is not None:
            members = group_members(config.group)
        owner = owner_name(self.path.stat().st_uid)
        warnings = _unreadable_ca(config.ca_file, config.group)
        return Readers(self.path, owner, config.group, members, warnings)

    def set_readers(self, group: str | None) -> Readers:
        """Let the members of `group` use the account (None: nobody but its owner): the
        directory root:GROUP 0750, config and secret root:GROUP 0640, and the group recorded,
        so every later save keeps it."""
        with self._changing() as config:
            self._share_with(config, group)
        return self.readers()

    def _share_with(self, config: StoredConfig, group: str | None) -> None:
        if group is not None:
            gid = group_id(group)
            if self._secrets(None).location(config.account.email).place is SecretPlace.KEYRING:
                raise StoreError(
                    f"the secret of {self.path} is in your keyring, which only you can read: "
                    "a readers group needs the system account (run mailsetup as root)"
                )
        else:
            gid = None
        record = self._secrets(config.group).record(config.account, config.generation)
        updated = config._replace(group=group)
        self._secrets(group).write(record)
        atomic_write(self.path, config_to_toml(updated).encode("utf-8"), group=gid)
        self._share_files(gid)

    def _share_files(self, gid: int | None) -> None:
        """The directory and the lock file, to the readers group (or the owner alone)."""
        share_dir(self.path.parent, gid)
        share_file(self.lock_path, gid)

    # --- writing ----------------------------------------------------------------------------

    def save(
        self,
        account: Account,
        secret: str,
        *,
        ca_file: Path | Keep | None = KEEP,
        group: str | Keep | None = KEEP,
    ) -> SaveReport:
        """Store the secret (the password, or the refresh token of a Microsoft sign-in), then
        the config, as a pair: the new secret generation is written beside the old one, then
        the config naming it, then the old one goes. Killed at any instant, the config on disk
        finds the secret it was saved with. `ca_file` and `group`: what travels with the
        account (default: what it recorded).

        Callers must only save an account that passed the probe (the spec's rule), with the
        password as its server takes it (`credential.Password`): the session
        (`core.session`) is the one gate every front end goes through.
        """
        check_trusted(self.path)
        check_trusted(self.secret_path)
        self.check_may_change()
        with exclusive_lock(self.lock_path):
            return self._save(account, secret, ca_file, group)

    def _readers_of_the_directory(self) -> str | None:
        """For the first save of the system account: the readers group root gave the directory
        (root:GROUP 0750, as the Debian package and `mailsetup access` make it), so that the
        relay's user reads the account it was installed to send with; None otherwise."""
        if not self.location.is_system:
            return None
        try:
            info = self.path.parent.stat()
        except OSError:
            return None
        if info.st_uid != 0 or info.st_gid == 0 or stat.S_IMODE(info.st_mode) != 0o750:
            return None
        try:
            return grp.getgrgid(info.st_gid).gr_name
        except KeyError:
            return None

    def _save(
        self, account: Account, secret: str, ca_file: Path | Keep | None, group: str | Keep | None
    ) -> SaveReport:
        # Under the lock: a temp file left now is a killed writer's, never a live one's.
        remove_stale_temp_files(self.path)
        remove_stale_temp_files(self.secret_path)
        backup: Path | None = None
        try:
            previous = self.load_config()
        except StoreError:
            backup, previous = self._move_aside_unreadable_config(), None
        if isinstance(ca_file, Keep):
            ca_file = previous.ca_file if previous else None
        if isinstance(group, Keep):
            group = previous.group if previous else self._readers_of_the_directory()
        gid = group_id(group) if group is not None else None
        kind = SecretType.of(account)
        generation = (previous.generation if previous else 0) + 1
        record = Record(
            generation,
            account.email,
            kind,
            secret,
            now() if kind is SecretType.REFRESH_TOKEN else None,
        )
        old = self._old_records(previous)
        secrets = self._secrets(group)
        location = secrets.write(record, keep=old)
        config = StoredConfig(account, generation, ca_file, group)
        if previous is not None:  # what travels with the account stays with it
            config = config._replace(
                aliases=previous.aliases, log=previous.log, relay=previous.relay
            )
        try:
            atomic_write(self.path, config_to_toml(config).encode("utf-8"), group=gid)
        except OSError as error:
            if self._names_generation(generation):
                # Renamed into place, but not made durable (the directory's fsync failed):
                # both secrets stay, so that whichever config survives finds its own.
                raise StoreError(
                    f"{self.path}: written, but it may not survive a power cut (its "
                    f"directory could not be synced: {error.strerror}); save again"
                ) from None
            if old:  # the config on disk still names the old secret: leave only that
                secrets.prune(old[0], (record,))
            else:  # a first save: no secret may stay without its config
                secrets.discard(record)
            raise StoreError(f"{self.path}: cannot be written ({error.strerror})") from None
        if gid is not None:
            self._share_files(gid)
        secrets.prune(record, old)
        warnings = _unreadable_ca(ca_file, group)
        return SaveReport(self.path, location, backup, kind, warnings)

    def _names_generation(self, generation: int) -> bool:
        try:
            config = self.load_config()
        except StoreError:
            return False
        return config is not None and config.generation == generation

    def set_sendmail_settings(
        self,
        *,
        add: Mapping[str, str] | None = None,
        remove: Collection[str] = (),
        log: Path | Keep | None = KEEP,
    ) -> StoredConfig:
        """Change what the sendmail command uses (aliases added or replaced, aliases removed,
        its log file), nothing else: the account and its secret stay as they are. The change
        is made to the config as it is under the lock, so a save or another change meanwhile
        is not undone. Owner only."""
        with self._changing() as config:
            aliases = config.alias_map | dict(add or {})
            for name in remove:
                aliases.pop(name, None)
            config = config._replace(aliases=tuple(sorted(aliases.items())))
            gid = group_id(config.group) if config.group is not None else None
            if not isinstance(log, Keep):
                if log is not None:
                    create_log_file(log, gid)
                config = config._replace(log=log)
            try:
                atomic_write(self.path, config_to_toml(config).encode("utf-8"), group=gid)
            except OSError as error:
                raise StoreError(f"{self.path}: cannot be written ({error.strerror})") from None
        return config

    def _old_records(self, previous: StoredConfig | None) -> tuple[Record, ...]:
        """The secret the config on disk names, kept until the new config replaces it."""
        if previous is None:
            return ()
        try:
            secrets = self._secrets(previous.group)
            return (secrets.record(previous.account, previous.generation),)
        except SecretError:
            return ()

    def write_refresh_token(self, account: Account, token: str) -> None:
        """Replace the stored refresh token of the saved account's Microsoft sign-in with a
        newer one, in the generation the config names. `SecretError` if it cannot be written.
        Whether it should be is the session's decision (its docstring)."""
        with self._changing() as config:
            if (config.account.email, config.account.signin) != (account.email, account.signin):
                return  # saved over meanwhile: the token belongs to an account no longer there
            record = Record(
                config.generation, account.email, SecretType.REFRESH_TOKEN, token, now()
            )
            self._secrets(config.group).replace(record)

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


def _unreadable_ca(ca_file: Path | None, group: str | None) -> tuple[str, ...]:
    """A warning when the readers group cannot read the CA file saved with the account: its
    services would fail to verify the server."""
    if ca_file is None or group is None or group_can_read(ca_file, group_id(group)):
        return ()
    return (
        f"the group {group} cannot read the CA file {ca_file}: its members' tests and sends "
        "will fail; put the CA where they can read it (e.g. /etc/ssl/certs) and save again",
    )
