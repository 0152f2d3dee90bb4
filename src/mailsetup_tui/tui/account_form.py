"""The account fields: provider switching, per-field problems, and what is on screen."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, TypedDict

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Container
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from mailsetup_tui.core.account import (
    Account,
    AccountDraft,
    FieldProblem,
    SignInMethod,
    default_authority_host,
)
from mailsetup_tui.core.fields import FIELDS, OTHER_ONLY, SPECS, Field
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security, provider
from mailsetup_tui.core.untrusted import shown
from mailsetup_tui.tui.choice import Choice
from mailsetup_tui.tui.domain_facts import Discover, DomainFacts, MxLookup
from mailsetup_tui.tui.field_label import MARKER_CLASSES
from mailsetup_tui.tui.form_lines import TypingInput

REVEAL_SECONDS = 5.0
"""How long Password stays readable after the reveal key: long enough to check, short enough
that a walk-away does not leave it on screen."""


def _id(field: Field) -> str:
    """The id of `field`'s control (which draws its label); its problem line is `<id>-problem`."""
    return SPECS[field].widget_id


_FIELD_OF_ID = {spec.widget_id: spec.field for spec in FIELDS}


class _Labelled(TypedDict):
    id: str
    field_label: str


def _labelled(field: Field) -> _Labelled:
    """A field's control's id and the label it draws."""
    return {"id": _id(field), "field_label": str(field)}


_MICROSOFT_ONLY = tuple(spec.field for spec in FIELDS if spec.microsoft_only)


class AccountForm(Container, can_focus=False):
    """The spec's fields in the spec's order, each with its label, and its problem under it.

    One widget per field, which draws its own label (tui/field_label.py), and a problem line
    mounted only when a field first has a problem: Textual styles, lays out and renders every
    widget, and fewer of them is most of what makes the form start fast.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = MARKER_CLASSES
    BLANK = True
    """Nothing of its own to draw but its background: Textual fills its cells with that
    instead of rendering an empty content (1.9 M instructions of every start)."""

    class Edited(Message):
        """Something on screen changed because the user changed it."""

    def __init__(
        self,
        *,
        mx_lookup: MxLookup | None = None,
        discover: Discover | None = None,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id)
        self.domain_facts = DomainFacts(mx_lookup, discover)

    def compose(self) -> ComposeResult:
        options = [(entry.label, pid) for pid, entry in PROVIDERS.items()]
        # Everything starts as _apply_provider leaves it for the first provider (its notice
        # shown, a preset's server fields disabled): each change after mounting is a restyle.
        first = provider(options[0][1])
        yield Choice(options, **_labelled(Field.SMTP_MAIL))
        yield Static(first.notice or "", id="provider-notice", markup=False)
        yield TypingInput(
            placeholder="e.g. Acme Verification Codes",
            max_length=78,
            **_labelled(Field.DISPLAY_NAME),
        )
        yield TypingInput(placeholder="e.g. codes@example.com", **_labelled(Field.EMAIL))
        # The Email note under it is made when the domain first has something to say.
        yield Choice([(m.label, m) for m in SignInMethod], **_labelled(Field.SIGN_IN))
        yield TypingInput(
            placeholder="the app password (hidden)", password=True, **_labelled(Field.PASSWORD)
        )
        # Client ID and Tenant come after Password when Microsoft sign-in is first chosen.
        preset = first.is_preset
        yield TypingInput(disabled=preset, **_labelled(Field.SERVER))
        yield TypingInput(
            type="integer",
            max_length=5,
            restrict=r"\d*",
            disabled=preset,
            **_labelled(Field.PORT),
        )
        yield Choice([(s.label, s) for s in Security], disabled=preset, **_labelled(Field.SECURITY))

    def on_mount(self) -> None:
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
        value = self.query_one(f"#{_id(Field.SMTP_MAIL)}", Choice).value
        assert isinstance(value, ProviderId)
        return value

    def _input(self, field: Field) -> Input:
        return self.query_one(f"#{_id(field)}", Input)

    def _input_if_made(self, field: Field) -> Input | None:
        """The field's input, or None for a Microsoft field not made yet."""
        return self.query_one_optional(f"#{_id(field)}", Input)

    def _typed(self, field: Field) -> str:
        made = self._input_if_made(field)
        return "" if made is None else made.value

    def _make_microsoft_fields(self) -> None:
        """Client ID and Tenant, made the first time Microsoft sign-in is chosen or loaded.

        Most accounts never need them, and every widget is styled at each restyle of the
        form: start-up is faster without them. They go after Password (and its problem line),
        the tenant already as the provider has it.
        """
        if self._input_if_made(Field.CLIENT_ID) is not None:
            return
        fixed_tenant = provider(self.provider_id).fixed_tenant
        password = self._input(Field.PASSWORD)
        after = self.query_one_optional(f"#{_id(Field.PASSWORD)}-problem") or password
        with self.prevent(Input.Changed):
            self.mount_all(
                [
                    TypingInput(
                        placeholder="Application (client) ID of your app registration",
                        **_labelled(Field.CLIENT_ID),
                    ),
                    TypingInput(
                        fixed_tenant or self._own_tenant,
                        placeholder="Directory (tenant) ID, or a domain of it",
                        disabled=fixed_tenant is not None,
                        **_labelled(Field.TENANT),
                    ),
                ],
                after=after,
            )

    @property
    def signin_method(self) -> SignInMethod:
        value = self.query_one(f"#{_id(Field.SIGN_IN)}", Choice).value
        return value if isinstance(value, SignInMethod) else SignInMethod.PASSWORD

    @property
    def values(self) -> AccountDraft:
        security = self.query_one(f"#{_id(Field.SECURITY)}", Choice).value
        microsoft = self.signin_method is SignInMethod.MICROSOFT
        draft = AccountDraft(
            provider_id=self.provider_id,
            display_name=self._input(Field.DISPLAY_NAME).value,
            email=self._input(Field.EMAIL).value,
            # Microsoft sign-in has no password: one typed before switching is not part of it.
            password="" if microsoft else self._input(Field.PASSWORD).value,
            server=self._input(Field.SERVER).value,
            port=self._input(Field.PORT).value,
            security=security if isinstance(security, Security) else Security.AUTO,
            signin=self.signin_method,
            client_id=self._typed(Field.CLIENT_ID) if microsoft else "",
            tenant=self._typed(Field.TENANT) if microsoft else "",
            authority_host=self.authority_host,
        )
        return replace(draft, hosted=self.domain_facts.hosted(draft))

    def load(self, account: Account, password: str | None) -> None:
        """Fill the form from a saved account without it counting as an edit."""
        with self.prevent(Input.Changed, Choice.Changed):
            self.query_one(f"#{_id(Field.SMTP_MAIL)}", Choice).value = account.provider_id
            self._input(Field.DISPLAY_NAME).value = account.display_name
            self._input(Field.EMAIL).value = account.email
            if password is not None:
                self._input(Field.PASSWORD).value = password
            if account.provider_id is ProviderId.OTHER:
                self._other_values = (account.server, str(account.port), account.security)
            self.query_one(f"#{_id(Field.SIGN_IN)}", Choice).value = account.signin_method
            if account.signin is not None:
                self._make_microsoft_fields()
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

    @on(Choice.Changed, f"#{_id(Field.SMTP_MAIL)}")
    def provider_chosen(self, event: Choice.Changed) -> None:
        if isinstance(event.value, ProviderId):
            self._apply_provider(event.value, remember=True)
            if self._input(Field.EMAIL).value.strip():
                self.check_fields(Field.EMAIL)

    def _apply_provider(self, provider_id: ProviderId, *, remember: bool) -> None:
        server, port = self._input(Field.SERVER), self._input(Field.PORT)
        security = self.query_one(f"#{_id(Field.SECURITY)}", Choice)
        entry = provider(provider_id)
        fixed = entry.connection
        was_other = not server.disabled
        with self.prevent(Input.Changed, Choice.Changed):
            if fixed is not None:
                if remember and was_other:
                    value = security.value
                    self._other_values = (
                        server.value,
                        port.value,
                        value if isinstance(value, Security) else Security.AUTO,
                    )
                server.value, port.value = fixed.server, str(fixed.port)
                security.value = fixed.security
            else:
                server.value, port.value, security.value = self._other_values
        for widget in (server, port, security):
            widget.disabled = fixed is not None
        for spec in OTHER_ONLY:
            self.show_problem(spec.field, None)
        self._apply_signin_choice(entry.microsoft_signin, entry.fixed_tenant, remember=remember)
        self.query_one("#provider-notice", Static).update(entry.notice or "")
        self._fold_blank_notice()

    def _apply_signin_choice(
        self, offered: bool, fixed_tenant: str | None, *, remember: bool
    ) -> None:
        """Sign-in is a choice only where Microsoft sign-in exists; a fixed tenant (Hotmail)
        is shown and locked, as the presets' server is."""
        signin = self.query_one(f"#{_id(Field.SIGN_IN)}", Choice)
        with self.prevent(Choice.Changed):
            if not offered:
                signin.value = SignInMethod.PASSWORD
        signin.disabled = not offered
        tenant = self._input_if_made(Field.TENANT)
        if tenant is not None:  # else it is made with the provider's tenant when needed
            with self.prevent(Input.Changed):
                if fixed_tenant is not None:
                    if remember and not tenant.disabled:
                        self._own_tenant = tenant.value
                    tenant.value = fixed_tenant
                elif tenant.disabled:
                    tenant.value = self._own_tenant
            tenant.disabled = fixed_tenant is not None
        self._show_signin_rows()

    def _show_signin_rows(self) -> None:
        microsoft = self.signin_method is SignInMethod.MICROSOFT
        if microsoft:
            self._make_microsoft_fields()
        self._show_row(Field.PASSWORD, not microsoft)
        for field in _MICROSOFT_ONLY:
            self._show_row(field, microsoft)

    def _show_row(self, field: Field, shown: bool) -> None:
        """Show or hide a field (if made yet); a hidden field has no problem to show."""
        control = self.query_one_optional(f"#{_id(field)}")
        if control is not None:
            control.display = shown
        if not shown:
            self.show_problem(field, None)

    @property
    def first_control(self) -> Widget:
        """SMTP Mail: where the form starts."""
        return self.query_one(f"#{_id(FIELDS[0].field)}")

    def shows(self, field: Field) -> bool:
        """Whether `field` is on the form now (Password and the Microsoft fields take turns)."""
        control = self.query_one_optional(f"#{_id(field)}")
        return control is not None and control.display

    @on(Choice.Changed, f"#{_id(Field.SIGN_IN)}")
    def signin_chosen(self) -> None:
        self._show_signin_rows()

    # --- problems ---------------------------------------------------------------------------

    def check_fields(self, *fields: Field) -> tuple[FieldProblem, ...]:
        """Validate the whole form, show the problems of `fields` only, return all of them."""
        problems = self.values.problems()
        for field in fields:
            self.show_problem(field, next((p for p in problems if p.field is field), None))
        return problems

    def show_problems(self, problems: tuple[FieldProblem, ...]) -> None:
        """Mark every field with its problem (or none) and focus the first bad one."""
        for field in Field:
            self.show_problem(field, next((p for p in problems if p.field is field), None))
        if problems:
            self.query_one(f"#{_id(problems[0].field)}").focus()

    def show_problem(self, field: Field, problem: FieldProblem | None) -> None:
        control_id = _id(field)
        control = self.query_one_optional(f"#{control_id}")
        if control is None:  # a Microsoft field not made yet: nothing shown, nothing to clear
            assert problem is None, f"a problem for {field}, whose field is not made"
            return
        message = problem.message if problem else ""
        self._show_line(f"{control_id}-problem", message, classes="field-problem", under=control)
        control.set_class(problem is not None, "-has-problem")
        self._fold_blank_notice()

    def _fold_blank_notice(self) -> None:
        """The notice keeps its row, blank where the provider has none, so that a provider
        change moves no row below it; but while problems are shown the row goes, since every
        field's problem at once must still fit 80x24."""
        folded = not provider(self.provider_id).notice and bool(
            self.query(".field-problem.-visible")
        )
        self.query_one("#provider-notice").set_class(folded, "-folded")

    def problem_shown(self, field: Field) -> str:
        """The problem shown under `field` now, or ""."""
        line = self.query_one_optional(f"#{_id(field)}-problem", Static)
        return str(line.render()) if line is not None and line.has_class("-visible") else ""

    # --- events -----------------------------------------------------------------------------

    @on(Input.Blurred, f"#{_id(Field.EMAIL)}")
    def email_left(self) -> None:
        if self._input(Field.EMAIL).value.strip():
            self.check_fields(Field.EMAIL)
            if self.domain_facts.wanted(self.values):
                self._ask_about_domain(self.values)
            self._offer_server(self.values)
        self._show_email_note(self.values)

    @work(exclusive=True, group="discover", exit_on_error=False)
    async def _offer_server(self, draft: AccountDraft) -> None:
        """For Other: the server mail clients would find for the address, offered; what the
        user typed stays unless they take it."""
        found = await self.domain_facts.server_to_offer(draft)
        if found is None or self.values != draft:
            return
        domain = draft.email.rpartition("@")[2]

        def answered(use: bool | None) -> None:
            if use:
                self._input(Field.SERVER).value = found.server
                self._input(Field.PORT).value = str(found.port)
                self.query_one(f"#{_id(Field.SECURITY)}", Choice).value = found.security

        question = f"Found: {shown(found.sentence(domain))}. Use it?"
        from mailsetup_tui.tui.dialogs import ConfirmScreen  # first opened here, not at start-up

        self.app.push_screen(ConfirmScreen(question, yes="Use it", no="Keep mine"), answered)

    @work(exclusive=True, group="mx", exit_on_error=False)
    async def _ask_about_domain(self, draft: AccountDraft) -> None:
        """Ask DNS who handles the domain; then Email is checked again with the answer, and
        what it says (not Microsoft 365, no DNS) is shown under it."""
        await self.domain_facts.learn(draft)
        if self.values == draft:  # still the address that was asked about
            self.check_fields(Field.EMAIL)
            self._show_email_note(draft)

    def _show_email_note(self, draft: AccountDraft) -> None:
        # Under the Email field's problem, if it has one.
        email = _id(Field.EMAIL)
        above = self.query_one_optional(f"#{email}-problem") or self.query_one(f"#{email}")
        note = shown(self.domain_facts.note(draft))
        self._show_line("email-note", note, classes="field-note", under=above)

    def _show_line(self, line_id: str, text: str, *, classes: str, under: Widget) -> None:
        """Show `text` on the line `line_id`, made under `under` the first time there is
        something to say: most forms never need most of these lines, and each widget costs
        start-up its styling and layout."""
        line = self.query_one_optional(f"#{line_id}", Static)
        if line is None:
            if not text:
                return  # never had one: nothing to clear
            from mailsetup_tui.tui.note_line import NoteLine

            line = NoteLine(id=line_id, classes=classes)
            self.mount(line, after=under)
        line.update(text)
        line.set_class(bool(text), "-visible")

    @on(Input.Changed)
    @on(Choice.Changed)
    def edited(self, event: Input.Changed | Choice.Changed) -> None:
        event.stop()
        field = _FIELD_OF_ID.get(event.control.id or "")
        if field is not None and field is not Field.EMAIL:
            # A problem shown for a field goes as soon as the user works on it; Email is
            # re-checked when they leave it.
            self.show_problem(field, None)
        self.post_message(self.Edited())

    def typed_secret(self) -> str:
        """The password as typed: what a report of an unexpected error must mask."""
        return self._typed(Field.PASSWORD)

    def reveal_password(self) -> None:
        field = self._input(Field.PASSWORD)
        field.password = False
        self.set_timer(REVEAL_SECONDS, self.hide_password)

    def hide_password(self) -> None:
        self._input(Field.PASSWORD).password = True
