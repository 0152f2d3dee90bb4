"""A non-editable install ships the styles and finds them (an editable one reads styles/)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: hatchling comes from the test extras, so no network is needed.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (built,) = out.glob("mailsetup_tui-*.whl")
    return built


def test_wheel_contains_the_styles_and_the_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mailsetup_tui/styles/app.tcss" in names
    assert "mailsetup_tui/tui/app.py" in names
    assert "mailsetup_tui/core/probe.py" in names
    assert not any(name.startswith("tests/") for name in names)


def test_installed_wheel_finds_its_styles(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(target), str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    code = (
        "import mailsetup_tui.tui.styles as m\n"
        "d = m.styles_dir()\n"
        "print(d.is_relative_to(m.__file__.rsplit('/', 3)[0]), (d / 'app.tcss').is_file())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    finished = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r})\n{code}"],
        capture_output=True, text=True, env=env, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert finished.stdout.split() == ["True", "True"]


def test_editable_checkout_finds_the_top_level_styles() -> None:
    from mailsetup_tui.tui import styles

    for path in (
        styles.FORM,
        styles.LIMITED,
        styles.DIALOGS,
        styles.QUEUE,
        styles.RESULT_PANEL,
        styles.CHOICE_LIST,
        styles.NOTE_LINE,
    ):
        assert path.is_file() and path.parent == styles.styles_dir()
