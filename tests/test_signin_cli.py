"""`mailsetup signin` and the commands that use its token, end to end in subprocesses against
the loopback authorization server and an SMTP server that takes only XOAUTH2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mailsetup_tui.core.store import account_to_toml

from support.authserver import CLIENT_ID, TENANT, USER_CODE, AuthServer
from support.cli import Ran, mailsetup_env, run_mailsetup
from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Certificates,
    SmtpServer,
    free_port,
    other_account,
)

OK = "Connected successfully"
FAILED = "Test connection failed. Please review email account information entered."


@pytest.fixture
def signin_env(env: dict[str, str], auth_server: AuthServer) -> dict[str, str]:
    return env | {"MAILSETUP_AUTHORITY_HOST": auth_server.url}


def account_args(server: SmtpServer, *extra: str) -> list[str]:
    return [
        "--smtp-mail", "other", "--display-name", "Verification Codes", "--email", LOGIN,
        "--server", HOST, "--port", str(server.port), "--client-id", CLIENT_ID,
        "--tenant", TENANT, *extra,
    ]  # fmt: skip


def ca(certificates: Certificates) -> list[str]:
    return ["--ca-file", str(certificates.ca_file)]


def sign_in(
    server: SmtpServer, certificates: Certificates, env: dict[str, str], *extra: str
) -> Ran:
    return run_mailsetup("signin", *account_args(server), *ca(certificates), *extra, env=env)


def issued_tokens(auth_server: AuthServer) -> list[str]:
    return [*auth_server.state.access_tokens, *auth_server.state.refresh_tokens]


def assert_no_token_outside_the_keyring(
    auth_server: AuthServer, tmp_path: Path, keyring_file: Path, *outputs: Ran
) -> None:
    """No token the server ever issued appears in any output, or in any file but the keyring."""
    tokens = issued_tokens(auth_server) + [grant.device_code for grant in auth_server.state.grants]
    assert tokens
    texts = [ran.out + ran.err for ran in outputs]
    texts += [
        path.read_text(errors="replace")
        for path in tmp_path.rglob("*")
        if path.is_file() and path != keyring_file
    ]
    for token in tokens:
        assert all(token not in text for text in texts), "a token leaked"


def test_signin_shows_the_code_tests_and_saves_then_test_send_and_show_use_it(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    signin_env: dict[str, str],
    tmp_path: Path,
    keyring_file: Path,
) -> None:
    ran = sign_in(microsoft_server, certificates, signin_env)
    assert ran.code == 0, ran.out + ran.err
    assert "open https://microsoft.com/devicelogin on any device and enter the code" in ran.out
    assert f"    {USER_CODE}" in ran.lines
    assert f"Signed in as {LOGIN}." in ran.lines
    assert OK in ran.lines
    assert any(f"Login as {LOGIN} accepted over TLSv1." in line for line in ran.lines)
    assert any(
        line.startswith("Microsoft sign-in stored in the system keyring") for line in ran.lines
    )
    assert "\x1b" not in ran.out  # any terminal, line mode too
    config = (tmp_path / "config" / "account.toml").read_text()
    assert 'signin = "microsoft"' in config
    assert f'client_id = "{CLIENT_ID}"' in config
    stored = json.loads(keyring_file.read_text())[f"mailsetup/{LOGIN}#1"]
    assert stored in auth_server.state.refresh_tokens

    tested = run_mailsetup("test", "-v", *ca(certificates), env=signin_env)  # logs too
    assert tested.code == 0, tested.out + tested.err
    assert tested.lines[0] == OK
    assert "succeeded" in tested.err  # the -v log is there, and is checked for tokens below
    assert auth_server.state.refreshes == 1
    rotated = json.loads(keyring_file.read_text())[f"mailsetup/{LOGIN}#1"]
    assert rotated != stored and rotated in auth_server.state.refresh_tokens

    sent = run_mailsetup(
        "send", "--to", "alice@example.org", "--subject", "Code", *ca(certificates),
        env=signin_env, stdin="Your code is 482913.\n",
    )  # fmt: skip
    assert sent.code == 0, sent.out + sent.err
    (delivered,) = microsoft_server.handler.delivered
    assert b"Your code is 482913." in delivered.data
    assert [a.accepted for a in microsoft_server.handler.xoauth2] == [True, True, True]  # type: ignore[attr-defined]

    shown = run_mailsetup("show", env=signin_env)
    assert shown.code == 0
    rows = {
        label: value.strip() for label, _, value in (line.partition(":") for line in shown.lines)
    }
    assert rows["Sign-in"] == "Microsoft sign-in"
    assert rows["Client ID"] == CLIENT_ID
    assert rows["Tenant"] == TENANT
    assert rows["Sign-in token"].startswith("stored in the system keyring")
    as_json = json.loads(run_mailsetup("show", "--json", env=signin_env).out)
    assert as_json["account"]["signin"] == "microsoft"
    assert as_json["account"]["tenant"] == TENANT
    assert as_json["secret"]["type"] == "refresh_token"
    assert as_json["secret"]["state"] == "stored"
    assert_no_token_outside_the_keyring(
        auth_server, tmp_path, keyring_file, ran, tested, sent, shown
    )


def test_signin_json_prints_one_object_and_the_code_on_stderr(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    signin_env: dict[str, str],
    tmp_path: Path,
    keyring_file: Path,
) -> None:
    ran = sign_in(microsoft_server, certificates, signin_env, "--json")
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert result["status"] == "ok"
    assert result["changed"] is True
    assert result["signed_in_as"] == LOGIN
    assert result["reason_kind"] is None
    assert USER_CODE in ran.err
    assert_no_token_outside_the_keyring(auth_server, tmp_path, keyring_file, ran)


@pytest.mark.parametrize(("outcome", "words"), [("declined", "declined"), ("expired", "expired")])
def test_a_declined_or_expired_sign_in_saves_nothing(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    signin_env: dict[str, str],
    tmp_path: Path,
    outcome: str,
    words: str,
) -> None:
    auth_server.state.script = ["pending", outcome]
    ran = sign_in(microsoft_server, certificates, signin_env)
    assert ran.code == 1
    assert ran.lines[-1].startswith("Not signed in: ") and words in ran.lines[-1]
    assert not (tmp_path / "config" / "account.toml").exists()
    as_json = sign_in(microsoft_server, certificates, signin_env, "--json")
    assert json.loads(as_json.out)["reason_kind"] == "signin"


def test_a_wrong_tenant_is_reported_before_any_code(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    signin_env: dict[str, str],
) -> None:
    ran = run_mailsetup(
        "signin", *account_args(microsoft_server)[:-2], "--tenant", "nosuch.example",
        *ca(certificates), env=signin_env,
    )  # fmt: skip
    assert ran.code == 1
    assert "the tenant 'nosuch.example' was not found" in ran.out
    assert USER_CODE not in ran.out


def test_a_revoked_sign_in_fails_test_and_send_until_signed_in_again(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    signin_env: dict[str, str],
    tmp_path: Path,
    keyring_file: Path,
) -> None:
    assert sign_in(microsoft_server, certificates, signin_env).code == 0
    auth_server.state.revoke_refresh_tokens()
    tested = run_mailsetup("test", *ca(certificates), env=signin_env)
    assert tested.code == 1
    assert tested.lines[0] == FAILED
    assert "sign in again with `mailsetup signin`" in tested.lines[1]
    sent = run_mailsetup(
        "send", "--to", "a@example.org", "--json", *ca(certificates), env=signin_env, stdin="x\n"
    )
    assert sent.code == 1
    assert json.loads(sent.out)["reason_kind"] == "signin_revoked"
    # Signing the saved account in again needs no options.
    again = run_mailsetup("signin", *ca(certificates), env=signin_env)
    assert again.code == 0, again.out + again.err
    assert run_mailsetup("test", *ca(certificates), env=signin_env).code == 0
    assert_no_token_outside_the_keyring(auth_server, tmp_path, keyring_file, tested, sent, again)


def test_the_sendmail_command_sends_with_the_stored_sign_in(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    signin_env: dict[str, str],
    tmp_path: Path,
    keyring_file: Path,
) -> None:
    assert sign_in(microsoft_server, certificates, signin_env).code == 0
    sendmail = [str(Path(sys.executable).parent / "mailsetup-sendmail"), "-t", "-i"]
    message = b"To: alice@example.org\nSubject: Code\n\nYour code is 482913.\n"
    sent = subprocess.run(sendmail, input=message, env=signin_env, capture_output=True, check=False)
    assert (sent.returncode, sent.stderr) == (0, b"")
    (delivered,) = microsoft_server.handler.delivered
    assert delivered.rcpt_tos == ["alice@example.org"]
    assert delivered.data.endswith(b"\r\n\r\nYour code is 482913.\r\n")
    assert [a.accepted for a in microsoft_server.handler.xoauth2] == [True, True]  # type: ignore[attr-defined]
    stored = json.loads(keyring_file.read_text())[f"mailsetup/{LOGIN}#1"]
    assert list(auth_server.state.refresh_tokens) == [stored]  # the rotated one, kept

    auth_server.state.revoke_refresh_tokens()
    refused = subprocess.run(
        sendmail, input=message, env=signin_env, capture_output=True, check=False
    )
    assert refused.returncode == 69
    assert b"sign in again with `mailsetup signin`" in refused.stderr
    outputs = [Ran(r.returncode, r.stdout.decode(), r.stderr.decode()) for r in (sent, refused)]
    assert_no_token_outside_the_keyring(auth_server, tmp_path, keyring_file, *outputs)


def test_apply_keeps_a_signed_in_account_in_line_with_a_file(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    signin_env: dict[str, str],
    tmp_path: Path,
) -> None:
    wanted = tmp_path / "wanted.toml"
    body = (
        'schema = 1\n[account]\nsmtp_mail = "other"\ndisplay_name = "{name}"\n'
        f'email = "{LOGIN}"\nserver = "{HOST}"\nport = {microsoft_server.port}\n'
        f'signin = "microsoft"\nclient_id = "{CLIENT_ID}"\ntenant = "{TENANT}"\n'
        f'authority_host = "{auth_server.url}"\n'
    )
    wanted.write_text(body.format(name="Verification Codes"))
    before = run_mailsetup("apply", str(wanted), *ca(certificates), env=signin_env)
    assert before.code == 2
    assert "run `mailsetup signin`" in before.err
    assert sign_in(microsoft_server, certificates, signin_env).code == 0
    same = run_mailsetup("apply", str(wanted), *ca(certificates), env=signin_env)
    assert (same.code, same.lines[-1]) == (0, "unchanged"), same.err
    wanted.write_text(body.format(name="Acme Codes"))
    changed = run_mailsetup("apply", str(wanted), *ca(certificates), env=signin_env)
    assert (changed.code, changed.lines[-1]) == (0, "changed"), changed.err
    assert 'display_name = "Acme Codes"' in (tmp_path / "config" / "account.toml").read_text()


def test_test_with_sign_in_options_needs_a_stored_sign_in(
    microsoft_server: SmtpServer, certificates: Certificates, signin_env: dict[str, str]
) -> None:
    ran = run_mailsetup("test", *account_args(microsoft_server), *ca(certificates), env=signin_env)
    assert ran.code == 2
    assert "run `mailsetup signin` with the same account options first" in ran.err


def test_signin_needs_a_client_id_and_refuses_a_password(
    microsoft_server: SmtpServer, certificates: Certificates, signin_env: dict[str, str]
) -> None:
    ran = run_mailsetup(
        "signin", *account_args(microsoft_server)[:-4], *ca(certificates), env=signin_env
    )
    assert ran.code == 2
    assert "--client-id is required" in ran.err
    refused = run_mailsetup("signin", "--password", "hunter2", env=signin_env)
    assert refused.code == 2
    assert "hunter2" not in refused.out + refused.err


def test_a_password_login_refused_by_microsoft_points_to_signin(
    microsoft_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path, MAILSETUP_PASSWORD=PASSWORD)
    ran = run_mailsetup(
        "test", "--smtp-mail", "other", "--display-name", "C", "--email", LOGIN,
        "--server", HOST, "--port", str(microsoft_server.port), *ca(certificates), env=env,
    )  # fmt: skip
    assert ran.code == 1
    assert "Microsoft sign-in is required" in ran.lines[1]
    assert "mailsetup signin" in ran.lines[1]


def test_a_bad_login_host_variable_is_a_usage_error(env: dict[str, str]) -> None:
    ran = run_mailsetup("show", env=env | {"MAILSETUP_AUTHORITY_HOST": "http://login.example"})
    assert ran.code == 2
    assert "MAILSETUP_AUTHORITY_HOST='http://login.example': must be an https:// URL" in ran.err


def test_client_id_and_tenant_alone_switch_the_saved_account_to_microsoft_sign_in(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    signin_env: dict[str, str],
    tmp_path: Path,
) -> None:
    # A password account saved before the tenant turned password sign-in off.
    config = tmp_path / "config" / "account.toml"
    config.parent.mkdir()
    config.write_text(account_to_toml(other_account(microsoft_server.port)))
    ran = run_mailsetup(
        "signin", "--client-id", CLIENT_ID, "--tenant", TENANT, *ca(certificates),
        env=signin_env,
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert f"Signed in as {LOGIN}." in ran.lines
    text = config.read_text()
    assert 'signin = "microsoft"' in text
    assert f'client_id = "{CLIENT_ID}"' in text
    assert f"port = {microsoft_server.port}" in text  # the rest of the account is kept
    assert run_mailsetup("test", *ca(certificates), env=signin_env).code == 0
    alone = run_mailsetup("signin", "--email", LOGIN, *ca(certificates), env=signin_env)
    assert alone.code == 2
    assert "--smtp-mail is required" in alone.err


def test_a_sign_in_the_network_stopped_is_temporary(
    microsoft_server: SmtpServer, certificates: Certificates, env: dict[str, str]
) -> None:
    """As the README says of network failures: `"temporary": true`, and exit 75."""
    nobody = env | {"MAILSETUP_AUTHORITY_HOST": f"https://127.0.0.1:{free_port()}"}
    ran = sign_in(microsoft_server, certificates, nobody, "--json")
    result = json.loads(ran.out)
    assert (ran.code, result["status"], result["temporary"]) == (75, "failed", True), ran.err
    assert result["signin"] == "network"
