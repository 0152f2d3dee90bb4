"""The form's one-line widgets: a field's label that marks focus, an input whose terminal
cursor sits at its typing position, and a line under a field that spans the grid's two columns
(a notice, a problem, a note)."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.geometry import Offset, Size
from textual.reactive import Reactive
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Input, Label, Static


def typing_position(widget: Widget) -> Offset:
    """Where the terminal's cursor belongs while `widget` has focus: an input's typing
    position, else the control's first cell. On a limited terminal the cursor is shown (see
    FrugalWriter.keep_cursor_visible): it is how an operator on a monochrome screen sees
    where they are."""
    if isinstance(widget, Input):
        return widget.cursor_screen_offset
    return widget.region.offset


class FieldLabel(Label):
    """A field's label; `-focused` marks the field where typing goes.

    On a colour terminal the whole label takes the focus colour (styles). On a limited one
    the mark is its first cell alone, in the `field-label--marker` style: a Tab then rewrites
    two cells rather than two whole labels, bytes a serial line pays for at every Tab.
    """

    COMPONENT_CLASSES = {"field-label--marker"}  # noqa: RUF012 - Textual's own declaration

    def __init__(self, text: str, **kwargs: Any) -> None:
        super().__init__(text, markup=False, **kwargs)
        self.text = text

    def render(self) -> Content:
        content = Content(self.text)
        if self.has_class("-focused"):
            # Rich's style keeps `reverse` an attribute (SGR 7, which a monochrome terminal
            # shows); the visual style would swap colours that are both the default there.
            marker = Style.from_rich_style(self.get_component_rich_style("field-label--marker"))
            return content.stylize(marker, 0, 1)
        return content


class TypingInput(Input):
    """A one-line Input that puts the terminal's cursor exactly at its typing position.

    Textual's own offset is one cell further at the end of the text (room it keeps for
    scrolling); with the terminal's cursor shown, as on limited terminals, that is one cell to
    the right of where the next character goes.

    One line without borders comes from the stylesheet, not from Input's `compact`: that
    sets its class before the field is mounted, a restyle of each field for nothing.
    """

    virtual_size = Reactive(Size(0, 0), layout=False)
    """Input sets this at every key (its text's width, for scrolling), and Textual's own
    declaration asks for a layout of the whole screen on each change: every widget arranged
    again for one character, most of a key's time on a slow machine. The field's box never
    depends on its text here (one line, a width from the stylesheet), so a repaint is
    enough; scrolling reads the size when it needs it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The values are checked by core.account's rules, never by Input's validators; its
        # validation would only set -valid on each field's first change, another restyle.
        self.validate_on = set()
        # A blinking cursor repaints twice a second: bytes on a serial line for nothing.
        self.set_reactive(Input.cursor_blink, False)

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        """Input places the terminal's cursor before it scrolls to keep the typing position
        in view: in a value wider than its field the cursor was left a cell or more to the
        right of where the next character goes."""
        super().watch_scroll_x(old_value, new_value)
        if self.has_focus and self._on_top:
            self.app.cursor_position = self.cursor_screen_offset

    def watch_selection(self) -> None:
        """Textual's Input moves the terminal's cursor to its own typing position whenever its
        text changes, focused or not: a provider's preset server, set by code, took the
        cursor away from SMTP Mail to the Port field. It goes back to the focused control."""
        if self._on_top and not self.has_focus and (focused := self.screen.focused):
            self.app.cursor_position = typing_position(focused)

    @property
    def _on_top(self) -> bool:
        """On the screen the terminal shows: under a dialog the cursor is the dialog's."""
        return self.is_mounted and self.screen is self.app.screen

    @property
    def cursor_screen_offset(self) -> Offset:
        x, y, _width, _height = self.content_region
        return Offset(x + self._position_to_cell(self.cursor_position) - self.scroll_offset.x, y)


class SpanningLine(Static):
    """A line under a field, across both columns of the form's grid: a notice or a problem.

    Textual gives an auto-height grid row the height its widgets need at the first column's
    width, even for a widget that spans both: 18 cells, which wraps a sentence onto four
    lines. This answers for the width the line really has.
    """

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        spanned = container.width - self.styles.margin.width - self.styles.gutter.width
        return super().get_content_height(container, viewport, max(spanned, width, 1))
