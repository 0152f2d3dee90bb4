"""`mailsetup send`: one message through the saved account, for hosts not written in Python."""

from __future__ import annotations

import argparse
import asyncio
import sys

from mailsetup_tui.cli.context import Command, Context, UsageError
from mailsetup_tui.cli.credentials import warn_if_clear_text
from mailsetup_tui.cli.options import add_json_option
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", metavar="ADDR", action="append", required=True,
                        help="a recipient (repeat for more)")  # fmt: skip
    parser.add_argument("--subject", metavar="S", help="the subject (default: from the name)")
    parser.add_argument("--body-file", metavar="F", help="the text body (default: standard input)")
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    args = context.args
    text = _body(args.body_file)
    account = context.session.store.load()
    if account is not None:
        warn_if_clear_text(context, account)
    outcome = asyncio.run(context.session.send(args.to, args.subject, text))
    context.output.sent(outcome, config_path=str(context.session.config_path))
    return ExitCode.of(outcome.ok, temporary=outcome.temporary)


MAX_BODY = 64 * 1024 * 1024
"""Bytes of a body at most, as the sendmail command caps a message: `--body-file /dev/zero`
must fail, not fill memory."""


def _body(body_file: str | None) -> str:
    if body_file is not None:
        try:
            with open(body_file, "rb") as file:
                data = file.read(MAX_BODY + 1)
        except OSError as error:
            raise UsageError(
                f"--body-file {body_file}: cannot be read ({error.strerror})"
            ) from None
    elif not sys.stdin.isatty():
        raw = getattr(sys.stdin, "buffer", None)  # None: a caller's own text stream
        data = raw.read(MAX_BODY + 1) if raw else sys.stdin.read(MAX_BODY + 1).encode()
    else:
        raise UsageError("give the body on standard input or with --body-file")
    if len(data) > MAX_BODY:
        raise UsageError(f"the message body is larger than {MAX_BODY // 2**20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the message body is not UTF-8 text") from None
    if not text.strip():
        raise UsageError("the message body is empty")
    return text


COMMAND = Command(
    name="send",
    help="send a message through the saved account",
    description=(
        "Send one message through the saved account, connected exactly as `test` connects. "
        "The body comes from --body-file or standard input."
    ),
    add_arguments=add_arguments,
    run=run,
)
