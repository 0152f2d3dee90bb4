"""A field's label, drawn by the field's control in the control's own left padding.

Each of the form's fields is one widget: its label is not a widget of its own. Textual styles,
lays out and renders every widget at start-up, and labels beside their controls needed a
two-column grid, its dearest layout: as widgets, the labels were 3 % of the form's start-up.
Drawn by its control, a label also follows the control's state with nothing to keep in step:
focus (`:focus`, and `:focus-within` for a choice with its list open) and a problem shown under
it (`-has-problem`), through the component classes below; on a limited terminal the bracket
drawn after it goes while the field is disabled.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

LABEL_WIDTH = 18
"""Cells for the label, left of the control's value. The stylesheet gives each labelled
control this much left padding, one more on a limited terminal, where that cell is the
field's left bracket (`|`, as Textual's ASCII border draws the right one)."""

LABEL_CLASSES = {"field--label"}
"""The label's look: a component class of each labelled control, which styles it by its own
state (focus, a problem)."""

MARKER_CLASSES = {"field--marker"}
"""The mark of the focused field on a limited terminal: the label's first cell alone (bold,
reversed), which a monochrome screen shows and a Tab rewrites cheaply. The same for every
field, so it is a component class of their container (`AccountForm`), styled once: each
component class is styled on its own for each widget that has it."""

_BRACKET = "|"


def label_cells(control: Widget) -> int:
    """How far right of a control's left edge its value starts, brackets aside."""
    return LABEL_WIDTH if getattr(control, "field_label", None) else 0


def with_label(control: Widget, text: str | None, strips: list[Strip], crop: Region) -> list[Strip]:
    """`strips`, the control's lines within `crop`, with its label (if it has one) over the
    padding."""
    if text is None or crop.y > 0 or crop.x >= control.styles.padding.left or not strips:
        return strips
    text = text[:LABEL_WIDTH]
    # Not get_component_rich_style: it caches per widget until the widget's own styles
    # change, and focus changes only the label's.
    label = control.get_component_styles("field--label").rich_style
    first = label
    if control.has_focus_within and control.app.has_class("-limited"):
        fields = control.parent
        assert isinstance(fields, Widget), "a labelled control is in a container of fields"
        first += fields.get_component_styles("field--marker").rich_style
    # The cells after the text have the label's background only: a problem's underline (on
    # a limited terminal) goes under the name, not on to the value's edge.
    after = Style(bgcolor=label.bgcolor)
    segments = [
        Segment(text[:1], first),
        Segment(text[1:], label),
        Segment(" " * (LABEL_WIDTH - len(text)), after),
    ]
    bracket_width = control.styles.padding.left - LABEL_WIDTH
    if bracket_width > 0:
        bracket = " " if control.disabled else _BRACKET
        segments.append(Segment(bracket.ljust(bracket_width), control.rich_style))
    drawn = Strip(segments).crop(crop.x, min(crop.right, control.styles.padding.left))
    rest = strips[0].crop(drawn.cell_length, crop.width)
    return [Strip.join([drawn, rest]), *strips[1:]]
