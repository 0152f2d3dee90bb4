"""The sendmail command's start: parse, then hand the message to the relay when one runs,
else send it directly. Kept light (no session, SMTP or TLS imports) for the fast path."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO

from mailsetup_tui.core.relay_wire import RelayUnavailable, relay_wanted, socket_path
from mailsetup_tui.exit_codes import Sysexit
from mailsetup_tui.sendmail.options import HELP, OptionError, parse


def run(
    argv: Sequence[str],
    *,
    stdin: BinaryIO | None = None,
    err: TextIO | None = None,
    prog: str = "sendmail",
) -> Sysexit:
    """Send (or queue) the message on `stdin` as `argv` asks; the exit code (never raises).

    The relay is used unless the caller named a config (-C: that account, not the relay's)
    or $MAILSETUP_RELAY_SOCKET is `none`."""
    err = err or sys.stderr
    stdin = stdin or sys.stdin.buffer
    try:
        options = parse(argv)
    except OptionError as error:
        print(f"{prog}: {error} (see {prog} --help)", file=err, flush=True)
        return Sysexit.EX_USAGE
    if options.help:
        print(HELP, end="", flush=True)
        return Sysexit.EX_OK
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
    from mailsetup_tui.sendmail.command import send_directly

    return send_directly(options, stdin=stdin, err=err, prog=prog, relay_absent=absent)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point (`mailsetup-sendmail`, or a link named `sendmail`)."""
    from mailsetup_tui.core.hardening import no_core_dumps

    no_core_dumps()  # the password is in memory while sending directly
    words = sys.argv[1:] if argv is None else argv
    sys.exit(run(words, prog=Path(sys.argv[0]).name or "sendmail"))
