"""`mailsetup signin`: a Microsoft sign-in with a device code, then test, then save."""

from __future__ import annotations

import argparse
from dataclasses import replace

from mailsetup_tui.cli.context import Command, Context, UsageError
from mailsetup_tui.cli.credentials import discover_server, with_mx_fact
from mailsetup_tui.cli.options import (
    ACCOUNT_OPTIONS,
    add_account_options,
    add_group_option,
    add_json_option,
    draft_from_options,
    group_wanted,
)
from mailsetup_tui.cli.output import test_object
from mailsetup_tui.core.account import AccountDraft, SignInMethod, default_authority_host
from mailsetup_tui.core.fields import Field
from mailsetup_tui.core.outcomes import LineProgress
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_account_options(parser, password=False)
    add_group_option(parser)
    add_json_option(parser)


def run(context: Context) -> ExitCode:
    output, session = context.output, context.session
    session.store.check_may_change()
    draft = _draft_to_sign_in(context)
    # The code and who signed in, as plain lines; under --json on standard error, which then
    # carries no result of its own.
    progress = LineProgress(output.note if output.json else output.say)
    outcome = context.test(draft, progress, new_sign_in=True)
    result: dict[str, object] = {
        "config_path": str(session.config_path),
        "signed_in_as": outcome.signed_in_as,
    }
    if outcome.sign_in_failure is not None:
        output.say(f"Not signed in: {outcome.detail}")
        output.emit_json(test_object(outcome) | result)
        return ExitCode.of(False, temporary=outcome.temporary)  # the network: 75
    output.say(outcome.headline, outcome.detail)
    if not outcome.ok:
        output.say("Not saved: the test must pass first (sign in again once it is fixed).")
        output.emit_json(test_object(outcome) | result)
        return ExitCode.of(False, temporary=outcome.temporary)
    saved = session.save(draft, group=group_wanted(context.args))
    output.saved(saved)
    output.emit_json(
        test_object(outcome) | result | {"changed": True, "secret": saved.secret_where}
    )
    return ExitCode.OK


SIGN_IN = (Field.CLIENT_ID, Field.TENANT)
"""The options that may go without --smtp-mail: they change the saved account's sign-in."""


def _draft_to_sign_in(context: Context) -> AccountDraft:
    """From the options, or the saved account (its sign-in replaced by --client-id/--tenant
    when given); checked before any device code is asked for."""
    args = context.args
    if args.smtp_mail is not None:
        if args.client_id is None:
            raise UsageError(
                "--client-id is required: the Application (client) ID of your app registration "
                "(see README: Microsoft sign-in)"
            )
        discover_server(context)
        draft = with_mx_fact(context, draft_from_options(args))
    else:
        draft = _saved_draft_signing_in(context)
    draft.check(with_password=False)
    return draft


def _saved_draft_signing_in(context: Context) -> AccountDraft:
    args = context.args
    others = [spec for spec in ACCOUNT_OPTIONS if spec.field not in SIGN_IN]
    if any(getattr(args, str(spec.dest)) is not None for spec in others):
        raise UsageError("--smtp-mail is required when account options are given")
    remedy = "give the account options (see `mailsetup signin --help`)"
    saved = context.session.store.saved_config(remedy).account
    signin = saved.signin
    if signin is None and args.client_id is None and args.tenant is None:
        raise UsageError(
            "the saved account signs in with a password; give --client-id (and --tenant) to "
            "switch it to Microsoft sign-in"
        )
    return replace(
        AccountDraft.of(saved),
        signin=SignInMethod.MICROSOFT,
        client_id=args.client_id or (signin.client_id if signin else ""),
        tenant=args.tenant or (signin.tenant if signin else ""),
        authority_host=signin.authority_host if signin else default_authority_host(),
    )


COMMAND = Command(
    name="signin",
    help="Microsoft sign-in (Exchange, Hotmail): device code, test, then save",
    description=(
        "Sign in with Microsoft for SMTP (OAuth2, AUTH XOAUTH2) on a machine without a "
        "browser: open the address shown on any device and enter the code. The account is "
        "then tested and saved, with the sign-in's refresh token kept where a password would "
        "be. With no account options, signs the saved account in again (--client-id/--tenant "
        "switch it to, or change, Microsoft sign-in)."
    ),
    add_arguments=add_arguments,
    run=run,
)
