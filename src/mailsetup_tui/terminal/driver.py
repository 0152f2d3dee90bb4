"""Textual's Linux driver with the frugal writer between the app and the terminal.

Besides writing only the cells that changed (`FrugalWriter`), it adapts to the line: while
earlier output has not left yet (a slow serial line), it holds new frames and sends only the
latest difference once the line has room, as curses does; and on a limited terminal it keeps
the terminal's own cursor visible, where the typing happens.
"""

from __future__ import annotations

import array
import fcntl
import os
import termios
import threading
import time
from collections.abc import Mapping
from typing import Any

from textual.drivers.linux_driver import LinuxDriver

from mailsetup_tui.terminal.frugal import FrugalWriter
from mailsetup_tui.terminal.line_speed import LineModel, line_speed

FRUGAL_ENV = "MAILSETUP_FRUGAL"
"""Set to 0 to write exactly what Textual writes (diagnosis, and the benchmark's baseline)."""
TRACE_ENV = "MAILSETUP_TRACE_WRITES"
"""A file to append each write to, as JSON lines of [what Textual wrote, what went to the
terminal, the terminal size]: for replay tests and for diagnosing a wrong screen."""
POLL_SECONDS = 0.015
"""How often held output checks whether the line has room again."""
HANDOFF_SECONDS = 0.0005
"""How long the app's thread steps aside after handing over the first frame (`write`)."""


def frugal_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(FRUGAL_ENV, "1") != "0"


def limited_terminal(environ: Mapping[str, str]) -> bool:
    """Serial consoles (vt100/vt220), the Linux console, and NO_COLOR: the terminal's own 16
    colours at most, perhaps none, so whatever must be seen is shown without colour."""
    term = environ.get("TERM", "")
    return (
        "NO_COLOR" in environ
        or term in {"linux", "dumb", ""}
        or term.startswith(("vt", "ansi", "cons"))
    )


def needs_ascii(environ: Mapping[str, str]) -> bool:
    """True where the terminal or the locale cannot show Unicode box drawing.

    A non-UTF-8 locale (LANG=C, POSIX, Latin-1) means the terminal decodes bytes as such; real
    VT100/VT220 terminals have no Unicode at all.
    """
    locale = environ.get("LC_ALL") or environ.get("LC_CTYPE") or environ.get("LANG") or ""
    utf8 = "utf-8" in locale.lower() or "utf8" in locale.lower()
    term = environ.get("TERM", "")
    return not utf8 or term.startswith(("vt1", "vt2"))


class FrugalLinuxDriver(LinuxDriver):
    """Writes only the cells that changed, and no more often than the line takes them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        width, height = self._get_terminal_size()
        self.frugal = FrugalWriter(
            width,
            height,
            transliterate=needs_ascii(os.environ),
            # On every terminal the real cursor is the typing position (no drawn cursor cell).
            keep_cursor_visible=True,
        )
        self._trace = os.environ.get(TRACE_ENV)
        self._lock = threading.Lock()
        """The driver writes from the app's thread, from its input thread (answers to mode
        queries) and from the held-output timer: one writer model must see one stream, in the
        order it goes out."""
        self._timer: threading.Timer | None = None
        speed = line_speed(self._file.fileno(), os.environ) if self._file is not None else None
        self.line = LineModel(speed) if speed else None
        """The line's own speed, where something says it (`line_speed`): frames wait for it."""

    def write(self, data: str) -> None:
        with self._lock:
            size = self._get_terminal_size()
            if size != (self.frugal.width, self.frugal.height):
                self.frugal.resize(*size)
            # The first frame is never held: holding merges a frame with later ones, and
            # before it the line carries only the terminal's set-up, a few bytes often still
            # waiting for the writer thread to be scheduled (which held one start in five
            # for 15 ms or more).
            first = not self.frugal.painted
            out = self.frugal.feed(data, defer=not first and self._line_busy())
            self._send(data, out, size)
            if self.frugal.pending:
                self._hold()
        if first and self.frugal.painted:
            # Textual's writer thread puts the frame on the terminal, and it needs the GIL to
            # do so; the app's thread goes straight on with the work that follows a first
            # frame (two more full renders), so the thread waited for the interpreter's switch
            # interval, 5 ms, every start. A short sleep hands the GIL over now: the frame
            # reached the pty 0.3 ms after it was handed over instead of 5.4 ms (a bare
            # Textual app: 1.6 ms, having less to do after it).
            time.sleep(HANDOFF_SECONDS)

    def redraw(self) -> None:
        """Clear the terminal and write the whole screen again (Ctrl+L)."""
        with self._lock:
            self.frugal.clear()
            self._send("", self.frugal.flush(), (self.frugal.width, self.frugal.height))

    def _send(self, data: str, out: str, size: tuple[int, int]) -> None:
        if self._trace:
            import json

            # 0600: the trace holds whatever was drawn, a password shown with Ctrl+R too.
            fd = os.open(self._trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as trace:
                trace.write(json.dumps([data, out, size]) + "\n")
        if out:
            super().write(out)
            if self.line is not None:
                self.line.sent(len(out.encode("utf-8", "replace")))

    def _hold(self) -> None:
        """Send what is held once the line has room."""
        if self._timer is None:
            wait = max(POLL_SECONDS, self.line.wait() if self.line is not None else 0.0)
            self._timer = threading.Timer(wait, self._release)
            self._timer.daemon = True
            self._timer.start()

    def _release(self) -> None:
        with self._lock:
            self._timer = None
            if not self.frugal.pending:
                return
            if self._line_busy():
                self._hold()
                return
            self._send("", self.frugal.flush(), (self.frugal.width, self.frugal.height))

    def _line_busy(self) -> bool:
        """Earlier output is still on its way: in Textual's writer queue, on the modelled
        line (`line_speed`), or in the terminal's output queue (the bytes a serial port has not
        transmitted yet)."""
        if self.line is not None and self.line.wait() > 0:
            return True
        writer = getattr(self, "_writer_thread", None)
        queue = getattr(writer, "_queue", None)
        if queue is not None and queue.qsize() > 0:
            return True
        if self._file is None:
            return False
        try:
            waiting = array.array("i", [0])
            fcntl.ioctl(self._file.fileno(), termios.TIOCOUTQ, waiting)
        except (OSError, ValueError):
            return False
        return waiting[0] > 0

    def stop_application_mode(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self.frugal.pending:
                self._send("", self.frugal.flush(), (self.frugal.width, self.frugal.height))
        super().stop_application_mode()
