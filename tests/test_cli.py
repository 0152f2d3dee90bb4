"""The CLI end to end, in subprocesses against real local servers: exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailsetup_tui.exit_codes import ExitCode, exit_table

from support.cli import Ran, mailsetup_env, run_mailsetup
from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Certificates,
    SmtpServer,
    ThreadedRawServer,
)

OK = "Connected successfully"
FAILED = "Test connection failed. Please review email account information entered."


def other_args(port: int, *extra: str) -> list[str]:
    return [
        "--smtp-mail", "other", "--display-name", "Verification Codes", "--email", LOGIN,
        "--server", HOST, "--port", str(port), *extra,
    ]  # fmt: skip


def fields(ran: Ran) -> dict[str, str]:
    """`show`'s "Label: value" lines as a dict."""
    return {
        label.strip(): value.strip()
        for label, _, value in (line.partition(":") for line in ran.lines)
    }


def assert_no_password(ran: Ran, *files: Path) -> None:
    assert PASSWORD not in ran.out
    assert PASSWORD not in ran.err
    for path in files:
        if path.exists():
            assert PASSWORD not in path.read_text()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "config" / "account.toml"


# --- the "done when" ----------------------------------------------------------------


def test_save_with_a_private_ca_stores_the_account_without_its_password(
    starttls_server: SmtpServer,
    certificates: Certificates,
    env: dict[str, str],
    config: Path,
    keyring_file: Path,
) -> None:
    ran = run_mailsetup(
        "save", *other_args(starttls_server.port), "--password-stdin",
        "--ca-file", str(certificates.ca_file), env=env, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert ran.lines[0] == OK
    assert ran.lines[1].startswith(f"Login as {LOGIN} accepted over TLSv1.")
    assert f"Saved to {config}" in ran.lines
    assert any(line.startswith("Password stored in the system keyring") for line in ran.lines)
    assert 'email = "mfa@example.com"' in config.read_text()
    assert_no_password(ran, config)
    assert json.loads(keyring_file.read_text()) == {f"mailsetup/{LOGIN}#1": PASSWORD}


def test_save_without_a_keyring_uses_the_fallback_file_and_says_so(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path, config: Path
) -> None:
    env = mailsetup_env(tmp_path, MAILSETUP_PASSWORD=PASSWORD)
    ran = run_mailsetup(
        "save", *other_args(starttls_server.port), "--ca-file", str(certificates.ca_file),
        env=env,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    secret = config.with_name("account.secret")
    assert f"Password stored in the file {secret} (mode 0600; no system keyring is available)" in (
        ran.lines
    )
    assert PASSWORD in secret.read_text()
    assert_no_password(ran, config)


# --- test -----------------------------------------------------------------------------------


def test_wrong_password_fails_with_exit_1_and_the_reason(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str]
) -> None:
    ran = run_mailsetup(
        "test", *other_args(starttls_server.port), "--password-stdin",
        "--ca-file", str(certificates.ca_file), env=env, stdin="wrong-password\n",
    )  # fmt: skip
    assert ran.code == 1
    assert ran.lines[0] == FAILED
    assert "the server rejected the e-mail or password (535" in ran.lines[1]
    assert "wrong-password" not in ran.out + ran.err


def test_failed_save_writes_nothing(
    starttls_server: SmtpServer, env: dict[str, str], config: Path, keyring_file: Path
) -> None:
    # No --ca-file: the private CA is not trusted, so the test fails before the login.
    ran = run_mailsetup(
        "save", *other_args(starttls_server.port), "--password-stdin", env=env,
        stdin=PASSWORD,
    )  # fmt: skip
    assert ran.code == 1
    assert ran.lines[0] == FAILED
    assert "certificate is not trusted" in ran.lines[1]
    assert "Not saved" in ran.out
    assert not config.exists()
    assert not keyring_file.exists()
    assert starttls_server.auth_attempts == []


def test_saved_account_is_tested_with_its_stored_secret(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str]
) -> None:
    ca = ["--ca-file", str(certificates.ca_file)]
    saved = run_mailsetup(
        "save", *other_args(starttls_server.port), "--password-stdin", *ca, env=env,
        stdin=PASSWORD,
    )  # fmt: skip
    assert saved.code == 0, saved.err
    ran = run_mailsetup("test", *ca, env=env)
    assert ran.code == 0, ran.err
    assert ran.lines[0] == OK
    assert len(starttls_server.auth_attempts) == 2


def test_global_options_work_before_the_command_too(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.toml"
    ran = run_mailsetup(
        "--config", str(elsewhere), "--ca-file", str(certificates.ca_file), "--timeout", "5",
        "save", *other_args(starttls_server.port), "--password-stdin", env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert elsewhere.exists()


def test_a_temporary_failure_exits_75_for_test_and_save(env: dict[str, str]) -> None:
    with ThreadedRawServer("banner_then_garbage") as server:
        for command in ("test", "save"):
            ran = run_mailsetup(
                command, *other_args(server.port), "--password-stdin", env=env, stdin=PASSWORD
            )
            assert ran.code == 75, (command, ran.err)
            assert "try again in a few minutes" in ran.lines[1]


def test_stalled_server_fails_within_the_timeout(env: dict[str, str]) -> None:
    with ThreadedRawServer("stall") as server:
        started = time.monotonic()
        ran = run_mailsetup(
            "test", *other_args(server.port), "--timeout", "1", "--password-stdin",
            env=env, stdin=PASSWORD,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert ran.code == 75  # temporary: a stalled server may answer in a few minutes
    assert ran.lines == [FAILED, f"{HOST}:{server.port} did not answer within 1 s "
                         f"(wrong port or firewall? If port {server.port} expects implicit "
                         "TLS, choose TLS); this may be temporary: if the settings are right, "
                         "try again in a few minutes"]  # fmt: skip
    # timeout + 1 s, plus the interpreter's own start-up
    assert elapsed < 4, f"{elapsed:.2f} s"


def test_security_none_warns_before_sending_the_password(
    cleartext_auth_server: SmtpServer, env: dict[str, str]
) -> None:
    ran = run_mailsetup(
        "test", *other_args(cleartext_auth_server.port, "--security", "none"),
        "--password-stdin", env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert "sends the password unencrypted" in ran.err
    assert f"Login as {LOGIN} accepted without encryption" in ran.lines[1]


def test_verbose_logs_steps_but_never_the_password(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str]
) -> None:
    ran = run_mailsetup(
        "test", *other_args(starttls_server.port), "-v", "--password-stdin",
        "--ca-file", str(certificates.ca_file), env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert "succeeded" in ran.err
    assert_no_password(ran)


# --- usage and validation errors: exit 2 ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["test", "--smtp-mail", "gmail", "--display-name", "C", "--email", "c@example.com"],
         "mailsetup: invalid Email: a Gmail address must end in @gmail.com (not @example.com)"),
        (["test", "--smtp-mail", "gmail", "--display-name", "C", "--email", "c@gmail.com",
          "--server", "smtp.evil.example"],
         "--server is only for --smtp-mail other (Gmail uses smtp.gmail.com:587"),
        (["test", "--smtp-mail", "other", "--display-name", "C", "--email", "c@example.com"],
         "missing --server, --port for --smtp-mail other"),
        (["test", "--email", "c@gmail.com"],
         "--smtp-mail is required when account options are given"),
        (["test", "--smtp-mail", "other", "--display-name", "C", "--email", "c@example.com",
          "--server", "smtp://x", "--port", "25"],
         "mailsetup: invalid SMTP Server Name: enter the host name only"),
        (["test", "--port", "70000"], "70000 is out of range (1-65535)"),
        (["test", "--password", "hunter2"], "the password is never taken as an argument"),
        (["save", "--pass", "hunter2"], "unrecognized arguments: --pass"),
        (["--timeout", "0", "show"], "--timeout must be between 0 and 300 seconds"),
        (["--ca-file", "/nonexistent/ca.pem", "show"], "--ca-file /nonexistent/ca.pem: no such"),
    ],
)  # fmt: skip
def test_usage_and_validation_errors_exit_2_and_name_the_field(
    env: dict[str, str], args: list[str], message: str
) -> None:
    ran = run_mailsetup(*args, env=env, stdin="pw\n")
    assert ran.code == 2, ran
    assert message in ran.err
    assert "hunter2" not in ran.out + ran.err


def test_all_validation_problems_are_reported_together(env: dict[str, str]) -> None:
    ran = run_mailsetup(
        "test", "--smtp-mail", "other", "--display-name", " ", "--email", "nope",
        "--server", "bad host", "--port", "25", "--password-stdin", env=env, stdin="pw",
    )  # fmt: skip
    assert ran.code == 2
    assert [line.split(":")[0] for line in ran.err.splitlines()] == [
        "mailsetup",
        "mailsetup",
        "mailsetup",
    ]
    assert "invalid Display Name" in ran.err
    assert "invalid Email" in ran.err
    assert "invalid SMTP Server Name" in ran.err


def test_no_password_source_without_a_terminal_is_a_usage_error(env: dict[str, str]) -> None:
    ran = run_mailsetup("test", *other_args(25), env=env)
    assert ran.code == 2
    assert "no password: use --password-stdin or set MAILSETUP_PASSWORD" in ran.err


def test_a_bad_ca_file_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    ran = run_mailsetup("--ca-file", str(bogus), "show", env=env)
    assert ran.code == 2
    assert "not a readable PEM certificate file" in ran.err


# --- store errors: exit 3 -------------------------------------------------------------------


def test_testing_with_no_saved_account_is_a_store_error(env: dict[str, str], config: Path) -> None:
    ran = run_mailsetup("test", env=env)
    assert ran.code == 3
    assert f"no saved account at {config}" in ran.err


def test_corrupt_config_is_reported_with_path_and_line(env: dict[str, str], config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text('schema = 1\n[account]\nemail = "unterminated\n')
    ran = run_mailsetup("test", env=env)
    assert ran.code == 3
    assert f"{config}:3:" in ran.err
    assert config.read_text() == 'schema = 1\n[account]\nemail = "unterminated\n'


# --- show -----------------------------------------------------------------------------------


def test_show_lists_the_account_and_where_things_live_never_the_password(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str], config: Path
) -> None:
    run_mailsetup(
        "save", *other_args(starttls_server.port), "--password-stdin",
        "--ca-file", str(certificates.ca_file), env=env, stdin=PASSWORD,
    )  # fmt: skip
    ran = run_mailsetup("show", env=env)
    assert ran.code == 0, ran.err
    shown = fields(ran)
    assert shown["SMTP Mail"] == "Other"
    assert shown["SMTP Server Port"] == str(starttls_server.port)
    assert shown["Config"] == str(config)
    assert shown["Password"].startswith("stored in the system keyring")
    assert_no_password(ran)

    as_json = run_mailsetup("show", "--json", env=env)
    data = json.loads(as_json.out)
    assert data["status"] == "ok"
    assert data["account"]["email"] == LOGIN
    assert data["account"]["port"] == starttls_server.port
    assert data["secret"]["state"] == "stored"
    assert data["config_path"] == str(config)
    assert_no_password(as_json)


def test_show_says_when_the_secret_is_missing(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path, config: Path
) -> None:
    env = mailsetup_env(tmp_path)  # no keyring: the fallback file
    run_mailsetup(
        "save", *other_args(starttls_server.port), "--password-stdin",
        "--ca-file", str(certificates.ca_file), env=env, stdin=PASSWORD,
    )  # fmt: skip
    config.with_name("account.secret").unlink()
    ran = run_mailsetup("show", env=env)
    assert ran.code == 0
    assert fields(ran)["Password"].startswith("missing: the secret file")
    tested = run_mailsetup("test", env=env)
    assert tested.code == 3
    assert "does not exist; save the account again" in tested.err


def test_show_with_nothing_saved(env: dict[str, str], config: Path) -> None:
    ran = run_mailsetup("show", "--json", env=env)
    assert ran.code == 3
    assert json.loads(ran.out) == {
        "status": "error",
        "changed": False,
        "reason_kind": "no_account",
        "reason": (
            f"No saved account (named by $MAILSETUP_CONFIG: the config would be at {config})."
        ),
        "temporary": False,
        "config_path": str(config),
    }


# --- entry points ---------------------------------------------------------------------------


def test_help_and_version(env: dict[str, str]) -> None:
    ran = run_mailsetup("--help", env=env)
    assert ran.code == 0
    assert f"Exit codes: {exit_table(ExitCode)}." in " ".join(ran.out.split())
    assert run_mailsetup("--version", env=env).out.startswith("mailsetup ")


def test_console_script_is_installed(env: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "mailsetup"
    finished = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert finished.returncode == 0
    assert finished.stdout.startswith("usage: mailsetup")


# --- odd corners (issue 19) -----------------------------------------------------------------


def test_a_closed_standard_output_neither_stops_a_save_nor_fails_it(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str], config: Path
) -> None:
    # `mailsetup save ... | true`: the reader is gone before the first line is written.
    read, write = os.pipe()
    os.close(read)
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "mailsetup_tui", "save", *other_args(starttls_server.port),
             "--password-stdin", "--ca-file", str(certificates.ca_file)],
            input=PASSWORD.encode(), stdout=write, stderr=subprocess.PIPE, env=env,
            timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert finished.returncode == 0, finished.stderr.decode()
    assert b"internal error" not in finished.stderr and b"Broken pipe" not in finished.stderr
    assert 'email = "mfa@example.com"' in config.read_text()


def test_an_unparsable_config_under_json_is_one_json_object_and_save_recovers(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str], config: Path
) -> None:
    # Nested too deep for the TOML parser: it once gave 70, no JSON, and blocked the recovery.
    config.parent.mkdir(parents=True)
    config.write_text("schema = 1\n[account]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    ran = run_mailsetup("show", "--json", env=env)
    data = json.loads(ran.out)
    assert (ran.code, data["status"], data["reason_kind"]) == (3, "error", "store")
    assert "nested too deeply" in data["reason"] and str(config) in data["reason"]
    saved = run_mailsetup(
        "save", *other_args(starttls_server.port), "--password-stdin",
        "--ca-file", str(certificates.ca_file), env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert saved.code == 0, saved.err
    assert any(p.name.endswith(".bak") for p in config.parent.iterdir())


def _saved(starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str]) -> None:
    ran = run_mailsetup(
        "save", *other_args(starttls_server.port), "--password-stdin",
        "--ca-file", str(certificates.ca_file), env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert ran.code == 0, ran.err


def test_a_damaged_secret_file_is_a_store_error(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path, config: Path
) -> None:
    env = mailsetup_env(tmp_path)  # no keyring: the secret is in the file
    _saved(starttls_server, certificates, env)
    config.with_name("account.secret").write_text("secret = 5\n")
    ran = run_mailsetup("test", env=env)
    assert ran.code == 3 and "is damaged" in ran.err, ran.err


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        ("symlink loop", "cannot be read"),
        ("fifo", "not a regular file"),
        ("root", "a directory, not a file"),
        ("named like the secret", "a name the store gives its own files"),
    ],
)
def test_a_config_path_that_cannot_be_one_is_a_store_error_at_once(
    make: str, expected: str, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "odd" / "account.toml"
    path.parent.mkdir()
    if make == "symlink loop":
        path.symlink_to(path)
    elif make == "fifo":
        os.mkfifo(path)
    elif make == "root":
        path = Path("/")
    else:
        path = path.with_name("account.secret")
    ran = run_mailsetup("show", "--config", str(path), env=env, timeout=20)
    assert ran.code == 3, ran.out + ran.err
    assert expected in ran.err and "internal error" not in ran.err


def test_apply_refuses_a_fifo_and_the_tables_it_does_not_apply(
    env: dict[str, str], tmp_path: Path
) -> None:
    fifo = tmp_path / "account-fifo.toml"
    os.mkfifo(fifo)
    ran = run_mailsetup("apply", str(fifo), env=env, timeout=20)
    assert ran.code == 2 and "not a regular file" in ran.err
    wanted = tmp_path / "wanted.toml"
    wanted.write_text(
        'schema = 1\n[account]\nsmtp_mail = "gmail"\ndisplay_name = "C"\n'
        'email = "c@gmail.com"\n[access]\ngroup = "mail"\n[aliases]\nroot = "o@example.com"\n'
    )
    ran = run_mailsetup("apply", str(wanted), env=env)
    assert ran.code == 2
    assert "apply takes the [account] table only, not [access], [aliases]" in ran.err


def test_undecodable_input_is_a_usage_error_that_quotes_no_byte(
    starttls_server: SmtpServer, certificates: Certificates, env: dict[str, str]
) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "mailsetup_tui", "test", *other_args(starttls_server.port),
         "--password-stdin"],
        input=b"caf\xe9-secret\n", capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert finished.returncode == 2
    assert b"the password is not UTF-8 text" in finished.stderr, finished.stderr
    assert b"xe9" not in finished.stderr and b"udce9" not in finished.stderr
    _saved(starttls_server, certificates, env)
    finished = subprocess.run(
        [sys.executable, "-m", "mailsetup_tui", "send", "--to", "a@example.org", "--json"],
        input=b"body \xff\n", capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert finished.returncode == 2
    assert json.loads(finished.stdout)["reason"] == "the message body is not UTF-8 text"
    ran = run_mailsetup("send", "--to", "a@example.org", "--body-file", "/dev/zero", env=env)
    assert ran.code == 2 and "larger than 64 MiB" in ran.err
    assert starttls_server.handler.delivered == []


@pytest.mark.parametrize("damage", ["deleted", "not PEM"])
def test_a_saved_ca_file_that_cannot_be_used_is_a_config_error_naming_it(
    damage: str, starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path)
    ca = tmp_path / "private-ca.pem"
    ca.write_bytes(certificates.ca_file.read_bytes())
    ran = run_mailsetup(
        "save", *other_args(starttls_server.port), "--password-stdin", "--ca-file", str(ca),
        env=env, stdin=PASSWORD,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    if damage == "deleted":
        ca.unlink()
    else:
        ca.write_text("not a certificate\n")
    for command in (["test"], ["send", "--to", "a@example.org"]):
        ran = run_mailsetup(*command, env=env, stdin="body\n")
        assert ran.code == 3, ran.err
        assert str(ca) in ran.err and "internal error" not in ran.err
    finished = subprocess.run(
        [str(Path(sys.executable).parent / "mailsetup-sendmail"), "a@example.org"],
        input=b"Subject: s\n\nbody\n", capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert finished.returncode == 78 and str(ca).encode() in finished.stderr
    assert starttls_server.handler.delivered == []


# --- the README's contract: JSON keys and values, exit codes, --help --------------------------

README = Path(__file__).resolve().parent.parent / "README.md"
COMMON_KEYS = {"status", "changed", "reason_kind", "reason", "temporary", "config_path"}


def readme_json_line() -> str:
    text = README.read_text()
    start = text.index("json:     --json on")
    return " ".join(text[start : text.index("```", start)].split())


def test_every_json_object_has_the_keys_and_values_the_readme_lists(
    env: dict[str, str], config: Path, starttls_server: SmtpServer, certificates: Certificates
) -> None:
    line = readme_json_line()
    assert "status (ok, failed, error)" in line
    assert all(key in line for key in COMMON_KEYS), line
    ca = ["--ca-file", str(certificates.ca_file)]
    stdin = PASSWORD + "\n"
    account_file = config.parent.parent / "fleet.toml"
    account_file.write_text(
        "schema = 1\n[account]\n"
        f'smtp_mail = "other"\ndisplay_name = "Fleet Codes"\nemail = "{LOGIN}"\n'
        f'server = "{HOST}"\nport = {starttls_server.port}\nsecurity = "starttls"\n'
    )
    runs = {
        "show, nothing saved": ("error", ["show"], ""),
        "test, wrong password": (
            "failed", ["test", *other_args(starttls_server.port), *ca, "--password-stdin"],
            "wrong\n",
        ),
        "test": ("ok", ["test", *other_args(starttls_server.port), *ca, "--password-stdin"], stdin),
        "save": ("ok", ["save", *other_args(starttls_server.port), *ca, "--password-stdin"], stdin),
        "show": ("ok", ["show"], ""),
        "send": ("ok", ["send", "--to", "alice@example.org", "--subject", "s"], "body\n"),
        "apply": ("ok", ["apply", str(account_file), *ca, "--password-stdin"], stdin),
        "usage error": ("error", ["send", "--to", "not an address"], "x\n"),
    }  # fmt: skip
    for name, (status, argv, given) in runs.items():
        ran = run_mailsetup(*argv, "--json", env=env, stdin=given)
        assert ran.out, (name, ran.err)
        data = json.loads(ran.out)
        assert data["status"] == status, (name, data, ran.err)
        assert COMMON_KEYS <= set(data), (name, sorted(COMMON_KEYS - set(data)))
        assert data["config_path"] == str(config), name
        assert isinstance(data["changed"], bool) and isinstance(data["temporary"], bool)
        assert (data["reason"] is None) == (status == "ok"), name
        if name in {"test", "show", "send"}:
            assert data["changed"] is False, name  # nothing saved was changed
        if name == "save":
            assert data["changed"] is True
        if name == "apply":
            # The README's example object, key for key.
            text = README.read_text()
            start = text.index('`--json` output, one line: `{"status"') + len(
                "`--json` output, one line: `"
            )
            example = json.loads(text[start : text.index("}`", start) + 1].replace("\n", " "))
            assert set(example) == set(data), sorted(set(example) ^ set(data))


def test_the_exit_codes_and_help_say_what_the_readme_says(env: dict[str, str]) -> None:
    text = README.read_text()
    table = text[text.index("| exit | meaning |") :].split("\n\n", 1)[0]
    codes = {int(row.split("|")[1]) for row in table.splitlines()[2:]}
    assert codes == {int(code) for code in ExitCode}
    listed = " ".join(run_mailsetup("--help", env=env).out.split())
    assert exit_table(ExitCode) in listed
    assert "/etc/mailsetup/account.toml" in listed  # --config's default, for root
    for command in ("test", "save", "show", "send", "apply", "signin", "access", "discover"):
        helped = " ".join(run_mailsetup(command, "--help", env=env).out.split())
        assert f"Exit codes: {exit_table(ExitCode)}" in helped, command
        assert "/etc/mailsetup/account.toml" in helped, command
