"""Running the real `mailsetup` in a subprocess, as scripts and fleets do."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from support.dns import empty_nameserver

TESTS_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def mailsetup_env(
    tmp_path: Path, *, keyring_file: Path | None = None, **extra: str
) -> dict[str, str]:
    """An environment with config, home and keyring inside `tmp_path`.

    With `keyring_file`, keyring is a JSON file the test can read; without, keyring has no
    backend at all (the headless-server case) and the secret goes to the fallback file.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MAILSETUP_", "PYTHON_KEYRING", "SSL_CERT"))
        # Sign-in tests talk HTTPS to 127.0.0.1, never through the machine's proxy.
        and key.lower()
        not in {
            "https_proxy",
            "http_proxy",
            "all_proxy",
            "requests_ca_bundle",
            "curl_ca_bundle",
        }
    }
    env |= {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
        "MAILSETUP_CONFIG": str(tmp_path / "config" / "account.toml"),
        "PYTHONPATH": str(TESTS_DIR),
        "MAILSETUP_SYSLOG": "none",  # never the machine's journal
        # Never the machine's relay: a test that wants one starts its own.
        "MAILSETUP_RELAY_SOCKET": str(tmp_path / "no-relay.sock"),
        # Never the machine's DNS: a resolver of the tests' own that knows no name.
        "MAILSETUP_NAMESERVER": empty_nameserver(),
    }
    if keyring_file is not None:
        env["PYTHON_KEYRING_BACKEND"] = "support.keyrings.JsonFileKeyring"
        env["MAILSETUP_TEST_KEYRING"] = str(keyring_file)
    else:
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env |= extra
    return env


def run_mailsetup(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> Ran:
    finished = subprocess.run(
        [sys.executable, "-m", "mailsetup_tui", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return Ran(finished.returncode, finished.stdout, finished.stderr)
