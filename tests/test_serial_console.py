"""The form and the line mode on a real serial console, as a terminal emulator (pyte) sees the
installed `mailsetup` in a pseudo-terminal: a screen that already holds old text and has no
alternate screen (pyte has none, like vt100, vt220, linux and GNU screen), monochrome, a slow
line, keys that flow control would eat, answers pasted into the line mode."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

from support.cli import mailsetup_env
from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer
from support.terminal import Terminal

MAILSETUP = Path(sys.executable).parent / "mailsetup"
OLD_TEXT = "".join(f"[{n:5}.123456] kernel: old console message number {n}\n" for n in range(30))
TAB, CTRL_L, CTRL_X = "\t", "\x0c", "\x18"
PF3 = "\x1bOR"  # what a VT100's PF3 key sends: F3, Save


def env_for(tmp_path: Path, term: str = "vt100") -> dict[str, str]:
    return mailsetup_env(tmp_path, TERM=term)


def settled(term: Terminal) -> str:
    term.wait_quiet(0.4)
    return term.text


def attributes(term: Terminal) -> list[list[tuple[str, bool, bool]]]:
    """Each cell's character, reverse and bold: what a monochrome terminal can show."""
    return [
        [(term.screen.buffer[y][x].data, term.screen.buffer[y][x].reverse,
          term.screen.buffer[y][x].bold) for x in range(term.screen.columns)]
        for y in range(term.screen.lines)
    ]  # fmt: skip


@pytest.mark.parametrize("term_name", ["vt100", "linux"])
def test_the_form_starts_on_a_clean_screen_over_old_console_text(
    tmp_path: Path, term_name: str
) -> None:
    env = env_for(tmp_path, term_name)
    with Terminal([MAILSETUP], env=env) as blank:
        blank.wait_for("Exchange")
        expected = settled(blank)
        expected_cells = attributes(blank)
    with Terminal([MAILSETUP], env=env, old_text=OLD_TEXT) as console:
        console.wait_for("Exchange")
        assert settled(console) == expected
        assert attributes(console) == expected_cells
        assert "kernel" not in console.text


def test_quitting_leaves_the_console_tidy(tmp_path: Path) -> None:
    with Terminal([MAILSETUP], env=env_for(tmp_path), old_text=OLD_TEXT) as term:
        term.wait_for("Exchange")
        settled(term)
        term.send(CTRL_X)  # nothing changed: no question, straight out
        assert term.wait_exit() == 0
        term.wait_quiet(0.3)
        assert term.text.strip() == ""
        # No alternate screen to restore: the shell's prompt goes to the bottom-left.
        assert (term.screen.cursor.x, term.screen.cursor.y) == (0, 23)


def test_ctrl_l_redraws_a_screen_something_else_wrote_on(tmp_path: Path) -> None:
    with Terminal([MAILSETUP], env=env_for(tmp_path)) as term:
        term.wait_for("Exchange")
        intact = settled(term)
        # A console message lands on the screen, as the kernel's do on /dev/console.
        term.stream.feed(b"\x1b[10;5H[ 1234.5] eth0: link down\x1b[20;1Hnoise noise")
        assert term.text != intact
        term.send(CTRL_L)
        term.wait_quiet(0.4)
        assert term.text == intact


def test_the_typing_position_is_visible_without_colour(tmp_path: Path) -> None:
    with Terminal([MAILSETUP], env=env_for(tmp_path) | {"NO_COLOR": "1"}) as term:
        term.wait_for("Exchange")
        settled(term)
        term.type("o" + TAB + "Acme")
        term.wait_until(
            lambda: (
                term.screen.display[term.screen.cursor.y].startswith(" Display Name")
                and "Acme" in term.screen.display[term.screen.cursor.y]
            ),
            "the cursor in Display Name after Acme",
        )
        screen = settled(term)
        cursor = term.screen.cursor
        assert not cursor.hidden
        row = screen.splitlines()[cursor.y]
        assert row.startswith(" Display Name")
        assert row[cursor.x - 4 : cursor.x] == "Acme"  # the real cursor, right after the text
        # ... and no cell drawn as a second cursor: a typed character is one byte.
        assert not term.screen.buffer[cursor.y][cursor.x].reverse
        before = len(term.received)
        term.type("s")
        settled(term)
        assert bytes(term.received[before:]) == b"s"
        term.type(TAB * 7)  # Email, Sign-in, Password, Server, Port, Security, Test
        term.wait_until(
            lambda: "Test" in term.screen.display[term.screen.cursor.y], "the cursor on Test"
        )
        settled(term)
        test_button = term.screen.cursor
        line = term.screen.buffer[test_button.y]
        assert any(line[x].reverse and line[x].data == "T" for x in range(term.screen.columns))
        assert "Test" in term.text.splitlines()[test_button.y]


def test_keys_that_survive_flow_control(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    argv: list[str | Path] = [MAILSETUP, "--ca-file", certificates.ca_file, "--timeout", "10"]
    with Terminal(argv, env=env_for(tmp_path)) as term:
        term.wait_for("Exchange")
        footer = settled(term).splitlines()[-1]
        assert "F2 Test" in footer and "^X Quit" in footer
        assert "^S" not in footer and "^Q" not in footer
        assert "F3 Save" not in footer  # not available yet: left out (a VT100 shows no dim)
        term.type("o")
        for value in ("Codes", LOGIN, "", PASSWORD, HOST, str(starttls_server.port)):
            term.type(TAB + value)
        term.send("\x1bOQ")  # PF2: Test
        term.wait_for("Connected successfully")
        assert "F3 Save" in settled(term).splitlines()[-1]
        term.send(PF3)
        term.wait_for("Saved to")
        term.send(CTRL_X)
        assert term.wait_exit() == 0
    assert (tmp_path / "config" / "account.toml").exists()


def test_a_resize_costs_no_more_than_a_fresh_first_screen(tmp_path: Path) -> None:
    env = env_for(tmp_path, "linux")
    with Terminal([MAILSETUP], env=env, columns=100, lines=30) as fresh:
        fresh.wait_for("Exchange")
        first_screen = fresh.wait_quiet(0.5)
        fresh_text = fresh.text
    with Terminal([MAILSETUP], env=env) as term:
        term.wait_for("Exchange")
        before = term.wait_quiet(0.5)
        term.resize(100, 30)
        after = term.wait_quiet(0.5)
        resized = after - before
        assert resized <= 1.5 * first_screen, (resized, first_screen)
        assert term.text == fresh_text  # and nothing of the 80x24 layout is left over


def test_keys_typed_during_a_slow_first_screen_land_in_their_fields(
    starttls_server: SmtpServer, tmp_path: Path
) -> None:
    # 1200 baud: the first screen takes seconds; the operator types on regardless.
    with Terminal([MAILSETUP], env=env_for(tmp_path), baud=1200) as term:
        time.sleep(0.3)
        term.type("o" + TAB + "Acme Codes" + TAB + LOGIN, delay=0.05)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and LOGIN not in term.text:
            time.sleep(0.2)
        screen = settled(term)
        lines = screen.splitlines()
        # The first key arrives before the form has focused anything, and still counts.
        assert any(line.startswith(" SMTP Mail") and "Other" in line for line in lines), screen
        assert any(line.startswith(" Display Name") and "Acme Codes" in line for line in lines)
        assert any(line.startswith(" Email") and LOGIN in line for line in lines)


def test_a_paste_into_the_line_mode_never_shows_the_password(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path, TERM="dumb")
    argv: list[str | Path] = [MAILSETUP, "--ca-file", certificates.ca_file]
    # Save: yes; a test message: Enter (no).
    answers = ["o", "Codes", LOGIN, "", PASSWORD, HOST, str(starttls_server.port), "", "y", ""]
    with Terminal(argv, env=env) as term:
        term.wait_for("SMTP Mail [Exchange]:")
        term.send("\r".join(answers) + "\r")  # one paste, right after the first prompt
        term.wait_for("Password stored in")
        assert term.wait_exit() == 0
        assert PASSWORD.encode() not in term.received
        assert "Codes" in term.text and str(starttls_server.port) in term.text
    assert (tmp_path / "config" / "account.toml").exists()


def test_a_password_typed_before_echo_was_off_is_refused_with_a_word(
    starttls_server: SmtpServer, certificates: Certificates, tmp_path: Path
) -> None:
    env = mailsetup_env(tmp_path, TERM="dumb")
    # The answers arrive while the program is still starting: the terminal echoes them.
    argv: list[str | Path] = [
        "/bin/sh", "-c", f'sleep 1; exec "{MAILSETUP}" --ca-file "{certificates.ca_file}"'
    ]  # fmt: skip
    # Save: yes; a test message: Enter (no).
    answers = ["o", "Codes", LOGIN, "", PASSWORD, HOST, str(starttls_server.port), "", "y", ""]
    with Terminal(argv, env=env) as term:
        term.send("\r".join(answers[:5]) + "\r")
        term.wait_for("typed before mailsetup could hide it")
        term.send(PASSWORD + "\r" + "\r".join(answers[5:]) + "\r")
        term.wait_for("Password stored in")
        assert term.wait_exit() == 0


# --- the README's picture, dialogs and dim ----------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"
PF1, PF2 = "\x1bOP", "\x1bOQ"


def readme_picture() -> list[str]:
    text = README.read_text()
    start = text.index("```\n System E-mail Account Setup\n") + 4
    return text[start : text.index("```", start)].rstrip("\n").split("\n")


def fill_in_other(term: Terminal, port: int) -> None:
    term.type("o")
    term.wait_for("Auto (TLS on 465")
    for value in ("Acme Verification Codes", LOGIN, "", PASSWORD, HOST, str(port)):
        term.type(TAB + value, delay=0.01)


def test_the_readmes_picture_is_the_form_after_a_successful_test(
    tmp_path: Path, starttls_server: SmtpServer, certificates: Certificates
) -> None:
    from mailsetup_tui.core.outcomes import account_text
    from mailsetup_tui.core.store import Chosen

    env = mailsetup_env(tmp_path, TERM="vt220", SSL_CERT_FILE=str(certificates.ca_file))
    with Terminal([MAILSETUP], env=env) as term:
        term.wait_for("Exchange")
        fill_in_other(term, starttls_server.port)
        term.send(PF2)
        term.wait_for("Connected successfully")
        shown = [line.rstrip() for line in settled(term).split("\n") if line.strip()]
    picture = [line for line in readme_picture() if line.strip()]
    # What differs from run to run, and the mode line (the README shows root's, without
    # --config; here the config is in a temp dir), which is checked on its own below.
    fields = next(y for y, line in enumerate(shown) if line.startswith(" SMTP Mail"))
    shown[1:fields] = [picture[1]]
    shown = [line.replace(f"|{starttls_server.port} |", "|49719 |") for line in shown]
    shown = [re.sub(r"TLSv1\.\d in \d+\.\d s", "TLSv1.3 in 0.0 s", line) for line in shown]
    assert shown == picture
    system = account_text(Path("/etc/mailsetup/account.toml"), Chosen.ROOT, exists=False)
    assert picture[1] == f" {system}"


def assert_whole_rows(screen: str, top: int, bottom: int) -> None:
    """Rows `top`..`bottom` belong to the box alone: it spans the screen's width, so no end of
    a form line is left beside it."""
    rows = screen.split("\n")
    for row in rows[top : bottom + 1]:
        assert row[0] in "+|" and row[-1] in "+|", f"not a whole row of the box: {row!r}"


def box_rows(screen: str, column: int = 0) -> tuple[int, int]:
    corners = [y for y, row in enumerate(screen.split("\n")) if row[column : column + 2] == "+-"]
    return corners[0], corners[-1]


def test_dialogs_and_the_open_list_leave_nothing_beside_them_and_nothing_dim(
    tmp_path: Path,
) -> None:
    with Terminal([MAILSETUP], env=env_for(tmp_path, "vt100")) as term:
        term.wait_for("Exchange")
        settled(term)
        term.send(" ")  # the provider list, under SMTP Mail: to the screen's right edge
        term.wait_for("Yahoo")
        screen = settled(term)
        top, bottom = box_rows(screen, column=19)
        for row in screen.split("\n")[top : bottom + 1]:
            assert row[19] in "+|" and row[79] in "+|", f"beside the list: {row!r}"
        term.send("\x1b")
        term.wait_quiet(0.3)
        term.send(PF1)  # help: as wide as the screen, and it scrolls
        term.wait_for("Up/Down/PgUp/PgDn scroll")
        screen = settled(term)
        assert_whole_rows(screen, *box_rows(screen))
        term.send("\x1b")
        term.wait_quiet(0.3)
        fill_in_other(term, 25)
        term.type(TAB + "n")  # Security None
        term.send(PF2)
        term.wait_for("Test anyway?")
        screen = settled(term)
        assert_whole_rows(screen, *box_rows(screen))
        # Below 60x20 the dialog says the terminal is too small, and nothing else is left.
        term.resize(50, 16)
        term.wait_for("60x20. Enlarge the window")
        settled(term)
        assert "unencrypted" not in term.text and "+-" not in term.text
        assert "Display Name" not in term.text
        # A real VT100 does not show dim: nothing is drawn with it.
        sgr = re.findall(rb"\x1b\[([0-9;]*)m", bytes(term.received))
        assert not [codes for codes in sgr if b"2" in codes.split(b";")]


# --- a slow line the pty's speed tells of ------------------------------------------------------


def frames_after(trace: Path, start: int) -> int:
    """Writes that sent anything to the terminal, from line `start` of the trace on."""
    lines = trace.read_text().splitlines()[start:]
    return sum(1 for line in lines if json.loads(line)[1])


def test_a_burst_at_1200_baud_merges_frames_and_every_key_lands(tmp_path: Path) -> None:
    """A pty set to 1200 baud and read at that pace: a burst of 42 keys, typed faster than the
    line can show each (a paste, a fast typist), goes out in fewer frames than keys (the line
    is modelled from its speed: TIOCOUTQ says 0 on a pty), the final screen is exact, and
    every key is in its field."""
    trace = tmp_path / "writes.jsonl"
    env = env_for(tmp_path) | {"MAILSETUP_TRACE_WRITES": str(trace)}
    name, email = "Acme Verification Codes", "codes@example.com"
    with Terminal([MAILSETUP], env=env, baud=1200, speed=1200) as term:
        term.wait_for("Exchange", timeout=60)
        term.wait_quiet(0.5, timeout=60)
        term.send("o")
        term.wait_for("Auto (TLS on 465", timeout=30)
        term.wait_quiet(0.5, timeout=60)
        start = len(trace.read_text().splitlines())
        burst = TAB + name + TAB + email  # 42 keys, 40 a second: faster than 1200 baud shows them
        term.type(burst, delay=0.025)
        term.wait_for(email, timeout=60)
        screen = settled(term)
        term.wait_quiet(1.0, timeout=60)
        frames = frames_after(trace, start)
    assert frames < len(burst) // 2, f"{frames} frames for {len(burst)} keys"
    rows = screen.split("\n")
    assert next(row for row in rows if row.startswith(" Display Name"))[20:].startswith(name)
    assert next(row for row in rows if row.startswith(" Email"))[20:].startswith(email)


def test_mailsetup_baud_models_a_line_the_pty_says_nothing_of(tmp_path: Path) -> None:
    """A console server's pty says 38400 (nothing): MAILSETUP_BAUD tells the speed instead."""
    trace = tmp_path / "writes.jsonl"
    env = env_for(tmp_path) | {"MAILSETUP_TRACE_WRITES": str(trace), "MAILSETUP_BAUD": "1200"}
    with Terminal([MAILSETUP], env=env, baud=1200) as term:
        term.wait_for("Exchange", timeout=60)
        term.wait_quiet(0.5, timeout=60)
        start = len(trace.read_text().splitlines())
        term.type("\t" + "x" * 30, delay=0.025)
        term.wait_for("x" * 30, timeout=60)
        term.wait_quiet(1.0, timeout=60)
        frames = frames_after(trace, start)
    assert frames < 15, f"{frames} frames for 31 keys"


@pytest.mark.parametrize("term_name", ["vt100", "linux", "xterm-256color"])
def test_a_typed_character_is_one_byte_and_the_cursor_shows_where(
    tmp_path: Path, term_name: str
) -> None:
    """The terminal's own cursor is the typing position on every terminal: a character typed
    at the end of a field costs the character itself (at most 4 bytes, the issue's bound).
    The first one also clears the placeholder, which costs what the placeholder was."""
    with Terminal([MAILSETUP], env=env_for(tmp_path, term_name)) as term:
        term.wait_for("Exchange")
        settled(term)
        term.send(TAB)
        settled(term)
        term.send("A")
        settled(term)
        costs = []
        for char in "cme":
            before = len(term.received)
            term.send(char)
            term.wait_quiet(0.3)
            costs.append(len(term.received) - before)
        assert max(costs) <= 4, costs
        cursor = term.screen.cursor
        assert not cursor.hidden
        assert term.text.splitlines()[cursor.y][cursor.x - 4 : cursor.x] == "Acme"


def test_a_tab_moves_a_one_cell_mark_and_costs_a_few_bytes(tmp_path: Path) -> None:
    """On a monochrome vt100 the focused field is marked by its label's first cell, bold and
    reversed: a Tab rewrites two cells (dialog's Tab is 29 bytes; the issue allows 1.5x)."""
    with Terminal([MAILSETUP], env=env_for(tmp_path, "vt100")) as term:
        term.wait_for("Exchange")
        settled(term)
        costs = []
        for _ in range(3):  # Display Name, Email, Sign-in
            before = len(term.received)
            term.send(TAB)
            term.wait_quiet(0.3)
            costs.append(len(term.received) - before)
        assert max(costs) <= 43, costs
        rows = term.text.split("\n")
        marked = [
            (y, x)
            for y in range(term.screen.lines)
            for x in range(18)
            if term.screen.buffer[y][x].reverse
        ]
        (y, _column) = marked[0]
        assert marked == [(y, 1)] and rows[y].startswith(" Sign-in"), marked
        assert term.screen.buffer[y][1].bold


@pytest.mark.parametrize("term_name", ["vt100", "linux"])
def test_a_provider_change_rewrites_what_differs_and_the_cursor_stays(
    tmp_path: Path, term_name: str
) -> None:
    """The provider's notice keeps its row, so no row below it moves: a provider change costs
    at most 250 bytes (the issue's bound; the whole form was about 540), and the terminal's
    cursor stays on SMTP Mail, where the next letter goes, though the presets changed the
    server fields below it."""
    with Terminal([MAILSETUP], env=env_for(tmp_path, term_name)) as term:
        term.wait_for("Exchange")
        settled(term)
        smtp_mail = (term.screen.cursor.y, term.screen.cursor.x)
        assert term.text.splitlines()[smtp_mail[0]].startswith(" SMTP Mail")
        rows_before = term.text.splitlines()
        costs = {}
        for key, shown in [("g", "Gmail"), ("o", "Other"), ("h", "Hotmail"), ("y", "Yahoo")]:
            before = len(term.received)
            term.send(key)
            term.wait_for(shown)
            term.wait_quiet(0.4)
            costs[key] = len(term.received) - before
            assert (term.screen.cursor.y, term.screen.cursor.x) == smtp_mail, key
        assert max(costs.values()) <= 250, costs
        rows_after = term.text.splitlines()
        for label in ("Display Name", "Security"):  # nothing moved
            assert [label in row for row in rows_before] == [label in row for row in rows_after]
        assert "smtp.mail.yahoo.com" in term.text
