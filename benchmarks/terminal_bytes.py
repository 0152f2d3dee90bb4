"""Bytes written to the terminal: mailsetup against `dialog --form`, in a pty, in the same run.

For each program (mailsetup with the frugal writer, the same without it, and dialog if it is
installed) this starts the program in an 80x24 pseudo-terminal and counts what it writes for:
the first screen, one typed character, one Tab, a provider change (mailsetup only), and idle
time; plus time to first paint and peak RSS. Each per-key figure is the median over several
keys. It prints the table, the ratios to dialog, the targets (a character at most 4 bytes, a
Tab at most 1.5 x dialog's, a provider change at most 250 bytes), and what each costs at 9600
and 115200 baud (10 bits a byte on an 8N1 line).

    .venv/bin/python benchmarks/terminal_bytes.py [--term vt100] [--idle 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.baselines import DIALOG_FORM
from support.terminal import Terminal

MAILSETUP = Path(sys.executable).parent / "mailsetup"
QUIET = 0.4
"""Seconds without output that count as "done drawing"."""


@dataclass
class Figures:
    name: str
    first_screen: int = 0
    first_paint: float = 0.0
    per_char: float = 0.0
    per_tab: float = 0.0
    provider_change: float | None = None
    idle: int = 0
    idle_cpu: float = 0.0
    """CPU seconds the program used while idle."""
    peak_rss_kib: int = 0


def settle(term: Terminal) -> int:
    """Wait until the program stops writing; return the bytes written so far."""
    return term.wait_quiet(QUIET, timeout=10)


def cost(term: Terminal, keys: Sequence[str]) -> list[int]:
    samples = []
    for key in keys:
        before = settle(term)
        term.send(key)
        samples.append(settle(term) - before)
    return samples


def cpu_seconds(pid: int) -> float:
    """User + system time of `pid` so far, from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(
    name: str,
    argv: list[str],
    env: dict[str, str],
    ready: str,
    to_text_field: Callable[[Terminal], None],
    provider_keys: Sequence[str] | None,
    idle: float,
) -> Figures:
    figures = Figures(name)
    started = time.monotonic()
    with Terminal(argv, env=env) as term:
        term.wait_for(ready, timeout=30)
        figures.first_paint = time.monotonic() - started
        figures.first_screen = settle(term)
        if provider_keys:
            figures.provider_change = statistics.median(cost(term, provider_keys))
        to_text_field(term)
        figures.per_char = statistics.median(cost(term, list("abcdefghij")))
        figures.per_tab = statistics.median(cost(term, ["\t"] * 6))
        before = settle(term)
        cpu_before = cpu_seconds(term.process.pid)
        time.sleep(idle)
        figures.idle = len(term.received) - before
        figures.idle_cpu = cpu_seconds(term.process.pid) - cpu_before
        figures.peak_rss_kib = peak_rss(term.process.pid)
    return figures


def mailsetup(term_name: str, frugal: bool, idle: float, home: Path) -> Figures:
    env = {
        **os.environ,
        "TERM": term_name,
        "HOME": str(home),
        "MAILSETUP_CONFIG": str(home / "account.toml"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "MAILSETUP_FRUGAL": "1" if frugal else "0",
    }

    def to_display_name(term: Terminal) -> None:
        term.send("\t")
        settle(term)

    return measure(
        "mailsetup" if frugal else "mailsetup, frugal off",
        [str(MAILSETUP)],
        env,
        "SMTP Mail",
        to_display_name,
        ["g", "o", "y", "o", "h", "o"],
        idle,
    )


def dialog(term_name: str, idle: float) -> Figures:
    env = {**os.environ, "TERM": term_name}
    return measure("dialog --form", DIALOG_FORM, env, "SMTP Mail", lambda term: None, None, idle)


def seconds(byte_count: float, baud: int) -> str:
    return f"{byte_count * 10 / baud:.2f} s"


def report(rows: list[Figures], term_name: str) -> None:
    base = next((row for row in rows if row.name.startswith("dialog")), None)
    idle = f"{rows[0].name} idle measured over the --idle seconds"
    print(f"Terminal bytes at 80x24, TERM={term_name} (per-key figures: medians; {idle})\n")
    header = ["", *[row.name for row in rows]]
    lines = [
        ("first screen (bytes)", [f"{r.first_screen:,}" for r in rows]),
        ("one typed character", [f"{r.per_char:g}" for r in rows]),
        ("Tab to next field", [f"{r.per_tab:g}" for r in rows]),
        ("provider change", [
            f"{r.provider_change:g}" if r.provider_change is not None else "n/a" for r in rows
        ]),
        ("idle (bytes)", [f"{r.idle}" for r in rows]),
        ("idle CPU", [f"{r.idle_cpu:.2f} s" for r in rows]),
        ("time to first paint", [f"{r.first_paint:.2f} s" for r in rows]),
        ("peak RSS", [f"{r.peak_rss_kib / 1024:.0f} MiB" for r in rows]),
    ]  # fmt: skip
    widths = [max(len(header[0]), *(len(label) for label, _ in lines))] + [
        max(len(header[i + 1]), *(len(values[i]) for _, values in lines)) for i in range(len(rows))
    ]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for label, values in lines:
        cells = [label, *values]
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")
    if base is None:
        print("\n(dialog is not installed: no ratios)")
        return
    print(f"\nRatios to {base.name}:")
    for row in rows:
        if row is base:
            continue
        print(
            f"  {row.name}: first screen {row.first_screen / base.first_screen:.2f} x, "
            f"character {row.per_char / base.per_char:.2f} x, "
            f"Tab {row.per_tab / base.per_tab:.2f} x"
            + (
                f", provider change {row.provider_change / base.first_screen:.2f} x dialog's "
                "first screen"
                if row.provider_change is not None
                else ""
            )
        )
    ours = next(row for row in rows if row.name == "mailsetup")
    print("\nTargets (issue 24):")
    for label, value, bound in [
        ("a typed character", ours.per_char, 4.0),
        ("a Tab, 1.5 x dialog's", ours.per_tab, 1.5 * base.per_tab),
        ("a provider change", ours.provider_change or 0.0, 250.0),
    ]:
        verdict = "met" if value <= bound else "NOT met"
        print(f"  {label:<23} {value:g} B, at most {bound:g} B: {verdict}")
    print("\nCost on a serial line (first screen / character / Tab):")
    for row in rows:
        for baud in (9600, 115200):
            print(
                f"  {row.name:<24} {baud:>6} baud: {seconds(row.first_screen, baud)} / "
                f"{seconds(row.per_char, baud)} / {seconds(row.per_tab, baud)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--term", default="vt100")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        rows = [
            mailsetup(args.term, True, args.idle, home),
            mailsetup(args.term, False, args.idle, home),
        ]
        if shutil.which("dialog"):
            rows.append(dialog(args.term, args.idle))
    report(rows, args.term)


if __name__ == "__main__":
    main()
