"""What every sub-command gets, and how it declares itself to the parser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from mailsetup_tui.cli.output import Output
from mailsetup_tui.core.account import AccountDraft, default_authority_host
from mailsetup_tui.core.outcomes import TestOutcome, TestProgress
from mailsetup_tui.core.session import DEFAULT_TIMEOUT, SetupSession, ca_file_problem
from mailsetup_tui.exit_codes import ExitCode

if TYPE_CHECKING:
    import argparse

    Options: TypeAlias = argparse.Namespace | SimpleNamespace
    """The parsed options: argparse's, or `no_options()` where there were no words."""

MAX_TIMEOUT = 300.0


class UsageError(Exception):
    """Bad input: printed as `mailsetup: error: ...` with exit code 2."""


class Context:
    """The parsed options, where output goes, and the session every command works through."""

    def __init__(self, args: Options, output: Output, session: SetupSession) -> None:
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


def no_options() -> SimpleNamespace:
    """What the grammar makes of no words at all (a test holds the two to the same), without
    loading it: the global options' defaults, and no command."""
    return SimpleNamespace(
        version=None,
        config=None,
        ca_file=None,
        timeout=DEFAULT_TIMEOUT,
        plain=False,
        verbose=False,
        command=None,
    )


def check_global_options(args: Options) -> None:
    """Refuse a deadline, login host or CA file that cannot work, before any command runs."""
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be between 0 and {MAX_TIMEOUT:g} seconds")
    try:
        default_authority_host()
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.ca_file is not None:
        path = Path(args.ca_file).expanduser()
        problem = ca_file_problem(path)
        if problem:
            raise UsageError(f"--ca-file {path}: {problem}")
        args.ca_file = str(path)
