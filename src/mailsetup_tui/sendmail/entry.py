"""The sendmail command's start: parse, then hand the message to the relay when one runs,
else send it directly. Kept light (no session, SMTP or TLS imports) for the fast path."""

from __future__ import annotations

import os
import sys

from mailsetup_tui.core.relay_wire import RelayUnavailable, relay_wanted, socket_path
from mailsetup_tui.sendmail.options import MODE_BY_NAME, SEND, WHICH, OptionError, help_text, parse

TYPE_CHECKING = False  # not `typing`: the fast path to the relay never imports it

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import BinaryIO, NoReturn, TextIO


def run(
    argv: Sequence[str],
    *,
    stdin: BinaryIO | None = None,
    err: TextIO | None = None,
    prog: str = "sendmail",
) -> int:
    """Send (or queue) the message on `stdin` as `argv` asks; the exit code (never raises).

    The relay is used unless the caller named a config (-C: that account, not the relay's)
    or $MAILSETUP_RELAY_SOCKET is `none`."""
    err = err or sys.stderr
    stdin = stdin or sys.stdin.buffer
    try:
        options = parse(argv, MODE_BY_NAME.get(os.path.basename(prog), SEND))
    except OptionError as error:
        from mailsetup_tui.exit_codes import Sysexit

        print(f"{prog}: {error} (see {prog} --help)", file=err, flush=True)
        return Sysexit.EX_USAGE
    if options.help:
        print(help_text(), end="", flush=True)
        return 0
    if options.mode == WHICH:
        from mailsetup_tui.sendmail.which import run_which

        return run_which(options.recipients, out=sys.stdout)
    if options.mode != SEND:  # mailq, newaliases, -q: no message to read
        from mailsetup_tui.sendmail.modes import run_mode

        return run_mode(options, out=sys.stdout, err=err, prog=prog)
    absent = "the caller named a config with -C" if options.config else None
    if absent is None and relay_wanted():
        from mailsetup_tui.sendmail.handoff import hand_over

        path = socket_path()
        try:
            return hand_over(options, path=path, stdin=stdin, err=err, prog=prog)
        except RelayUnavailable as error:
            absent = str(error)
        except OSError as error:  # a socket we may not use: say so, and try the direct way
            absent = f"{path}: {error.strerror or error}"
    from mailsetup_tui.core.hardening import no_core_dumps
    from mailsetup_tui.sendmail.command import send_directly

    no_core_dumps()  # the password will be in memory while sending
    return send_directly(options, stdin=stdin, err=err, prog=prog, relay_absent=absent)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point (`mailsetup-sendmail`, or a link named `sendmail`)."""
    words = sys.argv[1:] if argv is None else argv
    sys.exit(run(words, prog=os.path.basename(sys.argv[0]) or "sendmail"))
