"""Where a saved account lives: a TOML config file and a secret kept apart from it.

The config never holds the password. The secret goes to the OS keyring when one is usable and,
on a headless server without one, to a 0600 file beside the config; every save and every read
says which, because an administrator must know where a credential sits.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from mailsetup_tui.core.account import (
    DEFAULT_AUTHORITY_HOST,
    Account,
    MicrosoftSignIn,
    SignInMethod,
    authority_host_problem,
    validate,
)
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security

SCHEMA_VERSION = 1
CONFIG_ENV = "MAILSETUP_CONFIG"
KEYRING_SERVICE = "mailsetup"
CONFIG_FILE_NAME = "account.toml"

T = TypeVar("T")

_HEADER = (
    "# mailsetup: the system e-mail account. Written by `mailsetup save`; edit with care.\n"
    "# The password is not in this file: `mailsetup show` says where it is kept.\n"
)


class StoreError(Exception):
    """The config or the secret could not be read or written; the text names the file."""


class SecretError(StoreError):
    """The password could not be stored or read; the text says where and why."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing
        """True when nothing is stored (as opposed to something stored but unreadable)."""


def default_config_path() -> Path:
    """The per-user config path (platformdirs), e.g. ~/.config/mailsetup/account.toml."""
    from platformdirs import user_config_path

    return user_config_path("mailsetup", appauthor=False) / CONFIG_FILE_NAME


def resolve_config_path(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """`--config` if given, else $MAILSETUP_CONFIG, else the platform default."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        return Path(explicit).expanduser()
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    return default_config_path()


# --- the config file -------------------------------------------------------------------------

_ACCOUNT_KEYS = {
    "smtp_mail",
    "display_name",
    "email",
    "server",
    "port",
    "security",
    "signin",
    "client_id",
    "tenant",
    "authority_host",
}
_OTHER_ONLY_KEYS = ("server", "port", "security")
_MICROSOFT_KEYS = ("client_id", "tenant", "authority_host")


def account_to_toml(account: Account) -> str:
    """The config file's text for `account` (presets store only what the user chose)."""
    table: dict[str, Any] = {
        "smtp_mail": account.provider_id.value,
        "display_name": account.display_name,
        "email": account.email,
    }
    if not account.provider.is_preset:
        table |= {
            "server": account.server,
            "port": account.port,
            "security": account.security.value,
        }
    if account.signin is not None:
        table |= {"signin": SignInMethod.MICROSOFT.value, "client_id": account.signin.client_id}
        if account.provider.fixed_tenant is None:
            table["tenant"] = account.signin.tenant
        if account.signin.authority_host != DEFAULT_AUTHORITY_HOST:
            table["authority_host"] = account.signin.authority_host
    return _HEADER + tomli_w.dumps({"schema": SCHEMA_VERSION, "account": table})


def account_from_toml(text: str, path: Path) -> Account:
    """Parse and check a config (or an `apply` file); every error names `path` and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StoreError(_toml_error_text(error, path)) from None
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        found = "missing" if schema is None else repr(schema)
        raise StoreError(
            f"{path}: schema is {found}; this mailsetup reads schema = {SCHEMA_VERSION}"
        )
    table = data.get("account")
    if not isinstance(table, dict):
        raise StoreError(f"{path}: the [account] table is missing")
    unknown = sorted(set(table) - _ACCOUNT_KEYS)
    if unknown:
        raise StoreError(f"{path}: unknown key {unknown[0]!r} in [account]")
    provider_id = _typed(table, "smtp_mail", str, path)
    try:
        provider = ProviderId(provider_id)
    except ValueError:
        choices = ", ".join(p.value for p in ProviderId)
        raise StoreError(f"{path}: smtp_mail is {provider_id!r}; choose one of {choices}") from None
    if provider is not ProviderId.OTHER:
        extra = [key for key in _OTHER_ONLY_KEYS if key in table]
        if extra:
            raise StoreError(
                f"{path}: {extra[0]} is fixed for smtp_mail = {provider.value!r}; remove it, "
                'or use smtp_mail = "other"'
            )
    security = table.get("security", Security.AUTO.value)
    if not isinstance(security, str) or security not in {s.value for s in Security}:
        choices = ", ".join(s.value for s in Security)
        raise StoreError(f"{path}: security is {security!r}; choose one of {choices}")
    account = Account.create(
        provider,
        _typed(table, "display_name", str, path),
        _typed(table, "email", str, path),
        server=_typed(table, "server", str, path) if "server" in table else None,
        port=_typed(table, "port", int, path) if "port" in table else None,
        security=security if provider is ProviderId.OTHER else None,
        signin=_signin_from_toml(table, provider, path),
    )
    problems = validate(account)
    if problems:
        raise StoreError(f"{path}: " + "; ".join(str(p) for p in problems))
    return account


def _signin_from_toml(
    table: Mapping[str, Any], provider_id: ProviderId, path: Path
) -> MicrosoftSignIn | None:
    method = table.get("signin", SignInMethod.PASSWORD.value)
    if method not in {m.value for m in SignInMethod}:
        choices = ", ".join(m.value for m in SignInMethod)
        raise StoreError(f"{path}: signin is {method!r}; choose one of {choices}")
    if method == SignInMethod.PASSWORD:
        extra = [key for key in _MICROSOFT_KEYS if key in table]
        if extra:
            raise StoreError(f'{path}: {extra[0]} is only for signin = "microsoft"')
        return None
    entry = PROVIDERS[provider_id]
    if entry.fixed_tenant is not None and table.get("tenant", entry.fixed_tenant) != (
        entry.fixed_tenant
    ):
        raise StoreError(f"{path}: {entry.label} always signs in at tenant {entry.fixed_tenant!r}")
    host = table.get("authority_host", DEFAULT_AUTHORITY_HOST)
    if not isinstance(host, str) or authority_host_problem(host):
        raise StoreError(f"{path}: authority_host is {host!r}: {authority_host_problem(str(host))}")
    return MicrosoftSignIn(
        _typed(table, "client_id", str, path),
        entry.fixed_tenant or _typed(table, "tenant", str, path),
        host.rstrip("/"),
    )


def _typed(table: Mapping[str, Any], key: str, kind: type[T], path: Path) -> T:
    if key not in table:
        raise StoreError(f"{path}: {key} is missing from [account]")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise StoreError(f"{path}: {key} must be a {kind.__name__}, not {value!r}")
    return value


def _toml_error_text(error: tomllib.TOMLDecodeError, path: Path) -> str:
    message = str(error)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if match:
        reason = message[: match.start()].strip()
        return f"{path}:{match[1]}:{match[2]}: not valid TOML: {reason}"
    return f"{path}: not valid TOML: {message}"


# --- the secret ------------------------------------------------------------------------------


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
    location: SecretLocation
    state: SecretState
    problem: str | None = None


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

    @classmethod
    def at(cls, explicit: str | os.PathLike[str] | None = None) -> AccountStore:
        return cls(resolve_config_path(explicit))

    @property
    def secret_path(self) -> Path:
        """The fallback secret file: beside the config, same stem, `.secret`."""
        return self.path.with_name(self.path.stem + ".secret")

    # config

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

        Callers must only save an account that passed the probe (the spec's rule); this layer
        does not probe, so that the CLI and the form share one gate each.
        """
        backup: Path | None = None
        previous: tuple[str, str, SecretType] | None = None
        try:
            saved = self.load()
        except StoreError:
            backup = self._move_aside_unreadable_config()
        else:
            previous = self._secret_of(saved)
        kind = SecretType.of(account)
        if kind is SecretType.PASSWORD:
            password = account.provider.normalize_password(password)
        location = self._write_secret(account.email, password, kind)
        try:
            atomic_write(self.path, account_to_toml(account).encode("utf-8"))
        except OSError as error:
            self._restore_secret(account.email, previous)
            raise StoreError(f"{self.path}: cannot be written ({error.strerror})") from None
        if previous and previous[0] != account.email and location.kind is SecretKind.KEYRING:
            with contextlib.suppress(Exception):
                _keyring_module().delete_password(KEYRING_SERVICE, previous[0])
        return SaveReport(self.path, location, backup, kind)

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

    # secret

    def secret_location(self, email: str) -> SecretLocation:
        backend = usable_keyring()
        if backend is None:
            return SecretLocation(SecretKind.FILE, str(self.secret_path))
        name = type(backend).__name__
        module = type(backend).__module__.removeprefix("keyring.backends.")
        return SecretLocation(
            SecretKind.KEYRING, f"{module}.{name}, service {KEYRING_SERVICE!r}, user {email!r}"
        )

    def read_secret(self, account: Account) -> str:
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
            if not self.secret_path.exists():
                raise SecretError(
                    f"no {kind.noun} for {email} in "
                    f"{self.secret_location(email).describe()}; {kind.remedy}",
                    missing=True,
                )
        return self._read_secret_file(email, kind)

    def replace_refresh_token(self, account: Account, token: str) -> None:
        """Keep the newer refresh token Microsoft handed out while refreshing, if `account` is
        the saved one: each token extends the sign-in's lifetime, so keeping only the first
        would let a busy system's sign-in run out."""
        with contextlib.suppress(StoreError):
            if self.load() == account:
                self._write_secret(account.email, token, SecretType.REFRESH_TOKEN)

    def secret_status(self, account: Account) -> SecretStatus:
        location = self.secret_location(account.email)
        try:
            self.read_secret(account)
        except SecretError as error:
            state = SecretState.MISSING if error.missing else SecretState.UNREADABLE
            return SecretStatus(location, state, str(error))
        return SecretStatus(location, SecretState.STORED)

    def _read_secret_file(self, email: str, kind: SecretType) -> str:
        path = self.secret_path
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

    def _secret_of(self, account: Account | None) -> tuple[str, str, SecretType] | None:
        """The saved account's address and secret, to restore if this save fails."""
        if account is None:
            return None
        try:
            return account.email, self.read_secret(account), SecretType.of(account)
        except SecretError:
            return None

    def _write_secret(self, email: str, secret: str, kind: SecretType) -> SecretLocation:
        location = self.secret_location(email)
        if location.kind is SecretKind.FILE:
            text = tomli_w.dumps({"schema": SCHEMA_VERSION, "email": email, kind.value: secret})
            try:
                atomic_write(self.secret_path, text.encode("utf-8"))
            except OSError as error:
                raise SecretError(
                    f"the secret file {self.secret_path} cannot be written ({error.strerror})"
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
            self.secret_path.unlink()
        return location

    def _restore_secret(self, email: str, previous: tuple[str, str, SecretType] | None) -> None:
        with contextlib.suppress(Exception):
            if previous is not None:
                self._write_secret(*previous)
            if previous is None or previous[0] != email:
                if usable_keyring() is not None:
                    _keyring_module().delete_password(KEYRING_SERVICE, email)
                else:
                    self.secret_path.unlink(missing_ok=True)


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


# --- files -----------------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves the old file or the new, never a mix.

    Temp file in the same directory (same filesystem, so the rename is atomic), 0600 from
    creation, fsync before the rename, fsync of the directory after it so the rename survives
    a power cut.
    """
    ensure_private_dir(path.parent)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as temp:
            os.fchmod(temp.fileno(), 0o600)
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_dir(path.parent)


def ensure_private_dir(directory: Path) -> None:
    """Create `directory` (and missing parents) as 0700; existing directories are left as they
    are, since they may be shared ones such as /etc the administrator chose."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
