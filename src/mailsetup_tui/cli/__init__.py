"""`mailsetup`: the form with no command, sub-commands (`cli.commands`) for scripts.

The exit codes and the first two output lines of `test` and `save` are a contract scripts rely
on; `ExitCode` holds the codes, and `run` maps every outcome and error to one of them.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:
    from mailsetup_tui.cli.context import Context


class ExitCode(IntEnum):
    """What `mailsetup` (and its line mode) exits with."""

    OK = 0
    FAILED = 1
    """The test, the sign-in or the send failed."""
    USAGE = 2
    """Invalid input or usage; in line mode, input ended before anything was saved."""
    STORE = 3
    """The config or the secret could not be read or written, or there is none."""
    SOFTWARE = 70
    """EX_SOFTWARE: a bug, reported without a traceback that might carry a secret."""
    TEMPFAIL = 75
    """EX_TEMPFAIL, as sendmail exits: `send` failed in a way that may pass in a few
    minutes (a 4xx reply, a time-out, the network). `test` says so too, but exits 1."""
    INTERRUPTED = 130

    @classmethod
    def of(cls, ok: bool) -> ExitCode:
        return cls.OK if ok else cls.FAILED


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point."""
    from mailsetup_tui.startup import hold_collection

    hold_collection()
    from mailsetup_tui.core.hardening import no_core_dumps

    no_core_dumps()  # every command may hold a password or a token in memory
    if os.path.basename(sys.argv[0]) == "sendmail":  # a link named sendmail: be sendmail
        from mailsetup_tui.cli import sendmail

        sendmail.main(argv)
    sys.exit(run(argv))


def run(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Parse `argv`, run the command and return the exit code (never raises for user errors)."""
    # Imported here, not above: the command modules import ExitCode from this package.
    from mailsetup_tui.cli.context import Context, UsageError
    from mailsetup_tui.cli.output import Output, configure_logging
    from mailsetup_tui.cli.parser import (
        build_parser,
        check_global_options,
        password_given_inline,
        unrecognized_arguments,
    )
    from mailsetup_tui.core.session import SetupSession

    out = out or sys.stdout
    err = err or sys.stderr
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["sendmail"]:  # sendmail's own grammar, not argparse's
        from mailsetup_tui.cli import sendmail

        return sendmail.run(words[1:], err=err, prog="mailsetup sendmail")
    if password_given_inline(words):
        Output(out, err, json=False).error(
            "usage",
            "--password-stdin takes no value (the value is not repeated here): the password "
            "comes on standard input. Change that password now if it was a real one.",
        )
        return ExitCode.USAGE
    args, unknown = build_parser().parse_known_args(words)
    json_output = getattr(args, "json", False)
    if unknown:
        Output(out, err, json=False).error("usage", unrecognized_arguments(unknown))
        return ExitCode.USAGE
    configure_logging(args.verbose, err)
    try:
        check_global_options(args)
    except UsageError as error:
        Output(out, err, json=json_output).error("usage", str(error))
        return ExitCode.USAGE
    session = SetupSession.at(args.config, timeout=args.timeout, ca_file=args.ca_file)
    context = Context(args, Output(out, err, json=json_output), session)
    return _run_command(context)


def _run_command(context: Context) -> ExitCode:
    """The command's own exit code, or the one its error maps to."""
    from mailsetup_tui.cli.context import UsageError
    from mailsetup_tui.cli.parser import PASSWORD_ENV
    from mailsetup_tui.core.account import InvalidAccount
    from mailsetup_tui.core.session import InvalidMessage, NeedsSignIn, NoPassword, StoreError
    from mailsetup_tui.core.untrusted import shown
    from mailsetup_tui.startup import release_collection

    output = context.output
    try:
        if not hasattr(context.args, "run"):
            return open_form(context)
        release_collection()
        code: ExitCode = context.args.run(context)
        return code
    except UsageError as error:
        output.error("usage", str(error))
    except NeedsSignIn as error:
        output.error(
            "usage",
            f"no Microsoft sign-in is stored for {error.account.email} with this app "
            "registration: run `mailsetup signin` with the same account options first",
        )
    except NoPassword as error:
        output.error(
            "usage",
            f"no password: use --password-stdin or set {PASSWORD_ENV} (no saved password for "
            f"{error.email} to reuse)",
        )
    except InvalidAccount as error:
        output.error("invalid", *(str(problem) for problem in error.problems), prefix="invalid ")
    except InvalidMessage as error:
        output.error("invalid", str(error), prefix="invalid message: ")
    except StoreError as error:
        output.error("store", str(error), prefix="")
        return ExitCode.STORE
    except KeyboardInterrupt:
        output.note("mailsetup: interrupted")
        return ExitCode.INTERRUPTED
    except Exception as error:  # last resort: never a raw traceback that might carry a secret
        secrets = context.session.secrets
        output.note(f"mailsetup: internal error: {shown(secrets.redact(str(error)))}")
        if context.args.verbose:
            for line in secrets.redact(traceback.format_exc()).splitlines():
                output.note(shown(line))
        return ExitCode.SOFTWARE
    return ExitCode.USAGE  # every error above that returned nothing is one of input


def open_form(context: Context) -> ExitCode:
    """No command: the full-screen form, or the line mode where the form cannot work."""
    from mailsetup_tui.plain import run_wizard, wants_plain
    from mailsetup_tui.startup import release_collection

    if context.args.plain or wants_plain(os.environ, sys.stdin.isatty(), sys.stdout.isatty()):
        release_collection()
        return run_wizard(context.session, stdin=sys.stdin, stdout=context.output.out)
    from mailsetup_tui.terminal.teletype import echo_off

    # Keys typed while Textual loads must not be echoed (a password typed ahead would show,
    # and on a terminal with an alternate screen stay there after exit); Textual takes them
    # as input once it runs, since echo goes off without discarding them.
    with echo_off(sys.stdin.fileno()):
        # Deferred: Textual is only needed here, and the sub-commands start faster without it.
        from mailsetup_tui.tui.app import MailSetupApp

        MailSetupApp(context.session).run()
    return ExitCode.OK


if __name__ == "__main__":  # pragma: no cover
    main()
