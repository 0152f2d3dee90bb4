"""Where a saved account lives. `types` holds what front ends may import (values, locations,
errors); `AccountStore` (`account_store`) acts on the files, and only the session opens it.
"""

from mailsetup_tui.core.store.account_store import AccountStore
from mailsetup_tui.core.store.config import (
    CONFIG_FILE_NAME,
    SCHEMA_VERSION,
    SYSTEM_CONFIG_ENV,
    account_from_toml,
    account_to_toml,
    alias_problem,
    default_config_path,
    resolve_config,
    resolve_config_path,
)
from mailsetup_tui.core.store.files import owner_name
from mailsetup_tui.core.store.secrets import KEYRING_SERVICE, usable_keyring
from mailsetup_tui.core.store.types import (
    CONFIG_ENV,
    KEEP,
    Chosen,
    ConfigLocation,
    Keep,
    NoSavedAccount,
    Readers,
    SaveReport,
    SecretError,
    SecretLocation,
    SecretPlace,
    SecretState,
    SecretStatus,
    SecretType,
    StoredConfig,
    StoreError,
)

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE_NAME",
    "KEEP",
    "KEYRING_SERVICE",
    "SCHEMA_VERSION",
    "SYSTEM_CONFIG_ENV",
    "AccountStore",
    "Chosen",
    "ConfigLocation",
    "Keep",
    "NoSavedAccount",
    "Readers",
    "SaveReport",
    "SecretError",
    "SecretLocation",
    "SecretPlace",
    "SecretState",
    "SecretStatus",
    "SecretType",
    "StoreError",
    "StoredConfig",
    "account_from_toml",
    "account_to_toml",
    "alias_problem",
    "default_config_path",
    "owner_name",
    "resolve_config",
    "resolve_config_path",
    "usable_keyring",
]
