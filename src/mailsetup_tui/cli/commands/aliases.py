"""`mailsetup aliases`: where mail to local names goes, for the sendmail command.

cron mails `root`, mailx users write `admin`: names without a domain, which no provider
delivers. The config's [aliases] table maps each to an address (`default` for every other
local name); the sendmail command refuses a local name with none (exit 67) and names this
command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mailsetup_tui.cli.context import Command, Context, UsageError
from mailsetup_tui.cli.options import add_json_option
from mailsetup_tui.core.store import KEEP, Keep, StoredConfig, alias_problem
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "assignments",
        nargs="*",
        metavar="NAME=ADDRESS",
        help="send mail for the local name NAME to ADDRESS (default=ADDRESS: every local name "
        "without an alias of its own)",
    )
    parser.add_argument(
        "--unset", metavar="NAME", action="append", default=[], help="remove the alias NAME"
    )
    parser.add_argument(
        "--log",
        metavar="FILE",
        help="also write the sendmail command's log lines to FILE (an absolute path; made "
        "0660 to the readers group if missing); `none` to stop",
    )
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    args, session = context.args, context.session
    changes = _changes(args.assignments)
    log = _log(args.log)
    config = session.store.saved_config()
    if changes or args.unset or not isinstance(log, Keep):
        for name in args.unset:
            if name not in config.alias_map:
                raise UsageError(f"there is no alias {name!r}")
        config = session.store.set_sendmail_settings(add=changes, remove=args.unset, log=log)
    context.output.say(*_lines(config))
    context.output.emit_json(
        {
            "status": "ok",
            "config_path": str(session.config_path),
            "aliases": config.alias_map,
            "log": str(config.log) if config.log else None,
        }
    )
    return ExitCode.OK


def _changes(assignments: list[str]) -> dict[str, str]:
    changes = {}
    for assignment in assignments:
        name, equals, address = assignment.partition("=")
        if not equals:
            raise UsageError(f"{assignment!r}: write NAME=ADDRESS, e.g. root=ops@example.com")
        problem = alias_problem(name.strip(), address.strip())
        if problem:
            raise UsageError(problem)
        changes[name.strip()] = address.strip()
    return changes


def _log(value: str | None) -> Path | Keep | None:
    if value is None:
        return KEEP
    if value == "none":
        return None
    path = Path(value)
    if not path.is_absolute():
        raise UsageError(f"--log {value}: give an absolute path (or none)")
    return path


def _lines(config: StoredConfig) -> list[str]:
    if config.aliases:
        width = max(len(name) for name, _ in config.aliases)
        lines = [f"{name:<{width}}  ->  {address}" for name, address in config.aliases]
    else:
        lines = [
            "No aliases: mail to a local name such as root is refused (exit 67). "
            "Add one: mailsetup aliases root=ADDRESS"
        ]
    log = str(config.log) if config.log else "none (the system log only)"
    return [*lines, f"Log file: {log}"]


COMMAND = Command(
    name="aliases",
    help="where the sendmail command sends mail for local names such as root",
    description=(
        "Without arguments: the aliases of the sendmail command and its log file. "
        "NAME=ADDRESS sets an alias (default=ADDRESS catches every other local name), "
        "--unset NAME removes one; only the account's owner may change them, and no new "
        "test is needed."
    ),
    add_arguments=add_arguments,
    run=run,
)
