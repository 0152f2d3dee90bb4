"""Where the shipped styles are, and which file each part of the interface reads.

The form's own styles are read at start-up; the limited terminals' only where the terminal
is one (`MailSetupApp`), the dialogs' when the first dialog opens, the queue's when the queue
does. Textual parses every rule it has read and matches each against every widget it styles,
so what the form never shows is not read before its first frame.
"""

from __future__ import annotations

from pathlib import Path


def styles_dir() -> Path:
    """The shipped styles: inside the package when installed from a wheel, else the repo's
    top-level styles/ (an editable install runs from the source tree)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "styles"
    if installed.is_dir():
        return installed
    return package.parent.parent / "styles"


_DIR = styles_dir()
FORM = _DIR / "app.tcss"
LIMITED = _DIR / "limited.tcss"
DIALOGS = _DIR / "dialogs.tcss"
QUEUE = _DIR / "queue.tcss"
