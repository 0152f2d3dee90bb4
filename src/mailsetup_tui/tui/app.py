"""The Textual application: one screen, the colours the terminal can show, and the styles."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.widgets import Input

from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.terminal.driver import FrugalLinuxDriver, frugal_enabled
from mailsetup_tui.tui.account_form import AccountForm
from mailsetup_tui.tui.setup_screen import SetupScreen


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


async def _settle(nodes: list[DOMNode], rounds: int = 3) -> None:
    """Wait until `nodes` have handled everything queued for them so far.

    A callback queued behind a node's pending messages runs once they are handled. Handlers
    post further messages (a key makes a Select post Changed, which bubbles to the form), so
    a few rounds let one key's consequences finish: two are needed for a provider change,
    the third is margin.
    """
    for _ in range(rounds):
        for node in nodes:
            handled = asyncio.Event()
            if node.call_later(handled.set):
                await handled.wait()


class MailSetupApp(App[None]):
    """`mailsetup` with no command."""

    TITLE = "System E-mail Account Setup"
    CSS_PATH = styles_dir() / "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", key_display="^Q", priority=True)
    ]

    def __init__(self, session: SetupSession, *, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        limited = wants_ansi(environ)
        # Decided before App.__init__: in Textual 8, NO_COLOR with an ANSI theme but without
        # ansi_color=True renders black on black (its Monochrome filter maps the theme's
        # unmaterialised ANSI colours to #000000).
        super().__init__(
            ansi_color=True if limited else None,
            driver_class=FrugalLinuxDriver if frugal_enabled(environ) else None,
        )
        if limited:
            self.theme = "ansi-dark"
        self.set_class(limited, "-limited")
        self.setup_screen = SetupScreen(session)

    def get_default_screen(self) -> SetupScreen:
        return self.setup_screen

    async def action_quit(self) -> None:
        self.setup_screen.request_quit()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and await self._move_focus_in_key_order(event):
            return
        await super().on_event(event)

    async def _move_focus_in_key_order(self, key: events.Key) -> bool:
        """Move focus for Tab, Shift+Tab and Enter-in-a-field here, in the App's own queue.

        Textual hands each key to the focused widget's queue, and a Tab moves focus only
        when that widget gets round to it; keys that arrived in the same read (typeahead on
        a laggy SSH link, a fast typist on a serial line) were already queued to the old
        widget: "g<Tab>Acme" typed the name into SMTP Mail, whose letters pick providers.
        So the keys already routed are let finish first (picking Other enables Server and
        Port, which the next Tab must not skip), then focus moves before the next key is
        routed, and every key lands in the field it was typed for.
        """
        if key.key not in {"tab", "shift+tab", "enter"}:
            return False
        focused = self.focused
        if key.key == "enter" and not (
            isinstance(focused, Input)
            and any(isinstance(a, AccountForm) for a in focused.ancestors)
        ):
            return False  # Enter presses buttons, opens the provider list, submits dialogs
        if focused is not None:
            # Not the App itself: it is the one waiting here, in its own handler.
            await _settle([node for node in focused.ancestors_with_self if node is not self])
        screen = self.screen
        if key.key == "shift+tab":
            screen.focus_previous()
        else:
            screen.focus_next()
        key.stop()
        return True
