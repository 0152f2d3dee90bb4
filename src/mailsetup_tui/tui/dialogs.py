"""Modal questions and the help text: each a small screen that returns its answer."""

from __future__ import annotations

import textwrap
import time
from typing import ClassVar, TypeVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from mailsetup_tui.core.account import SignInMethod
from mailsetup_tui.core.oauth import DeviceCode
from mailsetup_tui.core.providers import Provider, keys_listed
from mailsetup_tui.tui import styles
from mailsetup_tui.tui.action_button import ActionButton
from mailsetup_tui.tui.form_lines import TypingInput
from mailsetup_tui.tui.keys import key_rows
from mailsetup_tui.tui.sizes import too_small, too_small_text

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A box over the form. Below the form's minimum size it says so instead, as the form
    does: a box cut by the terminal's edges would leave lines that belong to nothing."""

    CSS_PATH = styles.DIALOGS

    def compose(self) -> ComposeResult:
        self.set_class(too_small(*self.app.size), "-too-small")  # as SetupScreen does
        yield Static("", classes="too-small", markup=False)
        yield from self.compose_box()

    def compose_box(self) -> ComposeResult:
        """The box itself."""
        raise NotImplementedError

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(too_small(*event.size), "-too-small")
        self.query_one(".too-small", Static).update(too_small_text(*event.size))


class ConfirmScreen(Dialog[bool]):
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

    def compose_box(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield ActionButton(self.yes_label, id="yes")
                yield ActionButton(self.no_label, id="no")

    def on_mount(self) -> None:
        self.query_one("#no", ActionButton).focus()  # the safe answer is the default

    @on(ActionButton.Pressed, "#yes")
    def yes_pressed(self) -> None:
        self.dismiss(True)

    @on(ActionButton.Pressed, "#no")
    def no_pressed(self) -> None:
        self.dismiss(False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class QuitConfirmation(ConfirmScreen):
    """The unsaved-changes question, a type of its own so a second Ctrl+Q can confirm it."""


class LineQuestion(Dialog[str | None]):
    """A question answered on one line: Enter takes the answer (stripped), Escape cancels
    (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]
    QUESTION = ""
    PLACEHOLDER = ""

    def __init__(self, answer: str) -> None:
        super().__init__()
        self.answer = answer

    def compose_box(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.QUESTION, classes="question", markup=False)
            yield TypingInput(self.answer, placeholder=self.PLACEHOLDER, id="answer")

    def on_mount(self) -> None:
        answer = self.query_one("#answer", Input)
        answer.cursor_blink = False
        answer.focus()

    @on(Input.Submitted, "#answer")
    def take(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self.taken(event.value.strip()))

    def taken(self, answer: str) -> str | None:
        return answer

    def action_cancel(self) -> None:
        self.dismiss(None)


class RecipientScreen(LineQuestion):
    """Where to send the test message; an empty answer sends nothing."""

    QUESTION = "Send a short test message to (Enter sends, Esc cancels):"

    def taken(self, answer: str) -> str | None:
        return answer or None


class CaFileScreen(LineQuestion):
    """The PEM file of CAs to trust (Other with a private CA). An empty answer means the one
    saved with the account, else the system's store, again."""

    QUESTION = (
        "Trust the CAs in this PEM file instead of the system's store (a server with a "
        "private CA); it is saved with the account. Empty: the one saved with the account, "
        "else the system's store. Enter takes it, Esc cancels."
    )
    PLACEHOLDER = "/etc/ssl/private-ca.pem"


class DeviceCodeScreen(Dialog[bool]):
    """Microsoft sign-in: where to go and the code to type there, while the form polls.

    The code stands alone on its line, in bold, so it can be read across a room and selected
    with the mouse without picking up anything else. Nothing on it changes while waiting:
    no countdown repainting over a serial line, just the time the code expires. Escape
    cancels; the screen returns True then, and False when the sign-in ended on its own.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel sign-in", show=False)
    ]

    def __init__(self, code: DeviceCode, account: str) -> None:
        super().__init__()
        self.code = code
        self.account = account

    def compose_box(self) -> ComposeResult:
        expires = time.strftime("%H:%M", time.localtime(self.code.expires_at))
        with Vertical(classes="dialog device-code"):
            yield Static("Microsoft sign-in", classes="dialog-title", markup=False)
            yield Static(
                f"On any device with a browser, open\n\n  {self.code.verification_uri}\n\n"
                f"sign in as {self.account} (or the user allowed to send as it) and enter:",
                markup=False,
            )
            yield Static(self.code.user_code, id="user-code", markup=False)
            yield Static(
                f"Waiting for the sign-in; the code expires at {expires}. Esc cancels.",
                classes="hint",
                markup=False,
            )

    def action_cancel(self) -> None:
        self.dismiss(True)


HELP_WIDTH = 74
"""Text columns inside the help dialog (80 wide: border, padding and scroll bar) on an 80-column
terminal."""


KEY_COLUMN = 21
"""Wide enough for the longest keys ("Ctrl+X, F10, Ctrl+Q") and a space."""


def _entry(label: str, text: str, width: int = 14) -> str:
    return textwrap.fill(
        text, HELP_WIDTH, initial_indent=f"{label:<{width}}", subsequent_indent=" " * width
    )


def microsoft_signin_steps(chosen: Provider) -> list[str]:
    """The one-time app registration, in the portal's own words (also in the README)."""
    accounts = (
        "Personal Microsoft accounts only"
        if chosen.fixed_tenant == "consumers"
        else "Accounts in this organizational directory only"
    )
    steps = [
        "Microsoft sign-in needs an app registration of your own, made once at "
        "https://entra.microsoft.com > App registrations > New registration:",
        f"1. Any name; Supported account types: {accounts}; no redirect URI.",
        "2. Authentication > Settings: Allow public client flows = Yes.",
        "3. API permissions > Add a permission > Microsoft Graph > Delegated: SMTP.Send and "
        "offline_access; then Grant admin consent (work accounts).",
        "4. From Overview, copy the Application (client) ID to Client ID and the "
        "Directory (tenant) ID (or your domain) to Tenant.",
        "Test then shows a code to enter at https://microsoft.com/devicelogin from any "
        "device; the sign-in is kept like a password and renewed by itself.",
    ]
    return [textwrap.fill(step, HELP_WIDTH, subsequent_indent="   ") for step in steps]


def help_text(chosen: Provider, method: SignInMethod = SignInMethod.PASSWORD) -> str:
    """What each field means, with the chosen provider's app-password or sign-in steps."""
    if method is SignInMethod.MICROSOFT:
        return "\n\n".join(
            [
                "\n".join(
                    [
                        _entry(
                            "Sign-in",
                            "Microsoft sign-in (OAuth2): no password is stored. A or M picks "
                            "App password or Microsoft sign-in.",
                        ),
                        _entry(
                            "Client ID", "the Application (client) ID of your app registration."
                        ),
                        _entry(
                            "Tenant",
                            "consumers for Hotmail/Outlook.com; otherwise the Directory "
                            "(tenant) ID or a domain of your organisation.",
                        ),
                    ]
                ),
                "\n".join(microsoft_signin_steps(chosen)),
                keys_section(),
            ]
        )
    sections = [
        "\n".join(
            [
                _entry(
                    "SMTP Mail",
                    f"the mail service (Hotmail also covers Outlook.com and Live). Type "
                    f"{keys_listed()} to pick one, or step with Left and Right; Enter or "
                    "Space opens the list.",
                ),
                _entry("Display Name", "the sender name recipients see in the From line."),
                _entry(
                    "Email",
                    "the address the codes are sent from; for "
                    f"{chosen.label}: {chosen.domains.description}.",
                ),
                _entry("Password", f"{chosen.label}: {chosen.app_password_hint}."),
                _entry(
                    "Sign-in",
                    "App password, or Microsoft sign-in (OAuth2, for Exchange and "
                    "Hotmail, where Microsoft is ending SMTP passwords): A or M picks.",
                ),
                _entry("Server, Port", "filled in for the presets; yours for Other."),
                _entry(
                    "Security",
                    "how the connection is encrypted: Auto = TLS on port 465, STARTTLS on "
                    "any other (never without); TLS; STARTTLS; None sends the password "
                    "unencrypted, and asks first.",
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
    sections.append(keys_section())
    return "\n\n".join(sections)


def keys_section() -> str:
    """Every key, from the one table (`tui.keys`) the footer and the README also come from."""
    rows = [_entry(keys, does, width=KEY_COLUMN) for keys, does in key_rows()]
    rows.append(
        textwrap.fill(
            "On a serial line Ctrl+S and Ctrl+Q are flow control (XOFF/XON) and never arrive: "
            "use the F-keys (a VT100's PF1-PF4 are F1-F4) and Ctrl+X. Esc or Enter closes "
            "this help.",
            HELP_WIDTH,
        )
    )
    return "\n".join(rows)


class HelpScreen(Dialog[None]):
    """What each field means and where to get an app password for the chosen provider."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,f1,ctrl+g,q", "dismiss_help", "Close", show=False)
    ]

    def __init__(self, chosen: Provider, method: SignInMethod = SignInMethod.PASSWORD) -> None:
        super().__init__()
        self.chosen = chosen
        self.method = method

    def compose_box(self) -> ComposeResult:
        # Longer than 24 rows: it scrolls (Up, Down, PgUp, PgDn), with a visible scroll bar.
        with VerticalScroll(classes="dialog help", can_focus=True) as scroller:
            scroller.border_title = "Help"
            scroller.border_subtitle = "Up/Down/PgUp/PgDn scroll, Esc closes"
            yield Static(help_text(self.chosen, self.method), markup=False)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
