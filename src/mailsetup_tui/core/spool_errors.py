"""What the relay's queue (`core.spool`) raises, apart from it: the CLI catches these for every
command, and the form's start-up, which goes through the CLI, must not load the queue (and
`json`) for two `except` clauses."""

from __future__ import annotations


class SpoolError(Exception):
    """The spool cannot be used (missing, unreadable, unwritable, full). `temporary`: trying
    again later may pass (a full disk), so a caller is told 4xx / 75, never 250."""

    def __init__(self, message: str, *, temporary: bool = True) -> None:
        super().__init__(message)
        self.temporary = temporary


class Busy(SpoolError):
    """The message is being delivered right now."""
