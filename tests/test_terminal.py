"""The installed `mailsetup` in a real pseudo-terminal: what an operator types and sees."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.cli import mailsetup_env
from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer
from support.terminal import Terminal

MAILSETUP = Path(sys.executable).parent / "mailsetup"
TAB, CTRL_T, CTRL_S, CTRL_Q = "\t", "\x14", "\x13", "\x11"


@pytest.fixture
def terminal_env(tmp_path: Path) -> dict[str, str]:
    return mailsetup_env(tmp_path, keyring_file=tmp_path / "keyring.json", TERM="xterm-256color")


def test_type_test_and_save_through_the_form(
    starttls_server: SmtpServer,
    certificates: Certificates,
    terminal_env: dict[str, str],
    tmp_path: Path,
) -> None:
    config = tmp_path / "config" / "account.toml"
    argv: list[str | Path] = [MAILSETUP, "--ca-file", certificates.ca_file, "--timeout", "10"]
    with Terminal(argv, env=terminal_env) as term:
        term.wait_for("New account (will be saved to")
        term.wait_for("Exchange")
        term.type("o")
        term.wait_for("Auto (TLS on 465")
        # The empty value passes over Sign-in, which stays at App password.
        for value in ("Verification Codes", LOGIN, "", PASSWORD, HOST, str(starttls_server.port)):
            term.type(TAB + value)
        screen = term.wait_for(str(starttls_server.port))
        assert PASSWORD not in screen  # masked while typed
        term.send(CTRL_T)
        screen = term.wait_for("Connected successfully")
        assert f"Login as {LOGIN} accepted over TLSv1." in screen
        term.send(CTRL_S)
        screen = term.wait_for("Saved to")
        assert "Password stored in the system keyring" in screen
        term.wait_for("Editing the saved account")
        assert PASSWORD.encode() not in term.received
        term.send(CTRL_Q)  # saved: no question, straight out
        assert term.wait_exit() == 0

    text = config.read_text()
    assert 'smtp_mail = "other"' in text
    assert f"port = {starttls_server.port}" in text
    assert PASSWORD not in text
    keyring = json.loads((tmp_path / "keyring.json").read_text())
    assert keyring == {f"mailsetup/{LOGIN}#1": PASSWORD}


def test_without_a_terminal_the_line_mode_runs(terminal_env: dict[str, str]) -> None:
    import subprocess

    finished = subprocess.run(
        [MAILSETUP], env=terminal_env, capture_output=True, text=True, check=False, input=""
    )
    assert finished.returncode == 2
    assert "System E-mail Account Setup (line mode)" in finished.stdout
    assert "Input ended: nothing was saved." in finished.stdout
    assert "\x1b" not in finished.stdout


def test_typeahead_in_one_burst_lands_in_the_right_fields(
    starttls_server: SmtpServer, certificates: Certificates, terminal_env: dict[str, str]
) -> None:
    # Over a laggy SSH link, keys typed ahead arrive in one read. Each must still go to the
    # field that had focus at that point in the typing, not to the one focused when the
    # read arrived ("Verification" typed into SMTP Mail would pick providers by letter).
    argv: list[str | Path] = [MAILSETUP, "--ca-file", certificates.ca_file, "--timeout", "10"]
    with Terminal(argv, env=terminal_env) as term:
        term.wait_for("Exchange")
        burst = "\t".join(
            ["o", "Verification Codes", LOGIN, "", PASSWORD, HOST, str(starttls_server.port)]
        )
        term.send(burst + "\r" + CTRL_T)  # Enter in the last field moves on, like Tab
        screen = term.wait_for("Connected successfully")
        assert "Verification Codes" in screen
        assert f"|{LOGIN}" in screen or LOGIN in screen
        term.send(CTRL_Q)
        term.wait_for("Quit and lose them?")
        term.send("y")
        assert term.wait_exit() == 0


def _drive_through_the_form(term: Terminal) -> None:
    term.wait_for("SMTP")
    for keys in ("o", "\tCodes", "\t", "\x07"):  # Other, a name, a Tab, the help dialog
        term.send(keys)
        term.wait_quiet(0.3)
    term.send("\x1b")
    term.wait_quiet(0.3)


def test_lang_c_gets_only_ascii(terminal_env: dict[str, str]) -> None:
    env = terminal_env | {"LANG": "C", "LC_ALL": "C", "TERM": "xterm"}
    with Terminal([MAILSETUP], env=env) as term:
        _drive_through_the_form(term)
        assert bytes(term.received).isascii()
        assert "SMTP Mail" in term.text and "v" in term.text  # the list arrow, as ASCII


def test_no_color_writes_no_colours(terminal_env: dict[str, str]) -> None:
    import re

    env = terminal_env | {"NO_COLOR": "1", "TERM": "xterm-256color"}
    with Terminal([MAILSETUP], env=env) as term:
        _drive_through_the_form(term)
        params = re.findall(rb"\x1b\[([0-9;]*)m", bytes(term.received))
        codes = {code for group in params for code in group.split(b";") if code}
        colours = {c for c in codes if c.isdigit() and (30 <= int(c) <= 38 or 40 <= int(c) <= 48
                                                         or 90 <= int(c) <= 107)}  # fmt: skip
        assert colours == set(), sorted(colours)
        assert b"7" in codes  # focus and highlights by reverse video instead


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (CI installs it)")
@pytest.mark.parametrize("term_name", ["xterm-256color", "vt100"])
def test_quitting_gives_back_the_shell_screen_and_cursor(tmp_path: Path, term_name: str) -> None:
    """In tmux (a terminal with an alternate screen), quitting restores what the shell showed
    and puts the cursor back after its prompt: nothing of the form is left, and nothing moves
    the cursor after the alternate screen is left."""
    env = mailsetup_env(tmp_path, TERM=term_name)
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    script = tmp_path / "shell.sh"
    script.write_text(
        f"export {exports}\n"
        "printf 'old line 1\\nold line 2\\nprompt> '\n"
        f"{shlex.quote(str(MAILSETUP))}\n"
        "printf '<after>'\n"
        "sleep 60\n"
    )
    server = ["tmux", "-S", str(tmp_path / "tmux.sock"), "-f", "/dev/null"]

    def tmux(*args: str) -> str:
        return subprocess.run(
            [*server, *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout

    tmux("new-session", "-d", "-x", "80", "-y", "24", f"sh {shlex.quote(str(script))}")
    try:
        deadline = time.monotonic() + 20
        while "Exchange" not in tmux("capture-pane", "-p"):
            assert time.monotonic() < deadline, tmux("capture-pane", "-p")
            time.sleep(0.1)
        tmux("send-keys", "C-q" if term_name.startswith("xterm") else "C-x")
        while "<after>" not in tmux("capture-pane", "-p"):
            assert time.monotonic() < deadline, tmux("capture-pane", "-p")
            time.sleep(0.1)
        lines = tmux("capture-pane", "-p").splitlines()
        assert lines[:3] == ["old line 1", "old line 2", "prompt> <after>"]
        assert not any(line.strip() for line in lines[3:])
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True, check=False)


CRASHING_FORM = """
import sys
from mailsetup_tui.tui import domain_facts

def a_bug(self, draft):
    # A bug in the middle of checking the values, with the typed password in a local.
    if len(draft.password) >= 8:
        raise RuntimeError("a bug")
    return None

domain_facts.DomainFacts.hosted = a_bug
from mailsetup_tui.launch import main
sys.argv = ["mailsetup"]
main()
"""


def test_a_crash_reports_the_error_but_never_the_typed_password(
    terminal_env: dict[str, str], tmp_path: Path
) -> None:
    """Textual's own report of an unexpected error shows every frame's local variables: the
    draft being checked, and so the password typed, went to the terminal (and exit was 0)."""
    script = tmp_path / "crashing_form.py"
    script.write_text(CRASHING_FORM)
    typed = "Zq9secretAB"
    with Terminal([sys.executable, script], env=terminal_env) as term:
        term.wait_for("Exchange")
        term.type(TAB + "Acme" + TAB + "codes@example.com" + TAB + TAB)
        term.wait_quiet(0.4)
        term.send(typed)  # one paste: every key is read before the form ends
        assert term.wait_exit() == 70
        term.wait_quiet(0.3)
        screen = term.text
        received = bytes(term.received)
    report = received.decode(errors="replace")
    last_line = [line for line in screen.splitlines() if line.strip()][-1]
    assert "mailsetup: internal error: RuntimeError: a bug" in last_line  # seen, not scrolled
    assert "in a_bug" in report  # the traceback, for a bug report
    for part in (typed[:8], typed[:4]):
        assert part not in screen
        assert part.encode() not in received
    assert "locals" not in report
