"""The System E-mail Account Setup screen: the spec's eight steps, keyboard only, at 80x24."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.widgets import Button, Footer, Static
from textual.worker import Worker, WorkerState

from mailsetup_tui.core import oauth
from mailsetup_tui.core.account import Account, AccountDraft, SignInMethod
from mailsetup_tui.core.mailer import InvalidMessage, Mailer, SendError, Sent
from mailsetup_tui.core.oauth import DeviceCode, HeldSignIn, Tokens
from mailsetup_tui.core.probe import ProbeResult, probe
from mailsetup_tui.core.providers import provider
from mailsetup_tui.core.redact import redact
from mailsetup_tui.core.store import (
    AccountStore,
    SaveReport,
    SecretError,
    SecretType,
    StoreError,
)
from mailsetup_tui.tui.account_form import AccountForm
from mailsetup_tui.tui.dialogs import ConfirmScreen, DeviceCodeScreen, HelpScreen, RecipientScreen
from mailsetup_tui.tui.result_panel import ResultPanel


class QuitConfirmation(ConfirmScreen):
    """The unsaved-changes question, a type of its own so a second Ctrl+Q can confirm it."""


@dataclass(frozen=True)
class ProbeSettings:
    """What the command line decided for every test: deadline and trusted CA."""

    timeout: float
    ca_file: str | None


ProbeOutcome = tuple[AccountDraft, ProbeResult, HeldSignIn | None]


MIN_WIDTH, MIN_HEIGHT = 60, 20
"""Below this the form cannot show every field with its problem line, so it says so instead."""


class SetupScreen(Screen[None]):
    """Owns the rules between the fields: testing, the Save gate and unsaved changes."""

    # Not ClassVar: Textual declares these on the instance, and mypy holds us to that.
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-too-narrow"),
        (MIN_WIDTH, "-wide-enough"),
    ]
    VERTICAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-too-short"),
        (MIN_HEIGHT, "-tall-enough"),
    ]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t,f2", "test", "Test", key_display="^T"),
        Binding("ctrl+s,f3", "save", "Save", key_display="^S"),
        Binding("ctrl+n,f4", "send_test", "Send test", key_display="^N"),
        Binding("ctrl+r", "reveal", "Show password", key_display="^R"),
        Binding("escape", "cancel_test", "Cancel test", key_display="Esc"),
        Binding("f1,ctrl+g", "help", "Help", key_display="F1"),
    ]

    values: var[AccountDraft | None] = var(None)
    """What is on screen now."""
    tested_ok: var[AccountDraft | None] = var(None)
    """The values of the last test that passed; Save is for exactly these."""
    saved: var[AccountDraft | None] = var(None)
    """The values as last loaded or saved: differing values are unsaved changes."""
    save_ready = reactive(False, bindings=True)
    testing = reactive(False, bindings=True)
    """A probe is running: Test shows it is busy and Escape cancels it."""

    def __init__(self, store: AccountStore, settings: ProbeSettings) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self._probe_worker: Worker[ProbeOutcome] | None = None
        self._held: HeldSignIn | None = None
        """The Microsoft sign-in to test with and to save; replaced by each new sign-in."""
        self._code_screen: DeviceCodeScreen | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="too-small", markup=False)
        yield Static("System E-mail Account Setup", id="title")
        yield Static("", id="mode", markup=False)
        yield Static("", id="banner", markup=False)
        yield AccountForm(id="form")
        with Horizontal(id="buttons"):
            yield Button("Test", id="test", compact=True)
            yield Button("Save", id="save", compact=True, disabled=True)
            yield Button("Send test", id="send-test", compact=True, disabled=True)
        yield ResultPanel(id="result")
        yield Footer(show_command_palette=False, compact=True)

    @property
    def form(self) -> AccountForm:
        return self.query_one(AccountForm)

    @property
    def result_panel(self) -> ResultPanel:
        return self.query_one(ResultPanel)

    def on_resize(self, event: events.Resize) -> None:
        width, height = event.size
        self.query_one("#too-small", Static).update(
            f"This terminal is {width}x{height}; mailsetup needs at least "
            f"{MIN_WIDTH}x{MIN_HEIGHT}. Enlarge the window (on a serial console: "
            f"stty cols 80 rows 24). Ctrl+Q quits."
        )

    def on_mount(self) -> None:
        self._load_saved_account()
        self.values = self.saved = self.form.values
        self.form.query_one("#provider").focus()

    # --- loading ----------------------------------------------------------------------------

    def _load_saved_account(self) -> None:
        try:
            account = self.store.load()
        except StoreError as error:
            self._set_mode(f"New account. The saved config could not be read: {error}")
            self._set_banner(
                "Saving will keep the unreadable file as a backup; fix or replace it first if "
                "it holds something you need."
            )
            return
        if account is None:
            self._set_mode(f"New account (will be saved to {self.store.path})")
            return
        self.form.load(account, None)
        self._set_mode(f"Editing the saved account ({self.store.path})")
        self._read_saved_secret(account)

    @work(thread=True, exit_on_error=False, group="secret")
    def _read_saved_secret(self, account: Account) -> None:
        # A thread: keyring backends may talk to D-Bus, which must not hold up the first paint.
        kind = SecretType.of(account)
        try:
            secret = self.store.read_secret(account)
        except SecretError as error:
            self.app.call_from_thread(
                self._set_banner, f"The saved {kind.noun} could not be read: {error}"
            )
            return
        if account.signin is not None:
            held = HeldSignIn(account.email, account.signin, secret)
            self.app.call_from_thread(setattr, self, "_held", held)
            return
        self.app.call_from_thread(self._secret_loaded, secret)

    def _secret_loaded(self, password: str) -> None:
        if self.form.values.password:
            return  # the user typed one meanwhile: theirs wins
        unchanged = self.values == self.saved
        self.form.set_password(password)
        self.values = self.form.values
        if unchanged:
            self.saved = self.values

    def _set_mode(self, text: str) -> None:
        self.query_one("#mode", Static).update(text)

    def _set_banner(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
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
        self.save_ready = self.tested_ok is not None and self.tested_ok == self.values

    def watch_save_ready(self) -> None:
        self._sync_save_button()

    def _sync_save_button(self) -> None:
        # Sending a test message needs the same thing as saving: these values passed a test.
        self.query_one("#save", Button).disabled = not self.save_ready
        self.query_one("#send-test", Button).disabled = not self.save_ready

    def watch_testing(self, testing: bool) -> None:
        button = self.query_one("#test", Button)
        button.label = "Testing..." if testing else "Test"
        button.set_class(testing, "-busy")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"save", "send_test"}:
            return True if self.save_ready else None
        if action == "test":
            return None if self.testing else True
        if action == "cancel_test":
            return self.testing
        if action == "reveal":
            return self.form.signin_method is SignInMethod.PASSWORD
        return True

    @property
    def has_unsaved_changes(self) -> bool:
        return self.values != self.saved

    # --- Test -------------------------------------------------------------------------------

    @on(Button.Pressed, "#test")
    def test_pressed(self) -> None:
        self.action_test()

    def action_test(self) -> None:
        if self.testing:
            return  # one probe at a time; Escape cancels the running one
        values = self.form.values
        checked = values.to_account()
        if isinstance(checked, tuple):
            self.form.show_problems(checked)
            self.result_panel.show_error("Please correct the marked fields.", "Nothing was sent.")
            return
        self.form.show_problems(())
        if checked.sends_password_in_clear:
            self.app.push_screen(
                ConfirmScreen(
                    "Security is None: the password will cross the network unencrypted, "
                    "readable by anyone on the path. Test anyway?",
                    yes="Send unencrypted",
                    no="Cancel",
                ),
                lambda yes: self._start_probe(values, checked) if yes else None,
            )
            return
        self._start_probe(values, checked)

    def _start_probe(self, values: AccountDraft, account: Account) -> None:
        self.testing = True
        self.result_panel.show_testing(f"{account.server}:{account.port}")
        self._probe_worker = self._run_probe(values, account)

    @work(exclusive=True, group="probe", exit_on_error=False)
    async def _run_probe(self, values: AccountDraft, account: Account) -> ProbeOutcome:
        timeout, ca_file = self.settings.timeout, self.settings.ca_file
        if account.signin is None:
            result = await probe(account, values.password, timeout=timeout, ca_file=ca_file)
            return values, result, None
        if self._held is None or not self._held.fits(account):
            self.result_panel.show_signing_in()
        try:
            result, held = await oauth.sign_in_and_probe(
                account,
                self._held,
                lambda code: self._show_code(code, account.email),
                signed_in=lambda tokens: self._signed_in(account),
                timeout=timeout,
                ca_file=ca_file,
            )
        finally:
            self._close_code_screen()
        return values, result, held

    def _signed_in(self, account: Account) -> None:
        self._close_code_screen()
        self.result_panel.show_testing(f"{account.server}:{account.port}")

    def _show_code(self, code: DeviceCode, email: str) -> None:
        self._code_screen = DeviceCodeScreen(code, email)
        self.app.push_screen(
            self._code_screen, lambda cancel: self.action_cancel_test() if cancel else None
        )

    def _close_code_screen(self) -> None:
        screen, self._code_screen = self._code_screen, None
        if screen is not None and self.app.screen is screen:
            screen.dismiss(False)

    def action_cancel_test(self) -> None:
        if self._probe_worker is not None and self.testing:
            self._probe_worker.cancel()

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "probe":
            self._probe_finished(worker, event.state)
        elif worker.group == "save":
            self._save_finished(worker, event.state)
        elif worker.group == "send":
            self._send_finished(worker, event.state)

    def _probe_finished(self, worker: Worker[object], state: WorkerState) -> None:
        if state not in (WorkerState.SUCCESS, WorkerState.CANCELLED, WorkerState.ERROR):
            return
        self.testing = False
        self._probe_worker = None
        if state is WorkerState.CANCELLED:
            self.result_panel.show_cancelled()
        elif state is WorkerState.ERROR:
            password = self.form.values.password
            self.result_panel.show_error(
                "The test stopped on an internal error.", redact(str(worker.error), password)
            )
        else:
            result = worker.result
            assert isinstance(result, tuple)
            values, outcome, held = result
            if values.signin is SignInMethod.MICROSOFT:
                self._held = held  # None after a failure a new sign-in may cure
            signed_in_as = held.username if held is not None else None
            self.result_panel.show_probe(outcome, values.email.strip(), signed_in_as)
            self.tested_ok = values if outcome.ok else None

    # --- Save -------------------------------------------------------------------------------

    @on(Button.Pressed, "#save")
    def save_pressed(self) -> None:
        self.action_save()

    def _tested_account(self) -> tuple[AccountDraft, Account, str] | None:
        """The values on screen as an account, if they are exactly the ones that passed, with
        the secret to save or send with: the password, or the held sign-in's refresh token."""
        values = self.tested_ok
        if not self.save_ready or values is None:
            return None
        account = values.to_account()
        assert isinstance(account, Account)  # they passed validation before the test
        if account.signin is None:
            return values, account, values.password
        if self._held is None or not self._held.fits(account):
            self.result_panel.show_error(
                "Not signed in.", "Test again: it starts a new Microsoft sign-in."
            )
            return None
        return values, account, self._held.refresh_token

    def action_save(self) -> None:
        tested = self._tested_account()
        if tested is None:
            return
        values, account, secret = tested
        self.query_one("#save", Button).disabled = True
        self._run_save(values, account, secret)

    @work(thread=True, group="save", exit_on_error=False)
    def _run_save(
        self, values: AccountDraft, account: Account, secret: str
    ) -> tuple[AccountDraft, SaveReport]:
        return values, self.store.save(account, secret)

    def _save_finished(self, worker: Worker[object], state: WorkerState) -> None:
        if state is WorkerState.ERROR:
            error = worker.error
            detail = str(error) if isinstance(error, StoreError) else f"unexpected: {error!r}"
            self.result_panel.show_error("Not saved.", redact(detail, self.form.values.password))
            self._sync_save_button()
        elif state is WorkerState.SUCCESS:
            result = worker.result
            assert isinstance(result, tuple)
            values, report = result
            self.saved = values
            self.result_panel.show_saved(report)
            self._set_mode(f"Editing the saved account ({report.config_path})")
            self._set_banner("")
            self._sync_save_button()

    # --- Send test message --------------------------------------------------------------------

    @on(Button.Pressed, "#send-test")
    def send_test_pressed(self) -> None:
        self.action_send_test()

    def action_send_test(self) -> None:
        tested = self._tested_account()
        if tested is None:
            return
        _, account, secret = tested
        self.app.push_screen(
            RecipientScreen(account.email),
            lambda to: self._start_send(account, secret, to) if to else None,
        )

    def _start_send(self, account: Account, secret: str, to: str) -> None:
        self.result_panel.show_sending(to)
        self._run_send(account, secret, to)

    @work(exclusive=True, group="send", exit_on_error=False)
    async def _run_send(self, account: Account, secret: str, to: str) -> Sent:
        held = self._held
        mailer = Mailer(
            account,
            secret,
            timeout=self.settings.timeout,
            ca_file=self.settings.ca_file,
            tokens=held.secret if held and isinstance(held.secret, Tokens) else None,
            keep_refresh_token=lambda token: self._sign_in_renewed(account, token),
        )
        return await mailer.send_async(
            to,
            "mailsetup test message",
            f"This test message was sent by mailsetup through {account.email} "
            f"({account.server}:{account.port}).\n\nIt shows that the system e-mail account "
            "works: verification codes will be sent from this address.\n",
        )

    def _send_finished(self, worker: Worker[object], state: WorkerState) -> None:
        if state is WorkerState.SUCCESS:
            sent = worker.result
            assert isinstance(sent, Sent)
            self.result_panel.show_sent(sent)
        elif state is WorkerState.ERROR:
            error = worker.error
            if isinstance(error, SendError):
                detail = error.failure.reason
            elif isinstance(error, InvalidMessage):
                detail = str(error)
            else:
                detail = redact(f"unexpected: {error!r}", self.form.values.password)
            self.result_panel.show_error("Test message not sent.", detail)

    def _sign_in_renewed(self, account: Account, refresh_token: str) -> None:
        assert account.signin is not None
        self._held = HeldSignIn(account.email, account.signin, refresh_token)

    # --- the rest ---------------------------------------------------------------------------

    def action_reveal(self) -> None:
        self.form.reveal_password()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(provider(self.form.provider_id), self.form.signin_method))

    def request_quit(self) -> None:
        """Quit, asking first if there are unsaved changes; a second Ctrl+Q confirms."""
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
