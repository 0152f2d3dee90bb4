"""`mailsetup discover ADDRESS`: find the submission server for an address, as mail clients do.

The order and the rules are `core.discovery`'s. What it found, and where from, goes to
standard output; what each step said on the way (no autoconfig host, a redirect not followed, a
resolver that did not answer) follows it, every word from the network sanitised first. Exit 0
when something was found, 1 when nothing was, always within `--timeout`.
"""

from __future__ import annotations

import argparse
import asyncio

from mailsetup_tui.cli.context import Command, Context, UsageError
from mailsetup_tui.cli.options import add_json_option
from mailsetup_tui.core.discovery import discover, domain_of
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help="the e-mail address to send from")
    parser.add_argument(
        "--ispdb",
        action="store_true",
        help="also ask Thunderbird's public database (autoconfig.thunderbird.net learns the "
        "domain; never asked without this)",
    )
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    args = context.args
    try:
        domain_of(args.address)
    except ValueError as error:
        raise UsageError(str(error)) from None
    found = asyncio.run(
        discover(args.address, ca_file=args.ca_file, ispdb=args.ispdb, timeout=args.timeout)
    )
    output = context.output
    if found.found is not None:
        output.say(f"Found: {shown(found.found.sentence(found.domain))}")
    else:
        output.say(f"Nothing found for {shown(found.domain)}: use Other and type the server.")
    output.say(*(f"  {shown(note)}" for note in found.notes))
    output.emit_json(
        {
            "status": "ok" if found.found else "failed",
            "domain": found.domain,
            **(found.found.as_json() if found.found else {}),
            "notes": found.notes,
        }
    )
    return ExitCode.OK if found.found else ExitCode.FAILED


COMMAND = Command(
    name="discover",
    help="find the SMTP server for an address, as mail clients do (autoconfig, SRV, MX)",
    description=(
        "Look for ADDRESS's submission server: the domain's autoconfig file over HTTPS, then "
        "its SRV records (_submissions, _submission), then its MX (Google Workspace, "
        "Microsoft 365); Thunderbird's database only with --ispdb. Only the domain is looked "
        "up, never the address. $MAILSETUP_NAMESERVER=ADDR[:PORT] sends every DNS lookup to "
        "that resolver. Exit 0 when a server was found, 1 when none was."
    ),
    add_arguments=add_arguments,
    run=run,
)
