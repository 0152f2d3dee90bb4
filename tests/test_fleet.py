"""Sending and fleet automation end to end in subprocesses: send, apply, --json."""

from __future__ import annotations

import email
import json
from email.policy import default as default_policy
from pathlib import Path

import pytest

from support.cli import run_mailsetup
from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer


@pytest.fixture
def account_file(tmp_path: Path, starttls_server: SmtpServer) -> Path:
    path = tmp_path / "fleet" / "mail.toml"
    path.parent.mkdir()
    path.write_text(
        "schema = 1\n[account]\n"
        f'smtp_mail = "other"\ndisplay_name = "Fleet Codes"\nemail = "{LOGIN}"\n'
        f'server = "{HOST}"\nport = {starttls_server.port}\nsecurity = "starttls"\n'
    )
    return path


def ca(certificates: Certificates) -> list[str]:
    return ["--ca-file", str(certificates.ca_file)]


def apply(
    account_file: Path,
    env: dict[str, str],
    certificates: Certificates,
    *extra: str,
    password: str | None = PASSWORD,
) -> dict[str, object]:
    stdin = f"{password}\n" if password is not None else ""
    options = ["--password-stdin"] if password is not None else []
    ran = run_mailsetup("apply", str(account_file), *options, "--json", *ca(certificates),
                        *extra, env=env, stdin=stdin)  # fmt: skip
    assert ran.out, ran.err
    data: dict[str, object] = json.loads(ran.out)
    data["exit"] = ran.code
    assert PASSWORD not in ran.out + ran.err
    return data


def test_apply_saves_once_then_is_unchanged(
    account_file: Path, env: dict[str, str], certificates: Certificates, tmp_path: Path
) -> None:
    first = apply(account_file, env, certificates)
    assert (first["exit"], first["status"], first["changed"], first["result"]) == (
        0, "ok", True, "changed"
    )  # fmt: skip
    config = tmp_path / "config" / "account.toml"
    assert 'display_name = "Fleet Codes"' in config.read_text()
    second = apply(account_file, env, certificates)
    assert (second["changed"], second["result"]) == (False, "unchanged")
    # Without a password, the saved one for the same address is reused.
    third = apply(account_file, env, certificates, password=None)
    assert (third["exit"], third["changed"]) == (0, False)


def test_apply_notices_a_new_password_and_a_changed_field(
    account_file: Path,
    env: dict[str, str],
    certificates: Certificates,
    keyring_file: Path,
    starttls_server: SmtpServer,
) -> None:
    apply(account_file, env, certificates)
    account_file.write_text(account_file.read_text().replace("Fleet Codes", "Fleet Codes 2"))
    changed = apply(account_file, env, certificates)
    assert (changed["changed"], changed["result"]) == (True, "changed")
    # The second save's secret generation; the first one's entry is gone.
    assert json.loads(keyring_file.read_text()) == {f"mailsetup/{LOGIN}#2": PASSWORD}


def test_apply_check_never_saves(
    account_file: Path, env: dict[str, str], certificates: Certificates, tmp_path: Path
) -> None:
    result = apply(account_file, env, certificates, "--check")
    assert (result["exit"], result["changed"], result["result"]) == (0, True, "would change")
    assert not (tmp_path / "config" / "account.toml").exists()


def test_apply_with_a_failing_test_changes_nothing(
    account_file: Path, env: dict[str, str], certificates: Certificates, tmp_path: Path
) -> None:
    result = apply(account_file, env, certificates, password="wrong-password")
    assert (result["exit"], result["status"], result["changed"]) == (1, "failed", False)
    assert result["reason_kind"] == "credentials"
    assert not (tmp_path / "config" / "account.toml").exists()


def test_apply_with_a_bad_file_is_a_usage_error(
    env: dict[str, str], certificates: Certificates, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('schema = 1\n[account]\nsmtp_mail = "aol"\n')
    ran = run_mailsetup("apply", str(bad), "--json", env=env, stdin=PASSWORD)
    assert ran.code == 2
    data = json.loads(ran.out)
    assert data["status"] == "error" and data["reason_kind"] == "usage"
    assert "smtp_mail is 'aol'" in str(data["reason"])


def test_send_delivers_the_body_from_stdin(
    account_file: Path,
    env: dict[str, str],
    certificates: Certificates,
    starttls_server: SmtpServer,
) -> None:
    apply(account_file, env, certificates)
    ran = run_mailsetup(
        "send", "--to", "alice@example.org", "--subject", "Your code", "--json",
        *ca(certificates), env=env, stdin="Your code is 482913.\n",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    data = json.loads(ran.out)
    assert data["status"] == "ok" and data["recipients"] == ["alice@example.org"]
    (delivered,) = starttls_server.handler.delivered
    assert delivered.mail_from == LOGIN and delivered.rcpt_tos == ["alice@example.org"]
    message = email.message_from_bytes(delivered.data, policy=default_policy)
    assert message["Message-ID"] == data["message_id"]
    assert message["From"] == f"Fleet Codes <{LOGIN}>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "482913" in message.get_content()


def test_send_failure_and_bad_recipient_exit_codes(
    account_file: Path,
    env: dict[str, str],
    certificates: Certificates,
    foreign_certificates: Certificates,
    tmp_path: Path,
) -> None:
    apply(account_file, env, certificates)
    bad = run_mailsetup("send", "--to", "nobody", *ca(certificates), env=env, stdin="x")
    assert bad.code == 2 and "invalid message: recipient 'nobody'" in bad.err
    body = tmp_path / "body.txt"
    body.write_text("Code 1\n")
    # The CA saved with the account is trusted unless another is named: this one is not it.
    failed = run_mailsetup("send", "--to", "a@example.org", "--body-file", str(body), "--json",
                           *ca(foreign_certificates), env=env)  # fmt: skip
    assert failed.code == 1
    assert json.loads(failed.out)["reason_kind"] == "certificate", failed.out


def test_send_without_a_saved_account_is_a_store_error(env: dict[str, str]) -> None:
    ran = run_mailsetup("send", "--to", "a@example.org", "--json", env=env, stdin="x")
    assert ran.code == 3
    assert json.loads(ran.out)["reason_kind"] == "store"


def test_test_json_reports_kind_and_reason(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str]
) -> None:
    args = [
        "test",
        "--smtp-mail",
        "other",
        "--display-name",
        "C",
        "--email",
        LOGIN,
        "--server",
        HOST,
        "--port",
        str(starttls_server.port),
        "--password-stdin",
        "--json",
    ]
    ok = json.loads(run_mailsetup(*args, *ca(certificates), env=env, stdin=PASSWORD).out)
    assert ok["status"] == "ok" and ok["tls"].startswith("TLSv1.")
    failed = run_mailsetup(*args, *ca(certificates), env=env, stdin="wrong")
    assert failed.code == 1
    assert json.loads(failed.out)["reason_kind"] == "credentials"
