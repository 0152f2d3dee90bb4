"""`-v`: the core's step lines (connect, TLS, each SMTP reply) on a stream a person reads.

Shared by every front end that offers `-v`. Only mailsetup's own logger is shown, each line
through the one sanitiser: the lines quote servers, and a library's debug output could carry
what AUTH sent.
"""

from __future__ import annotations

import logging
from typing import TextIO

from mailsetup_tui.core.untrusted import shown


class _ShownFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"mailsetup: {shown(record.getMessage(), 2000)}"


def show_steps(err: TextIO) -> None:
    """Log each step of a test or send to `err`."""
    handler = logging.StreamHandler(err)
    handler.setFormatter(_ShownFormatter())
    logger = logging.getLogger("mailsetup_tui")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
