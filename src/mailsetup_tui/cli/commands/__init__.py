"""The sub-commands, in the order `--help` lists them. A new command is a module here that
defines `COMMAND`, and its name below.

A command's module is imported only when the command is named on the command line (or for
`--help`): most runs name none and open the form, and several commands bring heavy libraries
with them (a DNS resolver, the relay's queue), which the form would otherwise load before its
first frame."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailsetup_tui.cli.context import Command

NAMES: tuple[str, ...] = (
    "test",
    "save",
    "signin",
    "show",
    "send",
    "apply",
    "access",
    "aliases",
    "discover",
    "queue",
    "check",
)


def command(name: str) -> Command:
    """The command called `name` (one of NAMES), its module imported now."""
    found: Command = import_module(f"{__name__}.{name}").COMMAND
    return found
