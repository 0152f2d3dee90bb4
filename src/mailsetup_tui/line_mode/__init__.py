"""Line mode: the form as a question-and-answer wizard for any teletype (`line_mode.wizard`).

The choice of front end is here, the wizard in its own module: the full-screen form, which
most runs open, asks `wants_plain` and loads none of the wizard.
"""

from __future__ import annotations

from collections.abc import Mapping


def wants_plain(environ: Mapping[str, str], stdin_tty: bool, stdout_tty: bool) -> bool:
    """Line mode where the full-screen form would not work."""
    return environ.get("TERM", "") in {"", "dumb", "unknown"} or not (stdin_tty and stdout_tty)
