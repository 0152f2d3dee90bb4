"""The form's one-line input: its field's label drawn in its left padding (`field_label`),
and the terminal's cursor exactly at its typing position."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from textual.geometry import Offset, Region, Size
from textual.reactive import Reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input

from mailsetup_tui.tui.field_label import LABEL_CLASSES, label_cells, with_label

NO_STYLE = Style.null()


def typing_position(widget: Widget) -> Offset:
    """Where the terminal's cursor belongs while `widget` has focus: an input's typing
    position, else the first cell of the control's value. On a limited terminal the cursor
    is shown (see FrugalWriter.keep_cursor_visible): it is how an operator on a monochrome
    screen sees where they are."""
    if isinstance(widget, Input):
        return widget.cursor_screen_offset
    return widget.region.offset + Offset(label_cells(widget), 0)


class TypingInput(Input, inherit_css=False):
    """A one-line Input that puts the terminal's cursor exactly at its typing position.

    Textual's own offset is one cell further at the end of the text (room it keeps for
    scrolling); with the terminal's cursor shown, as on limited terminals, that is one cell to
    the right of where the next character goes.

    One line without borders comes from the stylesheet, not from Input's `compact`: that
    sets its class before the field is mounted, a restyle of each field for nothing. Nor
    does it inherit Input's stylesheet: its rules (borders, three rows, states the form never
    enters) were all overridden, yet parsed at start and matched against every field. Its
    CSS type is TypingInput alone, so selectors name it, not Input.
    """

    virtual_size = Reactive(Size(0, 0), layout=False)
    """Input sets this at every key (its text's width, for scrolling), and Textual's own
    declaration asks for a layout of the whole screen on each change: every widget arranged
    again for one character, most of a key's time on a slow machine. The field's box never
    depends on its text here (one line, a width from the stylesheet), so a repaint is
    enough; scrolling reads the size when it needs it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "input--placeholder",
        "input--selection",
        *LABEL_CLASSES,
    }
    """Input's, but for `input--suggestion` (no field has a suggester) and `input--cursor`
    (the terminal's cursor shows the typing position: no cell is drawn as one). Each class is
    styled on its own for every field at start. Not inherited: it goes with the stylesheet."""

    def __init__(self, *args: Any, field_label: str | None = None, **kwargs: Any) -> None:
        # No suggester, ever: its style is not among the component classes.
        super().__init__(*args, suggester=None, **kwargs)
        self.field_label = field_label
        """The field's name, drawn left of the value (none in a dialog)."""
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

    def get_component_rich_style(
        self, *names: str, partial: bool = False, default: Style | None = None
    ) -> Style:
        """No look for the typing position: Input asks for its cursor's, and the terminal's
        own cursor is there instead (rich leaves a text unstyled by the empty style)."""
        if names == ("input--cursor",):
            return NO_STYLE
        return super().get_component_rich_style(*names, partial=partial, default=default)

    def render_lines(self, crop: Region) -> list[Strip]:
        return with_label(self, self.field_label, super().render_lines(crop), crop)
