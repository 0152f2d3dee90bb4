"""The two ways the saved account can fail to load or save, for callers to catch by kind."""

from __future__ import annotations


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
