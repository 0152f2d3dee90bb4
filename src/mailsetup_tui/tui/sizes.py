"""The smallest terminal the form and its dialogs are drawn in, and what they say below it."""

from __future__ import annotations

MIN_WIDTH, MIN_HEIGHT = 60, 20
"""Below this the form cannot show every field with its problem line, so it says so instead."""


def too_small(width: int, height: int) -> bool:
    """A screen this size shows only `too_small_text` (its class `-too-small`, in the styles)."""
    return width < MIN_WIDTH or height < MIN_HEIGHT


def too_small_text(width: int, height: int) -> str:
    return (
        f"This terminal is {width}x{height}; mailsetup needs at least "
        f"{MIN_WIDTH}x{MIN_HEIGHT}. Enlarge the window (on a serial console: "
        "stty cols 80 rows 24). Ctrl+X quits."
    )
