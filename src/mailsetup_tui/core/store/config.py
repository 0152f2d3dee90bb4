"""The config file: the account as TOML with a schema version, and where that file is.

Never the password: that lives in the secret store. Every parse error names the file, the line
and the key, because the reader is an administrator with an editor open.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mailsetup_tui.core.account import (
    DEFAULT_AUTHORITY_HOST,
    Account,
    MicrosoftSignIn,
    SignInMethod,
    authority_host_problem,
    line_break_in,
    validate,
)
from mailsetup_tui.core.fields import FIELDS, OTHER_ONLY, SPECS, Field
from mailsetup_tui.core.providers import PROVIDERS, Hosted, ProviderId, Security
from mailsetup_tui.core.relay_settings import relay_from_toml, relay_to_toml
from mailsetup_tui.core.store.files import exists
from mailsetup_tui.core.store.types import (
    CONFIG_ENV,
    Chosen,
    ConfigLocation,
    StoredConfig,
    StoreError,
)

if TYPE_CHECKING:
    from tomllib import TOMLDecodeError

SCHEMA_VERSION = 1
CONFIG_FILE_NAME = "account.toml"

T = TypeVar("T")

_HEADER = (
    "# mailsetup: the system e-mail account. Written by mailsetup (its form, save, apply or\n"
    "# access); edit with care, then check it with `mailsetup test`.\n"
    "# The password is not in this file: `mailsetup show` says where it is kept.\n"
)


SYSTEM_CONFIG = Path("/etc/mailsetup") / CONFIG_FILE_NAME
SYSTEM_CONFIG_ENV = "MAILSETUP_SYSTEM_CONFIG"
"""Where the system account lives instead of /etc/mailsetup (another layout, or a test)."""


def default_config_path() -> Path:
    """The per-user config path (platformdirs), e.g. ~/.config/mailsetup/account.toml."""
    from platformdirs import user_config_path

    return user_config_path("mailsetup", appauthor=False) / CONFIG_FILE_NAME


def system_config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(SYSTEM_CONFIG_ENV) or SYSTEM_CONFIG)


def resolve_config(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    euid: int | None = None,
) -> ConfigLocation:
    """`--config`, else $MAILSETUP_CONFIG, else (root) the system account, else the user's
    own account if there is one, else the system account if there is one, else a new account
    of the user's own."""
    environ = os.environ if environ is None else environ
    euid = os.geteuid() if euid is None else euid
    if explicit is not None:
        return ConfigLocation(Path(explicit).expanduser(), Chosen.OPTION)
    if environ.get(CONFIG_ENV):
        return ConfigLocation(Path(environ[CONFIG_ENV]).expanduser(), Chosen.ENVIRONMENT)
    if euid == 0:
        return ConfigLocation(system_config_path(environ), Chosen.ROOT)
    own, system = default_config_path(), system_config_path(environ)
    if exists(own):
        return ConfigLocation(own, Chosen.OWN)
    if exists(system):
        return ConfigLocation(system, Chosen.FALLBACK)
    return ConfigLocation(own, Chosen.NEW_OWN)


STORE_SUFFIXES = (".secret", ".lock", ".tmp", ".bak")
"""What the store names its other files: a config must not be named like one."""


def config_path_problem(path: Path) -> str | None:
    """Why `path` cannot be a config file (a directory, a name the store gives its secret,
    lock or temporary files, which would be overwritten by them), or None."""
    try:
        directory = not path.name or path.is_dir()
    except OSError:  # not even visible to this user: the reading says so, with the reason
        directory = False
    if directory:
        return "a directory, not a file: name the config file, e.g. account.toml"
    if path.name.endswith(STORE_SUFFIXES):
        return (
            f"a name the store gives its own files ({', '.join(STORE_SUFFIXES)}): the config "
            "and its secret would collide; name it e.g. account.toml"
        )
    return None


def resolve_config_path(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The config path in use (see `resolve_config`)."""
    return resolve_config(explicit, environ).path


_ACCOUNT_KEYS = {spec.key for spec in FIELDS if spec.key} | {"authority_host"}
_OTHER_ONLY_KEYS = tuple(str(spec.key) for spec in OTHER_ONLY)
_MICROSOFT_KEYS = (
    *(str(spec.key) for spec in FIELDS if spec.microsoft_only),
    "authority_host",
)


def config_to_toml(config: StoredConfig) -> str:
    """The config file's text: the account, its secret's generation, its CA and readers."""
    data: dict[str, Any] = {"schema": SCHEMA_VERSION}
    if config.generation:
        data["secret_generation"] = config.generation
    data["account"] = _account_table(config.account)
    if config.ca_file is not None:
        data["account"]["ca_file"] = str(config.ca_file)
    if config.log is not None:
        data["log"] = str(config.log)
    if config.group is not None:
        data["access"] = {"group": config.group}
    if config.aliases:
        data["aliases"] = dict(config.aliases)
    if config.relay is not None:
        data["relay"] = relay_to_toml(config.relay)
    import tomli_w  # only a save writes TOML: the form's start-up reads at most

    return _HEADER + tomli_w.dumps(data)


def account_to_toml(account: Account) -> str:
    """The config file's text for `account` alone (an `apply` file)."""
    return config_to_toml(StoredConfig(account))


def _account_table(account: Account) -> dict[str, Any]:
    """The [account] table: only what the user chose (a preset's server, port and security,
    and a fixed tenant, are the provider's; a password account's sign-in is the default)."""
    entry = account.provider
    chosen_by_provider = {spec.field for spec in OTHER_ONLY} if entry.connection else set()
    if entry.fixed_tenant is not None:
        chosen_by_provider.add(Field.TENANT)
    if account.signin is None:
        chosen_by_provider.add(Field.SIGN_IN)
    table: dict[str, Any] = {
        str(SPECS[field].key): value
        for field, value in account.stored_values().items()
        if field not in chosen_by_provider
    }
    if account.signin is not None and account.signin.authority_host != DEFAULT_AUTHORITY_HOST:
        table["authority_host"] = account.signin.authority_host
    if account.hosted is not None:
        table["hosted"] = account.hosted.value  # what the domain's MX said at the save
    return table


def account_from_toml(text: str, path: Path) -> Account:
    """Parse and check a config (or an `apply` file); every error names `path` and the key."""
    return config_from_toml(text, path).account


def config_from_toml(text: str, path: Path) -> StoredConfig:
    """The whole config: the account with what travels with it. Errors as for the account."""
    import tomllib  # only a config that exists is parsed: a new account's start needs none

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StoreError(_toml_error_text(error, path)) from None
    except RecursionError:
        raise StoreError(f"{path}: not valid TOML: nested too deeply") from None
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        found = "missing" if schema is None else repr(schema)
        raise StoreError(
            f"{path}: schema is {found}; this mailsetup reads schema = {SCHEMA_VERSION}"
        )
    unknown = sorted(
        set(data) - {"schema", "secret_generation", "log", "account", "access", "aliases", "relay"}
    )
    if unknown:
        raise StoreError(f"{path}: unknown key {unknown[0]!r}")
    table = data.get("account")
    if not isinstance(table, dict):
        raise StoreError(f"{path}: the [account] table is missing")
    generation = data.get("secret_generation", 0)
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
        raise StoreError(f"{path}: secret_generation must be a whole number, not {generation!r}")
    access = data.get("access", {})
    group = access.get("group") if isinstance(access, dict) else None
    if (
        not isinstance(access, dict)
        or set(access) - {"group"}
        or not (group is None or (isinstance(group, str) and group))
    ):
        raise StoreError(f'{path}: [access] holds one key, group = "NAME"')
    ca_file = table.get("ca_file")
    if ca_file is not None and not (isinstance(ca_file, str) and Path(ca_file).is_absolute()):
        raise StoreError(f"{path}: ca_file must be an absolute path, not {ca_file!r}")
    log = data.get("log")
    if log is not None and not (isinstance(log, str) and Path(log).is_absolute()):
        raise StoreError(f"{path}: log must be an absolute path, not {log!r}")
    aliases = _aliases_from_toml(data.get("aliases", {}), path)
    try:
        relay = relay_from_toml(data["relay"], path) if "relay" in data else None
    except ValueError as error:
        raise StoreError(str(error)) from None
    account = _account_from_table(table, path)
    return StoredConfig(
        account,
        generation,
        Path(ca_file) if ca_file else None,
        group,
        aliases,
        Path(log) if log else None,
        relay,
    )


def alias_problem(name: str, address: str) -> str | None:
    """Why `name` = `address` cannot be an alias, or None."""
    if not re.fullmatch(r"[A-Za-z0-9._+-]{1,64}", name):
        return f"{name!r} is not a local name (letters, digits, . _ + -; no @)"
    if line_break_in(address) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
        return f"{address!r} is not an e-mail address"
    return None


def _aliases_from_toml(table: object, path: Path) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise StoreError(f'{path}: [aliases] holds lines such as root = "ops@example.com"')
    aliases = []
    for name, address in table.items():
        problem = alias_problem(name, address) if isinstance(address, str) else "not a string"
        if problem:
            raise StoreError(f"{path}: [aliases] {name}: {problem}")
        aliases.append((name, address))
    return tuple(sorted(aliases))


def _account_from_table(table: dict[str, Any], path: Path) -> Account:
    unknown = sorted(set(table) - _ACCOUNT_KEYS - {"ca_file", "hosted"})
    if unknown:
        raise StoreError(f"{path}: unknown key {unknown[0]!r} in [account]")
    provider_id = _typed(table, "smtp_mail", str, path)
    try:
        provider = ProviderId(provider_id)
    except ValueError:
        choices = ", ".join(p.value for p in ProviderId)
        raise StoreError(f"{path}: smtp_mail is {provider_id!r}; choose one of {choices}") from None
    if PROVIDERS[provider].connection is not None:
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
    hosted = table.get("hosted")
    if hosted is not None and hosted not in {Hosted.GOOGLE, Hosted.MICROSOFT_365}:
        raise StoreError(f'{path}: hosted is {hosted!r}; it is "google" or "microsoft365"')
    account = Account.create(
        provider,
        _typed(table, "display_name", str, path),
        _typed(table, "email", str, path),
        server=_typed(table, "server", str, path) if "server" in table else None,
        port=_typed(table, "port", int, path) if "port" in table else None,
        security=security if provider is ProviderId.OTHER else None,
        signin=_signin_from_toml(table, provider, path),
        hosted=Hosted(hosted) if hosted else None,
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


def _toml_error_text(error: TOMLDecodeError, path: Path) -> str:
    message = str(error)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if match:
        reason = message[: match.start()].strip()
        return f"{path}:{match[1]}:{match[2]}: not valid TOML: {reason}"
    return f"{path}: not valid TOML: {message}"
