"""The Debian packages as an administrator meets them: built with `make deb`'s script, checked
with lintian, installed with apt into a fresh Debian 12 made by `debootstrap --variant=minbase`
(in a chroot), used there against a test server on loopback, upgraded and purged.

Runs where `.ci/run` asks for it ($MAILSETUP_DEB_TEST=1, as root, with debootstrap and lintian
installed and Debian's mirror reachable); `make test` elsewhere says in one line that it did
not. The bare root is kept in $MAILSETUP_DEBOOTSTRAP_CACHE between runs when that is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer

ROOT = Path(__file__).resolve().parent.parent
MIRROR = os.environ.get("MAILSETUP_DEBIAN_MIRROR", "http://deb.debian.org/debian")
WANTED = os.environ.get("MAILSETUP_DEB_TEST") == "1"

pytestmark = pytest.mark.skipif(
    not WANTED
    or os.geteuid() != 0
    or not all(shutil.which(tool) for tool in ("debootstrap", "dpkg-deb", "lintian", "chroot")),
    reason="the package test runs in CI ($MAILSETUP_DEB_TEST=1, root, debootstrap, lintian)",
)


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    finished = subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0, f"{argv}: {finished.stdout}\n{finished.stderr}"
    return finished


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both packages, and the main one again as revision 2 (the upgrade)."""
    out = tmp_path_factory.mktemp("debs")
    built = run("/usr/bin/python3", ROOT / "packaging" / "build_deb.py", "--out", out)
    main, mta = (Path(line) for line in built.stdout.split())
    unpacked = out / "unpacked"
    run("dpkg-deb", "-R", main, unpacked)
    control = unpacked / "DEBIAN" / "control"
    control.write_text(control.read_text().replace("-1\n", "-2\n", 1))
    upgrade = out / main.name.replace("-1_", "-2_")
    run("dpkg-deb", "--root-owner-group", "--build", unpacked, upgrade)
    return {"main": main, "mta": mta, "upgrade": upgrade}


def test_lintian_finds_no_error_and_no_warning(debs: dict[str, Path]) -> None:
    checked = subprocess.run(
        ["lintian", "--fail-on", "error,warning", str(debs["main"]), str(debs["mta"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture
def debian(tmp_path: Path) -> Iterator[Path]:
    """A fresh Debian 12 minbase root with /proc and /dev, removed afterwards."""
    cache = os.environ.get("MAILSETUP_DEBOOTSTRAP_CACHE")
    base = Path(cache) / "bookworm-minbase" if cache else tmp_path / "base"
    if not (base / "etc" / "debian_version").exists():
        partial = base.with_name(base.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        run("debootstrap", "--variant=minbase", "bookworm", partial, MIRROR)
        partial.rename(base)
    root = tmp_path / "root"
    run("cp", "-a", base, root)
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    mounted: list[Path] = []
    try:
        for source, target, kind in (("/dev", "dev", None), ("proc", "proc", "proc")):
            where = root / target
            if kind:
                run("mount", "-t", kind, source, where)
            else:
                run("mount", "--bind", source, where)
            mounted.append(where)
        yield root
    finally:
        for where in reversed(mounted):
            subprocess.run(["umount", "-l", str(where)], check=False)
        shutil.rmtree(root, ignore_errors=True)


def inside(
    root: Path,
    script: str,
    *,
    stdin: str = "",
    check: bool = True,
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "MAILSETUP_SYSLOG": "none",
        **(extra or {}),
    }
    finished = subprocess.run(
        ["chroot", str(root), "/bin/sh", "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if check:
        assert finished.returncode == 0, f"{script}\n{finished.stdout}\n{finished.stderr}"
    return finished


def test_installed_used_upgraded_and_purged_on_a_fresh_debian(
    debian: Path,
    debs: dict[str, Path],
    starttls_server: SmtpServer,
    certificates: Certificates,
) -> None:
    for deb in debs.values():
        shutil.copy(deb, debian / "tmp" / deb.name)
    main, mta, upgrade = (f"/tmp/{debs[key].name}" for key in ("main", "mta", "upgrade"))
    inside(debian, "apt-get update -q")
    # A host that already has an MTA, as the issue found it: Postfix.
    inside(
        debian,
        "echo 'postfix postfix/main_mailer_type select No configuration' "
        "| debconf-set-selections && apt-get install -y -q --no-install-recommends postfix",
    )
    inside(debian, f"apt-get install -y -q {main} {mta}")
    # mailsetup-mta replaced it the Debian way (Conflicts/Replaces: mail-transport-agent).
    assert inside(debian, "dpkg-query -W -f '${Status}' postfix", check=False).stdout in {
        "",
        "deinstall ok config-files",
    }

    # On the PATH, with its pages, its group, user and directories.
    assert inside(debian, "mailsetup --version").stdout.startswith("mailsetup ")
    page = inside(debian, "man -P cat 8 mailsetup").stdout
    assert "EXIT STATUS" in page and "sendmail" in page
    assert "sendmail" in inside(debian, "man -P cat 8 mailsetup-sendmail").stdout
    assert inside(debian, "getent group mailsetup").stdout.startswith("mailsetup:")
    user = inside(debian, "getent passwd mailsetup").stdout.split(":")
    assert user[6].strip() == "/usr/sbin/nologin"
    assert inside(debian, "stat -c '%U:%G %a' /etc/mailsetup").stdout.strip() == (
        "root:mailsetup 750"
    )
    assert inside(debian, "stat -c '%U %a' /var/lib/mailsetup").stdout.strip() == "mailsetup 700"
    assert inside(debian, "readlink -f /usr/sbin/sendmail").stdout.strip() == (
        "/usr/lib/mailsetup/bin/mailsetup-sendmail"
    )
    assert "mailsetup's sendmail" in inside(debian, "mailsetup sendmail --which").stdout
    assert (debian / "lib/systemd/system/mailsetup-relay.service").exists()

    # An account saved against the test server on loopback, and a message through sendmail.
    shutil.copy(certificates.ca_file, debian / "etc" / "ssl" / "test-ca.pem")
    inside(
        debian,
        "mailsetup save --smtp-mail other --display-name Codes "
        f"--email {LOGIN} --server {HOST} --port {starttls_server.port} "
        "--ca-file /etc/ssl/test-ca.pem --password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert (debian / "etc/mailsetup/account.toml").exists()
    # The relay's user reads it: the first save took /etc/mailsetup's readers group.
    inside(debian, "runuser -u mailsetup -- env HOME=/var/lib/mailsetup mailsetup test")
    inside(debian, "printf 'To: alice@example.org\\nSubject: hi\\n\\nbody\\n' | sendmail -t")
    assert [d.rcpt_tos for d in starttls_server.handler.delivered] == [["alice@example.org"]]
    assert "There is no queue" in inside(debian, "mailq").stdout
    inside(debian, "newaliases")

    # An upgrade keeps the account, the group, the user and the queue.
    gid = inside(debian, "getent group mailsetup").stdout
    queued = debian / "var/lib/mailsetup/spool/queue/kept-across-the-upgrade"
    queued.parent.mkdir(parents=True)
    queued.write_text("a message waiting\n")
    inside(debian, f"apt-get install -y -q {upgrade}")
    assert queued.read_text() == "a message waiting\n"
    assert inside(debian, "dpkg-query -W -f '${Version}' mailsetup").stdout.endswith("-2")
    depends = inside(debian, "dpkg-query -W -f '${Depends}' mailsetup").stdout
    assert "python3 (>= 3.11), python3 (<< 3.12)" in depends
    assert inside(debian, "getent group mailsetup").stdout == gid
    shown = inside(debian, "mailsetup show").stdout
    assert LOGIN in shown and PASSWORD not in shown

    # Remove keeps /etc/mailsetup; purge removes everything.
    inside(debian, "apt-get remove -y -q mailsetup-mta mailsetup")
    assert (debian / "etc/mailsetup/account.toml").exists()
    assert not (debian / "usr/lib/mailsetup").exists()
    inside(debian, "apt-get purge -y -q mailsetup-mta mailsetup")
    assert not (debian / "etc/mailsetup").exists()
    assert not (debian / "var/lib/mailsetup").exists()
    assert inside(debian, "getent passwd mailsetup", check=False).returncode != 0
    assert not (debian / "usr/sbin/sendmail").exists()


def test_the_build_needs_no_venv_of_the_checkout() -> None:
    """`make deb` runs the script with Debian's python3: standard library only."""
    text = (ROOT / "packaging" / "build_deb.py").read_text()
    imported = {
        line.split()[1].split(".")[0]
        for line in text.splitlines()
        if line.startswith(("import ", "from ")) and "__future__" not in line
    }
    assert imported <= set(sys.stdlib_module_names), imported


def test_the_readmes_two_commands_on_a_fresh_debian(debian: Path) -> None:
    """With only the prerequisites the README names for Debian: `make run` runs mailsetup and
    `make test`'s steps pass (its venv with the test tools, lint, and the Makefile's and CLI's
    tests; mypy and the whole suite run in CI outside the chroot)."""
    readme = (ROOT / "README.md").read_text()
    line = next(line for line in readme.splitlines() if line.startswith("apt install python3"))
    packages = line.split("#")[0].split()[2:]
    inside(debian, "apt-get update -q")
    inside(debian, f"apt-get install -y -q --no-install-recommends {' '.join(packages)}")
    run("git", "clone", "-q", ROOT, debian / "root" / "mailsetup")
    # This machine's own way out to PyPI (a sandbox may inspect TLS with a CA of its own):
    # the network's trust, not a prerequisite of the project.
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", debian / "etc" / "host-ca.pem")
    network = {"PIP_CERT": "/etc/host-ca.pem", "SSL_CERT_FILE": "/etc/host-ca.pem"}
    ran = inside(debian, "cd /root/mailsetup && make run ARGS=--version", extra=network)
    assert "mailsetup " in ran.stdout
    inside(
        debian,
        "cd /root/mailsetup && make lint pytest PYTEST_JOBS=1 "
        "PYTEST_ARGS='tests/test_makefile.py tests/test_cli.py -q'",
        extra=network,
    )
