"""The two commands' first step on a fresh machine: the venv `make run` and `make test` make.

A missing prerequisite stops the build with one line that names the package to install and
leaves nothing behind; a half-made `.venv` from an earlier run is made again, not taken as
done. Run in a temp dir holding the Makefile and pyproject.toml (the venv step needs no more).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")


def project(tmp_path: Path) -> Path:
    tmp_path.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def make(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """make as a user runs it (not as a sub-make of `make test`, which prefixes its lines)."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}}
    return subprocess.run(
        ["make", "-s", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def fake_python(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "python3"
    path.write_text(f'#!/bin/sh\n{body}\nexec {sys.executable} "$@"\n')
    path.chmod(0o755)
    return path


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_without_the_venv_module_one_line_names_the_package_and_nothing_is_left(
    tmp_path: Path,
) -> None:
    """Debian's python3 without python3-venv: `-m venv` cannot make a working venv."""
    directory = project(tmp_path / "checkout")
    no_venv = fake_python(
        tmp_path,
        'case "$*" in *ensurepip*|*"-m venv"*) '
        "echo \"No module named 'ensurepip'\" >&2; exit 1;; esac",
    )
    ran = make(directory, "venv", f"PYTHON={no_venv}")
    assert ran.returncode != 0
    ours = [line for line in ran.stderr.splitlines() if not line.startswith("make: ***")]
    assert ours == [
        f"make: {no_venv} cannot make a venv: install its venv module "
        "(Debian/Ubuntu: apt install python3-venv)"
    ]
    assert not (directory / ".venv").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_an_old_python_is_named_with_its_version(tmp_path: Path) -> None:
    directory = project(tmp_path / "checkout")
    old = fake_python(
        tmp_path, 'case "$*" in *version_info*) exit 1;; *python_version*) echo 3.9.2; exit;; esac'
    )
    ran = make(directory, "venv", f"PYTHON={old}")
    assert ran.returncode != 0
    assert f"make: {old} is Python 3.9.2; mailsetup needs 3.11 or newer" in ran.stderr
    assert not (directory / ".venv").exists()


@pytest.mark.skipif(
    shutil.which("make") is None or not SYSTEM_PYTHON.exists(),
    reason="needs make and the system's python3",
)
def test_a_half_made_venv_is_made_again(tmp_path: Path) -> None:
    """What a first run without python3-venv used to leave: bin/python and no pip."""
    directory = project(tmp_path / "checkout")
    half = directory / ".venv" / "bin"
    half.mkdir(parents=True)
    (half / "python").symlink_to(SYSTEM_PYTHON)
    ran = make(directory, "venv", f"PYTHON={SYSTEM_PYTHON}")
    assert ran.returncode == 0, ran.stderr
    assert (directory / ".venv" / ".created").exists()
    pip = subprocess.run(
        [str(half / "python"), "-m", "pip", "--version"], capture_output=True, check=False
    )
    assert pip.returncode == 0
    again = make(directory, "venv", f"PYTHON={SYSTEM_PYTHON}")  # made: nothing to do
    assert (again.returncode, again.stdout) == (0, "")
