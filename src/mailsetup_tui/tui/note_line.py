"""A line of text the form makes only when it has something to say: "too small", the banner,
a field's problem, what the Email domain's MX said.

Most starts show none of them, so neither the lines nor their rules (styles/note_line.tcss,
their DEFAULT_CSS) are there at start: this module is imported, and the rules parsed, when
the first line is made.
"""

from __future__ import annotations

from textual.widgets import Static

from mailsetup_tui.tui import styles


class NoteLine(Static):
    """Plain text (never markup: it may quote what a server or DNS said), styled by its id
    or class: `#too-small`, `#banner`, `.field-problem`, `.field-note`."""

    DEFAULT_CSS = styles.default_css(styles.NOTE_LINE)
    SCOPED_CSS = False
    """Its rules include the screen's (`SetupScreen.-too-small > *`), which a scope would
    put under a NoteLine."""

    def __init__(
        self,
        text: str = "",
        *,
        id: str | None = None,  # noqa: A002 (the name every Textual widget takes)
        classes: str | None = None,
    ) -> None:
        super().__init__(text, id=id, classes=classes, markup=False)
