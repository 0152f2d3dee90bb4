"""What every sub-command gets, and how it declares itself to the parser."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple

from mailsetup_tui.cli.output import Output
from mailsetup_tui.core.account import AccountDraft
from mailsetup_tui.core.outcomes import TestOutcome, TestProgress
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.exit_codes import ExitCode


class UsageError(Exception):
    """Bad input: printed as `mailsetup: error: ...` with exit code 2."""


class Context:
    """The parsed options, where output goes, and the session every command works through."""

    def __init__(self, args: argparse.Namespace, output: Output, session: SetupSession) -> None:
        self.args = args
        self.output = output
        self.session = session

    def test(
        self, draft: AccountDraft, progress: TestProgress | None = None, **options: Any
    ) -> TestOutcome:
        """`SetupSession.test`, run to its end (the CLI has no other work meanwhile)."""
        return asyncio.run(self.session.test(draft, progress, **options))


class Command(NamedTuple):
    """A sub-command: its name and help, the options it adds, and what it runs.

    Each lives in a module of `cli.commands` beside its options; the registry there lists them.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context], ExitCode]
    description: str | None = None
    error_exit: int | None = None
    """The exit code of every error (bad options included), where the command's callers
    read codes their own way (`check`: 3, UNKNOWN)."""
