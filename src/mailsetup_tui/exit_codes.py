"""What every front end exits with: one table for `mailsetup` (the CLI and the line mode),
one for the sendmail interface, whose callers expect sysexits.h.

A leaf: scripts act on these numbers, so each is defined once here with what it means, and the
help texts list them from here rather than from a copy that can drift.
"""

from __future__ import annotations

from enum import IntEnum

TYPE_CHECKING = False  # not `typing`: the fast path to the relay never imports it

if TYPE_CHECKING:
    from collections.abc import Mapping


class ExitCode(IntEnum):
    """What `mailsetup` (and its line mode) exits with."""

    OK = 0
    FAILED = 1
    USAGE = 2
    STORE = 3
    SOFTWARE = 70
    TEMPFAIL = 75
    """EX_TEMPFAIL, as sendmail exits: the same test or send may pass in a few minutes."""
    INTERRUPTED = 130

    @classmethod
    def of(cls, ok: bool, *, temporary: bool = False) -> ExitCode:
        """OK, or FAILED, or TEMPFAIL for a failure that may pass when tried again."""
        if ok:
            return cls.OK
        return cls.TEMPFAIL if temporary else cls.FAILED

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS: Mapping[ExitCode, str] = {
    ExitCode.OK: "ok",
    ExitCode.FAILED: "test / sign-in / send failed",
    ExitCode.USAGE: "invalid input or usage",
    ExitCode.STORE: "config or secret store error",
    ExitCode.SOFTWARE: "internal error",
    ExitCode.TEMPFAIL: "temporary failure (try again later)",
    ExitCode.INTERRUPTED: "interrupted",
}


class Sysexit(IntEnum):
    """sysexits.h, the codes callers of sendmail act on (75: try again later)."""

    EX_OK = 0
    EX_USAGE = 64
    EX_DATAERR = 65
    EX_NOUSER = 67
    EX_UNAVAILABLE = 69
    EX_SOFTWARE = 70
    EX_TEMPFAIL = 75
    EX_NOPERM = 77
    EX_CONFIG = 78

    @property
    def meaning(self) -> str:
        return _SYSEXIT_MEANINGS[self]


_SYSEXIT_MEANINGS: Mapping[Sysexit, str] = {
    Sysexit.EX_OK: "sent, or queued by the relay",
    Sysexit.EX_USAGE: "usage",
    Sysexit.EX_DATAERR: "malformed or too large",
    Sysexit.EX_NOUSER: "unknown local recipient",
    Sysexit.EX_UNAVAILABLE: "refused by the server",
    Sysexit.EX_SOFTWARE: "internal error",
    Sysexit.EX_TEMPFAIL: "temporary failure",
    Sysexit.EX_NOPERM: "no permission to use the account",
    Sysexit.EX_CONFIG: "no account saved or a broken config",
}


def exit_table(codes: type[ExitCode] | type[Sysexit]) -> str:
    """ "0 ok, 1 ..., 130 interrupted": every code with what it means, for a help text."""
    return ", ".join(f"{code.value} {code.meaning}" for code in codes)
