"""How the relay stands, as every front end words it: running or not, and how its queue
stands. Asked of the relay over its socket when it runs, read from the spool otherwise."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.relay_wire import RelayBroken, RelayUnavailable, ask
from mailsetup_tui.core.spool import Entry, EntryState, Spool, SpoolError
from mailsetup_tui.core.untrusted import shown


@dataclass(frozen=True)
class RelayStatus:
    running: bool
    queued: int | None = None
    """None: the queue could not be read (not root, not the relay's user)."""
    failed: int = 0
    last_delivery: float | None = None
    problem: str | None = None

    @property
    def set_up(self) -> bool:
        """A relay runs, or has a queue: worth showing at all."""
        return self.running or self.queued is not None

    def headline(self) -> str:
        """ "Relay: running, 0 queued, last delivery 14:02" (times, not ages: the line
        changes only when something happens, so the form never redraws it idly)."""
        words = [f"Relay: {'running' if self.running else 'not running'}"]
        if self.queued is None:
            words.append("queue not readable")
        else:
            words.append(f"{self.queued} queued")
            if self.failed:
                words.append(f"{self.failed} failed")
        if self.last_delivery is not None:
            words.append(
                f"last delivery {time.strftime('%H:%M', time.localtime(self.last_delivery))}"
            )
        return ", ".join(words)


def relay_status(settings: RelaySettings, timeout: float = 3.0) -> RelayStatus:
    """Blocking: call it off the event loop."""
    try:
        answer = ask(settings.socket, {"op": "status"}, timeout=timeout)
    except (RelayUnavailable, RelayBroken, OSError):
        answer = None
    running = answer is not None and answer.flag("running")
    if answer is not None and running and "queued" in answer.values:
        return RelayStatus(
            True,
            answer.count("queued"),
            answer.count("failed"),
            answer.number("last_delivery"),
            answer.text("problem") or None,
        )
    spool = Spool(settings.spool)
    try:
        if not spool.root.exists():
            return RelayStatus(running)
        figures = spool.figures()
    except (SpoolError, OSError):
        return RelayStatus(running)
    return RelayStatus(running, figures.queued, figures.failed, figures.last_delivery)


def wake_relay(settings: RelaySettings) -> bool:
    """Ask a running relay to look at its queue now (after a flush or a retry); False when
    none runs, and then it looks when it starts. Blocking, briefly."""
    try:
        ask(settings.socket, {"op": "wake"}, timeout=3)
    except (RelayUnavailable, RelayBroken, OSError):
        return False
    return True


def age_text(seconds: float) -> str:
    """A duration as an operator reads it in a column: 45s, 12m, 3h, 4d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def queue_lines(entries: list[Entry], now: float) -> list[str]:
    """The queue as `mailsetup queue` and `mailq` print it: one entry to three lines, the
    untrusted envelope passed through `shown`."""
    if not entries:
        return ["The queue is empty."]
    lines = [f"{'ID':<20}  {'STATE':<6}  {'AGE':>5}  {'TRIES':>5}  {'NEXT':>6}  CALLER"]
    for entry in entries:
        next_try = "-"
        if entry.state is EntryState.QUEUED:
            next_try = (
                age_text(max(0.0, entry.tries.next_try - now))
                if entry.tries.next_try > now
                else "now"
            )
        lines.append(
            f"{entry.id:<20}  {entry.state.value:<6}  {age_text(entry.age(now)):>5}  "
            f"{entry.tries.attempts:>5}  {next_try:>6}  {shown(entry.envelope.caller)}"
        )
        lines.append(f"    to {shown(', '.join(entry.envelope.recipients))}")
        if entry.tries.reason:
            lines.append(f"    last: {shown(entry.tries.reason)}")
    queued = sum(entry.state is EntryState.QUEUED for entry in entries)
    lines.append(f"{queued} queued, {len(entries) - queued} failed.")
    return lines
