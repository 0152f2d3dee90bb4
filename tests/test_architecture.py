"""The layering ARCHITECTURE.md describes: a core without Textual, one session that every front
end goes through, and scripts that never load Textual or keyring for `--help`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mailsetup_tui

PACKAGE = Path(mailsetup_tui.__file__).parent

CORE_MODULES = [
    "mailsetup_tui.core.providers",
    "mailsetup_tui.core.account",
    "mailsetup_tui.core.probe",
    "mailsetup_tui.core.oauth",
    "mailsetup_tui.core.store",
    "mailsetup_tui.core.redact",
    "mailsetup_tui.core.mailer",
    "mailsetup_tui.core.outcomes",
    "mailsetup_tui.core.session",
    "mailsetup_tui.core.relay",
    "mailsetup_tui.cli",
    "mailsetup_tui.sendmail",
    "mailsetup_tui.cli.parser",
    "mailsetup_tui.line_mode",
    "mailsetup_tui.terminal.frugal",
]

BELOW_THE_SESSION = (
    "mailsetup_tui.core.probe",
    "mailsetup_tui.core.oauth",
    "mailsetup_tui.core.store",
    "mailsetup_tui.core.mailer",
)
"""What the session offers a front end: testing, signing in, storing, sending."""


def front_end_files() -> list[Path]:
    files = []
    for front_end in ("cli", "line_mode", "sendmail", "tui"):
        files += sorted((PACKAGE / front_end).rglob("*.py"))
    return files


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


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


@pytest.mark.parametrize("path", front_end_files(), ids=lambda path: path.stem)
def test_front_ends_go_through_the_session(path: Path) -> None:
    below = sorted(
        module for module in imported_modules(path) if module.startswith(BELOW_THE_SESSION)
    )
    assert below == [], f"{path.relative_to(PACKAGE)} imports {below}: use core.session"


def test_the_architecture_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from mailsetup_tui.core import oauth\nimport mailsetup_tui.core.probe\n")
    modules = imported_modules(sneaky)
    assert "mailsetup_tui.core.oauth" in modules
    assert "mailsetup_tui.core.probe" in modules


def test_help_does_not_load_keyring_or_textual() -> None:
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
