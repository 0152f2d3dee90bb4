"""The relay's durable queue: one file per accepted message, on disk before anyone is told
it was accepted.

A message is written under `incoming/`, fsync'd, renamed into `queue/` and the directory
fsync'd; only then does the relay answer 250 (or the sendmail command exit 0). A crash at any
instant leaves either no file in `queue/` (the caller was never told yes, and an `incoming/`
leftover is removed at the next start) or the whole message. A message leaves `queue/` only
after the provider accepted it (removed: at most the one in flight is sent twice after a
crash) or when it fails (renamed into `failed/` with its reason). Nothing is deleted
silently: a failed message is removed after `keep_failed`, and that is logged.

Each message file is one JSON line (the envelope and who handed it over) and the message's
bytes after it. How its tries went is a small `.state` file beside it, replaced atomically; a
lost state only means the next try comes sooner. A message being delivered is locked (flock),
so that `mailsetup queue --drop` never pulls one from under the courier.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from mailsetup_tui.core.spool_errors import Busy as Busy
from mailsetup_tui.core.spool_errors import SpoolError as SpoolError
from mailsetup_tui.core.store.files import atomic_write, fsync_dir

QUEUED, FAILED, INCOMING = "queue", "failed", "incoming"
LAST_DELIVERY = "last-delivery"
_STATE = ".state"


class EntryState(StrEnum):
    QUEUED = "queued"
    FAILED = "failed"


class Envelope(NamedTuple):
    """What the relay knows of a message besides its bytes, fixed when it is accepted."""

    recipients: tuple[str, ...]
    message_id: str
    caller: str
    """Who handed it over: a user name (the socket's peer credentials, or the owner of the
    local TCP connection), else the peer address."""
    via: str
    """`socket` or `smtp`."""
    eight_bit: bool = False
    accepted: float = 0.0
    size: int = 0


class Tries(NamedTuple):
    """How delivery went so far."""

    attempts: int = 0
    next_try: float = 0.0
    reason: str = ""
    failed_at: float = 0.0


class Entry(NamedTuple):
    """One message in the spool, without its bytes."""

    id: str
    state: EntryState
    envelope: Envelope
    tries: Tries = Tries()

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.envelope.accepted)

    def as_json(self, now: float | None = None) -> dict[str, Any]:
        """`mailsetup queue --json`'s object (never the body)."""
        return {
            "id": self.id,
            "state": self.state.value,
            "age": round(self.age(now)),
            "caller": self.envelope.caller,
            "recipients": list(self.envelope.recipients),
            "attempts": self.tries.attempts,
            "next_try": self.tries.next_try if self.state is EntryState.QUEUED else None,
            "reason": self.tries.reason,
            "message_id": self.envelope.message_id,
            "size": self.envelope.size,
        }


class Figures(NamedTuple):
    """How the queue stands, for `check`, the form's header and the relay's status."""

    queued: int
    failed: int
    oldest_age: float
    last_delivery: float | None


class Spool:
    """The spool directory; every method is blocking (the relay calls it off its loop)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"Spool({self.root})"

    # --- setting up -------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create the spool's directories (private to the relay's user) and clear what an
        interrupted start or crash left: incoming files never acknowledged, state files
        without their message."""
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for name in (INCOMING, QUEUED, FAILED):
                (self.root / name).mkdir(mode=0o700, exist_ok=True)
        except OSError as error:
            raise SpoolError(f"cannot create the spool {self.root}: {error.strerror}") from None
        for leftover in (self.root / INCOMING).iterdir():
            with contextlib.suppress(OSError):
                leftover.unlink()
        for area in (QUEUED, FAILED):
            for state in (self.root / area).glob(f"*{_STATE}"):
                if not state.with_suffix("").exists():
                    with contextlib.suppress(OSError):
                        state.unlink()

    # --- accepting --------------------------------------------------------------------------

    def accept(self, message: bytes, envelope: Envelope) -> Entry:
        """Store `message` durably and return its entry; `SpoolError` (temporary) when it
        could not be (a full disk, an unwritable spool): then nothing is queued."""
        entry_id = new_id()
        envelope = envelope._replace(accepted=time.time(), size=len(message))
        head = json.dumps(envelope._asdict(), separators=(",", ":")).encode() + b"\n"
        incoming = self.root / INCOMING / entry_id
        try:
            descriptor = os.open(
                incoming,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW,
                0o600,
            )
            try:
                _write_all(descriptor, head + message)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.rename(incoming, self._path(QUEUED, entry_id))
            fsync_dir(self.root / QUEUED)
        except OSError as error:
            with contextlib.suppress(OSError):
                incoming.unlink()
            raise SpoolError(_why_not_stored(self.root, error)) from None
        return Entry(entry_id, EntryState.QUEUED, envelope)

    # --- reading ----------------------------------------------------------------------------

    def entries(self, state: EntryState | None = None) -> list[Entry]:
        """The messages in the spool, oldest first (never their bodies)."""
        areas = [state] if state else [EntryState.QUEUED, EntryState.FAILED]
        found: list[Entry] = []
        for area in areas:
            for entry_id in self._ids(_area(area)):
                entry = self.entry(entry_id, area)
                if entry is not None:
                    found.append(entry)
        return sorted(found, key=lambda entry: entry.id)

    def entry(self, entry_id: str, state: EntryState) -> Entry | None:
        """One message's entry; None when it is gone (delivered or dropped meanwhile)."""
        path = self._path(_area(state), entry_id)
        try:
            with path.open("rb") as file:
                head = file.readline(1 << 20)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SpoolError(f"cannot read the queue {self.root}: {error.strerror}") from None
        try:
            data = json.loads(head)
            data["recipients"] = tuple(data["recipients"])
            envelope = Envelope(**data)
        except (ValueError, TypeError, KeyError):
            envelope = Envelope((), "", "?", "?", accepted=_mtime(path))
        return Entry(entry_id, state, envelope, self._tries(path))

    def message(self, entry_id: str, state: EntryState = EntryState.QUEUED) -> bytes:
        """A message's bytes, as it was accepted."""
        with self._path(_area(state), entry_id).open("rb") as file:
            file.readline(1 << 20)
            return file.read()

    def figures(self, now: float | None = None) -> Figures:
        now = time.time() if now is None else now
        queued = self.entries(EntryState.QUEUED)
        failed = self._ids(FAILED)
        oldest = max((entry.age(now) for entry in queued), default=0.0)
        return Figures(len(queued), len(failed), oldest, self.last_delivery())

    def last_delivery(self) -> float | None:
        try:
            return float((self.root / LAST_DELIVERY).read_text().strip())
        except (OSError, ValueError):
            return None

    def due(self, now: float | None = None) -> list[Entry]:
        """Queued messages whose next try has come, oldest first."""
        now = time.time() if now is None else now
        return [e for e in self.entries(EntryState.QUEUED) if e.tries.next_try <= now]

    def next_due(self) -> float | None:
        """When the earliest queued message is next due, None when nothing is queued."""
        return min((e.tries.next_try for e in self.entries(EntryState.QUEUED)), default=None)

    # --- changing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def claimed(self, entry_id: str) -> Iterator[bool]:
        """Hold a queued message while it is delivered or changed: True if it was had (it
        may be gone, or held by another process)."""
        try:
            descriptor = os.open(self._path(QUEUED, entry_id), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield False
            return
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield os.path.exists(self._path(QUEUED, entry_id))
        finally:
            os.close(descriptor)

    def delivered(self, entry_id: str) -> None:
        """The provider took it: it leaves the spool, and the time is noted."""
        for path in (self._path(QUEUED, entry_id), self._state(QUEUED, entry_id)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        atomic_write(self.root / LAST_DELIVERY, f"{time.time():.3f}\n".encode())

    def deferred(self, entry: Entry, reason: str, next_try: float) -> Tries:
        tries = Tries(entry.tries.attempts + 1, next_try, reason)
        self._write_tries(QUEUED, entry.id, tries)
        return tries

    def fail(self, entry: Entry, reason: str) -> None:
        """Move a message to `failed/` with `reason`; kept there for `keep_failed`."""
        tries = Tries(entry.tries.attempts, 0.0, reason, time.time())
        self._write_tries(FAILED, entry.id, tries)
        try:
            os.rename(self._path(QUEUED, entry.id), self._path(FAILED, entry.id))
        except FileNotFoundError:
            return
        fsync_dir(self.root / FAILED)
        with contextlib.suppress(FileNotFoundError):
            self._state(QUEUED, entry.id).unlink()

    def retry(self, entry_id: str) -> bool:
        """A failed message back to the queue (due now), or a queued one due now; False
        when there is no such message."""
        if self._path(FAILED, entry_id).exists():
            self._write_tries(QUEUED, entry_id, Tries())
            try:
                os.rename(self._path(FAILED, entry_id), self._path(QUEUED, entry_id))
            except FileNotFoundError:
                return False
            fsync_dir(self.root / QUEUED)
            with contextlib.suppress(FileNotFoundError):
                self._state(FAILED, entry_id).unlink()
            return True
        with self.claimed(entry_id) as held:
            if not held:
                if self._path(QUEUED, entry_id).exists():
                    raise Busy(f"{entry_id} is being delivered right now")
                return False
            entry = self.entry(entry_id, EntryState.QUEUED)
            attempts = entry.tries.attempts if entry else 0
            self._write_tries(
                QUEUED, entry_id, Tries(attempts, 0.0, entry.tries.reason if entry else "")
            )
        return True

    def flush(self) -> int:
        """Every queued message due now; how many there are."""
        count = 0
        for entry in self.entries(EntryState.QUEUED):
            with contextlib.suppress(Busy):
                count += self.retry(entry.id)
        return count

    def drop(self, entry_id: str) -> bool:
        """Remove a message for good; False when there is no such message."""
        if self._path(FAILED, entry_id).exists():
            removed = _unlink(self._path(FAILED, entry_id))
            _unlink(self._state(FAILED, entry_id))
            return removed
        with self.claimed(entry_id) as held:
            if not held:
                if self._path(QUEUED, entry_id).exists():
                    raise Busy(f"{entry_id} is being delivered right now")
                return False
            removed = _unlink(self._path(QUEUED, entry_id))
            _unlink(self._state(QUEUED, entry_id))
        return removed

    def expired_failures(self, keep: float, now: float | None = None) -> list[Entry]:
        """Failed messages older than `keep` seconds, removed; returned for the log."""
        now = time.time() if now is None else now
        removed = []
        for entry in self.entries(EntryState.FAILED):
            if now - (entry.tries.failed_at or entry.envelope.accepted) > keep:
                self.drop(entry.id)
                removed.append(entry)
        return removed

    # --- paths ------------------------------------------------------------------------------

    def _ids(self, area: str) -> list[str]:
        try:
            names = os.listdir(self.root / area)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise SpoolError(
                f"cannot read the queue {self.root}: {error.strerror} (only root and the "
                "relay's user may)",
                temporary=False,
            ) from None
        return sorted(name for name in names if not name.endswith(_STATE) and "." not in name)

    def _path(self, area: str, entry_id: str) -> Path:
        if not entry_id or "/" in entry_id or entry_id.startswith("."):
            raise SpoolError(f"{entry_id!r} is not a queue id", temporary=False)
        return self.root / area / entry_id

    def _state(self, area: str, entry_id: str) -> Path:
        return self._path(area, entry_id).with_suffix(_STATE)

    def _tries(self, message_path: Path) -> Tries:
        try:
            data = json.loads(message_path.with_suffix(_STATE).read_text())
            return Tries(**data)
        except (OSError, ValueError, TypeError):
            return Tries()

    def _write_tries(self, area: str, entry_id: str, tries: Tries) -> None:
        atomic_write(self._state(area, entry_id), json.dumps(tries._asdict()).encode())


def new_id() -> str:
    """A queue id that sorts by acceptance time and never repeats: 13 hex digits of
    microseconds, then 6 random ones (`18c4f2a9e1b3c-4fa21e`). The random part comes straight
    from the kernel, as `secrets.token_hex` would have it: `secrets` loads OpenSSL's hashing
    library, megabytes of memory in every process that loads the queue's code."""
    return f"{time.time_ns() // 1000:013x}-{os.urandom(3).hex()}"


def _area(state: EntryState) -> str:
    return QUEUED if state is EntryState.QUEUED else FAILED


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _why_not_stored(root: Path, error: OSError) -> str:
    if error.errno in {errno.ENOSPC, errno.EDQUOT}:
        return f"the spool {root} is full; the message was not queued"
    return f"cannot write to the spool {root}: {error.strerror}; the message was not queued"
