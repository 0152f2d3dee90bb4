"""Throwaway system users and a group, and running mailsetup as one of them.

For the tests of the system account: root saves it, a service user in its readers group uses
it, a stranger may not. The users and the group are created with useradd/groupadd and removed
afterwards. Running as one of them forks this (root) process and drops to that user's uid, gid
and groups before the CLI runs: the same code, under that user's permissions. (A separate
interpreter would not do: this project's Python lives under /root, which no other user may
read.)
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pwd
import secrets
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mailsetup_tui.cli.commands import NAMES

from support.cli import Ran


@dataclass(frozen=True)
class Users:
    group: str
    service: str
    """In the readers group: the user a service sends the codes as."""
    stranger: str
    """Not in the group: any other local user."""


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def throwaway_users() -> Iterator[Users]:
    tag = secrets.token_hex(3)
    users = Users(f"mst-readers-{tag}", f"mst-svc-{tag}", f"mst-other-{tag}")
    nologin = "/usr/sbin/nologin"
    created: list[tuple[str, ...]] = []
    try:
        _run("groupadd", "--system", users.group)
        created.append(("groupdel", users.group))
        for name, groups in ((users.service, [users.group]), (users.stranger, [])):
            extra = ["--groups", ",".join(groups)] if groups else []
            _run("useradd", "--system", "--no-create-home", "--shell", nologin, *extra, name)
            created.append(("userdel", name))
        yield users
    finally:
        for command in reversed(created):
            with contextlib.suppress(subprocess.CalledProcessError):
                _run(*command)


PRELOAD = (
    "concurrent.futures.thread",
    "getpass",
    "platformdirs",
    "email.generator",
    "email.mime.text",
    "encodings.idna",
    "importlib.metadata",
    "cryptography.x509",
    "cryptography.hazmat.primitives.hashes",
    "keyring",
    "keyring.backends.fail",
    "keyring.backends.null",
    "keyring.backends.chainer",
    "email.encoders",
    "email.parser",
    "email.policy",
    "mailsetup_tui.cli.commands",
    # Each command's module is loaded only when the command is named (cli.commands).
    *(f"mailsetup_tui.cli.commands.{name}" for name in NAMES),
    "mailsetup_tui.cli.main",
    "mailsetup_tui.cli.options",
    "mailsetup_tui.sendmail",
    "mailsetup_tui.sendmail.handoff",
    "mailsetup_tui.sendmail.command",
    "mailsetup_tui.core.relay_wire",
    "mailsetup_tui.mail_log",
    "pwd",
    "_strptime",  # ssl.cert_time_to_seconds: when the server's certificate ends
    "mailsetup_tui.core.message",
    "mailsetup_tui.core.step_log",
    "mailsetup_tui.cli.credentials",
    "mailsetup_tui.cli.output",
    "mailsetup_tui.cli.parser",
    "mailsetup_tui.core.hardening",
    "mailsetup_tui.core.mailer",
    "mailsetup_tui.core.delivery",
    "mailsetup_tui.core.credential",
    "mailsetup_tui.core.handover",
    "mailsetup_tui.core.session",
    "mailsetup_tui.line_mode.wizard",
    # Loaded on first use since the form's start-up stopped loading them.
    "mailsetup_tui.core.oauth",
    "mailsetup_tui.core.failures",
    "mailsetup_tui.core.spool",
    "mailsetup_tui.core.relay_status",
    "json",
    "tomli_w",
    "tomllib",
)
"""What the code imports on first use: loaded before the child drops to another user, who may
not read this interpreter's files (they live under /root)."""


def as_user(user: str, work: Callable[[], int], *, env: dict[str, str], stdin: str = "") -> Ran:
    """Run `work` in a child process that is `user` (uid, primary and supplementary groups)
    with `env` as its environment and `stdin` as standard input; its standard output and
    error, and the exit code it returns, come back."""
    for module in PRELOAD:
        importlib.import_module(module)
    entry = pwd.getpwnam(user)
    groups = os.getgrouplist(user, entry.pw_gid)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 99
            try:
                os.setgroups(groups)
                os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
                os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)
                os.environ.clear()
                os.environ.update(env)
                sys.stdin = io.StringIO(stdin)
                sys.stdout, sys.stderr = out, err
                code = work()
            except BaseException:
                traceback.print_exc(file=err)
            finally:
                out.flush()
                err.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return Ran(os.waitstatus_to_exitcode(status), out.read(), err.read())


def mailsetup_as(user: str, *argv: str, env: dict[str, str], stdin: str = "") -> Ran:
    """`mailsetup ARGV` as `user`."""
    from mailsetup_tui import cli

    return as_user(user, lambda: cli.run(list(argv)), env=env, stdin=stdin)
