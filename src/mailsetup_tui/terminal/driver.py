"""Textual's Linux driver with the frugal writer between the app and the terminal."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from textual.drivers.linux_driver import LinuxDriver

from mailsetup_tui.terminal.frugal import FrugalWriter

FRUGAL_ENV = "MAILSETUP_FRUGAL"
"""Set to 0 to write exactly what Textual writes (diagnosis, and the benchmark's baseline)."""
TRACE_ENV = "MAILSETUP_TRACE_WRITES"
"""A file to append each write to, as JSON lines of [what Textual wrote, what went to the
terminal, the terminal size]: for replay tests and for diagnosing a wrong screen."""


def frugal_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(FRUGAL_ENV, "1") != "0"


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
    """Writes only the cells that changed; see `FrugalWriter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        width, height = self._get_terminal_size()
        self.frugal = FrugalWriter(width, height, transliterate=needs_ascii(os.environ))
        self._trace = os.environ.get(TRACE_ENV)
        self._lock = threading.Lock()
        """The driver writes from the app's thread and from its input thread (answers to
        mode queries): one writer model must see one stream, in the order it goes out."""

    def write(self, data: str) -> None:
        with self._lock:
            size = self._get_terminal_size()
            if size != (self.frugal.width, self.frugal.height):
                self.frugal.resize(*size)
            out = self.frugal.feed(data)
            if self._trace:
                # 0600: the trace holds whatever was drawn, a password shown with Ctrl+R too.
                fd = os.open(self._trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as trace:
                    trace.write(json.dumps([data, out, size]) + "\n")
            if out:
                super().write(out)
