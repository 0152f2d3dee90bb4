"""The form's footer: its keys on one line, from the one key table (`tui.keys`).

Textual's Footer is a widget per key, and it composes them all again whenever a binding may
have changed (a test passing, a choice opening); on the way it looks up each bound key's
Unicode name, which alone reads most of a megabyte of the interpreter's character database
into memory. The form's keys are one fixed table, so one widget that draws them as one line is
enough: a change of state redraws the line, and the frugal writer sends only the cells that
changed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.content import Content
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from mailsetup_tui.tui.keys import FORM_KEYS, FormKey, footer_display


class KeyBar(Widget):
    """The keys that do something here, each as its key then its word: `F2 Test F3 Save`.

    A key whose action is not available now is dimmed (`key-bar--disabled`) or, on a limited
    terminal (the App's `-limited` class: a real VT100 shows no dim), left out; so it is where
    the line would not fit otherwise (a test running with a relay set up), so that the last
    key, Quit, is never cut off. A key whose action does not exist here (Queue with no relay)
    is always left out. A click on a key does what the key does.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-bar--key",
        "key-bar--description",
        "key-bar--disabled",
    }
    ALLOW_SELECT = False

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._spans: list[tuple[int, int, FormKey]] = []
        """Where each shown key is on the line, for clicks."""
        self._footer_keys = tuple(key for key in FORM_KEYS if key.footer)
        self._shown_states: tuple[bool | None, ...] = ()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Screen[object]) -> None:
        # The screen says so at every edit (Show password comes and goes with the sign-in
        # method): redraw only when what the line shows changed. A redraw marks the bottom
        # row for Textual's next update, and each update renders every widget between the
        # rows it touches: the whole form, at every typed character. Before the first render
        # nothing is shown to compare with, and that render reads the states itself (the
        # screen says so three times while the form starts).
        if self._shown_states and self._states() != self._shown_states:
            self.refresh()

    def _states(self) -> tuple[bool | None, ...]:
        """Each footer key's state: True available, None disabled, False not here."""
        return tuple(self.screen.check_action(key.action, ()) for key in self._footer_keys)

    def _shown(self) -> list[tuple[FormKey, bool | None]]:
        """The keys the line shows, each with its state, left to right; notes where each is
        for clicks."""
        self._shown_states = self._states()
        shown: list[tuple[FormKey, bool | None]] = [
            (key, available)
            for key, available in zip(self._footer_keys, self._shown_states, strict=True)
            if available is not False
        ]
        width = sum(_cells(key) + 1 for key, _ in shown) - 1
        if self.app.has_class("-limited") or width > self.content_size.width:
            shown = [entry for entry in shown if entry[1]]
        self._spans = []
        column = 0
        for key, _available in shown:
            self._spans.append((column, column + _cells(key), key))
            column += _cells(key) + 1
        return shown

    def render(self) -> Content:
        """The line as text (what a test reads); `render_line` draws it."""
        return Content(
            " ".join(f"{footer_display(key.keys[0])} {key.label}" for key, _ in self._shown())
        )

    def render_line(self, y: int) -> Strip:
        """The line as styled segments, not as Content: Textual's way from Content to cells
        (wrapping, alignment, spans) cost 3 M instructions of every start for one row of
        words, and again at each change of a key's state."""
        base = self.rich_style
        if y:
            return Strip.blank(self.size.width, base)
        key_style = self.get_component_rich_style("key-bar--key")
        word_style = self.get_component_rich_style("key-bar--description")
        # Only the attribute (dim): the key and its word keep their own colours.
        dim = Style(dim=self.get_component_rich_style("key-bar--disabled").dim)
        segments: list[Segment] = []
        for key, available in self._shown():
            if segments:
                segments.append(Segment(" ", base))
            extra = Style() if available else dim
            segments.append(Segment(footer_display(key.keys[0]), key_style + extra))
            segments.append(Segment(f" {key.label}", word_style + extra))
        return Strip(segments).adjust_cell_length(self.size.width, base)

    async def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                namespace = self.app if key.on_app else self.screen
                await self.app.run_action(key.action, namespace)
                return


def _cells(key: FormKey) -> int:
    """The cells `key` takes on the line: its name, a space, its word."""
    return len(footer_display(key.keys[0])) + 1 + len(key.label)
