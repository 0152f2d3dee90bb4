"""The Textual application: one screen, the colours the terminal can show, and the styles."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from mailsetup_tui.core.probe import DEFAULT_TIMEOUT
from mailsetup_tui.core.store import AccountStore
from mailsetup_tui.tui.setup_screen import ProbeSettings, SetupScreen


def styles_dir() -> Path:
    """The shipped styles: inside the package when installed from a wheel, else the repo's
    top-level styles/ (an editable install runs from the source tree)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "styles"
    if installed.is_dir():
        return installed
    return package.parent.parent / "styles"


def wants_ansi(environ: Mapping[str, str]) -> bool:
    """Use the terminal's own 16 colours (and no colour under NO_COLOR) on limited terminals.

    Serial consoles (vt100/vt220), the Linux console and NO_COLOR users get the ANSI theme, which
    stays legible where RGB colours would be approximated or dropped.
    """
    term = environ.get("TERM", "")
    return (
        "NO_COLOR" in environ
        or term in {"linux", "dumb", ""}
        or term.startswith(("vt", "ansi", "cons"))
    )


class MailSetupApp(App[None]):
    """`mailsetup` with no command."""

    TITLE = "System E-mail Account Setup"
    CSS_PATH = styles_dir() / "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", key_display="^Q", priority=True)
    ]

    def __init__(
        self,
        store: AccountStore,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        limited = wants_ansi(os.environ if environ is None else environ)
        # Decided before App.__init__: NO_COLOR with an ANSI theme but without ansi_color=True
        # renders black on black in Textual 8 (shared/textual8.md, 3.12).
        super().__init__(ansi_color=True if limited else None)
        if limited:
            self.theme = "ansi-dark"
        self.set_class(limited, "-limited")
        self.setup_screen = SetupScreen(store, ProbeSettings(timeout=timeout, ca_file=ca_file))

    def get_default_screen(self) -> SetupScreen:
        return self.setup_screen

    async def action_quit(self) -> None:
        self.setup_screen.request_quit()
