"""A test's stages on the form: the result panel says what runs, the device-code dialog comes
and goes with a Microsoft sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from mailsetup_tui.core.outcomes import TestProgress

if TYPE_CHECKING:
    from mailsetup_tui.core.oauth import DeviceCode
    from mailsetup_tui.tui.result_panel import ResultPanel


class RunsATest(Protocol):
    """What the progress needs of the screen that runs the test (`SetupScreen`)."""

    @property
    def result_panel(self) -> ResultPanel: ...

    def show_code(self, code: DeviceCode, email: str) -> None: ...

    def close_code_screen(self) -> None: ...


class FormProgress(TestProgress):
    """A test's stages on the form: the result panel, and the device-code dialog."""

    can_show_code = True

    def __init__(self, screen: RunsATest, email: str) -> None:
        self.screen = screen
        self.email = email

    def signing_in(self) -> None:
        self.screen.result_panel.show_busy("Starting Microsoft sign-in ...", "Esc cancels.")

    def show_code(self, code: DeviceCode) -> None:
        self.screen.show_code(code, self.email)

    def signed_in(self, sentence: str) -> None:
        self.screen.close_code_screen()

    def testing(self, sentence: str) -> None:
        self.screen.result_panel.show_busy(sentence, "Esc cancels the test.")
