"""The account fields: provider switching, per-field problems, and what is on screen."""

from __future__ import annotations

from typing import Any, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import DescendantBlur, DescendantFocus, Key
from textual.geometry import Offset
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from mailsetup_tui.core.account import (
    Account,
    AccountDraft,
    Field,
    FieldProblem,
    SignInMethod,
    default_authority_host,
)
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security, provider

T = TypeVar("T")

REVEAL_SECONDS = 5.0
"""How long Password stays readable after the reveal key: long enough to check, short enough
that a walk-away does not leave it on screen."""


class InitialSelect(Select[T]):
    """A list where the first letter of an option picks it at once; Enter/Space opens it.

    Over a serial line, one key instead of opening a list, moving and confirming saves three
    screen updates. The options' first letters must differ.
    """

    def __init__(self, options: list[tuple[str, T]], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.initials = {label[0].lower(): value for label, value in options}
        assert len(self.initials) == len(options), "options must start with different letters"

    def on_key(self, event: Key) -> None:
        if self.expanded or event.character is None:
            return
        chosen = self.initials.get(event.character.lower())
        if chosen is not None:
            event.stop()
            event.prevent_default()
            self.value = chosen


class TypingInput(Input):
    """An Input that puts the terminal's cursor exactly at its typing position.

    Textual's own offset is one cell further at the end of the text (room it keeps for
    scrolling); with the terminal's cursor shown, as on limited terminals, that is one cell to
    the right of where the next character goes.
    """

    @property
    def cursor_screen_offset(self) -> Offset:
        x, y, _width, _height = self.content_region
        return Offset(x + self._position_to_cell(self.cursor_position) - self.scroll_offset.x, y)


class ProviderSelect(InitialSelect[ProviderId]):
    """SMTP Mail: E, G, H, Y or O picks the provider."""


_INPUT_IDS = {
    Field.DISPLAY_NAME: "display-name",
    Field.EMAIL: "email",
    Field.PASSWORD: "password",
    Field.CLIENT_ID: "client-id",
    Field.TENANT: "tenant",
    Field.SERVER: "server",
    Field.PORT: "port",
}
_CONTROL_IDS = {
    Field.SMTP_MAIL: "provider",
    Field.SECURITY: "security",
    Field.SIGN_IN: "signin",
    **_INPUT_IDS,
}
_MICROSOFT_ONLY = (Field.CLIENT_ID, Field.TENANT)


def _field_row(field: Field, control: Widget) -> ComposeResult:
    with Horizontal(classes="field", id=f"{_CONTROL_IDS[field]}-row"):
        yield Label(str(field), classes="field-label")
        yield control
    yield Static("", classes="field-problem", id=f"{_CONTROL_IDS[field]}-problem", markup=False)


class AccountForm(Vertical, can_focus=False):
    """The spec's fields in the spec's order, each with its label and a line for its problem."""

    class Edited(Message):
        """Something on screen changed because the user changed it."""

    def compose(self) -> ComposeResult:
        options = [(entry.label, pid) for pid, entry in PROVIDERS.items()]
        yield from _field_row(
            Field.SMTP_MAIL,
            ProviderSelect(options, allow_blank=False, compact=True, id="provider"),
        )
        yield Static("", id="provider-notice", markup=False)
        yield from _field_row(
            Field.DISPLAY_NAME,
            TypingInput(
                placeholder="e.g. Acme Verification Codes",
                max_length=78,
                compact=True,
                id="display-name",
            ),
        )
        yield from _field_row(
            Field.EMAIL, TypingInput(placeholder="e.g. codes@example.com", compact=True, id="email")
        )
        yield from _field_row(
            Field.SIGN_IN,
            InitialSelect(
                [(m.label, m) for m in SignInMethod], allow_blank=False, compact=True, id="signin"
            ),
        )
        yield from _field_row(
            Field.PASSWORD,
            TypingInput(
                placeholder="the app password (hidden)", password=True, compact=True, id="password"
            ),
        )
        yield from _field_row(
            Field.CLIENT_ID,
            TypingInput(
                placeholder="Application (client) ID of your app registration",
                compact=True,
                id="client-id",
            ),
        )
        yield from _field_row(
            Field.TENANT,
            TypingInput(
                placeholder="Directory (tenant) ID, or a domain of it", compact=True, id="tenant"
            ),
        )
        yield from _field_row(Field.SERVER, TypingInput(compact=True, id="server"))
        yield from _field_row(
            Field.PORT,
            TypingInput(type="integer", max_length=5, compact=True, id="port", restrict=r"\d*"),
        )
        yield from _field_row(
            Field.SECURITY,
            Select(
                [(s.label, s) for s in Security], allow_blank=False, compact=True, id="security"
            ),
        )

    def on_mount(self) -> None:
        # A blinking cursor repaints twice a second: bytes on a serial line for nothing.
        for field in self.query(Input):
            field.cursor_blink = False
        self._other_values = ("", "", Security.AUTO)
        """What the user typed for Other, restored when they come back to it."""
        self._own_tenant = ""
        """The tenant typed for Exchange or Other, restored after a visit to Hotmail."""
        self.authority_host = default_authority_host()
        """Where a new Microsoft sign-in goes; a loaded account brings its own."""
        self._apply_provider(self.provider_id, remember=False)

    # --- reading and writing the values ---------------------------------------------------

    @property
    def provider_id(self) -> ProviderId:
        value = self.query_one("#provider", ProviderSelect).value
        assert isinstance(value, ProviderId)
        return value

    def _input(self, field: Field) -> Input:
        return self.query_one(f"#{_INPUT_IDS[field]}", Input)

    @property
    def signin_method(self) -> SignInMethod:
        value = self.query_one("#signin", Select).value
        return value if isinstance(value, SignInMethod) else SignInMethod.PASSWORD

    @property
    def values(self) -> AccountDraft:
        security = self.query_one("#security", Select).value
        microsoft = self.signin_method is SignInMethod.MICROSOFT
        return AccountDraft(
            provider_id=self.provider_id,
            display_name=self._input(Field.DISPLAY_NAME).value,
            email=self._input(Field.EMAIL).value,
            # Microsoft sign-in has no password: one typed before switching is not part of it.
            password="" if microsoft else self._input(Field.PASSWORD).value,
            server=self._input(Field.SERVER).value,
            port=self._input(Field.PORT).value,
            security=security if isinstance(security, Security) else Security.AUTO,
            signin=self.signin_method,
            client_id=self._input(Field.CLIENT_ID).value if microsoft else "",
            tenant=self._input(Field.TENANT).value if microsoft else "",
            authority_host=self.authority_host,
        )

    def load(self, account: Account, password: str | None) -> None:
        """Fill the form from a saved account without it counting as an edit."""
        with self.prevent(Input.Changed, Select.Changed):
            self.query_one("#provider", ProviderSelect).value = account.provider_id
            self._input(Field.DISPLAY_NAME).value = account.display_name
            self._input(Field.EMAIL).value = account.email
            if password is not None:
                self._input(Field.PASSWORD).value = password
            if account.provider_id is ProviderId.OTHER:
                self._other_values = (account.server, str(account.port), account.security)
            self.query_one("#signin", Select).value = account.signin_method
            if account.signin is not None:
                self._input(Field.CLIENT_ID).value = account.signin.client_id
                self._input(Field.TENANT).value = account.signin.tenant
                if account.provider.fixed_tenant is None:
                    self._own_tenant = account.signin.tenant
                self.authority_host = account.signin.authority_host
            self._apply_provider(account.provider_id, remember=False)

    def set_password(self, password: str) -> None:
        with self.prevent(Input.Changed):
            self._input(Field.PASSWORD).value = password

    # --- provider switching -----------------------------------------------------------------

    @on(Select.Changed, "#provider")
    def provider_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, ProviderId):
            self._apply_provider(event.value, remember=True)
            if self._input(Field.EMAIL).value.strip():
                self.check_fields(Field.EMAIL)

    def _apply_provider(self, provider_id: ProviderId, *, remember: bool) -> None:
        server, port = self._input(Field.SERVER), self._input(Field.PORT)
        security = self.query_one("#security", Select)
        entry = provider(provider_id)
        was_other = not server.disabled
        with self.prevent(Input.Changed, Select.Changed):
            if entry.is_preset:
                if remember and was_other:
                    value = security.value
                    self._other_values = (
                        server.value,
                        port.value,
                        value if isinstance(value, Security) else Security.AUTO,
                    )
                server.value, port.value = entry.server or "", str(entry.port)
                security.value = entry.security
            else:
                server.value, port.value, security.value = self._other_values
        for widget in (server, port, security):
            widget.disabled = entry.is_preset
        for field in (Field.SERVER, Field.PORT, Field.SECURITY):
            self.show_problem(field, None)
        self._apply_signin_choice(entry.microsoft_signin, entry.fixed_tenant, remember=remember)
        self.query_one("#provider-notice", Static).update(entry.notice or "")
        self.query_one("#provider-notice").set_class(bool(entry.notice), "-visible")

    def _apply_signin_choice(
        self, offered: bool, fixed_tenant: str | None, *, remember: bool
    ) -> None:
        """Sign-in is a choice only where Microsoft sign-in exists; a fixed tenant (Hotmail)
        is shown and locked, as the presets' server is."""
        signin, tenant = self.query_one("#signin", Select), self._input(Field.TENANT)
        with self.prevent(Input.Changed, Select.Changed):
            if not offered:
                signin.value = SignInMethod.PASSWORD
            if fixed_tenant is not None:
                if remember and not tenant.disabled:
                    self._own_tenant = tenant.value
                tenant.value = fixed_tenant
            elif tenant.disabled:
                tenant.value = self._own_tenant
        signin.disabled = not offered
        tenant.disabled = fixed_tenant is not None
        self._show_signin_rows()

    def _show_signin_rows(self) -> None:
        microsoft = self.signin_method is SignInMethod.MICROSOFT
        self.query_one("#password-row").display = not microsoft
        for field in _MICROSOFT_ONLY:
            self.query_one(f"#{_CONTROL_IDS[field]}-row").display = microsoft
            if not microsoft:
                self.show_problem(field, None)
        if microsoft:
            self.show_problem(Field.PASSWORD, None)

    @on(Select.Changed, "#signin")
    def signin_chosen(self) -> None:
        self._show_signin_rows()

    # --- problems ---------------------------------------------------------------------------

    def check_fields(self, *fields: Field) -> tuple[FieldProblem, ...]:
        """Validate the whole form, show the problems of `fields` only, return all of them."""
        result = self.values.to_account()
        problems = result if isinstance(result, tuple) else ()
        for field in fields:
            self.show_problem(field, next((p for p in problems if p.field is field), None))
        return problems

    def show_problems(self, problems: tuple[FieldProblem, ...]) -> None:
        """Mark every field with its problem (or none) and focus the first bad one."""
        for field in _CONTROL_IDS:
            self.show_problem(field, next((p for p in problems if p.field is field), None))
        if problems:
            self.query_one(f"#{_CONTROL_IDS[problems[0].field]}").focus()

    def show_problem(self, field: Field, problem: FieldProblem | None) -> None:
        line = self.query_one(f"#{_CONTROL_IDS[field]}-problem", Static)
        line.update(problem.message if problem else "")
        line.set_class(problem is not None, "-visible")
        self.query_one(f"#{_CONTROL_IDS[field]}-row").set_class(problem is not None, "-invalid")

    # --- focus -----------------------------------------------------------------------------

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        # A class on the row rather than :focus-within in the stylesheet: Textual 8.2 does not
        # restyle the label beside a newly focused control for :focus-within, which left
        # several labels marked as focused at once.
        for row in self.query(".field"):
            row.set_class(row in event.widget.ancestors, "-focused")

    def on_descendant_blur(self, event: DescendantBlur) -> None:
        for row in event.widget.ancestors:
            row.remove_class("-focused")

    # --- events -----------------------------------------------------------------------------

    @on(Input.Blurred, "#email")
    def email_left(self) -> None:
        if self._input(Field.EMAIL).value.strip():
            self.check_fields(Field.EMAIL)

    @on(Input.Changed)
    @on(Select.Changed)
    def edited(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        field = next((f for f, i in _CONTROL_IDS.items() if i == event.control.id), None)
        if field is not None and field is not Field.EMAIL:
            # A problem shown for a field goes as soon as the user works on it; Email is
            # re-checked when they leave it.
            self.show_problem(field, None)
        self.post_message(self.Edited())

    def reveal_password(self) -> None:
        field = self._input(Field.PASSWORD)
        field.password = False
        self.set_timer(REVEAL_SECONDS, self.hide_password)

    def hide_password(self) -> None:
        self._input(Field.PASSWORD).password = True
