"""Where the outcome of Test, Save and Send test appears, under the buttons, in the session's
words."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from mailsetup_tui.core.outcomes import SaveOutcome, SendOutcome, TestOutcome
from mailsetup_tui.tui import styles

_HALF = r"((?:[0-9A-F]{2}:){15}[0-9A-F]{2})"
_FINGERPRINT = rf"\b{_HALF}:{_HALF}\b"  # compiled at first use (re caches it)
"""A SHA-256 fingerprint, 32 hex pairs: 95 characters without a space, so the panel would
wrap it wherever its line ends, mid-pair."""


def breakable(detail: str) -> str:
    """`detail` with each fingerprint given a place to wrap: between its two halves (16 pairs
    each), so a line ends there or not at all inside it."""
    return re.sub(_FINGERPRINT, r"\1: \2", detail)


class ResultPanel(Widget):
    """A headline and a detail under it; the state class (-ok, -failed, -busy) styles them.

    One widget drawing both: as two Statics in a container it was three widgets to style and
    lay out at every start, for two lines of text. Each part wraps on its own, as before."""

    DEFAULT_CSS = styles.default_css(styles.RESULT_PANEL)
    COMPONENT_CLASSES: ClassVar[set[str]] = {"result--headline", "result--detail"}
    STATES = ("-ok", "-failed", "-busy", "-saved", "-stale")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.headline = ""
        self.detail = ""

    def render(self) -> RenderResult:
        # The component styles as they are now: the state class changes them.
        headline = self.get_component_styles("result--headline").rich_style
        detail = self.get_component_styles("result--detail").rich_style
        return Text.assemble((self.headline, headline), "\n", (self.detail, detail))

    def _show(self, state: str | None, headline: str, detail: str = "") -> None:
        for name in self.STATES:
            self.set_class(name == state, name)
        self.headline, self.detail = headline, breakable(detail)
        self.refresh(layout=True)

    def show_busy(self, headline: str, detail: str = "") -> None:
        self._show("-busy", headline, detail)

    def show_test(self, outcome: TestOutcome) -> None:
        if not outcome.ok:
            self._show("-failed", outcome.headline, outcome.detail)
            return
        # The code dialog that said who signed in is gone by now: say it here.
        sentences = [outcome.signed_in, outcome.detail, "Save and Send test are now available."]
        self._show("-ok", outcome.headline, " ".join(s for s in sentences if s))

    def show_stale(self, headline: str, detail: str) -> None:
        """An earlier result that no longer holds (the values changed since it), or an
        action that is not available yet and why."""
        self._show("-stale", headline, detail)

    def show_cancelled(self) -> None:
        self._show("-failed", "Test cancelled.", "Nothing was saved.")

    def show_error(self, headline: str, detail: str) -> None:
        self._show("-failed", headline, detail)

    def show_saved(self, outcome: SaveOutcome) -> None:
        self._show("-saved", outcome.headline, ". ".join(outcome.details))

    def show_sent(self, outcome: SendOutcome) -> None:
        self._show("-ok" if outcome.ok else "-failed", outcome.headline, outcome.detail)
