"""Text from a server is untrusted: a greeting with escape sequences (sent before TLS, so by
anyone on the path) must not reach the terminal as control codes, in the CLI, in line mode or
in the form; `--json` keeps the exact text, escaped by JSON; `-v` logs each step, no secret."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from mailsetup_tui.core.untrusted import json_text, shown
from test_form import AppFactory, fill_other, run_test_and_wait, running

from support.cli import mailsetup_env, run_mailsetup
from support.scripted import Script, run_scripted_server
from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer
from support.terminal import Terminal

HOSTILE = "554 \x1b]0;owned\x07\x1b[31mevil\x9b2J \u202egnp.exe"
ESCAPES = ("\x1b", "\x07", "\x9b", "\u202e")


def account_args(port: int, *extra: str) -> list[str]:
    return [
        "--smtp-mail", "other", "--display-name", "Codes", "--email", LOGIN,
        "--server", HOST, "--port", str(port), "--password-stdin", *extra,
    ]  # fmt: skip


def test_shown_escapes_controls_removes_bidi_and_caps_the_length() -> None:
    assert shown("a\x1b[31mb\x07c\x9bd\x7fe") == "a\\x1b[31mb\\x07c\\x9bd\\x7fe"
    assert shown("rev\u202eersed\u2066") == "reversed"
    assert shown("line\nbreak\u2028") == "line\\x0abreak\\x2028"
    assert len(shown("x" * 10_000)) == 600
    assert shown("Prüfcode ✓") == "Prüfcode ✓"  # non-ASCII text is not a control


def test_json_keeps_the_exact_text_with_nothing_a_terminal_acts_on() -> None:
    text = json_text({"reason": HOSTILE})
    assert json.loads(text) == {"reason": HOSTILE}
    assert not any(escape in text for escape in ESCAPES)


def test_the_cli_shows_a_hostile_greeting_harmlessly(tmp_path: Path) -> None:
    with run_scripted_server(Script(greeting=HOSTILE)) as server:
        ran = run_mailsetup(
            "test", *account_args(server.port), env=mailsetup_env(tmp_path), stdin=PASSWORD
        )
        as_json = run_mailsetup(
            "test", *account_args(server.port, "--json"), env=mailsetup_env(tmp_path),
            stdin=PASSWORD,
        )  # fmt: skip
    assert ran.code == 1
    assert not any(escape in ran.out + ran.err for escape in ESCAPES)
    assert "refused the session: 554 \\x1b]0;owned\\x07\\x1b[31mevil" in ran.lines[1]
    assert not any(escape in as_json.out for escape in ESCAPES)
    assert "\x1b]0;owned\x07" in json.loads(as_json.out)["reason"]  # exact, JSON-escaped


def test_a_huge_reply_is_capped(tmp_path: Path) -> None:
    # Ten 1,000-character lines: each within SMTP's line limit, together a flood.
    greeting = "\r\n".join(["554-" + "h" * 1000] * 10 + ["554 go away"])
    with run_scripted_server(Script(greeting=greeting)) as server:
        ran = run_mailsetup(
            "test", *account_args(server.port), env=mailsetup_env(tmp_path), stdin=PASSWORD
        )
    assert ran.code == 1
    assert "refused the session: 554 hhhh" in ran.lines[1]
    assert len(ran.lines[1]) <= 600


def test_line_mode_shows_a_hostile_greeting_harmlessly(tmp_path: Path) -> None:
    with run_scripted_server(Script(greeting=HOSTILE)) as server:
        answers = ["o", "Codes", LOGIN, "", PASSWORD, HOST, str(server.port), "", "n"]
        ran = run_mailsetup("--plain", env=mailsetup_env(tmp_path), stdin="\n".join(answers) + "\n")
    assert "Test connection failed." in ran.out
    assert "\\x1b]0;owned" in ran.out
    assert not any(escape in ran.out + ran.err for escape in ESCAPES)


async def test_the_form_shows_a_hostile_greeting_harmlessly(make_app: AppFactory) -> None:
    with run_scripted_server(Script(greeting=HOSTILE)) as server:
        app = make_app()
        async with running(app) as pilot:
            await fill_other(pilot, server.port)
            await run_test_and_wait(pilot)
            detail = app.setup_screen.result_panel.detail
    assert "\\x1b]0;owned" in detail
    assert not any(escape in detail for escape in ESCAPES)


def test_the_terminal_keeps_its_title_and_colours_under_a_hostile_greeting(
    tmp_path: Path,
) -> None:
    env = mailsetup_env(tmp_path, TERM="xterm-256color")
    mailsetup = Path(sys.executable).parent / "mailsetup"
    with run_scripted_server(Script(greeting=HOSTILE)) as server:
        argv: list[str | Path] = [mailsetup, "--timeout", "5"]
        with Terminal(argv, env=env) as term:
            term.wait_for("Exchange")
            term.type("o")
            term.wait_for("Auto (TLS on 465")
            for value in ("Codes", LOGIN, "", PASSWORD, HOST, str(server.port)):
                term.type("\t" + value)
            term.wait_for(str(server.port))
            term.send("\x14")
            screen = term.wait_for("refused the session")
            assert term.screen.title != "owned"
            assert "\\x1b]0;owned" in screen.replace("\n", "")
            assert b"\x1b]0;owned" not in term.received
            term.send("\x11\x11")


def test_verbose_logs_each_step_and_no_secret(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    ran = run_mailsetup(
        "test", "-v", *account_args(starttls_server.port, "--ca-file", str(certificates.ca_file)),
        env=mailsetup_env(tmp_path), stdin=PASSWORD,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    steps = [line.removeprefix("mailsetup: ").split(":")[0] for line in ran.err.splitlines()]
    for expected in ("connect", "greeting", "STARTTLS", "TLS", "AUTH PLAIN ****", "RSET"):
        assert expected in steps, ran.err
    assert any(line.startswith("EHLO ") for line in steps)
    assert "MAIL FROM" in steps and "RCPT TO" in steps
    assert "RCPT TO:<postmaster@example.com>: 250" in ran.err
    assert "TLSv1." in ran.err and "certificate subject" in ran.err
    assert PASSWORD not in ran.err
    assert base64.b64encode(f"\0{LOGIN}\0{PASSWORD}".encode()).decode() not in ran.err


def test_an_auth_echo_never_shows_the_payload_in_the_verbose_log(tmp_path: Path) -> None:
    payload = base64.b64encode(f"\0{LOGIN}\0{PASSWORD}".encode()).decode()
    script = Script(replies={"AUTH PLAIN": "535 5.7.8 bad: {line}"})
    with run_scripted_server(script) as server:
        ran = run_mailsetup(
            "test", "-v", *account_args(server.port, "--security", "none"),
            env=mailsetup_env(tmp_path), stdin=PASSWORD,
        )  # fmt: skip
    assert ran.code == 1
    assert payload not in ran.out + ran.err
    assert "AUTH PLAIN ****" in ran.err


@pytest.mark.parametrize(("command", "code"), [("test", 75), ("send", 75)])
def test_a_temporary_failure_is_said_in_json_and_exits_75(
    tmp_path: Path, command: str, code: int
) -> None:
    env = mailsetup_env(tmp_path)
    script = Script(replies={"RCPT": "451 4.3.0 Temporary lookup failure"})
    with run_scripted_server(script) as server:
        saved = Script()
        with run_scripted_server(saved) as good:
            setup = run_mailsetup(
                "save", *account_args(good.port, "--security", "none"), env=env, stdin=PASSWORD
            )
            assert setup.code == 0, setup.out + setup.err
        config = tmp_path / "config" / "account.toml"
        config.write_text(config.read_text().replace(str(good.port), str(server.port)))
        if command == "test":
            ran = run_mailsetup("test", "--json", env=env)
        else:
            ran = run_mailsetup("send", "--to", "a@example.org", "--json", env=env, stdin="x\n")
    data = json.loads(ran.out)
    assert ran.code == code, ran.out + ran.err
    assert (data["status"], data["reason_kind"], data["temporary"]) == ("failed", "deferred", True)
    assert "try again in a few minutes" in str(data["reason"])
