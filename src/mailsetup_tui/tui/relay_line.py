"""The form's header line for the relay: "Relay: running, 0 queued, last delivery 14:02".

Read in a thread every few seconds; the line changes (and is redrawn) only when what it says
changes, so an idle form sends nothing down a slow line. Hidden where no relay is set up; where
none can be (no socket, no spool: most hosts), no thread is started and the queue's code is
not loaded, half a MiB of the form's memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.widgets import Static

from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.store.types import StoreError

if TYPE_CHECKING:
    from mailsetup_tui.core.relay_status import RelayStatus

POLL_SECONDS = 5.0


class RelayLine(Static):
    class Changed(Message):
        """The relay's state as last read; the screen enables its Queue key on it."""

        def __init__(self, status: RelayStatus | None, settings: RelaySettings | None) -> None:
            super().__init__()
            self.status = status
            """None: no relay can be set up here."""
            self.settings = settings

        @property
        def set_up(self) -> bool:
            return self.status is not None and self.status.set_up

    def __init__(self, session: SetupSession, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("", markup=False, id=id)
        self.session = session
        self.status: RelayStatus | None = None
        self.settings: RelaySettings | None = None

    def on_mount(self) -> None:
        # After the first frame: the relay's state (and the queue's code, loaded for it) is
        # not worth delaying the form for, and the line is hidden unless a relay is set up.
        self.call_after_refresh(self.poll)
        self.set_interval(POLL_SECONDS, self.poll)

    def poll(self) -> None:
        try:
            settings = self.session.store.saved_config().relay_settings
        except (StoreError, OSError):
            return
        if settings.may_be_set_up():
            self._read_status(settings)
        else:
            self.post_message(self.Changed(None, settings))

    @work(thread=True, exclusive=True, group="relay-line", exit_on_error=False)
    def _read_status(self, settings: RelaySettings) -> None:
        from mailsetup_tui.core.relay_status import relay_status

        self.post_message(self.Changed(relay_status(settings), settings))

    @on(Changed)
    def _show(self, message: Changed) -> None:
        self.settings = message.settings
        if message.status == self.status:
            message.stop()  # nothing new: no redraw, no message up the tree
            return
        self.status = status = message.status
        self.update(status.headline() if status is not None and status.set_up else "")
        self.set_class(message.set_up, "-visible")
