"""`mailsetup signin`: a Microsoft sign-in with a device code, then test, then save."""

from __future__ import annotations

import argparse

from mailsetup_tui.cli.context import Command, Context, UsageError
from mailsetup_tui.cli.options import (
    ACCOUNT_OPTIONS,
    account_from_options,
    add_account_options,
    add_group_option,
    add_json_option,
)
from mailsetup_tui.cli.output import Output, test_object
from mailsetup_tui.core.account import (
    Account,
    AccountDraft,
    MicrosoftSignIn,
    default_authority_host,
)
from mailsetup_tui.core.outcomes import TestProgress, sign_in_instructions
from mailsetup_tui.core.session import KEEP, DeviceCode, StoreError
from mailsetup_tui.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_account_options(parser, password=False)
    add_group_option(parser)
    add_json_option(parser)


class _Progress(TestProgress):
    """The code and who signed in, as plain lines; under --json on standard error, which
    then carries no result of its own."""

    def __init__(self, output: Output) -> None:
        self.say = output.note if output.json else output.say

    def show_code(self, code: DeviceCode) -> None:
        self.say(sign_in_instructions(code))

    def signed_in(self, sentence: str) -> None:
        self.say(sentence)


def run(context: Context) -> ExitCode:
    output, session = context.output, context.session
    session.check_may_change()
    draft = AccountDraft.of(_account_to_sign_in(context))
    outcome = context.test(draft, _Progress(output), new_sign_in=True)
    result: dict[str, object] = {
        "config_path": str(session.config_path),
        "signed_in_as": outcome.signed_in_as,
    }
    if outcome.sign_in_failure is not None:
        output.say(f"Not signed in: {outcome.detail}")
        output.emit_json(test_object(outcome) | result)
        return ExitCode.FAILED
    output.say(outcome.headline, outcome.detail)
    if not outcome.ok:
        output.say("Not saved: the test must pass first (sign in again once it is fixed).")
        output.emit_json(test_object(outcome) | result)
        return ExitCode.FAILED
    group = KEEP if context.args.group is None else context.args.group
    saved = session.save(draft, group=group)
    output.saved(saved)
    output.emit_json(
        test_object(outcome) | result | {"changed": True, "secret": saved.secret_where}
    )
    return ExitCode.OK


SIGN_IN = ("client_id", "tenant")
"""The options that may go without --smtp-mail: they change the saved account's sign-in."""


def _account_to_sign_in(context: Context) -> Account:
    """From the options, or the saved account (its sign-in replaced by --client-id/--tenant
    when given)."""
    args = context.args
    if args.smtp_mail is not None:
        if args.client_id is None:
            raise UsageError(
                "--client-id is required: the Application (client) ID of your app registration "
                "(see README: Microsoft sign-in)"
            )
        return account_from_options(args).checked()
    if any(getattr(args, name) is not None for name in ACCOUNT_OPTIONS if name not in SIGN_IN):
        raise UsageError("--smtp-mail is required when account options are given")
    saved = context.session.saved()
    if saved is None:
        raise StoreError(
            f"no saved account at {context.session.config_path}; give the account options "
            "(see `mailsetup signin --help`)"
        )
    signin = saved.signin
    if args.client_id is not None or args.tenant is not None:
        signin = MicrosoftSignIn(
            args.client_id or (signin.client_id if signin else ""),
            args.tenant or (signin.tenant if signin else ""),
            signin.authority_host if signin else default_authority_host(),
        )
    if signin is None:
        raise UsageError(
            "the saved account signs in with a password; give --client-id (and --tenant) to "
            "switch it to Microsoft sign-in"
        )
    return Account.create(
        saved.provider_id, saved.display_name, saved.email, server=saved.server,
        port=saved.port, security=saved.security, signin=signin,
    ).checked()  # fmt: skip


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
