"""The config file: the account as TOML with a schema version, and where that file is.

Never the password: that lives in the secret store. Every parse error names the file, the line
and the key, because the reader is an administrator with an editor open.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
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
from mailsetup_tui.core.store.errors import StoreError

SCHEMA_VERSION = 1
CONFIG_ENV = "MAILSETUP_CONFIG"
CONFIG_FILE_NAME = "account.toml"

T = TypeVar("T")

_HEADER = (
    "# mailsetup: the system e-mail account. Written by `mailsetup save`; edit with care.\n"
    "# The password is not in this file: `mailsetup show` says where it is kept.\n"
)


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
