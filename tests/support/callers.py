"""Real programs that call sendmail, from Debian's packages: the sendmail command's tests
drive it through them (.ci/run installs them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

S_NAIL = shutil.which("s-nail")
GIT = shutil.which("git")


def git_send_email() -> bool:
    """Whether `git send-email` (Debian's git-email) is installed."""
    if GIT is None:
        return False
    found = subprocess.run([GIT, "--exec-path"], capture_output=True, text=True, check=False)
    return (Path(found.stdout.strip()) / "git-send-email").exists()


def missing() -> list[str]:
    """The callers not installed here."""
    absent = [] if S_NAIL else ["s-nail"]
    return absent if git_send_email() else [*absent, "git send-email"]
