"""Write only what changed: a screen model between an application and a slow terminal.

Textual repaints whole widget lines where a character changed; over a 9600-baud serial line
each byte costs a millisecond. `FrugalWriter` reads the escape sequences an application writes
(cursor positioning, SGR colours and attributes, text), applies them to the screen it intends,
and emits only the cells where that differs from what the terminal already shows, with the
shortest cursor moves and attribute changes it can find, as curses does. Everything it does
not model (modes, queries, OSC) passes through in order; anything that might change the screen
in a way it cannot follow makes it forget what the terminal shows, so the next update is
written in full rather than wrong.

Pure text in, text out: no Textual import, no I/O, so it can be tested by replaying both
streams into a terminal emulator and comparing the screens.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from rich.cells import get_character_cell_size

ESC = "\x1b"
CSI = ESC + "["
SYNC_BEGIN = CSI + "?2026h"
SYNC_END = CSI + "?2026l"

_TOKEN = re.compile(
    r"""
    (?P<csi>\x1b\[(?P<params>[0-?]*)(?P<inter>[\ -/]*)(?P<final>[@-~]))
  | (?P<osc>\x1b\][^\x07\x1b]*(?:\x07|\x1b\\))
  | (?P<string>\x1b[P_^X][^\x1b]*\x1b\\)
  | (?P<esc>\x1b[\(\)\*\+#%][\x20-\x7e]|\x1b[\x20-\x7e])
  | (?P<control>[\x00-\x1f\x7f])
  | (?P<text>[^\x00-\x1f\x7f]+)
    """,
    re.VERBOSE,
)


class Style(NamedTuple):
    """SGR state: colours as their parameter strings, everything else as a set of codes.

    A tuple, as a cell is: the writer compares and hashes thousands of them a frame."""

    fg: str | None = None
    bg: str | None = None
    flags: frozenset[str] = frozenset()

    @property
    def is_default(self) -> bool:
        return self.fg is None and self.bg is None and not self.flags

    def codes(self) -> list[str]:
        codes = sorted(self.flags, key=_flag_order)
        if self.fg is not None:
            codes.append(self.fg)
        if self.bg is not None:
            codes.append(self.bg)
        return codes


DEFAULT = Style()

# Codes that switch an attribute off, and which attributes each clears.
_OFF: dict[str, frozenset[str]] = {
    "21": frozenset({"1"}),
    "22": frozenset({"1", "2"}),
    "23": frozenset({"3"}),
    "24": frozenset({"4", "21"}),
    "25": frozenset({"5", "6"}),
    "27": frozenset({"7"}),
    "28": frozenset({"8"}),
    "29": frozenset({"9"}),
}


def _flag_order(code: str) -> tuple[int, str]:
    head = code.split(":")[0]
    return (int(head) if head.isdigit() else 999, code)


_CACHE_LIMIT = 4096
"""Entries each memo below may hold before it starts again: an application has a few dozen
styles, but one that draws colour gradients could otherwise grow them without end."""

_STYLES: dict[Style, Style] = {DEFAULT: DEFAULT}
"""Each style the writer has met, held once: equal styles are then one object, and the
per-cell comparisons are identity checks."""

_SGR_RESULTS: dict[tuple[Style, str], Style] = {}
"""`apply_sgr`'s answers: a frame sets the same few styles hundreds of times."""


def _shared(style: Style) -> Style:
    if len(_STYLES) > _CACHE_LIMIT:
        _STYLES.clear()
    return _STYLES.setdefault(style, style)


def apply_sgr(style: Style, params: str) -> Style:
    """`style` after an SGR sequence with `params` (ECMA-48 / xterm semantics)."""
    key = (style, params)
    result = _SGR_RESULTS.get(key)
    if result is None:
        if len(_SGR_RESULTS) > _CACHE_LIMIT:
            _SGR_RESULTS.clear()
        result = _SGR_RESULTS[key] = _shared(_parse_sgr(style, params))
    return result


def _parse_sgr(style: Style, params: str) -> Style:
    parts = params.split(";") if params else ["0"]
    fg, bg, flags = style.fg, style.bg, set(style.flags)
    index = 0
    while index < len(parts):
        code = parts[index] or "0"
        if code in {"38", "48"} and index + 1 < len(parts):
            # 38;5;n or 38;2;r;g;b: the whole colour is one value.
            width = 3 if parts[index + 1] == "5" else 5 if parts[index + 1] == "2" else 2
            value = ";".join(parts[index : index + width])
            index += width
            if code == "38":
                fg = value
            else:
                bg = value
            continue
        index += 1
        number = int(code) if code.isdigit() else -1
        if number == 0:
            fg, bg, flags = None, None, set()
        elif 30 <= number <= 37 or 90 <= number <= 97:
            fg = code
        elif number == 39:
            fg = None
        elif 40 <= number <= 47 or 100 <= number <= 107:
            bg = code
        elif number == 49:
            bg = None
        elif code in _OFF:
            flags -= _OFF[code]
            if code == "24":
                flags = {f for f in flags if not f.startswith("4:")}
        elif code.startswith("4:"):
            flags = {f for f in flags if f != "4" and not f.startswith("4:")}
            if code != "4:0":
                flags.add(code)
        else:
            flags.add(code)
    return Style(fg, bg, frozenset(flags))


def sgr_transition(current: Style | None, target: Style) -> str:
    """The shortest SGR sequence that turns `current` (None: unknown) into `target`."""
    if current == target:
        return ""
    full = f"{CSI}{';'.join(['0', *target.codes()])}m" if not target.is_default else f"{CSI}0m"
    if current is None or not current.flags <= target.flags:
        return full  # switching attributes off one by one is rarely shorter than a reset
    codes = sorted(target.flags - current.flags, key=_flag_order)
    if target.fg != current.fg:
        codes.append(target.fg if target.fg is not None else "39")
    if target.bg != current.bg:
        codes.append(target.bg if target.bg is not None else "49")
    incremental = f"{CSI}{';'.join(codes)}m"
    return incremental if len(incremental) < len(full) else full


Cell = tuple[str, Style]
"""A character (or "" for the right half of a wide character) and its style."""

BLANK: Cell = (" ", DEFAULT)

_SHOWS_FOREGROUND = frozenset({"4", "7", "9", "21", "53"})
"""Attributes that make a blank's foreground visible: reverse video turns it into the
background, and underlines, strike-through and overlines are drawn in it."""


_FOREGROUND_HIDDEN: dict[Style, bool] = {}
"""Per style, whether a blank in it shows its foreground nowhere: a frame has few styles and
thousands of blanks."""


_CELLS: dict[Style, dict[str, Cell]] = {}
"""Per style, its cells by character: the two screens hold thousands of cells but a few
dozen distinct ones, and each held once keeps them an eighth of the memory."""


def _cells_in(style: Style) -> dict[str, Cell]:
    cells = _CELLS.get(style)
    if cells is None:
        if len(_CELLS) > _CACHE_LIMIT:
            _CELLS.clear()
        cells = _CELLS[style] = {}
    return cells


def _cell(char: str, style: Style) -> Cell:
    cells = _cells_in(style)
    return cells.get(char) or cells.setdefault(char, (char, style))


def _plain_blank(cell: Cell) -> bool:
    """A space whose foreground colour, bold, dim, italics and blinking show nowhere."""
    char, style = cell
    if char != " ":
        return False
    hidden = _FOREGROUND_HIDDEN.get(style)
    if hidden is None:
        hidden = _FOREGROUND_HIDDEN[style] = not any(
            flag in _SHOWS_FOREGROUND or flag.startswith("4:") for flag in style.flags
        )
    return hidden


def looks_alike(cell: Cell | None, other: Cell | None) -> bool:
    """Whether the terminal shows the two cells the same: equal, or both plain blanks on the
    same background (a disabled field's blank bracket in green and the terminal's default
    blank look the same, and sending the colour for it is 9 bytes for nothing)."""
    if cell is None or other is None:
        return False
    if cell == other:
        return True
    return (
        cell[0] == " " == other[0]
        and cell[1].bg == other[1].bg
        and _plain_blank(cell)
        and _plain_blank(other)
    )


_BLANK_LOOKS: dict[tuple[Style, Style], Style] = {}
"""`_blank_look`'s answers, by the blank's style and the terminal's: a frame has thousands of
blanks in a few styles."""


def _blank_look(style: Style, current: Style) -> Style:
    """The style to write a blank in `style` with, from `current`: `style` itself, or for a
    plain blank whatever costs the fewest bytes and looks the same."""
    blank = (" ", style)
    if not _plain_blank(blank):
        return style
    if looks_alike(blank, (" ", current)):
        return current
    kept = _shared(Style(current.fg, style.bg, style.flags))
    if len(sgr_transition(current, kept)) < len(sgr_transition(current, style)):
        return kept
    return style


class _Cursor:
    __slots__ = ("col", "known", "row")

    def __init__(self, row: int = 0, col: int = 0, known: bool = True) -> None:
        self.row = row
        self.col = col
        self.known = known


class FrugalWriter:
    """The intended screen, the shown screen, and the difference written out."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        transliterate: bool = False,
        keep_cursor_visible: bool = False,
    ) -> None:
        self.width = width
        self.height = height
        self.transliterate = transliterate
        """Replace characters the terminal cannot show (a non-UTF-8 locale) with ASCII
        look-alikes."""
        self.keep_cursor_visible = keep_cursor_visible
        """Never hide the terminal's cursor: on a monochrome terminal the application's own
        cursor (a coloured cell) is invisible, and the real one is the typing position."""
        self.intended: list[list[Cell | None]]
        """What the application has drawn; None where it has drawn nothing we could follow."""
        self.shown: list[list[Cell | None]]
        """What the terminal shows; None where we do not know."""
        self._dirty: list[set[int]]
        """Per row, the columns drawn since the last flush."""
        self._style = DEFAULT
        """The SGR state the application is writing with."""
        self._cursor = _Cursor(known=False)
        """Where the application's cursor is (unknown until it moves it: nothing is placed
        before the alternate screen is entered, which saves the cursor to restore on
        leaving)."""
        self._out_style: Style | None
        """The SGR state the terminal is in."""
        self._out_cursor: _Cursor
        """Where the terminal's cursor is: an object of its own, never `_cursor` (copies are
        made), so the writer moves it in place."""
        self._cursor_visible = True
        self._out: list[str] = []
        self._held_sync = False
        self._pending_edge_feed: int | None
        """The row of a line feed made right after writing its last column, not yet sent: it
        changes no cell, and the absolute move that usually follows makes it moot."""
        self._clear_pending = False
        self._deferring = False
        self._saw_sync = False
        """The application marks its frames as synchronized updates; deferred output keeps
        that."""
        self.painted = False
        """Cells have been written: the first frame has gone out (see the driver's holding)."""
        self.forget()

    # --- public -----------------------------------------------------------------------------

    def forget(self) -> None:
        """Assume nothing about either screen.

        After a sequence we cannot follow (scrolling, insert lines, leaving the alternate
        screen, a resize), what the terminal shows is unknown and so is what the application
        meant: from here on only cells the application writes again are written, each in full.
        """
        self.intended = [[None] * self.width for _ in range(self.height)]
        self.shown = [[None] * self.width for _ in range(self.height)]
        self._dirty = [set() for _ in range(self.height)]
        self._out_style = None
        self._out_cursor = _Cursor(known=False)
        self._pending_edge_feed = None

    def resize(self, width: int, height: int) -> None:
        """The terminal changed size: its contents are now anyone's guess, so it is cleared
        and only what is not blank is written again (cheaper than rewriting every cell)."""
        self.width, self.height = width, height
        self._cursor = _Cursor()
        self.forget()
        self._clear_pending = True

    def clear(self) -> None:
        """Clear the terminal with the next output and write everything again: after
        something else may have written on the screen (a console message, line noise)."""
        self._clear_pending = True

    def feed(self, data: str, *, defer: bool = False) -> str:
        """Take what the application wrote; return what the terminal needs now.

        `defer`: the line is still busy with earlier output, so keep the changes for `flush`,
        which then sends only the latest difference: frames merge, as curses merges them.
        """
        self._deferring = defer
        self._clear_if_asked()
        for match in _TOKEN.finditer(data):
            kind = match.lastgroup
            if kind == "text":
                self._put_text(match.group(0))
            elif kind == "csi":
                self._csi(*match.group("params", "inter", "final", 0))
            elif kind == "control":
                self._control(match.group(0))
            else:
                # OSC (titles, pointer shape), DCS/APC strings, charset selection: not drawn.
                self._passthrough(match.group(0))
        if not defer:
            self._flush()
        return self._take()

    def flush(self) -> str:
        """What deferred writes left to send: the difference between the screen now shown
        and the latest one drawn."""
        self._deferring = False
        self._clear_if_asked()
        self._flush()
        out = self._take()
        if out and self._saw_sync:
            return SYNC_BEGIN + out + SYNC_END
        return out

    @property
    def pending(self) -> bool:
        """Changes are waiting for `flush`."""
        return any(self._dirty) or self._clear_pending

    def _take(self) -> str:
        out = "".join(self._out)
        self._out.clear()
        return out

    def _clear_if_asked(self) -> None:
        if self._clear_pending:
            self._clear_pending = False
            self._emit_clear()

    def _emit_clear(self) -> None:
        """Clear the terminal, never trusting an alternate screen to start blank: vt100,
        vt220 and linux have none, and GNU screen has it off by default."""
        self._emit(f"{CSI}0m{CSI}H{CSI}2J")
        self.shown = [[BLANK] * self.width for _ in range(self.height)]
        self._out_style = DEFAULT
        self._out_cursor = _Cursor(0, 0)
        self._dirty = [
            {col for col, cell in enumerate(line) if cell is not None} for line in self.intended
        ]

    # --- parsing ----------------------------------------------------------------------------

    def _put_text(self, text: str) -> None:
        cursor = self._cursor
        self._replay_pending_edge_feed()
        if not cursor.known:
            # After a sequence we could not follow, we do not know where this lands: pass
            # it on as it is, in the application's colours, and trust no cell after it.
            self._passthrough_filling(self._visible(text))
            self.forget()
            return
        if (
            text.isascii()
            and 0 <= cursor.row < self.height
            and cursor.col + len(text) <= self.width
        ):
            self._put_ascii(text)
            return
        for char in text:
            if unicodedata.combining(char) and cursor.col > 0:
                row, col = cursor.row, cursor.col - 1
                line = self.intended[row] if 0 <= row < self.height else None
                if line is not None and (cell := line[col]) is not None:
                    if cell[0] == "" and col > 0 and (left := line[col - 1]) is not None:
                        col, cell = col - 1, left
                    self._set(row, col, (cell[0] + char, cell[1]))
                continue
            width = get_character_cell_size(char)
            if width == 0:
                continue
            if cursor.col + width > self.width:
                cursor.col = self.width - width  # no autowrap: the last cells are overwritten
            if 0 <= cursor.row < self.height and cursor.col >= 0:
                self._set(cursor.row, cursor.col, (char, self._style))
                if width == 2:
                    self._set(cursor.row, cursor.col + 1, ("", self._style))
            cursor.col += width  # == width: past the last column, see `_leave_edge`

    def _put_ascii(self, text: str) -> None:
        """`_put_text` for the usual case, a run of one-cell characters that fits the line:
        stored as a whole, with a wide character it cuts in half blanked as `_set` would."""
        cursor, style = self._cursor, self._style
        row, start = cursor.row, cursor.col
        end = start + len(text)
        line, dirty = self.intended[row], self._dirty[row]
        if start > 0 and (old := line[start]) is not None and old[0] == "":
            left = line[start - 1]
            line[start - 1] = (" ", left[1] if left else DEFAULT)  # an orphaned left half
            dirty.add(start - 1)
        if end < self.width and (right := line[end]) is not None and right[0] == "":
            line[end] = (" ", right[1])  # so is a right half
            dirty.add(end)
        cells = _cells_in(style)
        line[start:end] = [
            cells.get(char) or cells.setdefault(char, (char, style)) for char in text
        ]
        dirty.update(range(start, end))
        cursor.col = end

    def _set(self, row: int, col: int, cell: Cell) -> None:
        """Put `cell` in the intended screen, keeping wide characters whole or gone."""
        line = self.intended[row]
        old = line[col]
        if old is not None and old[0] == "" and cell[0] != "" and col > 0:
            left = line[col - 1]
            self._store(row, col - 1, (" ", left[1] if left else DEFAULT))  # orphaned left half
        right = line[col + 1] if col + 1 < self.width else None
        if (old is None or old[0] != "") and right is not None and right[0] == "":
            self._store(row, col + 1, (" ", right[1]))  # so is its right half
        self._store(row, col, cell)

    def _store(self, row: int, col: int, cell: Cell) -> None:
        self.intended[row][col] = cell
        self._dirty[row].add(col)

    @property
    def _at_edge(self) -> bool:
        return self._cursor.known and self._cursor.col >= self.width

    def _leave_edge(self, raw: str) -> None:
        """A relative move or erase right after the last column was written.

        Terminals disagree about where that leaves the cursor (xterm: on the last column;
        others: one past it). Rather than pick one, put the terminal in the very same state by
        writing the last cell again, pass the sequence on, and stop assuming a position until
        the application sets one.
        """
        self._flush()
        row = self._cursor.row
        last = self.intended[row][self.width - 1]
        if last is not None and last[0] != "":
            self._emit(self._move(row, self.width - 1))
            self._emit(sgr_transition(self._out_style, last[1]))
            self._out_style = last[1]
            self._emit(self._visible(last[0]))
        self._cursor.known = False
        self._passthrough_filling(raw)
        if raw == "\n" and row == self.height - 1:
            self.forget()  # a line feed on the last line scrolled the screen

    def _replay_pending_edge_feed(self) -> None:
        """Something relative follows a deferred edge line feed: send both, in order."""
        row = self._pending_edge_feed
        if row is None:
            return
        self._pending_edge_feed = None
        self._cursor.row, self._cursor.col, self._cursor.known = row, self.width, True
        self._leave_edge("\n")
        self._cursor.row = row + 1

    def _control(self, char: str) -> None:
        cursor = self._cursor
        if self._at_edge and char == "\n" and cursor.row < self.height - 1:
            # Textual ends every full-width line so. Defer it: see _pending_edge_feed.
            self._pending_edge_feed = cursor.row
            cursor.row += 1
            cursor.known = False
            return
        if self._at_edge and char in "\n\b\t":
            self._leave_edge(char)
            return
        self._replay_pending_edge_feed()
        if not cursor.known and char in "\r\n\b\t":
            self._passthrough_filling(char)
            if char == "\n":
                self.forget()  # it may have scrolled: we cannot tell from here
            return
        if char == "\r":
            cursor.col = 0
        elif char == "\n" and cursor.row == self.height - 1:
            # A line feed on the last line scrolls the screen: not followed, see forget().
            self._passthrough_filling(char)
            self.forget()
            cursor.known = False
        elif char == "\n":
            cursor.row += 1
        elif char == "\b":
            cursor.col = max(cursor.col - 1, 0)
        elif char == "\t":
            cursor.col = min((cursor.col // 8 + 1) * 8, self.width - 1)
        else:
            self._passthrough(char)

    def _csi(self, params: str, inter: str, final: str, raw: str) -> None:
        cursor = self._cursor
        private = params.startswith(("?", ">", "<", "="))
        if inter or private:
            self._private_mode(params, inter, final, raw)
            return
        if final == "m":  # most of what an application writes: nothing else to do
            self._style = apply_sgr(self._style, params)
            return
        numbers = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []

        def arg(index: int, default: int = 1) -> int:
            return numbers[index] if len(numbers) > index and numbers[index] else default

        if final not in "Hf":
            self._replay_pending_edge_feed()
        if final in "Hf":
            self._pending_edge_feed = None  # an absolute move: where the feed left us is moot
            cursor.row = min(max(arg(0) - 1, 0), self.height - 1)
            cursor.col = min(max(arg(1) - 1, 0), self.width - 1)
            cursor.known = True
        elif self._at_edge and final in "ABCDGdKJ":
            self._leave_edge(raw)
            if final in "KJ":
                self.forget()
        elif not cursor.known and final in "ABCDGdKJ":
            self._passthrough_filling(raw)  # relative to a place we do not know
            if final in "KJ":
                self.forget()
        elif final == "A":
            cursor.row = max(cursor.row - arg(0), 0)
        elif final == "B":
            cursor.row = min(cursor.row + arg(0), self.height - 1)
        elif final == "C":
            cursor.col = min(cursor.col + arg(0), self.width - 1)
        elif final == "D":
            cursor.col = max(cursor.col - arg(0), 0)
        elif final == "G":
            cursor.col = min(max(arg(0) - 1, 0), self.width - 1)
        elif final == "d":
            cursor.row = min(max(arg(0) - 1, 0), self.height - 1)
        elif final in "KJ":
            self._erase(final, arg(0, 0), raw)
        else:
            # Scrolling, insert/delete: we cannot follow them. Let them happen, then
            # rewrite everything rather than guess.
            if self._at_edge:
                self._leave_edge("")
            self._passthrough_filling(raw)
            self.forget()
            self._cursor.known = False  # terminals differ on where these leave the cursor

    def _erase(self, final: str, mode: int, raw: str) -> None:
        """Pass an erase on, and know nothing more of the cells it cleared.

        Terminals disagree on which attributes erased cells take (xterm: the background only;
        others: all of them), so rather than model one, the cells become unknown on both
        sides and are written in full if the application draws there again.
        """
        self._passthrough_filling(raw)
        row, col = self._cursor.row, self._cursor.col
        cells: list[tuple[int, int]] = []
        if final == "K":
            start, end = {0: (col, self.width), 1: (0, col + 1)}.get(mode, (0, self.width))
            cells = [(row, c) for c in range(start, end)]
        else:
            before = [(row, c) for c in range(col + 1)] + [
                (r, c) for r in range(row) for c in range(self.width)
            ]
            after = [(row, c) for c in range(col, self.width)] + [
                (r, c) for r in range(row + 1, self.height) for c in range(self.width)
            ]
            all_cells = [(r, c) for r in range(self.height) for c in range(self.width)]
            cells = {0: after, 1: before}.get(mode, all_cells)
        for r, c in cells:
            self.intended[r][c] = None
            self.shown[r][c] = None
            self._dirty[r].discard(c)

    def _private_mode(self, params: str, inter: str, final: str, raw: str) -> None:
        if raw in {SYNC_BEGIN, SYNC_END} and self._deferring:
            self._saw_sync = True  # `flush` wraps the merged frames instead
            return
        if raw == SYNC_BEGIN:
            self._flush()
            self._held_sync = True  # written only if something is drawn inside it
            return
        if raw == SYNC_END:
            self._flush()
            if self._held_sync:
                self._held_sync = False
            else:
                self._out.append(raw)
            return
        modes = params[1:].split(";") if params.startswith("?") and not inter else []
        if "25" in modes and final in "hl":
            if final == "l" and self.keep_cursor_visible:
                return
            self._cursor_visible = final == "h"
            self._passthrough(raw)
            if self._cursor_visible:
                self._out_cursor.known = False  # re-place it on the next flush
            return
        alternate = any(mode in {"1049", "47", "1047"} for mode in modes) and final in "hl"
        if alternate and final == "l":
            # Leaving: where there is no alternate screen, the form would stay on the console:
            # clear it and leave the cursor at the bottom-left, where a shell's prompt goes.
            # Where there is one, leaving it restores the screen and the cursor from before.
            self._flush()
            self._emit(f"{CSI}0m{CSI}H{CSI}2J{CSI}{self.height}H")
        self._passthrough(raw)
        if alternate and final == "h":
            # Entering may or may not give a blank screen (see `_emit_clear`): make it one.
            self.intended = [[BLANK] * self.width for _ in range(self.height)]
            self._emit_clear()
            self._dirty = [set() for _ in range(self.height)]
        elif alternate:
            self.forget()
            # The application's cursor was on the form: placing it again (as showing the
            # cursor would) would put the shell's prompt mid-screen, on top of old text.
            self._cursor = _Cursor(known=False)

    def _passthrough(self, raw: str) -> None:
        self._flush()
        self._emit(raw)

    def _passthrough_filling(self, raw: str) -> None:
        """Pass on a sequence that fills cells with the current colours (erase, insert,
        scroll), and the cursor it acts at: the terminal must be in the application's SGR
        state and position, which we may have skipped as not needed for drawing."""
        self._flush()
        self._emit(sgr_transition(self._out_style, self._style))
        self._out_style = self._style
        cursor = self._cursor
        if cursor.known and (
            not self._out_cursor.known
            or (self._out_cursor.row, self._out_cursor.col) != (cursor.row, cursor.col)
        ):
            self._emit(self._move(cursor.row, cursor.col))
        self._emit(raw)
        self._out_cursor = _Cursor(cursor.row, cursor.col, known=cursor.known)

    # --- output -----------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        if self._held_sync:
            self._out.append(SYNC_BEGIN)
            self._held_sync = False
        self._out.append(text)

    def _flush(self) -> None:
        for row, cols in enumerate(self._dirty):
            if cols:
                self._flush_row(row, sorted(cols))
                cols.clear()
        if self._cursor_visible and self._cursor.known and not self._at_edge:
            target = self._cursor
            current = self._out_cursor
            if not current.known or (current.row, current.col) != (target.row, target.col):
                self._emit(self._cheapest_move(target.row, target.col))
                self._out_cursor = _Cursor(target.row, target.col)

    def _flush_row(self, row: int, cols: list[int]) -> None:
        intended, shown = self.intended[row], self.shown[row]
        if intended == shown:
            return  # the frame repeats what is shown: the usual case, compared at C speed
        last = self.width - 1
        out = self._out_cursor
        run: list[str] = []
        """Characters that follow one another in the terminal's style: one write for all."""
        repeat: Cell | None = None
        """The last one-cell character written: the same cell right after it is written the
        same way, without deciding its place and look again (a row is mostly runs)."""
        repeat_text = ""
        repeat_shown: Cell | None = None
        for col in cols:
            cell = intended[col]
            seen = shown[col]
            # Cells are shared (`_cell`), so identity settles most comparisons.
            if cell is seen or cell is None or cell == seen:
                continue
            # A blank on another background never looks alike: most of a first frame's
            # blanks, settled here without the call.
            if (
                cell[0] == " "
                and seen is not None
                and cell[1].bg == seen[1].bg
                and looks_alike(cell, seen)
            ):
                shown[col] = cell  # the same look: the next frame's comparison is a plain one
                continue
            if cell is repeat and out.col == col and out.known:
                run.append(repeat_text)
                shown[col] = repeat_shown
                if col == last:
                    out.known = False  # the last column: no defined place
                else:
                    out.col = col + 1
                continue
            if cell[0] == "":  # right half of a wide character: write its left half
                col -= 1
                cell = intended[col] if col >= 0 else None
                if cell is None or (cell == shown[col] and intended[col + 1] == shown[col + 1]):
                    continue
            char, style = cell
            after = intended[col + 1] if col < last else None
            width = 2 if after is not None and after[0] == "" else 1
            if not (out.known and out.row == row and out.col == col):
                if run:
                    self._emit("".join(run))
                    run.clear()
                self._goto(row, col)
            current = self._out_style
            look = style if char != " " or style is current else self._cheapest_look(cell)
            if look is not current and look != current:
                if run:
                    self._emit("".join(run))
                    run.clear()
                self._emit(sgr_transition(current, look))
                self._out_style = look
            text = self._visible(char) if self.transliterate else char
            run.append(text)
            shown[col] = cell if look is style else _cell(char, look)
            if width == 2:
                shown[col + 1] = after
            if col + width > last:
                out.known = False  # the last column: no defined place
            else:
                out.row, out.col, out.known = row, col + width, True
            if width == 1 and char.isascii():
                repeat, repeat_text, repeat_shown = cell, text, shown[col]
            else:
                repeat = None
        if run:  # a row with any cell written ends with one
            self._emit("".join(run))
            self.painted = True

    def _cheapest_look(self, cell: Cell) -> Style:
        """The style to write `cell` in: its own, or for a plain blank whatever costs the
        fewest bytes from the terminal's current style and looks the same."""
        char, style = cell
        current = self._out_style
        if current is None or current is style or char != " ":
            return style
        key = (style, current)
        look = _BLANK_LOOKS.get(key)
        if look is None:
            if len(_BLANK_LOOKS) > _CACHE_LIMIT:
                _BLANK_LOOKS.clear()
            look = _BLANK_LOOKS[key] = _blank_look(style, current)
        return look

    def _visible(self, char: str) -> str:
        if not self.transliterate or char.isascii():
            return char
        return "".join(ASCII_FALLBACK.get(c, "?" if not c.isascii() else c) for c in char)

    def _goto(self, row: int, col: int) -> None:
        current = self._out_cursor
        if current.known and current.row == row and current.col == col:
            return
        self._emit(self._cheapest_move(row, col))
        current.row, current.col, current.known = row, col, True

    def _cheapest_move(self, row: int, col: int) -> str:
        current = self._out_cursor
        options = [self._move(row, col)]
        if current.known and current.row == row:
            gap = col - current.col
            if gap > 0:
                options.append(f"{CSI}{gap}C" if gap > 1 else f"{CSI}C")
                rewrite = self._rewrite_span(row, current.col, col)
                if rewrite is not None:
                    options.append(rewrite)
            elif gap < 0:
                options.append("\b" * -gap if -gap <= 3 else f"{CSI}{-gap}D")
            if col == 0:
                options.append("\r")
        if current.known and current.col == col and row != current.row:
            step = row - current.row
            up_down = "B" if step > 0 else "A"
            options.append(f"{CSI}{abs(step)}{up_down}" if abs(step) > 1 else f"{CSI}{up_down}")
        return min(options, key=len)

    def _rewrite_span(self, row: int, start: int, end: int) -> str | None:
        """Move right by writing the cells in between again, if they are shown and in the
        style the terminal is in: cheaper than an escape sequence for a gap of a few cells."""
        if end - start > 4:
            return None
        cells = self.shown[row][start:end]
        current = self._out_style
        if current is None or any(
            cell is None
            or not looks_alike(cell, (cell[0], current))
            or cell[0] == ""
            or not cell[0].isascii()
            for cell in cells
        ):
            return None
        return "".join(cell[0] for cell in cells if cell is not None)

    @staticmethod
    def _move(row: int, col: int) -> str:
        if row == 0 and col == 0:
            return f"{CSI}H"
        if col == 0:
            return f"{CSI}{row + 1}H"
        return f"{CSI}{row + 1};{col + 1}H"


ASCII_FALLBACK: dict[str, str] = {
    # Box drawing and blocks, light and heavy, round corners.
    **dict.fromkeys("\u2500\u2501\u2550\u254c\u254d\u2504\u2505\u2508\u2509\u2594\u2581", "-"),
    **dict.fromkeys(
        "\u2502\u2503\u2551\u254e\u254f\u2506\u2507\u250a\u250b"
        "\u258f\u2595\u258e\u258d\u258c\u258b\u258a\u2589",
        "|",
    ),
    **{chr(code): "+" for code in range(0x250C, 0x254C)},  # corners, tees and crosses
    **dict.fromkeys("\u2554\u2557\u255a\u255d\u2560\u2563\u2566\u2569\u256c", "+"),
    **dict.fromkeys("\u256d\u256e\u256f\u2570", "+"),  # round corners
    **dict.fromkeys("\u2588\u2587\u2586\u2585\u2584\u2583\u2582\u2580\u2590", "#"),
    **dict.fromkeys("\u2591\u2592\u2593", "#"),
    "\u25bc": "v", "\u25b2": "^", "\u25b6": ">", "\u25c0": "<", "\u25ba": ">", "\u25c4": "<",
    "\u2022": "*", "\u25cf": "*", "\u25cb": "o", "\u25c9": "*", "\u2026": ".",
    "\u2013": "-", "\u2014": "-", "\u2713": "+", "\u2714": "+", "\u2717": "x",
    "\u2718": "x", "\u2192": ">", "\u2190": "<", "\u2191": "^", "\u2193": "v",
    "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " ",
}  # fmt: skip
"""ASCII look-alikes for what Textual draws, for terminals and locales without Unicode. One
character each: the replacement must take the cell the original took."""
