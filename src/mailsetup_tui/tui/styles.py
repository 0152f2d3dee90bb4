"""Where the shipped styles are, and which file each part of the interface reads.

The form's own styles are read at start-up; the limited terminals' only where the terminal
is one (`MailSetupApp`), the dialogs' when the first dialog opens, the queue's when the queue
does, the result panel's when the first outcome makes the panel, a choice's list's when the
first list opens, the note lines' ("too small", the banner, a field's problem) when the
first is made. Textual parses every rule it has read and matches each against every
widget it styles, so what the form never shows is not read before its first frame.
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
RESULT_PANEL = _DIR / "result_panel.tcss"
CHOICE_LIST = _DIR / "choice_list.tcss"
NOTE_LINE = _DIR / "note_line.tcss"


def default_css(path: Path) -> str:
    """A widget's own rules from `path`, for its `DEFAULT_CSS`: Textual parses those when the
    first widget of the class is mounted, where it parses an app's or a screen's stylesheet
    when the app or screen starts. Rules of the widget itself, at the lowest priority: the
    app's stylesheets (limited.tcss) override them."""
    return path.read_text(encoding="utf-8")
