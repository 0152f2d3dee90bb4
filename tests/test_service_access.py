"""The system account as a Debian server uses it, with real users: root saves it, a service
user in its readers group tests and sends with it, a stranger can neither read nor change it.

Needs root (to create the throwaway users and group, and to save the system account); CI
runs as root. Elsewhere these tests are skipped, and `make test` says so.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.store import AccountStore, Chosen, ConfigLocation

from support.cli import Ran, mailsetup_env
from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer
from support.users import Users, as_user, mailsetup_as, throwaway_users

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="SKIPPED: the system-account tests need root (throwaway users, /etc-like files)",
)


@dataclass
class System:
    """A system account location that the throwaway users can reach, and their groups."""

    users: Users
    root: Path
    config: Path
    ca_file: Path
    env: dict[str, str]
    """For root: no $MAILSETUP_CONFIG, so the lookup order decides."""

    def env_of(self, user: str) -> dict[str, str]:
        home = self.root / "home" / user
        return self.env | {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}

    def run(self, user: str, *argv: str, stdin: str = "") -> Ran:
        return mailsetup_as(user, *argv, env=self.env_of(user), stdin=stdin)

    def run_as_root(self, *argv: str, stdin: str = "") -> Ran:
        return mailsetup_as("root", *argv, env=self.env, stdin=stdin)


@pytest.fixture
def system(tmp_path: Path, certificates: Certificates) -> Iterator[System]:
    # Reachable by the service user: pytest's own temporary directories are root's, 0700.
    root = Path(tempfile.mkdtemp(prefix="mailsetup-system-"))
    root.chmod(0o755)
    (root / "etc").mkdir(mode=0o755)
    ca_file = root / "ca.pem"
    shutil.copy(certificates.ca_file, ca_file)
    ca_file.chmod(0o644)
    config = root / "etc" / "mailsetup" / "account.toml"
    env = mailsetup_env(tmp_path)
    del env["MAILSETUP_CONFIG"]
    env |= {"MAILSETUP_SYSTEM_CONFIG": str(config), "PYTHON_KEYRING_BACKEND": ""}
    try:
        with throwaway_users() as users:
            yield System(users, root, config, ca_file, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def save_as_root(system: System, port: int, *extra: str) -> Ran:
    ran = system.run_as_root(
        "save", "--smtp-mail", "other", "--display-name", "Acme Verification",
        "--email", LOGIN, "--server", HOST, "--port", str(port), "--password-stdin",
        "--ca-file", str(system.ca_file), *extra, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    return ran


def mode_and_group(path: Path) -> tuple[int, str]:
    import grp

    info = path.stat()
    return stat.S_IMODE(info.st_mode), grp.getgrgid(info.st_gid).gr_name


def test_root_saves_the_system_account_in_its_place_never_in_a_keyring(
    system: System, starttls_server: SmtpServer
) -> None:
    ran = save_as_root(system, starttls_server.port)
    assert f"Saved to {system.config}" in ran.lines
    secret = system.config.with_name("account.secret")
    assert any(
        line.startswith(f"Password stored in the file {secret} (mode 0600; a system account")
        for line in ran.lines
    )
    assert mode_and_group(system.config)[0] == 0o600
    shown = system.run_as_root("show")
    assert "Account:          the system account, since you are root" in shown.out


def test_a_service_in_the_readers_group_tests_sends_and_shows(
    system: System, starttls_server: SmtpServer
) -> None:
    save_as_root(system, starttls_server.port)
    users = system.users
    granted = system.run_as_root("access", "--group", users.group)
    assert granted.code == 0, granted.err
    assert users.service in granted.out
    assert mode_and_group(system.config.parent) == (0o750, users.group)
    for path in (system.config, system.config.with_name("account.secret")):
        assert mode_and_group(path) == (0o640, users.group), path

    tested = system.run(users.service, "test")
    assert tested.code == 0, tested.out + tested.err
    shown = system.run(users.service, "show")
    assert shown.code == 0, shown.err
    assert "the system account, since you have no account of your own" in shown.out
    assert PASSWORD not in shown.out
    sent = system.run(
        users.service, "send", "--to", "alice@example.org", stdin="Your code is 482913.\n"
    )
    assert sent.code == 0, sent.out + sent.err
    (delivered,) = starttls_server.handler.delivered
    assert b"Your code is 482913." in delivered.data

    def api() -> int:
        from mailsetup_tui.core.mailer import Mailer

        Mailer.from_saved().send("bob@example.org", "Code", "Your code is 111111.")
        return 0

    through_api = as_user(users.service, api, env=system.env_of(users.service))
    assert through_api.code == 0, through_api.err
    assert len(starttls_server.handler.delivered) == 2


def test_only_the_owner_changes_the_account(system: System, starttls_server: SmtpServer) -> None:
    save_as_root(system, starttls_server.port)
    users = system.users
    system.run_as_root("access", "--group", users.group)
    before = system.config.read_bytes()
    for argv in (
        ["save", "--password-stdin"],
        ["access", "--group", users.group],
        ["access", "--none"],
    ):
        ran = system.run(users.service, *argv, stdin="other-password\n")
        assert ran.code == 3, (argv, ran.out, ran.err)
        assert "only root can change the system account" in ran.err
        assert "internal error" not in ran.err
    assert system.config.read_bytes() == before


def test_a_stranger_can_neither_read_nor_use_the_account(
    system: System, starttls_server: SmtpServer
) -> None:
    save_as_root(system, starttls_server.port)
    users = system.users
    system.run_as_root("access", "--group", users.group)
    for argv in (["test"], ["show"], ["send", "--to", "a@example.org"]):
        ran = system.run(users.stranger, *argv, stdin="x\n")
        assert ran.code == 3, (argv, ran.out, ran.err)
        assert "Permission denied" in ran.err
        assert "internal error" not in ran.err
        assert PASSWORD not in ran.out + ran.err

    def read_secret() -> int:
        try:
            system.config.with_name("account.secret").read_text()
        except PermissionError:
            return 13
        return 0

    assert as_user(users.stranger, read_secret, env=system.env_of(users.stranger)).code == 13
    assert starttls_server.handler.delivered == []


def sendmail_as(system: System, user: str, *argv: str, message: bytes) -> Ran:
    """The sendmail command as `user`, as a service's mail() call runs it."""

    def work() -> int:
        from mailsetup_tui import sendmail

        return sendmail.run(list(argv), stdin=io.BytesIO(message))

    return as_user(user, work, env=system.env_of(user))


def test_services_send_through_the_sendmail_command_and_strangers_get_77(
    system: System, starttls_server: SmtpServer
) -> None:
    save_as_root(system, starttls_server.port)
    users = system.users
    system.run_as_root("access", "--group", users.group)
    log = system.root / "log" / "sendmail.log"
    log.parent.mkdir(mode=0o755)
    configured = system.run_as_root("aliases", "root=ops@acme.example", "--log", str(log))
    assert configured.code == 0, configured.err
    assert mode_and_group(log) == (0o660, users.group)  # the senders can append to it

    sent = sendmail_as(system, users.service, "-i", "root", message=b"Subject: disk\n\n/var full\n")
    assert (sent.code, sent.err) == (0, "")
    (delivered,) = starttls_server.handler.delivered
    assert delivered.rcpt_tos == ["ops@acme.example"]
    assert delivered.data.endswith(b"\r\n\r\n/var full\r\n")

    refused = sendmail_as(system, users.stranger, "-i", "root", message=b"Subject: x\n\nx\n")
    assert refused.code == 77, refused.err
    assert "the relay is not running" in refused.err
    assert "you cannot read the account" in refused.err and "Permission denied" in refused.err
    assert len(starttls_server.handler.delivered) == 1

    (line,) = log.read_text().splitlines()
    assert f"caller={users.service} " in line and line.endswith("exitcode=EX_OK")
    changed = system.run(users.service, "aliases", "root=attacker@evil.example")
    assert changed.code == 3
    assert "only root can change the system account" in changed.err


def test_a_later_save_keeps_the_readers_group(system: System, starttls_server: SmtpServer) -> None:
    save_as_root(system, starttls_server.port)
    users = system.users
    system.run_as_root("access", "--group", users.group)
    save_as_root(system, starttls_server.port)  # e.g. a new app password
    for path in (system.config, system.config.with_name("account.secret")):
        assert mode_and_group(path) == (0o640, users.group), path
    assert system.run(users.service, "test").code == 0
    listed = system.run_as_root("access")
    assert f"the group {users.group} may use it" in listed.out
    assert users.service in listed.out
    revoked = system.run_as_root("access", "--none")
    assert revoked.code == 0, revoked.err
    assert mode_and_group(system.config)[0] == 0o600
    assert system.run(users.service, "test").code == 3


def test_group_given_at_save_is_recorded(system: System, starttls_server: SmtpServer) -> None:
    save_as_root(system, starttls_server.port, "--group", system.users.group)
    assert f'group = "{system.users.group}"' in system.config.read_text()
    assert system.run(system.users.service, "test").code == 0


def test_a_reader_refreshing_a_sign_in_writes_nothing(system: System) -> None:
    # What a service in the group does when Microsoft rotates the refresh token: it keeps
    # using the stored one (which stays valid) and cannot, and does not try to, write.
    from support.authserver import microsoft_account

    store = AccountStore(system.config, location=ConfigLocation(system.config, Chosen.ROOT))
    account = microsoft_account(587, "https://login.example")
    store.save(account, "rt-stored")
    store.set_readers(system.users.group)
    secret = system.config.with_name("account.secret")
    before = secret.read_bytes()

    def rotate() -> int:
        SetupSession.at().keep_rotated_refresh_token(account, "rt-newer")
        return 0

    assert as_user(system.users.service, rotate, env=system.env_of(system.users.service)).code == 0
    assert secret.read_bytes() == before
    SetupSession(store).keep_rotated_refresh_token(account, "rt-newer")  # the owner's does
    assert store.read_secret(account) == "rt-newer"


def test_an_unreadable_ca_file_is_a_usage_error_not_an_internal_error(system: System) -> None:
    private = system.root / "private"
    private.mkdir(mode=0o700)
    (private / "ca.pem").write_text("not for others")
    ran = system.run(system.users.stranger, "--ca-file", str(private / "ca.pem"), "show")
    assert ran.code == 2, ran.out + ran.err
    assert "cannot be read (Permission denied)" in ran.err


def test_a_ca_the_readers_cannot_read_is_warned_of_and_is_a_config_error_for_them(
    system: System, starttls_server: SmtpServer
) -> None:
    private = system.root / "root-only"
    private.mkdir(mode=0o700)
    ca = private / "ca.pem"
    ca.write_bytes(system.ca_file.read_bytes())
    ran = system.run_as_root(
        "save", "--smtp-mail", "other", "--display-name", "Acme Verification",
        "--email", LOGIN, "--server", HOST, "--port", str(starttls_server.port),
        "--password-stdin", "--ca-file", str(ca), "--group", system.users.group,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert f"Warning: the group {system.users.group} cannot read the CA file {ca}" in ran.out
    access = system.run_as_root("access")
    assert f"warning: the group {system.users.group} cannot read the CA file" in access.out
    tested = system.run(system.users.service, "test")
    assert tested.code == 3, tested.out + tested.err
    assert str(ca) in tested.err and "internal error" not in tested.err


def test_a_first_save_takes_the_readers_group_root_gave_the_directory(
    system: System, starttls_server: SmtpServer
) -> None:
    """As the Debian package leaves /etc/mailsetup (root:mailsetup 0750): the first save lets
    that group read the account, so the relay's user can send with it at once."""
    import grp

    users = system.users
    directory = system.config.parent
    directory.mkdir(mode=0o750)
    os.chown(directory, 0, grp.getgrnam(users.group).gr_gid)
    directory.chmod(0o750)
    save_as_root(system, starttls_server.port)
    for path in (system.config, system.config.with_name("account.secret")):
        assert mode_and_group(path) == (0o640, users.group), path
    tested = system.run(users.service, "test")
    assert tested.code == 0, tested.out + tested.err
    stranger = system.run(users.stranger, "test")
    assert stranger.code == 3
