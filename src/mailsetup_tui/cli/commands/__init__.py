"""The sub-commands, in the order `--help` lists them. A new command is a module here that
defines `COMMAND`, and one line below."""

from __future__ import annotations

from mailsetup_tui.cli.commands import (
    access,
    aliases,
    apply,
    check,
    discover,
    queue,
    save,
    send,
    show,
    signin,
    test,
)
from mailsetup_tui.cli.context import Command

COMMANDS: tuple[Command, ...] = (
    test.COMMAND,
    save.COMMAND,
    signin.COMMAND,
    show.COMMAND,
    send.COMMAND,
    apply.COMMAND,
    access.COMMAND,
    aliases.COMMAND,
    discover.COMMAND,
    queue.COMMAND,
    check.COMMAND,
)
