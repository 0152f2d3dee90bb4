"""A one-line button: the form's and the dialogs' stand-in for Textual's Button.

Every button here is one line, on every terminal: a serial console has no room or bytes for
Textual's tall borders, which the styles used to switch off again for each variant. Textual's
Button brings style rules for variants this program never shows, and sets classes before it
is even mounted, each a restyle: a large share of the form's styling work at start-up. This
draws its label, is pressed by Enter, Space or a click, and says so by message.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
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

    def action_press(self) -> None:
        if not self.disabled:
            self.post_message(self.Pressed(self))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_press()
