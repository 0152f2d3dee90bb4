"""A one-line choice among a few fixed options: the form's light stand-in for Textual's Select.

A Select is seven widgets (the current value, its label, two arrows, an option list with its
scroll bars), and Textual styles every one of them again at each restyle: the form's three
Selects were a large share of its widgets and of its start-up. The form's choices
are two to five fixed options, so one widget that draws the chosen option is enough; the list
is built only when someone opens it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.segment import Segment
from textual import events, on
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import OptionList

from mailsetup_tui.tui import styles
from mailsetup_tui.tui.field_label import LABEL_CLASSES, label_cells, with_label

T = TypeVar("T")


class ChoiceList(OptionList):
    """The open list of a `Choice`, drawn over the rows below it and gone when it loses focus."""

    DEFAULT_CSS = styles.default_css(styles.CHOICE_LIST)
    SCOPED_CSS = False
    """Its rules include the choice's (`Choice.-expanded > ChoiceList`), which a scope would
    put under a ChoiceList."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close the list", show=False),
    ]

    class Closed(Message):
        """The list closed without a pick; `refocus` is False when focus already moved on."""

        def __init__(self, refocus: bool) -> None:
            super().__init__()
            self.refocus = refocus

    def action_close(self) -> None:
        self.post_message(self.Closed(refocus=True))

    def on_blur(self, event: events.Blur) -> None:
        self.post_message(self.Closed(refocus=False))


class Choice(Widget, Generic[T], can_focus=True):
    """The chosen option on one line. Its first letter picks an option at once, Left and Right
    step through them, and Enter, Space, Up or Down open the list.

    Over a serial line one key, instead of opening a list, moving and confirming, saves three
    screen updates; that is why the options' first letters must differ.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space,down,up", "open", "Open the list", show=False),
        Binding("left", "step(-1)", "Previous option", show=False),
        Binding("right", "step(1)", "Next option", show=False),
    ]

    expanded = reactive(False, layout=False)
    """The list is open."""

    class Changed(Message):
        """The value changed (by the user, or by code outside a `prevent` block)."""

        def __init__(self, choice: Choice[Any], value: Any) -> None:
            super().__init__()
            self.choice = choice
            self.value = value

        @property
        def control(self) -> Choice[Any]:
            return self.choice

    COMPONENT_CLASSES: ClassVar[set[str]] = LABEL_CLASSES

    def __init__(
        self,
        options: Sequence[tuple[str, T]],
        *,
        field_label: str | None = None,
        id: str | None = None,  # noqa: A002 (the name every Textual widget takes)
        disabled: bool = False,
    ) -> None:
        super().__init__(id=id, disabled=disabled)
        self.field_label = field_label
        """The field's name, drawn left of the chosen option."""
        self.options = tuple(options)
        self._values = tuple(value for _, value in self.options)
        self.initials = {label[0].lower(): value for label, value in self.options}
        assert len(self.initials) == len(self.options), "options must start with different letters"
        self._value = self._values[0]

    @property
    def value(self) -> T:
        """The chosen option's value."""
        return self._value

    @value.setter
    def value(self, value: T) -> None:
        """Choose `value`, posting `Changed` if it is another, as a user's pick does."""
        if value not in self._values:
            raise ValueError(f"{value!r} is not one of this choice's options")
        if value == self._value:
            return
        self._value = value
        self.refresh()
        self.post_message(self.Changed(self, value))

    @property
    def index(self) -> int:
        """Where the chosen option is in the list."""
        return self._values.index(self._value)

    @property
    def label(self) -> str:
        return self.options[self.index][0]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Always one line. Textual would otherwise measure it by rendering it, and `render`
        # asks for the widget's own size, which in the middle of a layout starts another,
        # whole-screen layout.
        return 1

    def render_lines(self, crop: Region) -> list[Strip]:
        return with_label(self, self.field_label, super().render_lines(crop), crop)

    def render(self) -> Content:
        return Content(self._shown())

    def render_line(self, y: int) -> Strip:
        """The line as one segment in the field's style, not through Content: Textual's way
        from Content to cells (wrapping, alignment, spans) cost 0.6 M instructions a choice
        at every start, and again at each change."""
        style, width = self.rich_style, self.content_size.width
        if y:
            return Strip.blank(width, style)
        return Strip([Segment(self._shown(), style)]).adjust_cell_length(width, style)

    def _shown(self) -> str:
        """The chosen option's label, then the arrow at the right edge."""
        arrow = " ▼"
        width = max(self.content_size.width - len(arrow), 0)
        return self.label[:width].ljust(width) + arrow

    def on_key(self, event: events.Key) -> None:
        """A letter picks its option, with the list open (keys there come up to here) or not."""
        if event.character is None:
            return
        chosen = self.initials.get(event.character.lower())
        if chosen is not None:
            event.stop()
            event.prevent_default()
            self.value = chosen
            if self.expanded:
                self.expanded = False
                self.focus()

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.expanded = not self.expanded

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # With the list open, the arrows move in the list (it has them first); Left and Right
        # changing the value under it would leave it showing a choice that is not made.
        return not (self.expanded and action in {"step", "open"})

    def action_step(self, step: int) -> None:
        index = self.index + step
        if 0 <= index < len(self._values):
            self.value = self._values[index]

    def action_open(self) -> None:
        self.expanded = True

    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(expanded, "-expanded")
        if not expanded:
            return
        if not self.children:
            self.mount(ChoiceList(*(label for label, _ in self.options)))
        listing = self.query_one(ChoiceList)
        # Under the field's value, brackets included where there are any (the list is a
        # child, so it starts inside them unless moved back over them), and on to the
        # screen's right edge: a row it covered only in part would leave the end of a line
        # beside the box.
        value_left = label_cells(self)
        listing.styles.offset = (value_left - self.styles.gutter.left, 1)
        listing.styles.width = max(
            self.outer_size.width - value_left, self.app.size.width - self.region.x - value_left
        )
        listing.highlighted = self.index
        listing.focus(scroll_visible=False)

    @on(ChoiceList.OptionSelected)
    def _option_picked(self, event: ChoiceList.OptionSelected) -> None:
        event.stop()
        self.value = self._values[event.option_index]
        self.expanded = False
        self.focus()

    @on(ChoiceList.Closed)
    def _list_closed(self, event: ChoiceList.Closed) -> None:
        event.stop()
        self.expanded = False
        if event.refocus:
            self.focus()
