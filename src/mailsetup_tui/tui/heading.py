"""The form's heading: its name, with how the relay stands on the right ("Relay: running, 0
queued, last delivery 14:02"), and under them what the form edits ("Editing the saved
account (/etc/mailsetup/account.toml)").

One widget draws all three: a title, a status, the row holding them and the line under
them were four widgets to style and lay out at every start. The relay's state is read in a
thread every few seconds; the heading changes (and is redrawn) only when what it says
changes, so an idle form sends nothing down a slow line. The status is left out where no
relay is set up; where none can be (no socket, no spool: most hosts), no thread is started
and the queue's code is not loaded, half a MiB of the form's memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual import on, work
from textual.app import RenderResult
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.store.types import StoreError

if TYPE_CHECKING:
    from mailsetup_tui.core.relay_status import RelayStatus

POLL_SECONDS = 5.0


class FormHeading(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"heading--title"}
    """The title's look; the rest (the relay's state, what the form edits) has the heading's
    own, muted. Each component class is styled on its own at every start."""

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

    def __init__(self, session: SetupSession, title: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.session = session
        self.title = title
        self.status: RelayStatus | None = None
        self.settings: RelaySettings | None = None
        self.shown_status = ""
        """What the heading says of the relay ("" where none is set up)."""
        self.mode = ""
        """What the form edits, and where it will be saved (`SetupSession.open`)."""

    def show_mode(self, text: str) -> None:
        if text != self.mode:
            self.mode = text
            self.refresh(layout=True)  # a long path may wrap on to another row

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Counted, not measured by rendering (Textual's way for an auto height, which at
        # start cost as much as a widget): the first row, and the mode's rows.
        return 1 + len(self._mode_rows(width))

    def _mode_rows(self, width: int) -> list[str]:
        """The mode's rows at `width`: one, unless a long config path makes it wrap."""
        if cell_len(self.mode) <= width:
            return [self.mode]
        return [line.plain for line in Text(self.mode).wrap(self.app.console, width)]

    def _title_row(self) -> tuple[str, str, str]:
        """The first row: the title, the room after it, the relay's state at the right."""
        status = self.shown_status
        width = self.content_size.width
        # As wide as the widget, so it never wraps.
        title = self.title[: max(0, width - cell_len(status) - 1) if status else width]
        return title, " " * max(0, width - cell_len(title) - cell_len(status)), status

    def render(self) -> RenderResult:
        """The heading as text (the mode unwrapped); `render_line` draws it."""
        return "".join(self._title_row()) + "\n" + self.mode

    def render_line(self, y: int) -> Strip:
        """Each row as styled segments, not through Textual's Content (whose way to cells,
        wrapping and aligning, cost 0.9 M instructions of every start more for two rows)."""
        base, width = self.rich_style, self.content_size.width
        if y == 0:
            title, room, status = self._title_row()
            title_style = base + self.get_component_styles("heading--title").rich_style
            row = [Segment(title, title_style), Segment(room, base), Segment(status, base)]
        else:
            rows = self._mode_rows(width)
            row = [Segment(rows[y - 1], base)] if y <= len(rows) else []
        return Strip(row).adjust_cell_length(width, base)

    def on_mount(self) -> None:
        # After the first frame: the relay's state (and the queue's code, loaded for it) is
        # not worth delaying the form for, and it is not shown unless a relay is set up.
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

    @work(thread=True, exclusive=True, group="relay-status", exit_on_error=False)
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
        self.shown_status = status.headline() if status is not None and status.set_up else ""
        self.refresh()
