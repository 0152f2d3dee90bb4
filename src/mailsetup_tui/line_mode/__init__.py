"""Line mode: the form as a question-and-answer wizard for any teletype (`line_mode.wizard`)."""

from mailsetup_tui.line_mode.wizard import run_wizard, wants_plain

__all__ = ["run_wizard", "wants_plain"]
