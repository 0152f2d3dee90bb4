"""The System E-mail Account Setup screen: the spec's eight steps, keyboard only, at 80x24."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from mailsetup_tui.core.account import Account, AccountDraft, InvalidAccount, SignInMethod
from mailsetup_tui.core.outcomes import (
    CLEAR_TEXT_WARNING,
    SaveOutcome,
    SendOutcome,
    TestOutcome,
)
from mailsetup_tui.core.providers import ProviderId, provider
from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.session import NeedsSignIn, NotTested, SetupSession, UnreadableSecret
from mailsetup_tui.core.store.types import StoreError
from mailsetup_tui.tui.account_form import AccountForm
from mailsetup_tui.tui.action_button import ActionButton
from mailsetup_tui.tui.form_progress import FormProgress
from mailsetup_tui.tui.heading import FormHeading
from mailsetup_tui.tui.key_bar import KeyBar
from mailsetup_tui.tui.keys import FORM_KEYS, bindings, key_for
from mailsetup_tui.tui.sizes import too_small, too_small_text

if TYPE_CHECKING:
    from mailsetup_tui.core.oauth import DeviceCode
    from mailsetup_tui.tui.dialogs import DeviceCodeScreen
    from mailsetup_tui.tui.result_panel import ResultPanel

# The dialogs, the queue screen and the result panel are imported when first shown: the
# form's first frame needs none of them, and the queue's table is one of Textual's heavier
# widgets.


class SetupScreen(Screen[None]):
    """Owns the rules between the fields: testing, the Save gate and unsaved changes."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings(on_app=False))
    BLANK = True
    """Its own cells are background only (every word on it is a widget's): Textual fills
    them with that instead of rendering the screen's empty content, 4 M instructions of
    every start. Only a screen over another with a translucent background renders one, and
    this one is always at the bottom."""

    values: var[AccountDraft | None] = var(None)
    """What is on screen now."""
    tested_ok: var[AccountDraft | None] = var(None)
    """The values of the last test that passed; Save is for exactly these."""
    saved: var[AccountDraft | None] = var(None)
    """The values as last loaded or saved: differing values are unsaved changes."""
    save_ready = reactive(False, bindings=True)
    testing = reactive(False, bindings=True)
    """A test is running: Test shows it is busy and Escape cancels it."""
    relay_settings: reactive[RelaySettings | None] = reactive(None, bindings=True)
    """The relay's settings, once a relay is seen to be set up (the Queue key is shown)."""

    class SecretLoaded(Message):
        """The saved account's secret was read (in a thread: keyrings may be slow)."""

        def __init__(self, password: str | None, problem: str | None = None) -> None:
            super().__init__()
            self.password = password
            """The saved password; None for a Microsoft sign-in, which the session holds."""
            self.problem = problem
            """Why it could not be read."""

    class TestFinished(Message):
        """A test ran to its end (a cancelled one posts nothing)."""

        def __init__(self, values: AccountDraft, outcome: TestOutcome) -> None:
            super().__init__()
            self.values = values
            self.outcome = outcome

    class SaveFinished(Message):
        def __init__(
            self, values: AccountDraft, outcome: SaveOutcome | None, problem: str | None = None
        ) -> None:
            super().__init__()
            self.values = values
            self.outcome = outcome
            self.problem = problem
            """Why nothing was saved."""

    class SendFinished(Message):
        def __init__(self, outcome: SendOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(self, session: SetupSession) -> None:
        super().__init__()
        self.session = session
        self._test_worker: Worker[None] | None = None
        self._code_screen: DeviceCodeScreen | None = None
        self._passed: TestOutcome | None = None
        """The outcome of the test that passed, shown again when the values return to it."""
        self.focus_given = asyncio.Event()
        """Set once SMTP Mail has focus: a key typed ahead waits for it (`MailSetupApp`)."""
        self._shown_before = False

    def compose(self) -> ComposeResult:
        # Sized before the widgets exist, not at the first Resize (as Textual's breakpoints
        # would): a class changed then restyles every widget, after each was styled at mount.
        # The "too small" line, the banner and the result panel are made when first needed:
        # most runs need neither of the first two, none needs the panel before its first
        # outcome, and every widget costs start-up its styling, layout and memory.
        if too_small(*self.app.size):
            from mailsetup_tui.tui.note_line import NoteLine

            self.add_class("-too-small")
            yield NoteLine(too_small_text(*self.app.size), id="too-small")
        yield FormHeading(self.session, self.app.title, id="heading")
        yield AccountForm(id="form", mx_lookup=self.session.mx_fact, discover=self.session.discover)
        with Horizontal(id="buttons"):
            yield ActionButton("Test", id="test")
            yield ActionButton("Save", id="save", disabled=True)
            yield ActionButton("Send test", id="send-test", disabled=True)
        yield KeyBar(id="keys")

    @property
    def form(self) -> AccountForm:
        return self.query_one(AccountForm)

    @property
    def result_panel(self) -> ResultPanel:
        """Where outcomes appear, under the buttons: made for the first one."""
        from mailsetup_tui.tui.result_panel import ResultPanel

        panel = self.query_one_optional(ResultPanel)
        if panel is None:
            panel = ResultPanel(id="result")
            self.mount(panel, after="#buttons")
        return panel

    def on_resize(self, event: events.Resize) -> None:
        small = too_small(*event.size)
        line = self.query_one_optional("#too-small", Static)
        if line is not None:
            line.update(too_small_text(*event.size))
        elif small:
            from mailsetup_tui.tui.note_line import NoteLine

            # Mounted before the class is set: the line brings the rules that hide the form
            # (its DEFAULT_CSS), and a class change restyles at once with the rules read.
            self.mount(NoteLine(too_small_text(*event.size), id="too-small"), before=0)
        self.set_class(small, "-too-small")

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Screen's own handler, which would otherwise restyle every widget when
        # the screen is first shown: each was styled as it mounted, against the same CSS,
        # and each class or focus change since restyled its widget. That second pass was a
        # twenty-fifth of the form's start-up. Later resumes (a dialog closed) restyle as usual.
        if not self._shown_before:
            self._shown_before = True
            event.refresh_styles = False

    def on_mount(self) -> None:
        self._open_saved_account()
        self.values = self.saved = self.form.values
        # At once, not through Widget.focus (a callback queued behind whatever keys were
        # typed ahead, which would reach a form with nothing focused and be lost).
        self.set_focus(self.form.first_control)
        self.focus_given.set()

    # --- loading ----------------------------------------------------------------------------

    def _open_saved_account(self) -> None:
        opened = self.session.open()
        self._set_mode(opened.mode)
        self._set_banner(opened.warning or "")
        if opened.account is not None:
            self.form.load(opened.account, None)
            self._read_saved_secret(opened.account)

    @work(thread=True, exit_on_error=False, group="secret")
    def _read_saved_secret(self, account: Account) -> None:
        try:
            password = self.session.load_saved_secret(account)
        except UnreadableSecret as problem:
            self.post_message(self.SecretLoaded(None, str(problem)))
        else:
            self.post_message(self.SecretLoaded(password))

    @on(SecretLoaded)
    def fill_in_saved_password(self, message: SecretLoaded) -> None:
        if message.problem is not None:
            self._set_banner(message.problem)
        if message.password is None or self.form.values.password:
            return  # a Microsoft sign-in, or the user typed a password meanwhile: theirs wins
        unchanged = self.values == self.saved
        self.form.set_password(message.password)
        self.values = self.form.values
        if unchanged:
            self.saved = self.values

    def _set_mode(self, text: str) -> None:
        self.query_one(FormHeading).show_mode(text)

    def _set_banner(self, text: str) -> None:
        banner = self.query_one_optional("#banner", Static)
        if banner is None:
            if not text:
                return
            from mailsetup_tui.tui.note_line import NoteLine

            banner = NoteLine(id="banner")
            self.mount(banner, after="#heading")
        banner.update(text)
        banner.set_class(bool(text), "-visible")

    # --- derived state ----------------------------------------------------------------------

    @on(AccountForm.Edited)
    def form_edited(self) -> None:
        self.values = self.form.values

    def watch_values(self) -> None:
        self._update_save_ready()
        self.refresh_bindings()  # "Show password" only where there is a password

    def watch_tested_ok(self) -> None:
        self._update_save_ready()

    def _update_save_ready(self) -> None:
        was_ready = self.save_ready
        self.save_ready = self.tested_ok is not None and self.tested_ok == self.values
        if self.tested_ok is None or was_ready == self.save_ready:
            return
        if was_ready:
            # "Save and Send test are now available" would no longer be true.
            self.result_panel.show_stale(
                "The values changed since the test passed.",
                f"Test again ({key_for('test')}) before Save or Send test.",
            )
        elif self._passed is not None:  # edited back to exactly what passed
            self.result_panel.show_test(self._passed)

    def watch_save_ready(self) -> None:
        self._sync_save_button()

    def _sync_save_button(self) -> None:
        # Sending a test message needs the same thing as saving: these values passed a test.
        self.query_one("#save", ActionButton).disabled = not self.save_ready
        self.query_one("#send-test", ActionButton).disabled = not self.save_ready

    def watch_testing(self, testing: bool) -> None:
        button = self.query_one("#test", ActionButton)
        button.label = "Testing..." if testing else "Test"
        button.set_class(testing, "-busy")

    FOOTER_ORDER: ClassVar[tuple[str, ...]] = tuple(key.action for key in FORM_KEYS)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The bindings in one order whatever is focused. Textual lists them as it meets them
        from the focused widget up, so a key an Input also binds (Ctrl+X, cut) would move Quit
        to the front: the whole footer rewritten at each Tab, bytes a serial line pays for."""
        order = {action: index for index, action in enumerate(self.FOOTER_ORDER)}
        active = super().active_bindings
        return dict(sorted(active.items(), key=lambda item: order.get(item[1].binding.action, 0)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"save", "send_test"}:
            return True if self.save_ready else None
        if action == "test":
            return None if self.testing else True
        if action == "cancel_test":
            return self.testing
        if action == "reveal":
            return self.form.signin_method is SignInMethod.PASSWORD
        if action == "queue":  # only where a relay is set up
            return self.relay_settings is not None
        if action == "ca_file":  # the presets' servers have public CAs
            return True if self.form.provider_id is ProviderId.OTHER else None
        return True

    def on_key(self, event: events.Key) -> None:
        """A key whose action is not available now (shown dimmed in the footer) says why,
        instead of doing nothing: Textual hands such a key on unhandled."""
        action = _ACTION_BY_KEY.get(event.key)
        if action is None or self.check_action(action, ()):
            return
        reason = self._why_unavailable(action)
        if reason is not None:
            event.stop()
            self.result_panel.show_stale(*reason)

    def _why_unavailable(self, action: str) -> tuple[str, str] | None:
        test = key_for("test")
        if action in {"save", "send_test"}:
            name = "Save" if action == "save" else "Send test"
            if self.testing:
                return f"{name} waits for the test.", "It is available once the test passes."
            if self.tested_ok is not None:
                return (
                    f"{name} is not available: the values changed since the test passed.",
                    f"Test again ({test}) first.",
                )
            return (
                f"{name} is not available yet.",
                f"Test these values first ({test}): {name} is for values that passed a test.",
            )
        if action == "test" and self.testing:
            return (
                "A test is already running.",
                f"Wait for it, or cancel it ({key_for('cancel_test')}).",
            )
        if action == "ca_file":
            return (
                "A CA file is for Other.",
                "The presets' servers have certificates from public CAs, in the system's store.",
            )
        if action == "queue":
            return (
                "There is no relay queue here.",
                "No relay is set up on this host (mailsetup relay); see the README.",
            )
        return None

    @property
    def has_unsaved_changes(self) -> bool:
        return self.values != self.saved

    # --- Test -------------------------------------------------------------------------------

    @on(ActionButton.Pressed, "#test")
    def test_pressed(self) -> None:
        self.action_test()

    def action_test(self) -> None:
        if self.testing:
            return  # one test at a time; Escape cancels the running one
        values = self.form.values
        try:
            checked = values.check()
        except InvalidAccount as invalid:
            self.form.show_problems(invalid.problems)
            self.result_panel.show_error("Please correct the marked fields.", "Nothing was sent.")
            return
        self.form.show_problems(())
        if checked.sends_password_in_clear:
            from mailsetup_tui.tui.dialogs import ConfirmScreen

            self.app.push_screen(
                ConfirmScreen(
                    f"{CLEAR_TEXT_WARNING} Test anyway?", yes="Send unencrypted", no="Cancel"
                ),
                lambda yes: self._start_test(values, checked) if yes else None,
            )
            return
        self._start_test(values, checked)

    def _start_test(self, values: AccountDraft, account: Account) -> None:
        self.testing = True
        self._test_worker = self._run_test(values, FormProgress(self, account.email))

    @work(exclusive=True, group="test", exit_on_error=False)
    async def _run_test(self, values: AccountDraft, progress: FormProgress) -> None:
        try:
            outcome = await self.session.test(values, progress)
        finally:
            self.close_code_screen()
        self.post_message(self.TestFinished(values, outcome))

    def show_code(self, code: DeviceCode, email: str) -> None:
        from mailsetup_tui.tui.dialogs import DeviceCodeScreen

        self._code_screen = DeviceCodeScreen(code, email)
        self.app.push_screen(
            self._code_screen, lambda cancel: self.action_cancel_test() if cancel else None
        )

    def close_code_screen(self) -> None:
        screen, self._code_screen = self._code_screen, None
        if screen is not None and self.app.screen is screen:
            screen.dismiss(False)

    def action_cancel_test(self) -> None:
        if self._test_worker is not None and self.testing:
            self._test_worker.cancel()

    @on(TestFinished)
    def show_test_outcome(self, message: TestFinished) -> None:
        self._test_ended()
        self.result_panel.show_test(message.outcome)
        self._passed = message.outcome if message.outcome.ok else None
        self.tested_ok = message.values if message.outcome.ok else None

    def _test_ended(self) -> None:
        self.testing = False
        self._test_worker = None

    @on(Worker.StateChanged)
    def worker_ended_without_outcome(self, event: Worker.StateChanged) -> None:
        """A cancelled or crashed worker posts no outcome of its own: say what happened."""
        worker, state = event.worker, event.state
        if state is WorkerState.CANCELLED and worker.group == "test":
            self._test_ended()
            self.result_panel.show_cancelled()
        elif state is WorkerState.ERROR:
            if worker.group == "test":
                self._test_ended()
            error = worker.error
            if isinstance(error, StoreError):  # the saved account, its secret or CA file
                headline, detail = "The saved account cannot be used.", str(error)
            else:
                headline = _CRASH_HEADLINES.get(worker.group, "Something went wrong.")
                detail = f"unexpected: {error!r}"
            self.result_panel.show_error(headline, self.session.secrets.redact(detail))
            self._sync_save_button()

    # --- Save -------------------------------------------------------------------------------

    @on(ActionButton.Pressed, "#save")
    def save_pressed(self) -> None:
        self.action_save()

    def _ready_tested_values(self) -> AccountDraft | None:
        """The values on screen, if they are exactly what passed and their secret is in hand
        (for Save and Send test); None, saying why where it is not obvious, otherwise."""
        values = self.tested_ok
        if not self.save_ready or values is None:
            return None
        try:
            self.session.tested_account(values)
        except NeedsSignIn:
            self.result_panel.show_error(
                "Not signed in.", "Test again: it starts a new Microsoft sign-in."
            )
            return None
        except NotTested:
            return None
        return values

    def action_save(self) -> None:
        values = self._ready_tested_values()
        if values is None:
            return
        self.query_one("#save", ActionButton).disabled = True
        self._run_save(values)

    @work(thread=True, group="save", exit_on_error=False)
    def _run_save(self, values: AccountDraft) -> None:
        try:
            outcome = self.session.save(values)
        except StoreError as error:
            self.post_message(self.SaveFinished(values, None, str(error)))
        else:
            self.post_message(self.SaveFinished(values, outcome))

    @on(SaveFinished)
    def show_save_outcome(self, message: SaveFinished) -> None:
        if message.outcome is None:
            self.result_panel.show_error("Not saved.", message.problem or "")
        else:
            self.saved = message.values
            self.result_panel.show_saved(message.outcome)
            self._set_mode(message.outcome.mode)
            self._set_banner("")
        self._sync_save_button()

    # --- Send test message --------------------------------------------------------------------

    @on(ActionButton.Pressed, "#send-test")
    def send_test_pressed(self) -> None:
        self.action_send_test()

    def action_send_test(self) -> None:
        values = self._ready_tested_values()
        if values is None:
            return
        from mailsetup_tui.tui.dialogs import RecipientScreen

        self.app.push_screen(
            RecipientScreen(values.email.strip()),
            lambda to: self._start_send(values, to) if to else None,
        )

    def _start_send(self, values: AccountDraft, to: str) -> None:
        self.result_panel.show_busy(f"Sending a test message to {to} ...")
        self._run_send(values, to)

    @work(exclusive=True, group="send", exit_on_error=False)
    async def _run_send(self, values: AccountDraft, to: str) -> None:
        self.post_message(self.SendFinished(await self.session.send_test_message(values, to)))

    @on(SendFinished)
    def show_send_outcome(self, message: SendFinished) -> None:
        self.result_panel.show_sent(message.outcome)

    # --- the rest ---------------------------------------------------------------------------

    def action_reveal(self) -> None:
        self.form.reveal_password()

    def action_ca_file(self) -> None:
        from mailsetup_tui.tui.dialogs import CaFileScreen

        current = self.session.ca_file_in_use()
        self.app.push_screen(
            CaFileScreen(str(current) if current else ""),
            lambda path: self._use_ca_file(path) if path is not None else None,
        )

    def _use_ca_file(self, path: str) -> None:
        problem = self.session.use_ca_file(Path(path) if path else None)
        if problem is not None:
            self.result_panel.show_error("Not a CA file the test can trust.", problem)
            return
        # What passed was trusted another way: Save waits for a test with these CAs.
        self._passed = None
        self.tested_ok = None
        trusted = self.session.ca_file_in_use()
        self.result_panel.show_stale(
            f"The test will trust the CAs in {trusted}."
            if trusted
            else "The test will trust the system's CA store.",
            f"Test again ({key_for('test')}); Save keeps the CA file with the account.",
        )

    @on(FormHeading.Changed)
    def relay_changed(self, message: FormHeading.Changed) -> None:
        self.relay_settings = message.settings if message.set_up else None

    def action_queue(self) -> None:
        if self.relay_settings is not None:
            from mailsetup_tui.tui.queue_screen import QueueScreen

            self.app.push_screen(QueueScreen(self.relay_settings))

    def action_help(self) -> None:
        from mailsetup_tui.tui.dialogs import HelpScreen

        self.app.push_screen(HelpScreen(provider(self.form.provider_id), self.form.signin_method))

    def request_quit(self) -> None:
        """Quit, asking first if there are unsaved changes; a second Ctrl+Q confirms."""
        from mailsetup_tui.tui.dialogs import QuitConfirmation

        if not self.has_unsaved_changes or isinstance(self.app.screen, QuitConfirmation):
            self.app.exit()
            return
        self.app.push_screen(
            QuitConfirmation(
                "You have changes that are not saved. Quit and lose them?",
                yes="Quit without saving",
                no="Keep editing",
            ),
            lambda yes: self.app.exit() if yes else None,
        )


_ACTION_BY_KEY = {name: key.action for key in FORM_KEYS if not key.on_app for name in key.keys}

_CRASH_HEADLINES = {
    "test": "The test stopped on an internal error.",
    "save": "Not saved.",
    "send": "Test message not sent.",
}
