"""Where a password comes from on the command line, and the account it goes with.

Never from an argument (other users read arguments in the process list): `--password-stdin`,
else $MAILSETUP_PASSWORD, else a no-echo prompt on a terminal. An empty password in a draft
tells the session to use the saved one (see `core.session`).
"""

from __future__ import annotations

import os
import sys

from mailsetup_tui.cli.context import Context, UsageError
from mailsetup_tui.cli.parser import (
    PASSWORD_ENV,
    account_from_options,
    account_options_given,
)
from mailsetup_tui.core.account import AccountDraft
from mailsetup_tui.core.outcomes import CLEAR_TEXT_WARNING
from mailsetup_tui.core.session import StoreError


def draft_to_test(context: Context) -> AccountDraft:
    """The account the options describe, or the saved one when none is given, with the
    password to test it with. Account problems are reported before a password is asked for:
    nobody should type a password twice."""
    if not account_options_given(context.args):
        account = context.session.saved()
        if account is None:
            raise StoreError(
                f"no saved account at {context.session.config_path}; give the account options "
                "(see `mailsetup test --help`)"
            )
        password = None if account.signin else explicit_password(context)
        return AccountDraft.of(account, password or "")
    account = account_from_options(context.args).checked()
    if account.signin is not None:
        refuse_password(context)
        return AccountDraft.of(account)
    password = explicit_password(context) or prompt_password(context)
    checked = account.checked(password)
    if checked.sends_password_in_clear:
        context.output.note(f"mailsetup: warning: {CLEAR_TEXT_WARNING}")
    return AccountDraft.of(checked, password)


def explicit_password(context: Context) -> str | None:
    """The password from --password-stdin, else $MAILSETUP_PASSWORD, else None."""
    if getattr(context.args, "password_stdin", False):
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise UsageError("--password-stdin: standard input held no password")
    else:
        password = os.environ.get(PASSWORD_ENV, "")
    context.session.secrets.add(password)
    return password or None


def prompt_password(context: Context) -> str:
    if not sys.stdin.isatty():
        raise UsageError(
            f"no password: use --password-stdin or set {PASSWORD_ENV} "
            "(standard input is not a terminal, so there is no prompt)"
        )
    import getpass

    password = getpass.getpass("Password (not shown): ")
    if not password:
        raise UsageError("no password entered")
    context.session.secrets.add(password)
    return password


def refuse_password(context: Context) -> None:
    """Microsoft sign-in has no password: one given anyway is a mistake to point out."""
    if getattr(context.args, "password_stdin", False) or os.environ.get(PASSWORD_ENV):
        raise UsageError(
            f"Microsoft sign-in uses no password: drop --password-stdin and {PASSWORD_ENV}"
        )
