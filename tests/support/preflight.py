"""What `make test` will not run on this machine, said in one line each before pytest starts."""

from __future__ import annotations

import os
import shutil

from support import callers
from support.mailsystem import missing

if __name__ == "__main__":
    reason = missing()
    print(
        f"interop suite (tests/interop): skipped, {reason}"
        if reason
        else "interop suite (tests/interop): runs against private Postfix and Dovecot"
    )
    if os.geteuid() != 0:
        print("system-account tests (tests/test_service_access.py): skipped, they need root")
        print("relay system tests (tests/test_relay_system.py): skipped, they need root")
    elif not (shutil.which("ip") and shutil.which("unshare")):
        print("relay's foreign-peer test: skipped, needs ip (iproute2) and unshare (util-linux)")
    if not shutil.which("systemd-analyze"):
        print("systemd units (tests/test_relay_units.py): verify skipped, needs systemd-analyze")
    if os.environ.get("MAILSETUP_DEB_TEST") != "1":
        print(
            "Debian packages (tests/test_debian_package.py): skipped, .ci/run builds and "
            "installs them in a debootstrap'd Debian (MAILSETUP_DEB_TEST=1, as root)"
        )
    absent = callers.missing()
    if absent:
        print(
            f"sendmail callers (tests/test_sendmail.py): {', '.join(absent)} skipped, not installed"
        )
