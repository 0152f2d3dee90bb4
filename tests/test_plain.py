"""Line mode: the wizard for teletypes and scripts, end to end against the local server."""

from __future__ import annotations

import sys
from pathlib import Path

from mailsetup_tui.line_mode import wants_plain

from support.authserver import CLIENT_ID, TENANT, USER_CODE, AuthServer
from support.cli import mailsetup_env, run_mailsetup
from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer
from support.terminal import Terminal

OK = "Connected successfully"
FAILED = "Test connection failed. Please review email account information entered."


def answers(port: int, password: str = PASSWORD, *after: str) -> str:
    # The empty answer after the address keeps Sign-in at App password.
    lines = ["o", "Verification Codes", LOGIN, "", password, HOST, str(port), "", *after]
    return "\n".join(lines) + "\n"


def test_line_mode_is_chosen_where_the_form_cannot_work() -> None:
    assert wants_plain({"TERM": "dumb"}, True, True)
    assert wants_plain({}, True, True)
    assert wants_plain({"TERM": "xterm"}, True, False)
    assert wants_plain({"TERM": "xterm"}, False, True)
    assert not wants_plain({"TERM": "vt100"}, True, True)


def test_scripted_answers_test_and_save(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path)
    ran = run_mailsetup(
        "--plain", "--ca-file", str(certificates.ca_file),
        env=env, stdin=answers(starttls_server.port, PASSWORD, "y"),
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert OK in ran.lines
    config = tmp_path / "config" / "account.toml"
    assert f"Saved to {config}" in ran.lines
    assert "no system keyring is available" in ran.out
    assert PASSWORD not in ran.out + ran.err
    assert PASSWORD not in config.read_text()
    assert "\x1b" not in ran.out


def test_problems_are_asked_again_with_the_reason(tmp_path: Path) -> None:
    script = "g\nCodes\ncodes@example.com\ncodes@gmail.com\n\n\n"  # empty password, twice
    ran = run_mailsetup("--plain", env=mailsetup_env(tmp_path), stdin=script)
    assert "a Gmail address must end in @gmail.com (not @example.com)" in ran.out
    assert ran.out.count("enter the password") == 2
    assert ran.code == 2
    assert "Input ended: nothing was saved." in ran.out


def test_a_failed_test_offers_to_change_and_saves_nothing(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    ran = run_mailsetup(
        "--plain", "--ca-file", str(certificates.ca_file), env=mailsetup_env(tmp_path),
        stdin=answers(starttls_server.port, "wrong-password", "n"),
    )  # fmt: skip
    assert ran.code == 1
    assert FAILED in ran.lines
    assert any("rejected the e-mail or password" in line for line in ran.lines)
    assert "Nothing was saved." in ran.lines
    assert not (tmp_path / "config" / "account.toml").exists()


def test_dumb_terminal_gets_line_mode_without_echoing_the_password(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path, TERM="dumb")
    mailsetup = Path(sys.executable).parent / "mailsetup"
    with Terminal([mailsetup, "--ca-file", certificates.ca_file], env=env) as term:
        term.wait_for("SMTP Mail [Exchange]:")
        for answer, prompt in [("o", "Display Name"), ("Codes", "Email"),
                               (LOGIN, "Sign-in [App password]"), ("", "Password, not shown"),
                               (PASSWORD, "SMTP Server Name"),
                               (HOST, "SMTP Server Port"), (str(starttls_server.port),
                               "Security"), ("", "Save these settings?")]:  # fmt: skip
            term.send(answer + "\r")
            term.wait_for(prompt)
        term.send("y\r")
        term.wait_for("Password stored in")
        term.wait_for("Send a test message now? [y/N]:")
        term.send("\r")
        assert term.wait_exit() == 0
        assert PASSWORD.encode() not in term.received
        assert b"\x1b[" not in term.received


def test_line_mode_signs_in_with_microsoft_and_saves_the_sign_in(
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    tmp_path: Path,
) -> None:
    env = mailsetup_env(tmp_path, MAILSETUP_AUTHORITY_HOST=auth_server.url)
    script = [
        "o", "Verification Codes", LOGIN, "m", CLIENT_ID, TENANT, HOST,
        str(microsoft_server.port), "", "y",
    ]  # fmt: skip
    ran = run_mailsetup(
        "--plain", "--ca-file", str(certificates.ca_file), env=env, stdin="\n".join(script) + "\n"
    )
    assert ran.code == 0, ran.out + ran.err
    assert "Password, not shown" not in ran.out
    assert f"    {USER_CODE}" in ran.lines
    assert f"Signed in as {LOGIN}." in ran.lines
    assert OK in ran.lines
    assert any(line.startswith("Microsoft sign-in stored in the file") for line in ran.lines)
    secret = (tmp_path / "config" / "account.secret").read_text()
    assert any(token in secret for token in auth_server.state.refresh_tokens)
    for token in [*auth_server.state.access_tokens, *auth_server.state.refresh_tokens]:
        assert token not in ran.out + ran.err
        assert token not in (tmp_path / "config" / "account.toml").read_text()


def test_after_a_failure_one_field_is_changed_and_after_saving_a_test_message_goes(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    """A wrong password: change only the Password (by name), test again, save, and send the
    test message the form's Send test sends, to the account's own address by default."""
    ran = run_mailsetup(
        "--plain", "--ca-file", str(certificates.ca_file), env=mailsetup_env(tmp_path),
        stdin=answers(starttls_server.port, "wrong-password", "password", PASSWORD, "y", "y", ""),
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert ran.lines.count(FAILED) == 1 and ran.lines.count(OK) == 1
    change = next(line for line in ran.lines if line.startswith("Change: "))
    assert change == (
        "Change: 1) SMTP Mail  2) Display Name  3) Email  4) Sign-in  5) Password  "
        "6) SMTP Server Name  7) SMTP Server Port  8) Security"
    )
    # Only the password was asked again: the server's name once, before the first test.
    assert ran.out.count("SMTP Server Name [") + ran.out.count("SMTP Server Name:") == 1
    assert (tmp_path / "config" / "account.toml").exists()
    assert [d.rcpt_tos for d in starttls_server.handler.delivered] == [[LOGIN]]
    assert PASSWORD not in ran.out + ran.err


def test_a_script_that_ends_after_saving_has_saved(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    ran = run_mailsetup(
        "--plain", "--ca-file", str(certificates.ca_file), env=mailsetup_env(tmp_path),
        stdin=answers(starttls_server.port, PASSWORD, "y"),
    )  # fmt: skip
    assert ran.code == 0 and "Send a test message now? [y/N]: " in ran.out
    assert "Input ended" not in ran.out
