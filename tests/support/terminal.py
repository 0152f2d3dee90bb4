"""A real pseudo-terminal running a program, with pyte replaying every byte it writes, so a
test sees the screen an operator would see and counts the bytes a serial line would carry."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyte


class Terminal:
    """`program` in a pty of `columns` x `lines`; `send` types, `wait_for` reads the screen."""

    def __init__(
        self,
        argv: Sequence[str | Path],
        *,
        env: dict[str, str],
        columns: int = 80,
        lines: int = 24,
        old_text: str = "",
        baud: int | None = None,
        speed: int | None = None,
    ) -> None:
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        # A console is rarely blank: what earlier programs left there, as the terminal shows it.
        self.stream.feed(old_text.replace("\n", "\r\n").encode())
        self.baud = baud
        """Read no faster than a serial line at this speed carries (10 bits a byte): what the
        program writes meanwhile waits in the pty, as it would in a UART's buffer."""
        self.received = bytearray()
        self._lock = threading.Lock()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        if speed is not None:
            # The pty's termios speed, as sshd sets it from the client's line (getty from a
            # serial port's): what the program may learn of the line from the terminal.
            attributes = termios.tcgetattr(slave)
            attributes[4] = attributes[5] = getattr(termios, f"B{speed}")
            termios.tcsetattr(slave, termios.TCSANOW, attributes)
        self.master = master
        self.process = subprocess.Popen(
            [str(arg) for arg in argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={k: v for k, v in env.items() if k not in {"COLUMNS", "LINES"}},
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if not ready:
                    if self.process.poll() is not None:
                        return
                    continue
                data = os.read(self.master, 65536 if self.baud is None else 16)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.received.extend(data)
                self.stream.feed(data)
            if self.baud is not None:
                time.sleep(len(data) * 10 / self.baud)

    def resize(self, columns: int, lines: int) -> None:
        """Resize the terminal as a window manager would, and tell the program."""
        with self._lock:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
            self.screen.resize(lines, columns)
        os.kill(self.process.pid, signal.SIGWINCH)  # no controlling tty, so no automatic one

    @property
    def text(self) -> str:
        with self._lock:
            return "\n".join(self.screen.display)

    def send(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def type(self, text: str, delay: float = 0.02) -> None:
        """Type key by key, as a person (or a slow line) does."""
        for char in text:
            self.send(char)
            time.sleep(delay)

    def wait_for(self, needle: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text
            if needle in screen:
                return screen
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} did not appear; the screen shows:\n{self.text}")

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 20) -> str:
        """Wait until `ready()` holds for the screen: a state, not a pause, so a slow
        machine (or a busy CI runner) waits longer instead of failing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return self.text
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{what} did not happen; the screen shows:\n{self.text}")

    def wait_quiet(self, quiet: float = 0.5, timeout: float = 20) -> int:
        """Wait until nothing has been written for `quiet` seconds; return the bytes so far."""
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            size = len(self.received)
            if size == last:
                return size
            last = size
            time.sleep(quiet)
        raise AssertionError(f"still writing after {timeout} s")

    def wait_exit(self, timeout: float = 10) -> int:
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self._reader.join(2)
        os.close(self.master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
