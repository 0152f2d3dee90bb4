"""Keeping secrets in memory out of core dumps.

A crashing process dumps its memory, a password or a refresh token included, to a file that
outlives the process (and, with systemd-coredump, is kept for days). A process that may hold a
secret therefore asks for no core dumps at all, and on Linux also marks itself not dumpable,
which keeps other processes of the same user from attaching a debugger to read it.
"""

from __future__ import annotations

import contextlib
import ctypes
import resource
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def no_core_dumps() -> None:
    """RLIMIT_CORE to 0 (soft and hard: a child cannot raise it again), and on Linux
    PR_SET_DUMPABLE 0. Best effort: where either is not possible, the other still holds."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def dumpable() -> bool | None:
    """Whether this process may dump core (Linux); None where it cannot be asked."""
    if not sys.platform.startswith("linux"):
        return None
    return bool(_libc().prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


def _libc() -> ctypes.CDLL:
    # The C library this interpreter already runs with: no search (find_library would spawn
    # ldconfig, tens of milliseconds at every start).
    return ctypes.CDLL(None, use_errno=True)
