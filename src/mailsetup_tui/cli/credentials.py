"""Where a password comes from on the command line, and the account it goes with.

Never from an argument (other users read arguments in the process list): `--password-stdin`,
else $MAILSETUP_PASSWORD, else a no-echo prompt on a terminal. An empty password in a draft
tells the session to use the saved one (see `core.session`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace

from mailsetup_tui.cli.context import Context, UsageError
from mailsetup_tui.cli.options import PASSWORD_ENV, account_options_given, draft_from_options
from mailsetup_tui.core.account import Account, AccountDraft
from mailsetup_tui.core.outcomes import CLEAR_TEXT_WARNING
from mailsetup_tui.core.providers import ProviderId, provider
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.teletype import Teletype


def draft_to_test(context: Context) -> AccountDraft:
    """The account the options describe, or the saved one when none is given, with the
    password to test it with. Account problems are reported before a password is asked for:
    nobody should type a password twice."""
    if not account_options_given(context.args):
        return saved_draft(context)
    discover_server(context)
    draft = with_mx_fact(context, draft_from_options(context.args))
    account = draft.check(with_password=False)  # the password is checked with the test
    if account.signin is not None:
        refuse_password(context)
        return draft
    warn_if_clear_text(context, account)
    return replace(draft, password=explicit_password(context) or prompt_password(context))


def discover_server(context: Context) -> None:
    """`--discover`: Other's server, port and security, found from the address and said on
    standard error, where the options name no server. `UsageError` when nothing is found."""
    args = context.args
    if not getattr(args, "discover", False) or args.server is not None:
        return
    if args.smtp_mail != ProviderId.OTHER or not args.email:
        raise UsageError("--discover is for --smtp-mail other with --email, without --server")
    from mailsetup_tui.core.discovery import discover, domain_of

    try:
        domain_of(args.email)
    except ValueError as error:
        raise UsageError(str(error)) from None
    found = asyncio.run(discover(args.email, ca_file=args.ca_file, timeout=args.timeout))
    if found.found is None:
        said = "; ".join(found.notes[-2:])
        raise UsageError(f"nothing found for {found.domain} ({said}): give --server and --port")
    context.output.note(f"mailsetup: found {shown(found.found.sentence(found.domain))}")
    args.server, args.port = found.found.server, found.found.port
    args.security = args.security or found.found.security.value


def with_mx_fact(context: Context, draft: AccountDraft) -> AccountDraft:
    """`draft` with what its address's MX says (Gmail takes a Google Workspace address), and
    the note that goes with it on standard error: an Exchange domain whose mail is not at
    Microsoft 365, or DNS that could not be asked (then the rules are the usual ones)."""
    fact = asyncio.run(context.session.mx_fact(draft))
    if fact is None:
        return draft
    if fact.note and fact.hosted is not provider(draft.provider_id).mx_service:
        context.output.note(f"mailsetup: note: {shown(fact.note)}")
    return replace(draft, hosted=fact.hosted)


def saved_draft(context: Context) -> AccountDraft:
    """The saved account, with its stored secret (an empty password in the draft) unless a
    new password comes on standard input (`save --password-stdin` changes it). A stray
    $MAILSETUP_PASSWORD is ignored, and said so: it belongs to commands given an account."""
    remedy = "give the account options (see `mailsetup test --help`)"
    account = context.session.store.saved_config(remedy).account
    password = "" if account.signin else stdin_password(context) or ""
    if os.environ.get(PASSWORD_ENV) and not password:
        context.output.note(
            f"mailsetup: note: {PASSWORD_ENV} is ignored: the saved account is used with its "
            "stored secret (give the account options to use another password)"
        )
    warn_if_clear_text(context, account)
    return AccountDraft.of(account, password)


def warn_if_clear_text(context: Context, account: Account) -> None:
    if account.sends_password_in_clear:
        context.output.note(f"mailsetup: warning: {CLEAR_TEXT_WARNING}")


def stdin_password(context: Context) -> str | None:
    """The password from --password-stdin, if given."""
    if not getattr(context.args, "password_stdin", False):
        return None
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        line = "\udcff"  # as a C locale's surrogateescape would have read it
    password = _text(line.removesuffix("\n").removesuffix("\r"), "--password-stdin")
    if not password:
        raise UsageError("--password-stdin: standard input held no password")
    context.session.secrets.add(password)
    return password


def explicit_password(context: Context) -> str | None:
    """The password from --password-stdin, else $MAILSETUP_PASSWORD, else None: for a
    command given an account (options, or an apply file)."""
    password = stdin_password(context)
    if password is None:
        password = os.environ.get(PASSWORD_ENV) or None
        if password:
            password = _text(password, PASSWORD_ENV)
            context.session.secrets.add(password)
    return password


def _text(password: str, source: str) -> str:
    """`password` if it is text; a usage error for bytes that are not UTF-8 (read with a C
    locale's surrogateescape), which neither the server nor the store could take. The error
    never quotes a byte of it, as the decoder's own message would."""
    if any("\udc80" <= ch <= "\udcff" for ch in password):
        raise UsageError(f"{source}: the password is not UTF-8 text")
    return password


def prompt_password(context: Context) -> str:
    """A no-echo prompt that keeps type-ahead (getpass would flush it and show a password
    pasted too early): see `teletype`."""
    if not sys.stdin.isatty():
        raise UsageError(
            f"no password: use --password-stdin or set {PASSWORD_ENV} "
            "(standard input is not a terminal, so there is no prompt)"
        )
    with Teletype(sys.stdin, sys.stderr) as teletype:
        while True:
            sys.stderr.write("Password (not shown): ")
            sys.stderr.flush()
            read = teletype.read_line(secret=True)
            if read is None or not read[0]:
                raise UsageError("no password entered")
            password, shown = read
            if not shown:
                break
            sys.stderr.write(
                "It was typed before the prompt could hide it, so the terminal showed it: it "
                "is not used. Type it again.\n"
            )
    context.session.secrets.add(password)
    return password


def refuse_password(context: Context) -> None:
    """Microsoft sign-in has no password: one given anyway is a mistake to point out."""
    if getattr(context.args, "password_stdin", False) or os.environ.get(PASSWORD_ENV):
        raise UsageError(
            f"Microsoft sign-in uses no password: drop --password-stdin and {PASSWORD_ENV}"
        )
