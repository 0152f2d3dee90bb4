"""The form behind a simulated serial line, beside `dialog --form` in the same run.

A pseudo-terminal whose output is read no faster than a serial line carries it (10 bits a
byte, 8N1) and fed to a terminal emulator (pyte): what the program writes meanwhile waits, as
it does in a UART's buffer. The pty's termios speed is the line's, as getty sets a serial
port's and sshd a client's. For each program, line speed and TERM it reports the first screen
(seconds until it is complete), one typed character and one Tab (seconds until the screen
shows it: median and maximum over several), a resize from 80x24 to 100x30, and how far the
screen lags behind a typist at 8 keys a second (seconds from the last key to the screen
showing it), in one field and then filling in the whole form in a fresh start: provider
Other, every field, the moves between them (Tab in mailsetup, Down in dialog, whose Tab goes
to its buttons; Ctrl+U clears dialog's pre-filled fields). The target: mailsetup's screen
complete no later than dialog's in every row.

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

TIE = 0.02
"""Seconds within which two lags are the same (the screen is looked at every 5 ms)."""
NAME, EMAIL, PASSWORD = "Acme Verification Codes", "mfa@example.com", "app-password-1234"
SERVER, PORT = "smtp.example.com", "2525"


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
    fill_in_keys: int = 0
    fill_in_lag: float = 0.0
    """Seconds from the last key of the whole form's fill-in to the screen showing it all."""


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
    with Terminal(argv, env=env, baud=baud, speed=baud) as term:
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
        type_at_typists_pace(term, list(TYPIST))
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


def type_at_typists_pace(term: Terminal, keys: list[str]) -> None:
    """Send `keys` 1/8 s apart; returns right after the last (the lag is counted from it)."""
    for index, key in enumerate(keys):
        if index:
            time.sleep(1 / KEYS_PER_SECOND)
        term.send(key)


def fill_in(argv: list[str | Path], env: dict[str, str], baud: int, ready: str,
            keys: list[str], finished: list[str]) -> tuple[int, float]:  # fmt: skip
    """Start afresh, wait for the first screen, then type `keys` at 8 a second: the seconds
    from the last key until the screen shows every text in `finished`."""
    gap = 30 * 10 / baud + 0.3
    with Terminal(argv, env=env, baud=baud, speed=baud) as term:
        wait_until(term, lambda: ready in term.text)
        quiet(term, gap)
        type_at_typists_pace(term, keys)
        last_key = time.monotonic()
        wait_until(term, lambda: all(text in term.text for text in finished), timeout=300)
        return len(keys), time.monotonic() - last_key


def mailsetup_result(env: dict[str, str], baud: int) -> Result:
    result = measure(
        "mailsetup", [MAILSETUP], env, baud, "Exchange", "Display Name", "o\t", "\t", "\x1b[Z"
    )
    # Other; Display Name, Email; Sign-in stays App password; Password, Server, Port.
    keys = ["o", "\t", *NAME, "\t", *EMAIL, "\t", "\t", *PASSWORD, "\t", *SERVER, "\t", *PORT]
    finished = ["Other", NAME, EMAIL, "*" * len(PASSWORD), SERVER, f"|{PORT} "]
    if env["TERM"] not in {"vt100", "vt220"}:
        finished[3] = "•" * len(PASSWORD)
    result.fill_in_keys, result.fill_in_lag = fill_in(
        [MAILSETUP], env, baud, "Exchange", keys, finished
    )
    return result


def dialog_result(env: dict[str, str], baud: int) -> Result:
    # dialog moves between fields with the cursor keys (Tab goes to its buttons), in the
    # form the terminal's terminfo entry names (a VT100 in keypad mode: ESC O B).
    down, up = ("\x1b[B", "\x1b[A") if env["TERM"] == "linux" else ("\x1bOB", "\x1bOA")
    result = measure(
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
    clear = "\x15"  # Ctrl+U: dialog's pre-filled SMTP Mail, server and port
    keys = [clear, *"Other", down, *NAME, down, *EMAIL, down, *PASSWORD, down,
            clear, *SERVER, down, clear, *PORT]  # fmt: skip
    finished = ["Other ", NAME, EMAIL, PASSWORD, SERVER, f"{PORT} "]
    result.fill_in_keys, result.fill_in_lag = fill_in(
        [*DIALOG_FORM], env, baud, "SMTP Server Port", keys, finished
    )
    return result


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
        + f" | {result.lag:5.2f} s | {result.fill_in_lag:5.2f} s ({result.fill_in_keys} keys) |"
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
                      "| resize to 100x30   | lag at 8 keys/s "
                      "| whole form at 8 keys/s |")  # fmt: skip
                print("|---|---|---|---|---|---|---|")
                for result in results:
                    print(row(result))
                if len(results) == 2:
                    ours, theirs = results
                    # Within the screen reader's step (it looks every 5 ms, and reads the
                    # line in pieces of a few ms): a tie is a tie.
                    late = ours.fill_in_lag - theirs.fill_in_lag
                    verdict = "met" if late <= TIE else "NOT met"
                    print(
                        f"whole form: mailsetup complete {ours.fill_in_lag:.2f} s after its last "
                        f"key, dialog {theirs.fill_in_lag:.2f} s (target: no later; {verdict})"
                    )


if __name__ == "__main__":
    main()
