"""`mailsetup`: the form with no arguments, sub-commands for scripts.

The exit codes and the first two output lines of `test` and `save` are a contract that scripts
rely on: 0 ok, 1 test failed, 2 invalid input or usage, 3 config or secret store error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from mailsetup_tui.core.account import (
    DEFAULT_AUTHORITY_HOST,
    Account,
    InvalidAccount,
    MicrosoftSignIn,
    default_authority_host,
)
from mailsetup_tui.core.mailer import InvalidMessage, Mailer, SendError
from mailsetup_tui.core.probe import (
    DEFAULT_TIMEOUT,
    MESSAGE_FAILED,
    MESSAGE_OK,
    ProbeFailure,
    ProbeResult,
    probe,
    tls_context,
)
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security
from mailsetup_tui.core.redact import redact
from mailsetup_tui.core.store import (
    AccountStore,
    SaveReport,
    SecretState,
    SecretStatus,
    SecretType,
    StoreError,
    account_from_toml,
)

if TYPE_CHECKING:
    from mailsetup_tui.core.oauth import DeviceCode, Tokens

EXIT_OK = 0
EXIT_TEST_FAILED = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_INTERRUPTED = 130


PASSWORD_ENV = "MAILSETUP_PASSWORD"
MAX_TIMEOUT = 300.0

log = logging.getLogger("mailsetup_tui")


class UsageError(Exception):
    """Bad input: printed as `mailsetup: error: ...` with exit code 2."""


class Exit(Exception):
    """Leave with `code` after the message (if any) was printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Context:
    """What every sub-command gets: the parsed options and where to write."""

    args: argparse.Namespace
    out: TextIO
    err: TextIO
    secrets: list[str] = field(default_factory=list)
    """Passwords met so far, masked in any unexpected error text."""

    @property
    def store(self) -> AccountStore:
        return AccountStore.at(self.args.config)

    @property
    def timeout(self) -> float:
        timeout: float = self.args.timeout
        return timeout


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point."""
    sys.exit(run(argv))


def run(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Parse `argv`, run the command and return the exit code (never raises for user errors)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse would echo every leftover word, and one of them may be a password typed
        # where it should not be: name only the options.
        options = [word.split("=")[0] for word in unknown if word.startswith("-")]
        named = f": {' '.join(options)}" if options else ""
        print(
            f"mailsetup: error: unrecognized arguments{named} (values are not repeated here); "
            "see `mailsetup --help`",
            file=err,
        )
        return EXIT_USAGE
    _configure_logging(args.verbose, err)
    context = Context(args, out, err)
    try:
        _check_global_options(args)
        if args.command is None:
            return open_form(context)
        handler = {
            "test": cmd_test,
            "save": cmd_save,
            "show": cmd_show,
            "send": cmd_send,
            "apply": cmd_apply,
            "signin": cmd_signin,
        }[args.command]
        return handler(context)
    except UsageError as error:
        print(f"mailsetup: error: {error}", file=err)
        _json_error(context, "usage", str(error))
        return EXIT_USAGE
    except InvalidAccount as error:
        for problem in error.problems:
            print(f"mailsetup: invalid {problem}", file=err)
        _json_error(context, "invalid", "; ".join(str(p) for p in error.problems))
        return EXIT_USAGE
    except InvalidMessage as error:
        print(f"mailsetup: invalid message: {error}", file=err)
        _json_error(context, "invalid", str(error))
        return EXIT_USAGE
    except StoreError as error:
        print(f"mailsetup: {error}", file=err)
        _json_error(context, "store", str(error))
        return EXIT_STORE
    except Exit as leave:
        return leave.code
    except KeyboardInterrupt:
        print("mailsetup: interrupted", file=err)
        return EXIT_INTERRUPTED
    except Exception as error:  # last resort: never a raw traceback that might carry a secret
        secrets = context.secrets
        print(f"mailsetup: internal error: {redact(str(error), *secrets)}", file=err)
        if args.verbose:
            print(redact(traceback.format_exc(), *secrets), file=err)
        return 70  # EX_SOFTWARE


# --- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailsetup",
        allow_abbrev=False,
        description=(
            "Set up and test the e-mail account this system sends its verification codes from. "
            "With no command, opens the form."
        ),
        epilog=(
            "The password is never taken as an argument: use --password-stdin, the "
            f"{PASSWORD_ENV} environment variable, or the no-echo prompt. "
            "Exit codes: 0 ok, 1 test failed, 2 invalid input or usage, "
            "3 config or secret store error."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_global_options(parser, suppress=False)
    # No prefix matching anywhere: `--password SECRET` must not become `--password-stdin`
    # followed by an "unrecognized argument" error that prints the secret.
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_NoAbbrevParser
    )

    test = commands.add_parser(
        "test",
        help="test the given account, or the saved one when none is given",
        description=(
            "Connect, encrypt, log in and check that the account may send as its address, "
            "without sending anything. Tests the saved account when no account options are "
            "given."
        ),
    )
    save = commands.add_parser(
        "save",
        help="test, then save only if the test passed",
        description=(
            "Test the account and save it only if the test passed. With no account options, "
            "re-tests and re-saves the saved account (e.g. with a new password)."
        ),
    )
    signin = commands.add_parser(
        "signin",
        help="Microsoft sign-in (Exchange, Hotmail): device code, test, then save",
        description=(
            "Sign in with Microsoft for SMTP (OAuth2, AUTH XOAUTH2) on a machine without a "
            "browser: open the address shown on any device and enter the code. The account "
            "is then tested and saved, with the sign-in's refresh token kept where a password "
            "would be. With no account options, signs the saved account in again "
            "(--client-id/--tenant switch it to, or change, Microsoft sign-in)."
        ),
    )
    show = commands.add_parser(
        "show",
        help="the saved account and where its config and password live (never the password)",
    )
    send = commands.add_parser(
        "send",
        help="send a message through the saved account",
        description=(
            "Send one message through the saved account, connected exactly as `test` "
            "connects. The body comes from --body-file or standard input."
        ),
    )
    send.add_argument("--to", metavar="ADDR", action="append", required=True,
                      help="a recipient (repeat for more)")  # fmt: skip
    send.add_argument("--subject", metavar="S", help="the subject (default: from the name)")
    send.add_argument("--body-file", metavar="F", help="the text body (default: standard input)")
    apply = commands.add_parser(
        "apply",
        help="make the saved account match a TOML file: test, save only if it differs",
        description=(
            "Read an account from FILE (the config's schema, no password), test it, and "
            "save it only if it differs from the saved one; prints `changed` or "
            "`unchanged`. The password comes from --password-stdin or MAILSETUP_PASSWORD, "
            "else the saved one when the address is the same."
        ),
    )
    apply.add_argument("file", metavar="FILE", help="the account, as TOML")
    apply.add_argument("--check", action="store_true", help="test and report; never save")
    apply.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input")  # fmt: skip
    for sub in (test, save, signin):
        _add_account_options(sub, password=sub is not signin)
    for sub in (test, show, send, apply, signin):
        sub.add_argument("--json", action="store_true", help="print one JSON object")
    for sub in (test, save, show, send, apply, signin):
        _add_global_options(sub, suppress=True)
    return parser


class _NoAbbrevParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


class _RefusePasswordArgument(argparse.Action):
    """`--password VALUE`: refused without echoing VALUE, which is already in ps and history."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.exit(
            EXIT_USAGE,
            f"{parser.prog}: error: the password is never taken as an argument (other users "
            "can read it in the process list, and it stays in the shell history): use "
            f"--password-stdin, {PASSWORD_ENV}, or the prompt. Change that password now if "
            "it was a real one.\n",
        )


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # The same options on the main parser and each sub-command, so that both
    # `mailsetup --config X test` and `mailsetup test --config X` work; the sub-command copies
    # default to SUPPRESS so they do not overwrite a value given before the command.
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--config",
        metavar="PATH",
        default=default(None),
        help="config file (default: $MAILSETUP_CONFIG, else the per-user config directory)",
    )
    group.add_argument(
        "--ca-file",
        metavar="PEM",
        default=default(None),
        help="trust the CA certificates in this PEM file instead of the system store",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=default(DEFAULT_TIMEOUT),
        help=f"overall deadline for a connection test (default {DEFAULT_TIMEOUT:g})",
    )
    if not suppress:
        group.add_argument(
            "--plain",
            action="store_true",
            help="with no command: a line-by-line wizard instead of the full-screen form "
            "(chosen automatically when TERM is dumb or unset, or input/output is not a "
            "terminal)",
        )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log each step of the connection test to standard error",
    )


def _add_account_options(parser: argparse.ArgumentParser, *, password: bool) -> None:
    group = parser.add_argument_group(
        "account", "the account to use (all omitted: the saved account)"
    )
    group.add_argument(
        "--smtp-mail",
        choices=[p.value for p in ProviderId],
        help="the mail service: "
        + ", ".join(f"{p.id.value} ({p.label})" for p in PROVIDERS.values()),
    )
    group.add_argument("--display-name", metavar="NAME", help="the name shown in the From line")
    group.add_argument("--email", metavar="ADDR", help="the address the codes are sent from")
    group.add_argument("--server", metavar="HOST", help="SMTP server name (other only)")
    group.add_argument("--port", metavar="N", type=_port, help="SMTP server port (other only)")
    group.add_argument(
        "--security",
        choices=[s.value for s in Security],
        help="auto (TLS on 465, STARTTLS otherwise; the default), starttls, tls, or none "
        "(sends the password unencrypted) (other only)",
    )
    group.add_argument(
        "--client-id",
        metavar="GUID",
        help="Microsoft sign-in instead of a password: the Application (client) ID of your "
        "app registration (exchange, hotmail, other)",
    )
    group.add_argument(
        "--tenant",
        metavar="ID|DOMAIN",
        help="Microsoft sign-in: the Directory (tenant) ID or a domain of it (hotmail: "
        "always consumers)",
    )
    if password:
        group.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
    group.add_argument(
        "--password", "-p", nargs="?", action=_RefusePasswordArgument, help=argparse.SUPPRESS
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range (1-65535)")
    return port


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailsetup-tui")
    except PackageNotFoundError:
        return "unknown"


def _check_global_options(args: argparse.Namespace) -> None:
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be between 0 and {MAX_TIMEOUT:g} seconds")
    try:
        default_authority_host()
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.ca_file is not None:
        path = Path(args.ca_file).expanduser()
        if not path.is_file():
            raise UsageError(f"--ca-file {path}: no such file")
        try:
            tls_context(path)
        except (ssl.SSLError, OSError) as error:
            raise UsageError(
                f"--ca-file {path}: not a readable PEM certificate file ({error})"
            ) from None
        args.ca_file = str(path)


def _configure_logging(verbose: bool, err: TextIO) -> None:
    if not verbose:
        return
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("mailsetup: %(message)s"))
    for name in ("mailsetup_tui", "aiosmtplib"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


# --- commands --------------------------------------------------------------------------------


def open_form(context: Context) -> int:
    from mailsetup_tui.plain import run_wizard, wants_plain

    if context.args.plain or wants_plain(os.environ, sys.stdin.isatty(), sys.stdout.isatty()):
        return run_wizard(
            context.store,
            timeout=context.timeout,
            ca_file=context.args.ca_file,
            stdin=sys.stdin,
            stdout=context.out,
        )
    # Deferred: Textual is only needed here, and the sub-commands start faster without it.
    from mailsetup_tui.tui.app import MailSetupApp

    app = MailSetupApp(context.store, timeout=context.timeout, ca_file=context.args.ca_file)
    app.run()
    return EXIT_OK


def cmd_test(context: Context) -> int:
    account, password = _account_and_password(context)
    result, _ = _probe(context, account, password)
    _print_json_result(context, result, config_path=str(context.store.path))
    return EXIT_OK if result.ok else EXIT_TEST_FAILED


def cmd_signin(context: Context) -> int:
    from mailsetup_tui.core import oauth

    account = _signin_account(context)
    assert account.signin is not None
    json_output = context.args.json
    # With --json, standard output carries one object: the instructions go to standard error.
    screen = context.err if json_output else context.out

    def show(code: DeviceCode) -> None:
        print(oauth.instructions(code), file=screen, flush=True)

    try:
        tokens = asyncio.run(
            oauth.sign_in(
                account.signin, show, timeout=context.timeout, ca_file=context.args.ca_file
            )
        )
    except oauth.SignInError as error:
        if json_output:
            _print_json(context, _failure_json(error.as_probe_failure()) | {"signin": error.kind})
        else:
            print(f"Not signed in: {error.reason}", file=context.out)
        return EXIT_TEST_FAILED
    context.secrets += [tokens.access_token, tokens.refresh_token]
    if not json_output:
        print(oauth.signed_in_text(tokens, account.email), file=context.out)
    result, secret = _probe(context, account, tokens)
    outcome: dict[str, object] = {"config_path": str(context.store.path), "changed": False,
                                  "signed_in_as": tokens.username}  # fmt: skip
    if result.ok:
        report = context.store.save(account, secret)
        outcome |= {"changed": True, "secret": report.secret.describe()}
        if not json_output:
            _print_saved(context, report)
    elif not json_output:
        print(
            "Not saved: the test must pass first (sign in again once it is fixed).",
            file=context.out,
        )
    _print_json_result(context, result, **outcome)
    return EXIT_OK if result.ok else EXIT_TEST_FAILED


def _signin_account(context: Context) -> Account:
    """The account to sign in: from the options, or the saved one (its sign-in replaced by
    --client-id/--tenant when given)."""
    args = context.args
    if args.smtp_mail is not None:
        if args.client_id is None:
            raise UsageError(
                "--client-id is required: the Application (client) ID of your app registration "
                "(see README: Microsoft sign-in)"
            )
        return _account_from_options(args).checked()
    if any(getattr(args, name) is not None for name in _ACCOUNT_OPTIONS):
        raise UsageError("--smtp-mail is required when account options are given")
    saved = context.store.load()
    if saved is None:
        raise StoreError(
            f"no saved account at {context.store.path}; give the account options "
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


def cmd_send(context: Context) -> int:
    args = context.args
    if args.body_file is not None:
        try:
            text = Path(args.body_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--body-file {args.body_file}: cannot be read ({error})") from None
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        raise UsageError("give the body on standard input or with --body-file")
    if not text.strip():
        raise UsageError("the message body is empty")
    mailer = Mailer.from_saved(args.config, timeout=context.timeout, ca_file=args.ca_file)
    subject = args.subject or f"Message from {mailer.account.display_name}"
    try:
        sent = mailer.send(args.to, subject, text)
    except SendError as error:
        # Reasons come redacted from the session that made them.
        if args.json:
            _print_json(context, _failure_json(error.failure))
        else:
            print("Not sent.", file=context.out)
            print(error.failure.reason, file=context.out)
        return EXIT_TEST_FAILED
    if args.json:
        _print_json(
            context,
            {"status": "ok", "changed": True, "message_id": sent.message_id,
             "recipients": list(sent.recipients), "reason_kind": None, "reason": None},
        )  # fmt: skip
    else:
        print(f"Sent to {', '.join(sent.recipients)} ({sent.message_id})", file=context.out)
    return EXIT_OK


def cmd_apply(context: Context) -> int:
    args = context.args
    path = Path(args.file)
    try:
        wanted = account_from_toml(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot be read ({error})") from None
    except StoreError as error:
        raise UsageError(str(error)) from None
    store = context.store
    # Unreadable counts as none: saving replaces it (keeping a backup), so it differs.
    saved = _saved_or_none(store)
    if wanted.signin is not None:
        # A device-code sign-in needs a person: `mailsetup signin` once per host, then
        # apply keeps the account in line with the file.
        password = _stored_sign_in(context, wanted.normalized())
    else:
        given = _explicit_password(context)
        if given is None:
            if saved is None or saved.email != wanted.email or saved.signin is not None:
                raise UsageError(
                    f"no password: use --password-stdin or set {PASSWORD_ENV} (no saved "
                    f"password for {wanted.email} to reuse)"
                )
            given = store.read_secret(saved)
            context.secrets.append(given)
        password = given
    checked = wanted.checked(password)
    result, secret = _probe(context, checked, password)
    outcome: dict[str, object] = {"config_path": str(store.path), "changed": False}
    if not result.ok:
        _print_json_result(context, result, **outcome)
        return EXIT_TEST_FAILED
    if wanted.signin is None:
        secret = checked.provider.normalize_password(password)
    if saved == checked and _secret_is(store, checked, secret):
        outcome["result"], said = "unchanged", "unchanged"
    elif args.check:
        outcome |= {"changed": True, "result": "would change"}
        said = "would change (not saved: --check)"
    else:
        report = store.save(checked, secret)
        outcome |= {"changed": True, "result": "changed", "secret": report.secret.describe()}
        said = "changed"
    if args.json:
        _print_json_result(context, result, **outcome)
    else:
        print(said, file=context.out)
    return EXIT_OK


def _secret_is(store: AccountStore, account: Account, secret: str) -> bool:
    """Whether the stored secret for `account` is `secret` (unreadable counts as no)."""
    try:
        return store.read_secret(account) == secret
    except StoreError:
        return False


def cmd_save(context: Context) -> int:
    account, password = _account_and_password(context)
    result, secret = _probe(context, account, password)
    if not result.ok:
        print("Not saved: the test must pass first.", file=context.out)
        return EXIT_TEST_FAILED
    _print_saved(context, context.store.save(account, secret))
    return EXIT_OK


def _print_saved(context: Context, report: SaveReport) -> None:
    if report.backup_path is not None:
        print(f"The unreadable config was kept as {report.backup_path}", file=context.out)
    print(f"Saved to {report.config_path}", file=context.out)
    print(f"{report.secret_type.noun.capitalize()} stored in {report.secret.describe()}",
          file=context.out)  # fmt: skip


def cmd_show(context: Context) -> int:
    store = context.store
    account = store.load()
    if account is None:
        if context.args.json:
            _print_json(context, {"status": "none", "config_path": str(store.path)})
        else:
            print(f"No saved account (the config would be at {store.path}).", file=context.out)
        return EXIT_STORE
    kind = SecretType.of(account)
    status = store.secret_status(account)
    signin = account.signin
    if context.args.json:
        signin_json = {"signin": account.signin_method.value}
        if signin is not None:
            signin_json |= {"client_id": signin.client_id, "tenant": signin.tenant,
                            "authority_host": signin.authority_host}  # fmt: skip
        _print_json(
            context,
            {
                "status": "ok",
                "account": {
                    "smtp_mail": account.provider_id.value,
                    "display_name": account.display_name,
                    "email": account.email,
                    "server": account.server,
                    "port": account.port,
                    "security": account.security.value,
                }
                | signin_json,
                "config_path": str(store.path),
                "secret": {
                    "type": kind.value,
                    "kind": status.location.kind.value,
                    "where": status.location.where,
                    "state": status.state.value,
                    "problem": status.problem,
                },
            },
        )
        return EXIT_OK
    rows = [
        ("SMTP Mail", account.provider.label),
        ("Display Name", account.display_name),
        ("Email", account.email),
        ("SMTP Server Name", account.server),
        ("SMTP Server Port", str(account.port)),
        ("Security", account.security.label),
        ("Sign-in", account.signin_method.label),
    ]
    if signin is not None:
        rows += [("Client ID", signin.client_id), ("Tenant", signin.tenant)]
        if signin.authority_host != DEFAULT_AUTHORITY_HOST:
            rows.append(("Login host", signin.authority_host))
    rows += [
        ("Config", str(store.path)),
        ("Password" if signin is None else "Sign-in token", _describe_secret_status(status)),
    ]
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        print(f"{label + ':':<{width}}{value}", file=context.out)
    return EXIT_OK


def _describe_secret_status(status: SecretStatus) -> str:
    if status.state is SecretState.STORED:
        return f"stored in {status.location.describe()}"
    return f"{status.state.value}: {status.problem}"


def _print_json(context: Context, data: object) -> None:
    print(json.dumps(data, ensure_ascii=False), file=context.out)


def _failure_json(failure: ProbeFailure) -> dict[str, object]:
    return {
        "status": "failed",
        "changed": False,
        "reason_kind": failure.kind.value,
        "reason": failure.reason,
    }


def _print_json_result(context: Context, tested: ProbeResult, /, **extra: object) -> None:
    """One JSON object for a test's outcome (plus `extra`), when --json was given."""
    if not getattr(context.args, "json", False):
        return
    if tested.failure is not None:
        data = _failure_json(tested.failure)
    else:
        data = {"status": "ok", "changed": False, "reason_kind": None, "reason": None}
    data |= {"tls": tested.tls_version, "elapsed": round(tested.elapsed, 3)} | extra
    _print_json(context, data)


def _json_error(context: Context, kind: str, reason: str) -> None:
    if getattr(context.args, "json", False):
        _print_json(
            context,
            {"status": "error", "changed": False, "reason_kind": kind,
             "reason": redact(reason, *context.secrets)},
        )  # fmt: skip


# --- account and password --------------------------------------------------------------------

_ACCOUNT_OPTIONS = (
    "smtp_mail",
    "display_name",
    "email",
    "server",
    "port",
    "security",
    "client_id",
    "tenant",
)


def _account_and_password(context: Context) -> tuple[Account, str]:
    """The account and its secret: the password, or the stored refresh token of its
    Microsoft sign-in."""
    args = context.args
    given = [name for name in _ACCOUNT_OPTIONS if getattr(args, name) is not None]
    if not given:
        account = context.store.load()
        if account is None:
            raise StoreError(
                f"no saved account at {context.store.path}; give the account options "
                "(see `mailsetup test --help`)"
            )
        password = None if account.signin else _explicit_password(context)
        if password is None:
            password = context.store.read_secret(account)
            context.secrets.append(password)
        return account, password
    account = _account_from_options(args)
    # Report account problems before asking for a password nobody should type twice.
    account = account.checked()
    if account.signin is not None:
        return account, _stored_sign_in(context, account)
    password = _explicit_password(context)
    if password is None:
        password = _prompt_password(context)
    checked = account.checked(password)
    if checked.sends_password_in_clear:
        print(
            "mailsetup: warning: security 'none' sends the password unencrypted; anyone on the "
            "network path can read it.",
            file=context.err,
        )
    return checked, password


def _account_from_options(args: argparse.Namespace) -> Account:
    if args.smtp_mail is None:
        raise UsageError("--smtp-mail is required when account options are given")
    provider = PROVIDERS[ProviderId(args.smtp_mail)]
    if provider.is_preset:
        for option in ("server", "port", "security"):
            if getattr(args, option) is not None:
                raise UsageError(
                    f"--{option} is only for --smtp-mail other ({provider.label} uses "
                    f"{provider.server}:{provider.port}, {provider.security.label})"
                )
    missing = [
        f"--{name.replace('_', '-')}"
        for name in ("display_name", "email")
        + (("server", "port") if not provider.is_preset else ())
        if getattr(args, name) is None
    ]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} for --smtp-mail {provider.id.value}")
    signin = None
    if args.client_id is not None or args.tenant is not None:
        signin = MicrosoftSignIn(args.client_id or "", args.tenant or "", default_authority_host())
    return Account.create(
        provider.id,
        args.display_name,
        args.email,
        server=args.server,
        port=args.port,
        security=args.security,
        signin=signin,
    )


def _stored_sign_in(context: Context, account: Account) -> str:
    """The refresh token kept for `account`'s Microsoft sign-in. Only a sign-in made for the
    same address and app registration counts: a token is never carried over to another."""
    if getattr(context.args, "password_stdin", False) or os.environ.get(PASSWORD_ENV):
        raise UsageError("Microsoft sign-in uses no password: drop --password-stdin and "
                         f"{PASSWORD_ENV}")  # fmt: skip
    saved = _saved_or_none(context.store)
    if saved is None or (saved.email, saved.signin) != (account.email, account.signin):
        raise UsageError(
            f"no Microsoft sign-in is stored for {account.email} with this app registration: "
            "run `mailsetup signin` with the same account options first"
        )
    token = context.store.read_secret(account)
    context.secrets.append(token)
    return token


def _saved_or_none(store: AccountStore) -> Account | None:
    """The saved account; None when there is none or it cannot be read."""
    try:
        return store.load()
    except StoreError:
        return None


def _explicit_password(context: Context) -> str | None:
    """The password from --password-stdin, else $MAILSETUP_PASSWORD, else None."""
    if getattr(context.args, "password_stdin", False):
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise UsageError("--password-stdin: standard input held no password")
        context.secrets.append(password)
        return password
    password = os.environ.get(PASSWORD_ENV)
    if password:
        context.secrets.append(password)
        return password
    return None


def _prompt_password(context: Context) -> str:
    if not sys.stdin.isatty():
        raise UsageError(
            f"no password: use --password-stdin or set {PASSWORD_ENV} "
            "(standard input is not a terminal, so there is no prompt)"
        )
    import getpass

    password = getpass.getpass("Password (not shown): ")
    if not password:
        raise UsageError("no password entered")
    context.secrets.append(password)
    return password


def _probe(context: Context, account: Account, secret: str | Tokens) -> tuple[ProbeResult, str]:
    """Test `account` and print the outcome; returns it with the secret to save: the password,
    or for Microsoft sign-in the newest refresh token (`secret` is the stored refresh token or
    the tokens of a sign-in just made)."""
    if account.signin is None:
        assert isinstance(secret, str)
        result = asyncio.run(
            probe(account, secret, timeout=context.timeout, ca_file=context.args.ca_file)
        )
        keep = secret
    else:
        from mailsetup_tui.core.oauth import probe_signed_in

        result, tokens = asyncio.run(
            probe_signed_in(account, secret, timeout=context.timeout, ca_file=context.args.ca_file)
        )
        keep = secret if isinstance(secret, str) else secret.refresh_token
        if tokens is not None:
            context.secrets += [tokens.access_token, tokens.refresh_token]
            if tokens.refresh_token != keep:
                keep = tokens.refresh_token
                context.store.replace_refresh_token(account, keep)
    if getattr(context.args, "json", False):
        return result, keep  # the caller prints one JSON object instead
    if result.ok:
        via = f" over {result.tls_version}" if result.tls_version else " without encryption"
        how = "Microsoft sign-in (XOAUTH2)" if account.signin else "login"
        print(MESSAGE_OK, file=context.out)
        print(
            f"{account.server}:{account.port}{via}: {how} as {account.email} accepted "
            f"({result.elapsed:.2f} s)",
            file=context.out,
        )
    else:
        assert result.failure is not None
        print(MESSAGE_FAILED, file=context.out)
        print(redact(result.failure.reason, *context.secrets), file=context.out)
    return result, keep
