"""Modal questions and the help text: each a small screen that returns its answer."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from mailsetup_tui.core.providers import Provider


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; Y/N answer at once, Escape means no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, yes: str, no: str) -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, id="yes", compact=True)
                yield Button(self.no_label, id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    @on(Button.Pressed, "#yes")
    def yes_pressed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def no_pressed(self) -> None:
        self.dismiss(False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class RecipientScreen(ModalScreen[str | None]):
    """Where to send the test message; Enter sends, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, suggestion: str) -> None:
        super().__init__()
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                "Send a short test message to (Enter sends, Esc cancels):",
                classes="question",
                markup=False,
            )
            yield Input(self.suggestion, id="recipient", compact=True)

    def on_mount(self) -> None:
        recipient = self.query_one("#recipient", Input)
        recipient.cursor_blink = False
        recipient.focus()

    @on(Input.Submitted, "#recipient")
    def send_to(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


HELP_WIDTH = 72
"""Text columns inside the help dialog (76 wide with border and padding) on an 80-column
terminal."""


def _entry(label: str, text: str) -> str:
    return textwrap.fill(
        text, HELP_WIDTH, initial_indent=f"{label:<14}", subsequent_indent=" " * 14
    )


def help_text(chosen: Provider) -> str:
    """What each field means, with the chosen provider's app-password steps."""
    sections = [
        "\n".join(
            [
                _entry(
                    "SMTP Mail",
                    "the mail service. Type E, G, H, Y or O to pick one; "
                    "Enter or Space opens the list.",
                ),
                _entry("Display Name", "the sender name recipients see in the From line."),
                _entry(
                    "Email",
                    "the address the codes are sent from; for "
                    f"{chosen.label}: {chosen.domains.description}.",
                ),
                _entry("Password", f"{chosen.label}: {chosen.app_password_hint}."),
                _entry(
                    "Server, Port",
                    "filled in for the presets; yours for Other, with "
                    "Security Auto = TLS on port 465, STARTTLS on any other.",
                ),
            ]
        ),
        textwrap.fill(
            "Test logs in and checks the sender without sending anything. Save is possible "
            "once a test of exactly the values on screen has passed.",
            HELP_WIDTH,
        ),
    ]
    if chosen.notice_detail:
        sections.append(textwrap.fill(chosen.notice_detail, HELP_WIDTH))
    sections.append(
        textwrap.fill(
            "Tab/Shift+Tab move, Enter next field, Ctrl+T/F2 Test, Ctrl+S/F3 Save, Ctrl+N/F4 "
            "send a test message, Ctrl+R show the password for 5 s, Esc cancel a test, "
            "Ctrl+Q quit. Esc or Enter closes this help.",
            HELP_WIDTH,
        )
    )
    return "\n\n".join(sections)


class HelpScreen(ModalScreen[None]):
    """What each field means and where to get an app password for the chosen provider."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,f1,ctrl+g,q", "dismiss_help", "Close", show=False)
    ]

    def __init__(self, chosen: Provider) -> None:
        super().__init__()
        self.chosen = chosen

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static(help_text(self.chosen), markup=False)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
