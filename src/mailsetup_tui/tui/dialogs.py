"""Modal questions and the help text: each a small screen that returns its answer."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

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


def help_text(chosen: Provider) -> str:
    return f"""\
SMTP Mail         The mail service the codes are sent through. Type its first
                  letter (E, G, H, Y, O) to pick it; Enter or Space opens the list.
Display Name      The sender name recipients see in the From line.
Email             The address the codes are sent from; it must belong to the
                  chosen service ({chosen.domains.description}).
Password          The app password for this account ({chosen.label}: {chosen.app_password_hint}).
SMTP Server Name  The server and port: filled in for the presets, yours for Other.
SMTP Server Port  Other's Security: Auto uses TLS on 465 and STARTTLS elsewhere.

Test connects, encrypts, logs in and checks the sender, sending nothing.
Save is possible once a test of exactly the values on screen has passed.

{chosen.notice_detail or ""}

Keys: Tab/Shift+Tab move, Enter next field, Ctrl+T or F2 Test, Ctrl+S or F3
Save, Ctrl+R show the password for 5 s, Esc cancel a test, Ctrl+Q quit."""


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
            yield Static("Esc or Enter closes this help.", classes="hint")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
