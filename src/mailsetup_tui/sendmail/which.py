"""`sendmail --which`: which program /usr/sbin/sendmail (and mailq, newaliases) really is.

On a Debian host that had an MTA, `ln -s` says "File exists" and `update-alternatives` says
"using ..." while the other MTA's binary stays in place: the administrator cannot tell from
either whether cron's mail now goes through mailsetup. This follows each link to the program
at its end, says whose it is (ours, or which package's), and names a dpkg diversion in place.
Paths are read under $DPKG_ROOT when it is set, as dpkg reads them (an image being built).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import TextIO

SENDMAIL = "/usr/sbin/sendmail"
COMPANIONS = ("/usr/bin/mailq", "/usr/bin/newaliases", "/usr/sbin/mailq", "/usr/sbin/newaliases")
"""Where other MTAs put the links that come with sendmail (Debian: /usr/bin)."""
DIVERTED_SUFFIX = ".before-mailsetup"
MARK = b"mailsetup_tui"
"""What the head of our console scripts holds (`from mailsetup_tui... import main`)."""


def run_which(paths: list[str], *, out: TextIO) -> int:
    """Describe `paths` (default: sendmail and its companions); 0 when the first is ours."""
    root = os.environ.get("DPKG_ROOT", "")
    first, *others = paths or [SENDMAIL, *COMPANIONS]
    ours = _describe(first, root, out, required=True)
    for path in others:
        _describe(path, root, out, required=False)
    if not ours:
        print(_how_to_install(first), file=out)
    return 0 if ours else 1


def _describe(path: str, root: str, out: TextIO, *, required: bool) -> bool:
    chain, end = _follow(path, root)
    if end is None:
        if required:
            print(f"{path} does not exist: nothing on this host is sendmail.", file=out)
        return False
    shown_chain = " -> ".join(chain)
    ours = _is_ours(Path(root + end))
    if ours:
        print(f"{shown_chain}: mailsetup's sendmail.", file=out)
        problem = _not_runnable_by_others(Path(root + end), root)
        if problem:
            print(f"  Other users cannot run it: {problem}.", file=out)
    else:
        owner = _package_of(end, root)
        whose = f"the {owner} package's" if owner else "not from any package"
        print(f"{shown_chain}: not mailsetup's ({whose}).", file=out)
    diversion = _diversion(path, root)
    if diversion:
        print(f"  {diversion}", file=out)
    return ours


def _follow(path: str, root: str) -> tuple[list[str], str | None]:
    """The links from `path` to the file at their end (None: a dangling link, or none)."""
    chain = [path]
    current = path
    for _ in range(40):  # as the kernel's limit on nested links
        full = root + current
        if not os.path.islink(full):
            return chain, current if os.path.exists(full) else None
        target = os.readlink(full)
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
        chain.append(current)
    return chain, None


def _is_ours(program: Path) -> bool:
    try:
        with program.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and MARK in head


def _not_runnable_by_others(program: Path, root: str) -> str | None:
    """Why a service's user (not root, not the owner) could not run the script: the script
    or its interpreter is not executable by others, or a directory above it is not
    searchable (a venv built from an interpreter under /root fails with exit 126)."""
    with program.open("rb") as file:
        interpreter = file.readline()[2:].split()[0].decode(errors="replace")
    top = Path(root or "/")
    for target in (program, Path(root + interpreter)):
        resolved = Path(os.path.realpath(target))
        for place in [resolved, *resolved.parents]:
            try:
                mode = place.stat().st_mode
            except OSError as error:
                return f"{_inside(place, root)}: {error.strerror}"
            if not mode & stat.S_IXOTH:
                kind = "directory" if stat.S_ISDIR(mode) else "file"
                return (
                    f"{_inside(place, root)} ({kind}, mode {stat.S_IMODE(mode):04o}) "
                    "is not open to others"
                )
            if place == top:  # what holds $DPKG_ROOT is not the system's
                break
    return None


def _inside(place: Path, root: str) -> str:
    """`place` as the system under $DPKG_ROOT names it."""
    if root and place.is_relative_to(root):
        return "/" + str(place.relative_to(root))
    return str(place)


def _package_of(path: str, root: str) -> str | None:
    """The Debian package that installed `path` (None: none, or no dpkg here)."""
    answer = _dpkg("dpkg-query", "--search", path, root=root)
    for line in (answer or "").splitlines():
        package, _, owned = line.partition(": ")
        if owned.strip() == path and "diversion" not in package:
            return package
    return None


def _diversion(path: str, root: str) -> str | None:
    line = (_dpkg("dpkg-divert", "--list", path, root=root) or "").strip()
    return line[0].upper() + line[1:] + "." if line else None


def _dpkg(tool: str, *args: str, root: str) -> str | None:
    """What one of dpkg's tools prints, under $DPKG_ROOT as dpkg reads it; None where there is
    no dpkg (not Debian) or it says no."""
    program = shutil.which(tool)
    if program is None:
        return None
    finished = subprocess.run(  # noqa: S603 - a fixed program, the path as one argument
        [program, *args],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"DPKG_ROOT": root} if root else None,
    )
    return finished.stdout if finished.returncode == 0 else None


def _how_to_install(path: str) -> str:
    """The Debian way (the other MTA's program is kept, renamed, and dpkg keeps its upgrades
    there), with this installation's sendmail command."""
    ours = Path(sys.executable).parent / "mailsetup-sendmail"
    kept = path + DIVERTED_SUFFIX
    return (
        f"To make {path} mailsetup's, as root (the other MTA's program is kept as\n"
        f"{kept}, and its upgrades go there):\n"
        f"  dpkg-divert --local --rename --divert {kept} --add {path}\n"
        f"  ln -s {ours} {path}\n"
        f"To undo: rm {path} && dpkg-divert --local --rename --remove {path}"
    )
