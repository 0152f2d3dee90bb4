"""The frugal writer never leaves the terminal showing something other than what the app drew.

Each test feeds the same writes to a terminal emulator (pyte) directly, which is the intent,
and through `FrugalWriter`, which is what the terminal gets, and compares the two screens cell
by cell: character, colours and attributes, as far as they show. A blank shows its background
and, reversed or lined, its foreground; its foreground, bold and italics otherwise show nowhere,
and the writer may leave them as the terminal has them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pyte
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailsetup_tui.terminal.frugal import (
    ASCII_FALLBACK,
    SYNC_BEGIN,
    SYNC_END,
    FrugalWriter,
    Style,
    apply_sgr,
    sgr_transition,
)

from support.cli import mailsetup_env
from support.terminal import Terminal

W, H = 20, 6
ATTRIBUTES = ("data", "fg", "bg", "bold", "italics", "underscore", "strikethrough", "reverse")
UNSEEN_ON_A_PLAIN_BLANK = {"fg", "bold", "italics"}


def unseen(cell: pyte.screens.Char) -> set[str]:
    """What of `cell` no one can see: on a blank that is neither reversed nor lined, its
    foreground, bold and italics."""
    plain = cell.data == " " and not (cell.reverse or cell.underscore or cell.strikethrough)
    return UNSEEN_ON_A_PLAIN_BLANK if plain else set()


def seen(want: pyte.screens.Char, got: pyte.screens.Char) -> list[str]:
    """The attributes (data first) that must agree for the two cells to look the same."""
    return [name for name in ATTRIBUTES if name not in unseen(want) & unseen(got)]


class Screens:
    """The intended screen and the one the frugal output produces, side by side."""

    def __init__(self, width: int = W, height: int = H, transliterate: bool = False) -> None:
        self.intent = pyte.Screen(width, height)
        self.shown = pyte.Screen(width, height)
        self._intent_stream = pyte.Stream(self.intent)
        self._shown_stream = pyte.Stream(self.shown)
        self.writer = FrugalWriter(width, height, transliterate=transliterate)
        self.transliterate = transliterate
        self.sent: list[str] = []

    def write(self, data: str) -> str:
        self._intent_stream.feed(data)
        out = self.writer.feed(data)
        self._shown_stream.feed(out)
        self.sent.append(out)
        return out

    def assert_same(self) -> None:
        for row in range(self.intent.lines):
            for col in range(self.intent.columns):
                want = self.intent.buffer[row][col]
                got = self.shown.buffer[row][col]
                for name in seen(want, got):
                    expected = getattr(want, name)
                    if name == "data" and self.transliterate:
                        expected = "".join(
                            ch if ch.isascii() else ASCII_FALLBACK.get(ch, "?") for ch in expected
                        )
                    assert getattr(got, name) == expected, (
                        f"cell {row},{col} {name}: shown {getattr(got, name)!r}, "
                        f"intended {expected!r}"
                    )


def cup(row: int, col: int) -> str:
    return f"\x1b[{row + 1};{col + 1}H"


# --- unit behaviour -------------------------------------------------------------------------


def test_a_repeated_frame_writes_nothing() -> None:
    screens = Screens()
    frame = cup(0, 0) + "\x1b[38;5;253;48;5;233mhello world\x1b[0m" + cup(2, 3) + "x"
    first = screens.write(frame)
    assert "hello world" in first
    assert screens.write(frame) == ""
    screens.assert_same()


def test_one_changed_character_costs_a_move_and_the_character() -> None:
    screens = Screens()
    screens.write("\x1b[?25l" + cup(1, 0) + "\x1b[1mDisplay Name\x1b[0m")  # cursor hidden
    out = screens.write(cup(1, 0) + "\x1b[1mDisplay Nbme\x1b[0m")
    assert out.endswith("b")
    assert len(out) <= len("\x1b[2;10H\x1b[0;1mb")
    screens.assert_same()


def test_an_empty_synchronized_update_is_dropped() -> None:
    screens = Screens()
    frame = cup(0, 0) + "abc"
    screens.write(SYNC_BEGIN + frame + SYNC_END)
    assert screens.write(SYNC_BEGIN) == ""
    assert screens.write(frame) == ""
    assert screens.write(SYNC_END) == ""


def test_a_changing_synchronized_update_keeps_its_markers() -> None:
    screens = Screens()
    screens.write(cup(0, 0) + "abc")
    out = screens.write(SYNC_BEGIN + cup(0, 0) + "abd" + SYNC_END)
    assert out.startswith(SYNC_BEGIN) and out.endswith(SYNC_END)
    screens.assert_same()


def test_modes_and_queries_pass_through_in_order() -> None:
    screens = Screens()
    out = screens.write("\x1b[?1049h\x1b[?25l" + cup(0, 0) + "a\x1b[?2026$p\x1b]22;default\x07")
    assert out.index("\x1b[?1049h") < out.index("\x1b[?25l") < out.index("a")
    assert out.index("a") < out.index("\x1b[?2026$p") < out.index("\x1b]22;default\x07")


def test_wide_characters_are_written_whole_and_replaced_whole() -> None:
    screens = Screens()
    screens.write("\x1b[?25l" + cup(0, 0) + "ab認証cd")
    screens.assert_same()
    out = screens.write(cup(0, 2) + "証")
    assert out.endswith("証") and "認" not in out
    screens.assert_same()
    screens.write(cup(0, 2) + "xy")
    screens.assert_same()


def test_half_overwriting_a_wide_character_blanks_the_other_half() -> None:
    # xterm's rule (pyte keeps the orphaned half, so this one is checked on the model).
    writer = FrugalWriter(W, H)
    writer.feed(cup(0, 0) + "ab認証cd")
    writer.feed(cup(0, 3) + "x")  # the right half of 認
    assert [cell and cell[0] for cell in writer.intended[0][:7]] == [
        "a", "b", " ", "x", "証", "", "c"
    ]  # fmt: skip
    writer.feed(cup(0, 4) + "y")  # the left half of 証
    assert [cell and cell[0] for cell in writer.intended[0][:7]] == [
        "a", "b", " ", "x", "y", " ", "c"
    ]  # fmt: skip


def test_a_run_of_text_over_wide_characters_blanks_only_the_halves_it_cuts() -> None:
    # A run of one-cell characters is stored at once: only the halves at its two ends are
    # orphaned, whatever wide characters lie wholly under it.
    writer = FrugalWriter(W, H)
    writer.feed(cup(0, 0) + "ab認証cd")
    writer.feed(cup(0, 3) + "xyz")  # from the right half of 認 to the right half of 証
    assert [cell and cell[0] for cell in writer.intended[0][:8]] == [
        "a", "b", " ", "x", "y", "z", "c", "d"
    ]  # fmt: skip
    writer.feed(cup(0, 0) + "漢字" + cup(0, 1) + "pq")  # the right half of 漢 to the left of 字
    assert [cell and cell[0] for cell in writer.intended[0][:5]] == [" ", "p", "q", " ", "y"]


def test_erase_sequences_pass_through_and_stay_correct() -> None:
    screens = Screens()
    screens.write(cup(0, 0) + "\x1b[44mfilled line here\x1b[0m")
    screens.write(cup(0, 5) + "\x1b[K")
    screens.assert_same()
    screens.write(cup(2, 0) + "more" + "\x1b[2J")
    screens.assert_same()


def test_an_unknown_screen_change_makes_it_forget_and_rewrite() -> None:
    screens = Screens()
    screens.write("\x1b[?25l" + cup(0, 0) + "top" + cup(1, 0) + "next")
    out = screens.write("\x1b[2L")  # insert lines: not modelled, so passed on as it is
    assert out == "\x1b[2L"
    assert all(cell is None for row in screens.writer.shown for cell in row)
    screens.assert_same()
    again = screens.write(cup(3, 0) + "next")  # what the app draws again is written in full,
    assert "next" in again and "top" not in again  # and nothing it did not draw
    screens.assert_same()


def test_resize_rewrites_everything() -> None:
    screens = Screens()
    screens.write(cup(0, 0) + "abc")
    screens.writer.resize(W, H)
    assert "abc" in screens.writer.feed(cup(0, 0) + "abc")


def test_transliteration_keeps_every_character_in_one_cell() -> None:
    screens = Screens(transliterate=True)
    screens.write(cup(0, 0) + "╭─▼•…╮" + cup(1, 0) + "│ok│")
    screens.assert_same()
    assert all(ch.isascii() for ch in "".join(screens.sent))
    assert all(len(replacement) == 1 for replacement in ASCII_FALLBACK.values())


def test_a_visible_cursor_ends_where_the_app_put_it() -> None:
    screens = Screens()
    screens.write("\x1b[?25h" + cup(0, 0) + "abc" + cup(3, 7))
    screens.assert_same()
    assert (screens.shown.cursor.y, screens.shown.cursor.x) == (3, 7)


@pytest.mark.parametrize(
    ("before", "params", "after"),
    [
        (Style(), "1;38;5;12", Style(fg="38;5;12", flags=frozenset({"1"}))),
        (Style(fg="31", flags=frozenset({"1", "7"})), "22", Style(fg="31", flags=frozenset({"7"}))),
        (Style(bg="44"), "0", Style()),
        (Style(), "48;2;1;2;3", Style(bg="48;2;1;2;3")),
        (Style(fg="31"), "39", Style()),
    ],
)
def test_sgr_state(before: Style, params: str, after: Style) -> None:
    assert apply_sgr(before, params) == after


def test_sgr_transition_is_incremental_when_only_adding() -> None:
    bold = Style(flags=frozenset({"1"}))
    assert sgr_transition(Style(), bold) == "\x1b[1m"
    assert sgr_transition(bold, Style()) == "\x1b[0m"
    assert sgr_transition(None, bold) == "\x1b[0;1m"
    assert sgr_transition(bold, bold) == ""


# --- properties: any sequence of writes -----------------------------------------------------

# Single-width characters only: pyte and real terminals disagree about half-overwritten wide
# characters (see the tests above), which random positions would produce.
TEXT = st.text(alphabet=st.sampled_from("ab cd•─é▼"), min_size=1, max_size=8)
SGR = st.sampled_from(
    ["0", "1", "7", "22", "27", "4", "24", "31", "44", "39", "49", "38;5;200", "48;5;17",
     "38;2;10;20;30", "1;38;5;12;48;5;233", ""]
)  # fmt: skip
WRITE = st.one_of(
    st.builds(cup, st.integers(0, H - 1), st.integers(0, W - 1)),
    # Up to the last column, as Textual writes every full-width line, often followed by \n.
    st.builds(
        lambda row, end: cup(row, W - 3) + "xyz" + end,
        st.integers(0, H - 1),
        st.sampled_from(["", "\n", "\r\n", "\n\n", "\b"]),
    ),
    TEXT,
    SGR.map(lambda p: f"\x1b[{p}m"),
    st.sampled_from(
        [
            "\x1b[K",
            "\x1b[1K",
            "\x1b[2K",
            "\x1b[J",
            "\x1b[2J",
            "\r",
            "\n",
            "\x1b[3C",
            "\x1b[2D",
            "\x1b[A",
            "\x1b[B",
            SYNC_BEGIN,
            SYNC_END,
            "\x1b[?25l",
            "\x1b[?25h",
            "\x1b[2L",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(WRITE, min_size=1, max_size=12), min_size=1, max_size=8))
def test_any_sequence_of_writes_shows_what_was_intended(batches: list[list[str]]) -> None:
    screens = Screens()
    screens.write("\x1b[?7l")  # Textual turns autowrap off; so do we
    for batch in batches:
        screens.write("".join(batch))
        screens.assert_same()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(WRITE, min_size=1, max_size=12), min_size=1, max_size=6))
def test_transliterated_output_matches_too(batches: list[list[str]]) -> None:
    screens = Screens(transliterate=True)
    screens.write("\x1b[?7l")
    for batch in batches:
        screens.write("".join(batch))
        screens.assert_same()


# --- the real app ---------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["xterm-256color", "vt100", "linux"])
def test_the_real_app_replayed_equals_what_it_drew(tmp_path: Path, term: str) -> None:
    """Run mailsetup in a pty with the writer on, tracing what Textual wrote; replaying the
    trace into a fresh emulator must give the screen the pty shows."""
    trace = tmp_path / "writes.jsonl"
    env = mailsetup_env(tmp_path, TERM=term, LANG="C.UTF-8", MAILSETUP_TRACE_WRITES=str(trace))
    mailsetup = Path(sys.executable).parent / "mailsetup"
    with Terminal([mailsetup], env=env) as term_:
        term_.wait_for("SMTP Mail")
        for keys in ["o", "\tCodes", "\tcodes@example", "\t\t\t", "\x1b[Z\x1b[Z", "g", "\x14",
                     "h", "\x07", "\t" * 4, "y", "\x1b[1;5P"]:  # fmt: skip
            term_.send(keys)
            term_.wait_quiet(0.3)
        term_.wait_quiet()
        assert trace.stat().st_mode & 0o777 == 0o600  # it holds whatever was on screen
        intent = pyte.Screen(80, 24)
        stream = pyte.Stream(intent)
        for line in trace.read_text().splitlines():
            written, _sent, _size = json.loads(line)  # what Textual wrote, as it wrote it
            stream.feed(written)
        for row in range(24):
            for col in range(80):
                want, got = intent.buffer[row][col], term_.screen.buffer[row][col]
                expected = want.data
                if term == "vt100" and not expected.isascii():
                    expected = ASCII_FALLBACK.get(expected, "?")
                assert got.data == expected, (row, col, term_.text)
                for name in seen(want, got)[1:]:
                    assert getattr(got, name) == getattr(want, name), (row, col, name)


def test_resizes_replayed_equal_what_was_drawn(tmp_path: Path) -> None:
    """80x24 -> 132x43 -> 40x12 -> 80x24 in a real pty: after each, the terminal shows what
    Textual drew, replayed from the trace at the sizes it drew at."""
    trace = tmp_path / "writes.jsonl"
    env = mailsetup_env(tmp_path, TERM="xterm-256color", LANG="C.UTF-8",
                        MAILSETUP_TRACE_WRITES=str(trace))  # fmt: skip
    mailsetup = Path(sys.executable).parent / "mailsetup"
    with Terminal([mailsetup], env=env) as term:
        term.wait_for("SMTP Mail")
        term.send("o\tCodes")
        for columns, lines, expect in [(132, 43, "SMTP Mail"), (40, 12, "needs at least"),
                                       (80, 24, "SMTP Mail")]:  # fmt: skip
            term.resize(columns, lines)
            term.wait_for(expect)
            term.wait_quiet()
            intent = pyte.Screen(80, 24)
            stream = pyte.Stream(intent)
            for line in trace.read_text().splitlines():
                written, _sent, (width, height) = json.loads(line)
                if (intent.columns, intent.lines) != (width, height):
                    intent.resize(height, width)
                stream.feed(written)
            assert (intent.columns, intent.lines) == (columns, lines)
            assert intent.display == term.screen.display, term.text
            for row in range(lines):
                for col in range(columns):
                    want, got = intent.buffer[row][col], term.screen.buffer[row][col]
                    for name in seen(want, got)[1:]:
                        assert getattr(got, name) == getattr(want, name), (row, col, name)


# --- the line's speed ----------------------------------------------------------------------------


def test_the_line_speed_comes_from_where_it_says_something() -> None:
    import os
    import termios

    from mailsetup_tui.terminal.line_speed import LineModel, line_speed

    master, slave = os.openpty()
    try:
        assert line_speed(slave, {}) is None  # a pty's default 38400 says nothing
        attributes = termios.tcgetattr(slave)
        attributes[4] = attributes[5] = termios.B1200
        termios.tcsetattr(slave, termios.TCSANOW, attributes)
        assert line_speed(slave, {}) == 1200  # set below the default: sshd, a console server
        assert line_speed(slave, {"MAILSETUP_BAUD": "9600"}) == 9600  # the operator knows best
        assert line_speed(slave, {"MAILSETUP_BAUD": "0"}) is None  # no model at all
    finally:
        os.close(master)
        os.close(slave)
    model = LineModel(1200)  # 120 bytes a second
    model.sent(60)
    assert 0.4 < model.wait() <= 0.5
    model.sent(60)
    assert 0.9 < model.wait() <= 1.0


def test_a_plain_blank_is_written_in_whatever_colour_the_terminal_is_in() -> None:
    """A blank's foreground shows nowhere unless it is reversed or lined: a disabled field's
    blank bracket in green costs one byte after red text, not ten. A reversed, underlined or
    coloured-background blank keeps its colours."""
    screens = Screens()
    out = screens.write("\x1b[H\x1b[1;31mx\x1b[0;32m \x1b[0;4;32m \x1b[0;7;32m \x1b[0;44m ")
    screens.assert_same()
    assert out == "\x1b[H\x1b[0;1;31mx \x1b[0;4;32m \x1b[0;7;32m \x1b[0;44m "
    # The same look: no cell is sent, only the cursor goes where the application left it.
    assert screens.write("\x1b[0;33m\x1b[1;2H ") == "\b" * 3


def test_a_colour_gradient_stays_right_and_its_styles_are_not_all_kept() -> None:
    """Styles are remembered to make the cells' comparisons cheap; an application drawing
    thousands of colours (a gradient, an image) must still be shown right, and must not make
    the writer keep every colour it ever saw."""
    from mailsetup_tui.terminal import frugal

    screens = Screens(80, 24)
    for frame in range(3):
        screens.write(
            "".join(
                f"{cup(row, col)}\x1b[48;2;{frame};{row};{col}m{chr(65 + (row + col) % 26)}"
                for row in range(24)
                for col in range(80)
            )
        )
        screens.assert_same()
    for memo in (frugal._STYLES, frugal._SGR_RESULTS, frugal._BLANK_LOOKS, frugal._CELLS):
        assert len(memo) <= frugal._CACHE_LIMIT + 1


def test_a_run_of_equal_cells_goes_out_as_one_text_around_a_wide_character() -> None:
    """Equal cells in a row are written without a decision each (the writer's own speed):
    the run stays one text, and a wide character in it still takes its two cells."""
    screens = Screens()
    out = screens.write(f"{cup(1, 2)}\x1b[31maaaa中aa  \x1b[0mbb")
    screens.assert_same()
    assert out.endswith("\x1b[2;3H\x1b[0;31maaaa中aa  \x1b[0mbb")
    out = screens.write(f"{cup(1, 2)}\x1b[31maaaa中ab  \x1b[0mbb")
    screens.assert_same()
    assert out == "\x1b[5D\x1b[31mb\x1b[4C"  # back to the one changed cell, and on


def test_the_writer_knows_once_a_frame_has_gone_out() -> None:
    """The driver never holds the first frame (there is nothing before it to merge with):
    mode changes and an unchanged screen are not a frame; the first written cell is."""
    screens = Screens()
    screens.write("\x1b[?1049h\x1b[?25l")
    assert not screens.writer.painted
    screens.write(f"{cup(0, 0)}  ")  # blanks on a blank screen: nothing to write
    assert not screens.writer.painted
    screens.write(f"{cup(0, 0)}x")
    assert screens.writer.painted


async def test_the_driver_steps_aside_once_for_the_first_frame_to_go_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer thread needs the GIL to put a frame on the terminal, and the app's thread
    works on after its first frame: the driver sleeps briefly then, and only then (set-up
    sequences are not a frame; later frames have no such work after them)."""
    from textual.app import App
    from textual.drivers.linux_driver import LinuxDriver

    from mailsetup_tui.terminal import driver as frugal_driver

    handed_over: list[str] = []
    sleeps: list[float] = []
    monkeypatch.setattr(LinuxDriver, "write", lambda _driver, data: handed_over.append(data))
    monkeypatch.setattr(frugal_driver, "time", SimpleNamespace(sleep=sleeps.append))
    driver_class = frugal_driver.FrugalLinuxDriver
    monkeypatch.setattr(driver_class, "_get_terminal_size", lambda _driver: (W, H))
    # Whatever the test's stderr is (a terminal with output queued, a slow line), the line
    # is free: this is about the first frame's hand-over, not about holding frames.
    monkeypatch.setattr(driver_class, "_line_busy", lambda _driver: False)
    driver = driver_class(App(), debug=False, mouse=False, size=(W, H))
    driver.line = None
    driver.write("\x1b[?1049h\x1b[?25l")
    assert sleeps == []
    driver.write(f"{cup(0, 0)}first")
    assert sleeps == [frugal_driver.HANDOFF_SECONDS]
    assert "first" in handed_over[-1]  # handed over before the sleep
    driver.write(f"{cup(1, 0)}second")
    assert sleeps == [frugal_driver.HANDOFF_SECONDS]
    assert "second" in handed_over[-1]
