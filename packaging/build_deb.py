"""`make deb`: mailsetup_VERSION_ARCH.deb and mailsetup-mta_VERSION_all.deb, with dpkg-deb.

mailsetup bundles the Python libraries Debian stable lacks at the needed versions in a venv
of its own under /usr/lib/mailsetup, on Debian's python3 (the venv is made in the staging
tree, then every path that names the staging tree is rewritten to the installed one). Its
maintainer scripts make the readers group, the relay's user, /etc/mailsetup and the spool,
and handle the units with deb-systemd-helper. mailsetup-mta provides /usr/sbin/sendmail,
mailq and newaliases, replacing another MTA as msmtp-mta and nullmailer do.

    python3 packaging/build_deb.py [--out DIR] [--revision N] [--python /usr/bin/python3]

Standard library only: it runs before any venv exists.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEBIAN = ROOT / "packaging" / "debian"
LIB = "/usr/lib/mailsetup"
OPT = "/opt/mailsetup"
"""Where the README's own venv lives; the units name it, and the package's units name LIB."""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--revision", default="1", help="the Debian revision (default 1)")
    parser.add_argument("--python", default="/usr/bin/python3", help="Debian's python3")
    args = parser.parse_args(argv)
    for tool in ("dpkg-deb", "dpkg"):
        if shutil.which(tool) is None:
            print(f"make deb: {tool} not found: build on Debian or Ubuntu (apt install dpkg-dev)")
            return 1
    upstream = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    version = f"{upstream}-{args.revision}"
    arch = _output("dpkg", "--print-architecture")
    build = args.out / "build"
    shutil.rmtree(build, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    main_deb = _build_mailsetup(build / "mailsetup", version, arch, args.python, args.out)
    mta_deb = _build_mta(build / "mailsetup-mta", version, args.out)
    shutil.rmtree(build)
    print(main_deb)
    print(mta_deb)
    return 0


# --- mailsetup -------------------------------------------------------------------------------


def _build_mailsetup(stage: Path, version: str, arch: str, python: str, out: Path) -> Path:
    lib = stage / LIB.lstrip("/")
    _run(python, "-m", "venv", str(lib))
    pip = [str(lib / "bin" / "python"), "-m", "pip"]
    _run(*pip, "install", "--quiet", "--no-compile", "--disable-pip-version-check", str(ROOT))
    _run(*pip, "uninstall", "--quiet", "--yes", "pip", "setuptools")
    _relocate(lib, stage)
    _run(str(lib / "bin" / "python"), str(ROOT / "packaging" / "manpages.py"), str(stage / "man"))
    for name in ("mailsetup", "mailsetup-sendmail"):
        _link(stage / "usr/bin" / name, f"../lib/mailsetup/bin/{name}")
        _gzip(stage / "man" / f"{name}.8", stage / "usr/share/man/man8" / f"{name}.8.gz")
    shutil.rmtree(stage / "man")
    # The venv's interpreter: Debian's, by a link that stays inside /usr (made last: in the
    # staging tree it leads nowhere).
    for link in (lib / "bin").iterdir():
        target = os.readlink(link) if link.is_symlink() else ""
        if target.startswith("/usr/bin/"):
            link.unlink()
            link.symlink_to("../../../bin/" + os.path.basename(target))
    units = stage / "lib/systemd/system"
    units.mkdir(parents=True)
    for unit in sorted((ROOT / "systemd").iterdir()):
        text = unit.read_text().replace(f"{OPT}/bin/mailsetup", "/usr/bin/mailsetup")
        (units / unit.name).write_text(text)
    _docs(stage, "mailsetup", version)
    doc = stage / "usr/share/doc/mailsetup"
    _gzip(ROOT / "README.md", doc / "README.md.gz")
    _install(
        DEBIAN / "mailsetup.lintian-overrides", stage / "usr/share/lintian/overrides/mailsetup"
    )
    control = stage / "DEBIAN"
    control.mkdir()
    for script in ("postinst", "prerm", "postrm"):
        _install(DEBIAN / f"mailsetup.{script}", control / script, mode=0o755)
    _control(stage, DEBIAN / "mailsetup.control", version, arch)
    return _pack(stage, out / f"mailsetup_{version}_{arch}.deb")


def _relocate(lib: Path, stage: Path) -> None:
    """The venv was made at its staging path: name the installed one wherever the staging
    path is written (the scripts' #! lines, pyvenv.cfg), drop what only a developer uses
    (activate scripts, the build's own record of where it came from), strip the native
    libraries, and make the modules a wheel marked executable plain files: one walk, each
    file read once."""
    staged = str(lib).encode()
    strip = shutil.which("strip")
    for cache in list(lib.rglob("__pycache__")):
        shutil.rmtree(cache)
    for path in list(lib.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if path.name.startswith("activate") or path.name in {"Activate.ps1", "direct_url.json"}:
            path.unlink()
            continue
        data = path.read_bytes()
        if data.startswith(b"\x7fELF"):
            if strip:
                _run(strip, "--strip-unneeded", "--remove-section=.comment", str(path))
            continue
        if staged in data:
            path.write_bytes(data.replace(staged, LIB.encode()))
        if path.stat().st_mode & 0o111 and not data.startswith(b"#!"):
            path.chmod(0o644)  # a library module marked executable by its wheel

    assert str(stage) not in "".join(
        p.read_text(errors="ignore") for p in (lib / "bin").iterdir() if p.is_file()
    )


# --- mailsetup-mta -----------------------------------------------------------------------------


def _build_mta(stage: Path, version: str, out: Path) -> Path:
    _link(stage / "usr/sbin/sendmail", "../lib/mailsetup/bin/mailsetup-sendmail")
    for name in ("mailq", "newaliases"):
        _link(stage / "usr/bin" / name, "../sbin/sendmail")
    _link(stage / "usr/lib/sendmail", "../sbin/sendmail")
    for name in ("sendmail", "mailq", "newaliases"):
        _link(stage / "usr/share/man/man8" / f"{name}.8.gz", "mailsetup-sendmail.8.gz")
    _docs(stage, "mailsetup-mta", version)
    _install(
        DEBIAN / "mailsetup-mta.lintian-overrides",
        stage / "usr/share/lintian/overrides/mailsetup-mta",
    )
    (stage / "DEBIAN").mkdir()
    _control(stage, DEBIAN / "mailsetup-mta.control", version, "all")
    return _pack(stage, out / f"mailsetup-mta_{version}_all.deb")


# --- the parts both share --------------------------------------------------------------------


def _docs(stage: Path, package: str, version: str) -> None:
    doc = stage / "usr/share/doc" / package
    _install(DEBIAN / "copyright", doc / "copyright")
    date = _output(
        "date", "-R", "-d", "@" + _output("git", "-C", str(ROOT), "log", "-1", "--format=%ct")
    )
    changelog = (
        f"{package} ({version}) unstable; urgency=medium\n\n"
        "  * Built from the mailsetup repository (see its git log).\n\n"
        f" -- mailsetup developers <maintainers@mailsetup.example.org>  {date}\n"
    )
    doc.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(doc / "changelog.Debian.gz", "wb", compresslevel=9, mtime=0) as file:
        file.write(changelog.encode())
    (doc / "changelog.Debian.gz").chmod(0o644)


def _control(stage: Path, template: Path, version: str, arch: str) -> None:
    size = sum(
        (path.stat().st_size + 1023) // 1024
        for path in stage.rglob("*")
        if path.is_file() and not path.is_symlink() and "DEBIAN" not in path.parts
    )
    text = template.read_text()
    values = {"VERSION": version, "ARCH": arch, "SIZE": str(size)} | python_versions(stage)
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    (stage / "DEBIAN/control").write_text(text)
    sums = []
    for path in sorted(stage.rglob("*")):
        if (
            path.is_file()
            and not path.is_symlink()
            and "DEBIAN" not in path.relative_to(stage).parts
        ):
            digest = hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - dpkg's format
            sums.append(f"{digest}  {path.relative_to(stage)}\n")
    (stage / "DEBIAN/md5sums").write_text("".join(sums))
    for path in stage.rglob("*"):  # root-owned, no group or world write, as dpkg expects
        if not path.is_symlink():
            mode = path.stat().st_mode & 0o7777
            path.chmod(mode & ~0o022 | (0o755 if path.is_dir() else 0))


def python_versions(stage: Path) -> dict[str, str]:
    """The venv works with the python3 minor version it was made with, and no other."""
    found = sorted((stage / LIB.lstrip("/") / "lib").glob("python3.*"))
    if not found:
        return {}
    minor = int(found[0].name.removeprefix("python3."))
    return {"PYTHON": f"3.{minor}", "PYTHON_NEXT": f"3.{minor + 1}"}


def _pack(stage: Path, deb: Path) -> Path:
    _run("dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(stage), str(deb), quiet=True)
    return deb


def _install(source: Path, target: Path, mode: int = 0o644) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)


def _gzip(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(target, "wb", compresslevel=9, mtime=0) as file:
        file.write(source.read_bytes())
    target.chmod(0o644)


def _link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def _run(*argv: str, quiet: bool = False) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL if quiet else None)  # noqa: S603 - our own build steps


def _output(*argv: str) -> str:
    finished = subprocess.run(argv, check=True, capture_output=True, text=True)  # noqa: S603
    return finished.stdout.strip()


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main(sys.argv[1:]))
