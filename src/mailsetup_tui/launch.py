"""The `mailsetup` program: which front end a run is for.

A program named `sendmail` (a link), or `mailsetup sendmail ...`, is the sendmail interface,
whose grammar is not mailsetup's; a command is the CLI; no command is the form, or the line
mode where the form cannot work. The front ends are siblings that never import each other:
this module is the one place that knows them all, and it imports each only when it runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn, TextIO

from mailsetup_tui.startup import hold_collection, release_collection

if TYPE_CHECKING:
    from mailsetup_tui.core.session import SetupSession
    from mailsetup_tui.exit_codes import ExitCode

# Nothing else is imported at module level: the garbage collector is held (`startup`) before
# the front end a run needs is loaded.


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point of `mailsetup` (and of a link named `sendmail`)."""
    hold_collection()
    from mailsetup_tui.core.hardening import no_core_dumps

    no_core_dumps()  # every front end may hold a password or a token in memory
    if os.path.basename(sys.argv[0]) in {"sendmail", "mailq", "newaliases"}:  # be sendmail
        from mailsetup_tui import sendmail

        sendmail.main(argv)
    sys.exit(run(argv))


def run(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run `mailsetup ARGV...` and return its exit code."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["sendmail"]:  # sendmail's own grammar, not argparse's
        from mailsetup_tui import sendmail

        return sendmail.run(words[1:], err=err, prog="mailsetup sendmail")
    if words[:1] == ["relay"]:  # a service, not a command: it runs until it is stopped
        from mailsetup_tui import relay

        return relay.run(words[1:], err=err)
    from mailsetup_tui import cli

    return cli.run(words, out=out, err=err, open_form=open_form)


def open_form(session: SetupSession, plain: bool, out: TextIO) -> ExitCode:
    """No command: the full-screen form, or the line mode where the form cannot work."""
    from mailsetup_tui.exit_codes import ExitCode
    from mailsetup_tui.line_mode import wants_plain

    if plain or wants_plain(os.environ, sys.stdin.isatty(), sys.stdout.isatty()):
        from mailsetup_tui.line_mode.wizard import run_wizard

        release_collection()
        return run_wizard(session, stdin=sys.stdin, stdout=out)
    from mailsetup_tui.teletype import echo_off

    # Keys typed while Textual loads must not be echoed (a password typed ahead would show,
    # and on a terminal with an alternate screen stay there after exit); Textual takes them
    # as input once it runs, since echo goes off without discarding them.
    with echo_off(sys.stdin.fileno()):
        # Deferred: Textual is only needed here, and the sub-commands start faster without it.
        from mailsetup_tui.tui.app import MailSetupApp

        app = MailSetupApp(session)
        app.run()
    # Textual's return code is 1 after an unexpected error (reported by the app itself).
    return ExitCode.OK if not app.return_code else ExitCode.SOFTWARE
