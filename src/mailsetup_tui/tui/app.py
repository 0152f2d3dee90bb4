"""The Textual application: one screen, the colours the terminal can show, and the styles."""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Mapping
from typing import ClassVar

from textual import events
from textual.app import App
from textual.binding import BindingType
from textual.dom import DOMNode
from textual.widgets import Input

from mailsetup_tui.core.redact import redact
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.startup import release_collection
from mailsetup_tui.terminal.driver import (
    FrugalLinuxDriver,
    frugal_enabled,
    limited_terminal,
)
from mailsetup_tui.tui import styles
from mailsetup_tui.tui.account_form import AccountForm
from mailsetup_tui.tui.form_lines import typing_position
from mailsetup_tui.tui.keys import bindings
from mailsetup_tui.tui.setup_screen import SetupScreen


async def _settle(nodes: list[DOMNode], rounds: int = 3) -> None:
    """Wait until `nodes` have handled everything queued for them so far.

    A callback queued behind a node's pending messages runs once they are handled. Handlers
    post further messages (a key makes a Choice post Changed, which bubbles to the form), so
    a few rounds let one key's consequences finish: two are needed for a provider change,
    the third is margin.
    """
    for _ in range(rounds):
        for node in nodes:
            handled = asyncio.Event()
            if node.call_later(handled.set):
                await handled.wait()


SETTLE_AFTER_SECONDS = 0.5
"""How long after the first frame start-up's garbage is collected (see `on_ready`)."""


class MailSetupApp(App[None]):
    """`mailsetup` with no command."""

    TITLE = "System E-mail Account Setup"
    CSS_PATH = styles.FORM
    ENABLE_COMMAND_PALETTE = False
    # Ctrl+Q is XON where software flow control is on (console servers, many serial
    # terminals): it never arrives. Ctrl+X and F10 always do (see `tui.keys`).
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(on_app=True))

    def __init__(self, session: SetupSession, *, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        limited = limited_terminal(environ)
        # Decided before App.__init__: in Textual 8, NO_COLOR with an ANSI theme but without
        # ansi_color=True renders black on black (its Monochrome filter maps the theme's
        # unmaterialised ANSI colours to #000000).
        super().__init__(
            ansi_color=True if limited else None,
            driver_class=FrugalLinuxDriver if frugal_enabled(environ) else None,
            css_path=[styles.FORM, styles.LIMITED] if limited else None,
        )
        if limited:
            self.theme = "ansi-dark"
        self.set_class(limited, "-limited")
        self.limited = limited
        self.setup_screen = SetupScreen(session)

    def get_default_screen(self) -> SetupScreen:
        return self.setup_screen

    def on_ready(self) -> None:
        """The first frame is drawn: start-up is over (see `mailsetup_tui.startup`). The full
        collection that ends it waits a moment: it holds the interpreter while it runs, and
        the first frame may still be on its way out through the driver's writer thread."""
        self.set_timer(SETTLE_AFTER_SECONDS, lambda: release_collection(settle=True))

    def _fatal_error(self) -> None:
        """An unexpected error ends the form. Textual's own report shows every frame's local
        variables, and a typed password is one of them (in the draft being checked, in the
        field's value), so it is reported as the CLI's last resort reports one: the error and
        the traceback without locals, each secret the session has seen and the password on
        screen masked, through the sanitiser. The process then exits 70 (`launch`). Textual
        has no public hook for its report: tests/test_terminal.py crashes the form to hold
        this override to it."""
        from rich.text import Text  # not markup: a traceback has brackets of its own

        error = sys.exc_info()[1]
        try:
            typed = self.setup_screen.form.typed_secret()
        except Exception:  # no form yet: nothing typed to mask, and the report goes on
            typed = ""

        def masked(text: str) -> str:
            return shown(redact(self.setup_screen.session.secrets.redact(text), typed), 500)

        report = []
        if error is not None:  # the traceback for a bug report, the error last, on screen
            lines = "".join(traceback.format_exception(error)).splitlines()
            report += [*(masked(line) for line in lines), ""]
        report.append(f"mailsetup: internal error: {masked(f'{type(error).__name__}: {error}')}")
        self.bell()
        self.panic(Text("\n".join(report)))

    async def action_quit(self) -> None:
        self.setup_screen.request_quit()

    def action_redraw(self) -> None:
        """Clear the terminal and draw the whole screen again: a serial console's messages
        or line noise may have written over the form."""
        driver = self._driver
        if isinstance(driver, FrugalLinuxDriver):
            driver.redraw()
        else:
            self.refresh(repaint=True, layout=True)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Keep the terminal's cursor on the focused control (`typing_position`)."""
        self.cursor_position = typing_position(event.widget)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            if self.screen is self.setup_screen and not self.setup_screen.focus_given.is_set():
                # Typed ahead while the form was still being built: with nothing focused,
                # Textual would hand the key to the screen, and it would be lost.
                await self.setup_screen.focus_given.wait()
            if await self._move_focus_in_key_order(event):
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
