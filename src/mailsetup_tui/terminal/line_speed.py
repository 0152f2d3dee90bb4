"""How fast the line to the terminal is, where anything says so, and when it is free again.

The terminal's output queue (TIOCOUTQ) shows a busy serial port, but a pseudo-terminal always
answers 0 on Linux: over SSH, or behind a console server, the slow part of the line is on the
far side. Where the line's speed is known (a real serial port's termios speed, a pty whose
speed was set below Linux's default of 38400, which says nothing, or $MAILSETUP_BAUD), the
bytes sent are counted against it, as curses does with its baud rate: the line is busy until
they have left, and the driver holds frames until then.
"""

from __future__ import annotations

import os
import re
import termios
import time
from collections.abc import Mapping

BAUD_ENV = "MAILSETUP_BAUD"
"""The line's speed in bits per second, for a console server or an SSH hop whose pty says
nothing (0: no model at all)."""
PTY_DEFAULT_BAUD = 38400
"""What a Linux pty (and the console) reports when nobody set a speed: no information."""
_SERIAL = re.compile(r"/dev/tty(S|USB|ACM|AMA|O|mxc|PS|THS|SAC)\d+$")
"""Device names of real serial ports, whose termios speed is the line's."""
_RATES = (50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400,
          57600, 115200, 230400, 460800, 921600)  # fmt: skip
_BAUDS = {getattr(termios, f"B{rate}"): rate for rate in _RATES if hasattr(termios, f"B{rate}")}


def line_speed(fd: int, environ: Mapping[str, str]) -> int | None:
    """The line's bits per second where something says so, else None (model nothing)."""
    given = environ.get(BAUD_ENV, "").strip()
    if given:
        return int(given) if given.isdigit() and int(given) > 0 else None
    try:
        baud = _BAUDS.get(termios.tcgetattr(fd)[5])
        name = os.ttyname(fd)
    except (OSError, termios.error):
        return None
    if baud is None:
        return None
    if _SERIAL.match(name):
        return baud
    return baud if baud < PTY_DEFAULT_BAUD else None


class LineModel:
    """The bytes on their way: sent at `baud` bits per second, 10 bits a byte (8N1)."""

    def __init__(self, baud: int) -> None:
        self.bytes_per_second = baud / 10
        self.free_at = 0.0

    def sent(self, size: int) -> None:
        now = time.monotonic()
        self.free_at = max(now, self.free_at) + size / self.bytes_per_second

    def wait(self) -> float:
        """Seconds until what was sent has left (0: the line is free)."""
        return max(0.0, self.free_at - time.monotonic())
