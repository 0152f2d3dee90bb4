"""The relay's queue on the form: queued and failed messages in a table, with retry, drop and
flush. What `mailsetup queue` does, for the operator who is already in the form.

The table is read in a thread (the spool may be slow), refreshed only by the operator (F5 or
`l`) or after a change: a screen that redraws itself on a 9600-baud line while nobody looks is
a screen nobody can type into.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.relay_status import age_text, wake_relay
from mailsetup_tui.core.spool import Busy, Entry, EntryState, Spool, SpoolError
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.tui import styles
from mailsetup_tui.tui.dialogs import ConfirmScreen

COLUMNS = (
    ("ID", 20),
    ("State", 6),
    ("Age", 4),
    ("Tries", 5),
    ("Next", 4),
    ("Caller", 9),
    ("To", 16),
)
"""Each column's label and width: 76 cells with the table's padding, for 80 columns (the
reason line below the table gives every recipient in full)."""


class QueueScreen(Screen[None]):
    """Queued and failed messages; never their bodies."""

    CSS_PATH = styles.QUEUE

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", key_display="Esc"),
        Binding("r", "retry", "Retry"),
        Binding("d", "drop", "Drop"),
        Binding("f", "flush", "Flush"),
        Binding("l,f5", "reload", "Reload", key_display="l"),
    ]

    @dataclass
    class Loaded(Message):
        entries: list[Entry] | None
        problem: str | None = None

    def __init__(self, settings: RelaySettings, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock
        """Ages and next tries are counted from this (a test fixes it for a snapshot)."""
        self.spool = Spool(settings.spool)
        self.entries: list[Entry] = []

    def compose(self) -> ComposeResult:
        yield Static("Relay queue", id="queue-title")
        yield Static("Reading the queue...", id="queue-summary", markup=False)
        table: DataTable[str] = DataTable(id="queue-table", cursor_type="row", zebra_stripes=False)
        for label, width in COLUMNS:
            table.add_column(label, width=width)
        yield table
        yield Static("", id="queue-reason", markup=False)
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.load()

    @work(thread=True, exclusive=True, group="queue", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(*_read(self.spool)))

    @on(Loaded)
    def show(self, message: Loaded) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        summary = self.query_one("#queue-summary", Static)
        table.clear()
        if message.entries is None:
            summary.update(f"Cannot read the queue: {message.problem}")
            self.entries = []
            return
        self.entries = message.entries
        now = self.clock()
        for entry in self.entries:
            table.add_row(*_row(entry, now), key=entry.id)
        queued = sum(entry.state is EntryState.QUEUED for entry in self.entries)
        summary.update(
            f"{queued} queued, {len(self.entries) - queued} failed. "
            "r retry, d drop, f flush, l reload, Esc back."
            if self.entries
            else "The queue is empty. Esc goes back."
        )
        self._show_reason()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_reason()

    def _show_reason(self) -> None:
        entry = self.current
        lines = []
        if entry is not None:
            lines.append(f"To {shown(', '.join(entry.envelope.recipients))}")
            if entry.tries.reason:
                lines.append(f"Last: {shown(entry.tries.reason)}")
        self.query_one("#queue-reason", Static).update("\n".join(lines))

    @property
    def current(self) -> Entry | None:
        table: DataTable[str] = self.query_one(DataTable)
        if not self.entries or not 0 <= table.cursor_row < len(self.entries):
            return None
        return self.entries[table.cursor_row]

    # --- actions ------------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()

    def action_retry(self) -> None:
        if (entry := self.current) is not None:
            self._change(entry.id, "retry")

    def action_flush(self) -> None:
        self._change("", "flush")

    def action_drop(self) -> None:
        entry = self.current
        if entry is None:
            return
        to = ", ".join(entry.envelope.recipients)

        def answered(yes: bool | None) -> None:
            if yes:
                self._change(entry.id, "drop")

        self.app.push_screen(
            ConfirmScreen(
                f"Drop {entry.id} ({entry.state.value}, to {shown(to)}) for good?",
                yes="Drop it",
                no="Keep it",
            ),
            answered,
        )

    @work(thread=True, exclusive=True, group="queue", exit_on_error=False)
    def _change(self, entry_id: str, action: str) -> None:
        try:
            if action == "retry":
                self.spool.retry(entry_id)
            elif action == "drop":
                self.spool.drop(entry_id)
            else:
                self.spool.flush()
        except Busy as error:
            self.app.call_from_thread(self.notify, f"{error}; try again in a moment")
        except SpoolError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")
        if action != "drop":
            wake_relay(self.settings)  # not running: it tries them when it starts
        self.post_message(self.Loaded(*_read(self.spool)))


def _read(spool: Spool) -> tuple[list[Entry] | None, str | None]:
    try:
        return spool.entries(), None
    except SpoolError as error:
        return None, str(error)


def _row(entry: Entry, now: float) -> tuple[str, ...]:
    next_try = "-"
    if entry.state is EntryState.QUEUED:
        wait = entry.tries.next_try - now
        next_try = age_text(wait) if wait > 0 else "now"
    return (
        entry.id,
        entry.state.value,
        age_text(entry.age(now)),
        str(entry.tries.attempts),
        next_try,
        shown(entry.envelope.caller),
        shown(", ".join(entry.envelope.recipients)),
    )
