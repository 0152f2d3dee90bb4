"""What `make test` will not run on this machine, said in one line each before pytest starts."""

from __future__ import annotations

import os

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
    absent = callers.missing()
    if absent:
        print(
            f"sendmail callers (tests/test_sendmail.py): {', '.join(absent)} skipped, not installed"
        )
