"""Time to first paint and peak memory: mailsetup's form against a bare Textual app.

Both start in an 80x24 pseudo-terminal (TERM=xterm-256color) in the same run; the time is from
spawning the process to the first moment the pty's screen (pyte) shows the app's text, and the
peak RSS (VmHWM) is read once the program has settled (after the form's post-start-up
collection). The bare app shows one label: it is the least any Textual program can do, so the
ratios are what mailsetup adds. Targets: time at most 1.2 x, peak RSS at most 1.15 x.

    .venv/bin/python benchmarks/startup.py [--runs 21] [--instructions]

The two start alternately, and each round's ratio is taken from its own pair: a virtual
machine's speed drifts by a third from one minute to the next, which moves both programs of a
pair alike. The ratio printed is the median of the rounds' ratios, with its middle half.

`--instructions` also counts the instructions each program runs, under valgrind (callgrind),
from its first one to the moment Textual hands its first frame to the terminal driver: the
same on every run, whatever the machine's speed, so a change of a per cent shows, which the
times above cannot show on such a machine. It leaves out what the kernel does for both alike
(starting the process, the pty), so its ratio is above the time's.
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


FIRST_FRAME_ONLY = textwrap.dedent(
    """
    # Run a program to its first frame, then end: `python this TEXT PROGRAM [ARGS...]`. Textual's
    # Linux driver is patched as it is imported (nothing is imported out of the program's own
    # order): the process ends as the first frame showing TEXT is handed to the driver (the
    # driver's own `write` or a subclass's: mailsetup's frugal writer, whose work on it is left
    # out, since whether it holds the frame depends on a writer thread's timing).
    import importlib.abc, importlib.machinery, os, runpy, sys

    text, program = sys.argv[1], sys.argv[2]
    sys.argv = sys.argv[2:]


    def end_after_first_frame(driver_class):
        write = driver_class.write

        def write_then_end(driver, data):
            if text in data:
                os._exit(0)
            write(driver, data)

        driver_class.write = write_then_end


    class Patch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "textual.drivers.linux_driver":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                base = module.LinuxDriver
                end_after_first_frame(base)

                def subclassed(cls, **kwargs):
                    if "write" in vars(cls):
                        end_after_first_frame(cls)

                base.__init_subclass__ = classmethod(subclassed)

            spec.loader.exec_module = exec_module
            return spec


    sys.meta_path.insert(0, Patch())
    runpy.run_path(program, run_name="__main__")
    """
)


SETTLED = 0.8
"""Seconds after the first paint at which peak RSS is read (the form collects start-up's
garbage 0.5 s after its first frame)."""


def first_paint(argv: list[str | Path], text: str, env: dict[str, str]) -> tuple[float, int]:
    """Seconds to the first paint, and peak RSS in KiB once settled."""
    started = time.monotonic()
    with Terminal(argv, env=env) as term:
        while text not in term.text:
            if time.monotonic() - started > 30:
                raise SystemExit(f"{argv[0]} did not show {text!r}")
            time.sleep(0.002)
        painted = time.monotonic() - started
        time.sleep(SETTLED)
        return painted, peak_rss(term.process.pid)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmHWM for process {pid}")


def spread(values: list[float]) -> str:
    if len(values) < 2:  # one round (`--runs 1`, to count instructions) has no middle half
        return "-"
    first, _, third = statistics.quantiles(values, n=4)
    return f"{first:.3f}-{third:.3f}"


def instructions(argv: list[str | Path], text: str, env: dict[str, str], directory: Path) -> int:
    """Instructions from the program's start to its first frame (valgrind's callgrind)."""
    script = argv[1:] if argv[0] == sys.executable else argv  # the launcher is the interpreter
    launcher = directory / "first_frame_only.py"
    launcher.write_text(FIRST_FRAME_ONLY)
    log = directory / "callgrind.log"
    command: list[str | Path] = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        f"--log-file={log}",
        sys.executable,
        launcher,
        text,
        *script,
    ]
    with Terminal(command, env=env | {"PYTHONHASHSEED": "0"}) as term:
        started = time.monotonic()
        while term.process.poll() is None:
            if time.monotonic() - started > 300:
                raise SystemExit(f"{argv[0]} did not show {text!r} under valgrind")
            term.text  # noqa: B018 - reading the pty keeps the program from blocking on it
            time.sleep(0.1)
    for line in log.read_text().splitlines():
        if "Collected : " in line:
            return int(line.rsplit(":", 1)[1])
    raise SystemExit(f"valgrind counted nothing:\n{log.read_text()}")


def compile_sources() -> None:
    """Byte-compile mailsetup as an installation has it: with PYTHONDONTWRITEBYTECODE set (as
    on this project's machines), an editable install would compile every module at every
    start, which Textual's installed modules never do."""
    import compileall

    import mailsetup_tui

    compileall.compile_dir(Path(mailsetup_tui.__file__).parent, quiet=1, force=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (needs valgrind)"
    )
    args = parser.parse_args()
    compile_sources()
    with tempfile.TemporaryDirectory() as directory:
        env = mailsetup_env(Path(directory), TERM="xterm-256color")
        script = Path(directory) / "bare.py"
        script.write_text(BARE_APP)
        bare: tuple[list[str | Path], str] = ([sys.executable, script], "Bare Textual app")
        ours: tuple[list[str | Path], str] = ([MAILSETUP], "System E-mail Account Setup")
        times: dict[str, list[float]] = {"bare": [], "mailsetup": []}
        memory: dict[str, list[float]] = {"bare": [], "mailsetup": []}
        time_ratios, memory_ratios = [], []
        counts = (
            [instructions(*program, env, Path(directory)) for program in (bare, ours)]
            if args.instructions
            else []
        )
        for _ in range(args.runs):
            bare_time, bare_rss = first_paint(*bare, env)
            our_time, our_rss = first_paint(*ours, env)
            times["bare"].append(bare_time)
            times["mailsetup"].append(our_time)
            memory["bare"].append(bare_rss / 1024)
            memory["mailsetup"].append(our_rss / 1024)
            time_ratios.append(our_time / bare_time)
            memory_ratios.append(our_rss / bare_rss)
    print(f"Start-up at 80x24, TERM=xterm-256color, {args.runs} rounds (medians):")
    for name in ("bare", "mailsetup"):
        label = "bare Textual app" if name == "bare" else "mailsetup"
        print(
            f"  {label:<17} first paint {statistics.median(times[name]):.3f} s "
            f"(middle half {spread(times[name])}), "
            f"peak RSS {statistics.median(memory[name]):.1f} MiB"
        )
    time_ratio, rss_ratio = statistics.median(time_ratios), statistics.median(memory_ratios)
    print(
        f"  mailsetup / bare: first paint {time_ratio:.2f} x (middle half "
        f"{spread(time_ratios)}; target 1.20 x: {'met' if time_ratio <= 1.2 else 'NOT met'}), "
        f"peak RSS {rss_ratio:.2f} x (target 1.15 x: "
        f"{'met' if rss_ratio <= 1.15 else 'NOT met'})"
    )
    if counts:
        print(
            f"  instructions to the first frame: bare {counts[0] / 1e6:.0f} M, mailsetup "
            f"{counts[1] / 1e6:.0f} M, {counts[1] / counts[0]:.3f} x"
        )


if __name__ == "__main__":
    main()
