"""The layering that keeps scripts light: the core and the CLI's sub-commands never load Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE_MODULES = [
    "mailsetup_tui.core.providers",
    "mailsetup_tui.core.account",
    "mailsetup_tui.core.probe",
    "mailsetup_tui.core.store",
    "mailsetup_tui.core.redact",
    "mailsetup_tui.core.mailer",
    "mailsetup_tui.cli",
    "mailsetup_tui.plain",
    "mailsetup_tui.terminal.frugal",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_modules_do_not_import_textual(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(loaded)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert finished.stdout.strip() == "[]"


def test_help_does_not_load_keyring_or_the_smtp_client() -> None:
    # `--help` and validation stay instant on a slow box: keyring probes D-Bus at import.
    code = (
        "import sys, contextlib, io\n"
        "from mailsetup_tui import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.run(['--help'])\n"
        "print(sorted(m for m in ('keyring', 'textual') if m in sys.modules))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert finished.stdout.strip() == "[]"
