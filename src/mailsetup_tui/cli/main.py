"""`mailsetup COMMAND`: parse the words, run the command, and map every error to an exit code.

The exit codes (`exit_codes.ExitCode`) and the first two output lines of `test` and `save` are
a contract scripts rely on; this is the one place an error becomes a code. With no command the
caller's `open_form` runs instead: the form and the line mode are sibling front ends, which the
`mailsetup` program (`launch`) knows and the CLI does not.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from mailsetup_tui.cli.context import Context, UsageError, check_global_options, no_options
from mailsetup_tui.cli.output import Output
from mailsetup_tui.cli.words import error_exit, password_given_inline, unrecognized_arguments
from mailsetup_tui.core.account import InvalidAccount
from mailsetup_tui.core.message import InvalidMessage
from mailsetup_tui.core.session import NeedsSignIn, NoPassword, SetupSession
from mailsetup_tui.core.spool_errors import Busy, SpoolError
from mailsetup_tui.core.step_log import show_steps
from mailsetup_tui.core.store.types import StoreError
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.exit_codes import ExitCode
from mailsetup_tui.startup import release_collection

if TYPE_CHECKING:
    from mailsetup_tui.cli.context import Options

FormOpener = Callable[[SetupSession, bool, TextIO], ExitCode]
"""What runs with no command: given the session, whether --plain was asked for, and where
output goes; returns the exit code."""


def run(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    open_form: FormOpener | None = None,
) -> int:
    """Parse `argv`, run the command and return the exit code (never raises for user errors).
    With no command, `open_form`; without one, that is a usage error."""
    words = list(sys.argv[1:] if argv is None else argv)
    code, answered = _run(words, out or sys.stdout, err or sys.stderr, open_form)
    special = error_exit(words)
    if special is not None and not answered and code != ExitCode.OK:
        return special  # an error, in the code the command's callers read (`check`: 3)
    return code


def _run(
    words: list[str], out: TextIO, err: TextIO, open_form: FormOpener | None
) -> tuple[int, bool]:
    """The exit code, and whether the command itself answered (not an error on its way)."""
    if password_given_inline(words):
        Output(out, err, json=False).error(
            "usage",
            "--password-stdin takes no value (the value is not repeated here): the password "
            "comes on standard input. Change that password now if it was a real one.",
        )
        return ExitCode.USAGE, False
    try:
        args, unknown = _parse(words)
    except SystemExit as exit_:  # argparse's own usage errors (and --help, --version: 0)
        return ExitCode.OK if not exit_.code else ExitCode.USAGE, False
    json_output = getattr(args, "json", False)
    if unknown:
        Output(out, err, json=False).error("usage", unrecognized_arguments(unknown))
        return ExitCode.USAGE, False
    if args.verbose:
        show_steps(err)
    try:
        check_global_options(args)
    except UsageError as error:
        Output(out, err, json=json_output).error("usage", str(error))
        return ExitCode.USAGE, False
    try:
        session = SetupSession.at(args.config, timeout=args.timeout, ca_file=args.ca_file)
    except StoreError as error:  # a config path that cannot be one
        Output(out, err, json=json_output).error("store", str(error), prefix="")
        return ExitCode.STORE, False
    output = Output(out, err, json=json_output, config_path=str(session.config_path))
    context = Context(args, output, session)
    return _run_command(context, open_form)


def _parse(words: list[str]) -> tuple[Options, list[str]]:
    """The options and the words left over. No words at all (`mailsetup`, the form as most
    runs open it) need no grammar: the parser, and argparse with it, load only for words."""
    if not words:
        return no_options(), []
    from mailsetup_tui.cli.parser import build_parser

    return build_parser(words).parse_known_args(words)


def _run_command(context: Context, open_form: FormOpener | None) -> tuple[ExitCode, bool]:
    """The command's own exit code (True), or the one its error maps to (False)."""
    output = context.output
    try:
        if not hasattr(context.args, "run"):
            if open_form is None:
                raise UsageError("give a command (see `mailsetup --help`)")
            return open_form(context.session, context.args.plain, output.out), True
        release_collection()
        code: ExitCode = context.args.run(context)
        return code, True
    except UsageError as error:
        output.error("usage", str(error))
    except NeedsSignIn as error:
        output.error(
            "usage",
            f"no Microsoft sign-in is stored for {error.account.email} with this app "
            "registration: run `mailsetup signin` with the same account options first",
        )
    except NoPassword as error:
        from mailsetup_tui.cli.options import PASSWORD_ENV

        output.error(
            "usage",
            f"no password: use --password-stdin or set {PASSWORD_ENV} (no saved password for "
            f"{error.email} to reuse)",
        )
    except InvalidAccount as error:
        output.error("invalid", *(str(problem) for problem in error.problems), prefix="invalid ")
    except InvalidMessage as error:
        output.error("invalid", str(error), prefix="invalid message: ")
    except Busy as error:  # a queued message being delivered at this moment
        output.error("busy", f"{error}; try again in a moment", prefix="")
        return ExitCode.TEMPFAIL, False
    except (StoreError, SpoolError) as error:
        output.error("store", str(error), prefix="")
        return ExitCode.STORE, False
    except KeyboardInterrupt:
        output.error("interrupted", "interrupted", prefix="")
        return ExitCode.INTERRUPTED, False
    except Exception as error:  # last resort: never a raw traceback that might carry a secret
        secrets = context.session.secrets
        text = secrets.redact(str(error))
        output.note(f"mailsetup: internal error: {shown(text)}")
        if context.args.verbose:
            for line in secrets.redact(traceback.format_exc()).splitlines():
                output.note(shown(line))
        if not output.emitted:  # --json: one object, whatever happened
            output.emit_json(output.error_object("internal", text))
        return ExitCode.SOFTWARE, False
    return ExitCode.USAGE, False  # every error above that returned nothing is one of input
