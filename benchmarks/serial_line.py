"""The form behind a simulated serial line, beside `dialog --form` in the same run.

A pseudo-terminal whose output is read no faster than a serial line carries it (10 bits a
byte, 8N1) and fed to a terminal emulator (pyte): what the program writes meanwhile waits, as
it does in a UART's buffer. For each program, line speed and TERM it reports the first screen
(seconds until it is complete), one typed character and one Tab (seconds until the screen
shows it: median and maximum over several), a resize from 80x24 to 100x30, and how far the
screen lags behind a typist at 8 keys a second (seconds from the last key to the screen
showing it).

    .venv/bin/python benchmarks/serial_line.py [--bauds 9600 1200] [--terms vt100 linux]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.baselines import DIALOG_FORM
from support.cli import mailsetup_env
from support.terminal import Terminal

MAILSETUP = Path(sys.executable).parent / "mailsetup"
TYPIST = "verification codes for acme"  # 27 keys
KEYS_PER_SECOND = 8


@dataclass
class Result:
    name: str
    first_screen: float = 0.0
    key: list[float] | None = None
    tab: list[float] | None = None
    resize: float = 0.0
    resize_bytes: int = 0
    survives_resize: bool = True
    lag: float = 0.0


def wait_until(term: Terminal, condition: Callable[[], bool], timeout: float = 120) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out; the screen shows:\n{term.text}")
        time.sleep(0.005)
    return time.monotonic() - started


def quiet(term: Terminal, seconds: float) -> None:
    """Until nothing has arrived for `seconds` (the line has drained)."""
    term.wait_quiet(seconds, timeout=300)


def field_row(term: Terminal, label: str) -> str:
    return next((line for line in term.text.splitlines() if label in line), "")


def row_changed(term: Terminal, label: str, before: str) -> Callable[[], bool]:
    return lambda: field_row(term, label) != before


def cursor_moved(term: Terminal, was: tuple[int, int]) -> Callable[[], bool]:
    return lambda: (term.screen.cursor.y, term.screen.cursor.x) != was


def measure(name: str, argv: list[str | Path], env: dict[str, str], baud: int,
            ready: str, field_label: str, enter_field: str,
            next_field: str, previous_field: str) -> Result:  # fmt: skip
    result = Result(name)
    gap = 30 * 10 / baud + 0.3  # quiet long enough for a few cells to cross the line
    started = time.monotonic()
    with Terminal(argv, env=env, baud=baud) as term:
        wait_until(term, lambda: ready in term.text)
        quiet(term, gap)
        result.first_screen = time.monotonic() - started - gap
        term.send(enter_field)
        quiet(term, gap)
        keys, tabs = [], []
        for char in "abcde":
            before = field_row(term, field_label)
            term.send(char)
            keys.append(wait_until(term, row_changed(term, field_label, before)))
            quiet(term, gap)
        result.key = keys
        for _ in range(3):
            cursor = (term.screen.cursor.y, term.screen.cursor.x)
            term.send(next_field)
            tabs.append(wait_until(term, cursor_moved(term, cursor)))
            quiet(term, gap)
            term.send(previous_field)  # back to the same field every time
            quiet(term, gap)
        result.tab = tabs
        for char in TYPIST:
            term.send(char)
            time.sleep(1 / KEYS_PER_SECOND)
        last_key = time.monotonic()
        wait_until(term, lambda: TYPIST[-12:] in term.text)
        result.lag = time.monotonic() - last_key
        quiet(term, gap)
        before_bytes = len(term.received)
        resize_started = time.monotonic()
        term.resize(100, 30)
        quiet(term, gap)
        result.resize = time.monotonic() - resize_started - gap
        result.resize_bytes = len(term.received) - before_bytes
        result.survives_resize = term.process.poll() is None
    return result


def mailsetup_result(env: dict[str, str], baud: int) -> Result:
    return measure(
        "mailsetup", [MAILSETUP], env, baud, "Exchange", "Display Name", "o\t", "\t", "\x1b[Z"
    )


def dialog_result(env: dict[str, str], baud: int) -> Result:
    # dialog moves between fields with the cursor keys (Tab goes to its buttons), in the
    # form the terminal's terminfo entry names (a VT100 in keypad mode: ESC O B).
    down, up = ("\x1b[B", "\x1b[A") if env["TERM"] == "linux" else ("\x1bOB", "\x1bOA")
    return measure(
        "dialog --form",
        [*DIALOG_FORM],
        env,
        baud,
        "SMTP Server Port",
        "Display Name",
        down,
        down,
        up,
    )


def row(result: Result) -> str:
    assert result.key is not None and result.tab is not None
    return (
        f"| {result.name:<13} | {result.first_screen:6.2f} s | "
        f"{statistics.median(result.key):5.2f} / {max(result.key):5.2f} s | "
        f"{statistics.median(result.tab):5.2f} / {max(result.tab):5.2f} s | "
        + (
            f"{result.resize:5.2f} s, {result.resize_bytes:5} B"
            if result.survives_resize
            else "exits on SIGWINCH"
        )
        + f" | {result.lag:5.2f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bauds", type=int, nargs="+", default=[9600, 1200])
    parser.add_argument("--terms", nargs="+", default=["vt100", "linux"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for term_name in args.terms:
            for baud in args.bauds:
                env = mailsetup_env(Path(directory), TERM=term_name)
                results = [mailsetup_result(env, baud)]
                if shutil.which("dialog"):
                    results.append(dialog_result(env, baud))
                print(f"\n{baud} baud, TERM={term_name}, 80x24:")
                print("| program       | first screen | key (median / max) | Tab (median / max) "
                      "| resize to 100x30   | lag at 8 keys/s |")  # fmt: skip
                print("|---|---|---|---|---|---|")
                for result in results:
                    print(row(result))


if __name__ == "__main__":
    main()
