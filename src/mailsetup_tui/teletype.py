"""Reading answers on a terminal without ever showing what must not be seen.

Over a serial console, answers are pasted or typed ahead. The terminal echoes what arrives
while echo is on, whoever reads it later, so `getpass` (echo off only during the password
prompt, and flushing what was typed ahead when it turns it off) shows a pasted password in
clear and loses the rest of the paste. Here echo is off from the start, switched with TCSANOW
so nothing typed ahead is lost, and each answer is echoed by mailsetup as it is read: a
non-secret one as typed, a secret one not at all. What was typed before echo could be turned
off has been shown already, and a password from that part is refused with a word.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import termios
from collections.abc import Iterator
from typing import Any, TextIO

ERASE = {0x7F, 0x08}
KILL_LINE = 0x15  # Ctrl+U
END_OF_INPUT = 0x04  # Ctrl+D


def pending_input(fd: int) -> int:
    """Bytes typed ahead and not read yet."""
    count = array.array("i", [0])
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.FIONREAD, count)
    return count[0]


@contextlib.contextmanager
def echo_off(fd: int) -> Iterator[int]:
    """Terminal echo off (canonical input kept) until the block ends, switched without
    discarding type-ahead; yields how many bytes were typed ahead, and so shown, before."""
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~(termios.ECHO | termios.ECHONL)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield pending_input(fd)
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


class Teletype:
    """Line-by-line answers on a terminal, echoed by mailsetup itself (see the module)."""

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self.fd = stdin.fileno()
        self.stdout = stdout
        self._saved: list[Any] | None = None
        self.shown_ahead = 0
        """Bytes the terminal had echoed before echo went off: typed ahead of the program."""
        self.consumed = 0

    def __enter__(self) -> Teletype:
        self._saved = termios.tcgetattr(self.fd)
        mode = termios.tcgetattr(self.fd)
        # Byte at a time, no echo; signals (Ctrl+C) and CR-to-NL stay as they were.
        mode[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON)
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        self.shown_ahead = pending_input(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)

    def read_line(self, *, secret: bool = False) -> tuple[str, bool] | None:
        """One answer (None at end of input), and whether any of it had been shown by the
        terminal before mailsetup could turn echo off."""
        start = self.consumed
        line = bytearray()
        while True:
            byte = os.read(self.fd, 1)
            if not byte:
                return None
            self.consumed += 1
            code = byte[0]
            if code in {0x0A, 0x0D}:
                self._echo(b"\r\n")
                return line.decode("utf-8", "replace"), start < self.shown_ahead
            if code == END_OF_INPUT and not line:
                return None
            if code in ERASE:
                if line:
                    del line[-1]
                    while line and line[-1] & 0xC0 == 0x80:  # the rest of a UTF-8 character
                        del line[-1]
                    if not secret:
                        self._echo(b"\b \b")
                continue
            if code == KILL_LINE:
                if not secret:
                    self._echo(b"\b \b" * len(line.decode("utf-8", "replace")))
                line.clear()
                continue
            if code < 0x20 and code != 0x09:
                continue  # other controls are not part of an answer
            line.append(code)
            if not secret:
                self._echo(byte)

    def _echo(self, data: bytes) -> None:
        self.stdout.flush()
        os.write(self.stdout.fileno(), data)
