"""Time to first paint: mailsetup's form against a bare Textual app showing one label.

Both start in an 80x24 pseudo-terminal (TERM=xterm-256color) in the same run; the time is from
spawning the process to the first moment the pty's screen (pyte) shows the app's text. Each is
the median of N starts (alternating, so drift in the machine's load hits both). The bare app
is the least any Textual program can do: the ratio is what mailsetup adds.

    .venv/bin/python benchmarks/startup.py [--runs 15]

Start-up is about 0.15 s of a busy machine's time, so a run-to-run spread of 10 ms is normal:
the middle half of each program's starts is printed beside the median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.cli import mailsetup_env
from support.terminal import Terminal

MAILSETUP = Path(sys.executable).parent / "mailsetup"
BARE_APP = textwrap.dedent(
    """
    from textual.app import App, ComposeResult
    from textual.widgets import Label

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Label("Bare Textual app")

    Bare().run()
    """
)


def first_paint(argv: list[str | Path], text: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    with Terminal(argv, env=env) as term:
        while text not in term.text:
            if time.monotonic() - started > 30:
                raise SystemExit(f"{argv[0]} did not show {text!r}")
            time.sleep(0.002)
        return time.monotonic() - started


def compile_sources() -> None:
    """Byte-compile mailsetup as an installation has it: with PYTHONDONTWRITEBYTECODE set (as
    on this project's machines), an editable install would compile every module at every
    start, which Textual's installed modules never do."""
    import compileall

    import mailsetup_tui

    compileall.compile_dir(Path(mailsetup_tui.__file__).parent, quiet=1, force=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    compile_sources()
    with tempfile.TemporaryDirectory() as directory:
        env = mailsetup_env(Path(directory), TERM="xterm-256color")
        script = Path(directory) / "bare.py"
        script.write_text(BARE_APP)
        programs: dict[str, tuple[list[str | Path], str]] = {
            "bare Textual app": ([sys.executable, script], "Bare Textual app"),
            "mailsetup": ([MAILSETUP], "System E-mail Account Setup"),
        }
        samples: dict[str, list[float]] = {name: [] for name in programs}
        for _ in range(args.runs):
            for name, (argv, text) in programs.items():
                samples[name].append(first_paint(argv, text, env))
    medians = {name: statistics.median(times) for name, times in samples.items()}
    baseline = medians["bare Textual app"]
    print(f"Time to first paint, 80x24, xterm-256color, median of {args.runs}:")
    for name, median in medians.items():
        first, _, third = statistics.quantiles(samples[name], n=4)
        print(
            f"  {name:<18} {median:6.3f} s (middle half {first:.3f}-{third:.3f})"
            f"   {median / baseline:4.2f} x the bare app"
        )


if __name__ == "__main__":
    main()
