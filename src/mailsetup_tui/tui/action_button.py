"""A one-line button: the form's and the dialogs' stand-in for Textual's Button.

Every button here is one line, on every terminal: a serial console has no room or bytes for
Textual's tall borders, which the styles used to switch off again for each variant. Textual's
Button brings style rules for variants this program never shows, and sets classes before it
is even mounted, each a restyle: a large share of the form's styling work at start-up. This
draws its label, is pressed by Enter, Space or a click, and says so by message.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget


class ActionButton(Widget, can_focus=True):
    """A label that does something when pressed; disabled, it cannot be focused or pressed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "press", "Press", show=False),
    ]

    label: reactive[str] = reactive("", layout=True)
    """What the button says; a change may change its width."""

    class Pressed(Message):
        """The button was pressed."""

        def __init__(self, button: ActionButton) -> None:
            super().__init__()
            self.button = button

        @property
        def control(self) -> ActionButton:
            return self.button

    def __init__(
        self,
        label: str,
        *,
        id: str | None = None,  # noqa: A002 (the name every Textual widget takes)
        disabled: bool = False,
    ) -> None:
        super().__init__(id=id, disabled=disabled)
        self.set_reactive(ActionButton.label, label)

    def render(self) -> Content:
        return Content(self.label)

    def render_line(self, y: int) -> Strip:
        """The label centred in the button's style, as one segment: Textual's way from
        Content to cells (wrapping, alignment, spans) cost 0.6 M instructions a button at
        every start, and again whenever focus comes or goes."""
        width = self.content_size.width
        style = self.rich_style
        if y:
            return Strip.blank(width, style)
        label = self.label[:width]
        left = (width - len(label)) // 2
        # The room either side has the button's colours, not its text style: a focused
        # button on a limited terminal reverses its word, not the space around it.
        room = Style.from_color(style.color, style.bgcolor)
        return Strip(
            [
                Segment(" " * left, room),
                Segment(label, style),
                Segment(" " * (width - left - len(label)), room),
            ]
        )

    def action_press(self) -> None:
        if not self.disabled:
            self.post_message(self.Pressed(self))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_press()
