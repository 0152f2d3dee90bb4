"""Line mode: the same form as a question-and-answer wizard, for any teletype.

Chosen with `--plain`, or automatically where the full-screen form cannot work (TERM dumb or
unset, standard input or output not a terminal). No escape sequences at all: prompts end in
": ", answers end with Enter, the password is read without echo. The same core, rules and
messages as the form, and the spec's order: fields, Test, Save only after a passed test.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TextIO

from mailsetup_tui.core import untrusted
from mailsetup_tui.core.account import (
    AccountDraft,
    FieldProblem,
    SignInMethod,
    default_authority_host,
)
from mailsetup_tui.core.fields import SPECS, Field
from mailsetup_tui.core.outcomes import CLEAR_TEXT_WARNING, LineProgress, TestOutcome
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security, keys_listed, provider
from mailsetup_tui.core.session import SetupSession, UnreadableSecret
from mailsetup_tui.core.store.types import StoreError
from mailsetup_tui.exit_codes import ExitCode
from mailsetup_tui.teletype import Teletype


class InputEnded(Exception):
    """End of input (Ctrl+D, or a script that ran out of answers): nothing is saved."""


class Wizard:
    """One run of the line-mode setup; it shows a test's progress as lines too."""

    def __init__(
        self,
        session: SetupSession,
        *,
        stdin: TextIO,
        stdout: TextIO,
    ) -> None:
        self.session = session
        self.stdin = stdin
        self.stdout = stdout
        self.teletype: Teletype | None = None
        """Reads the answers on a terminal, echoing them itself (see `teletype`)."""
        self.draft = AccountDraft(ProviderId.EXCHANGE)
        """The values entered so far."""

    # --- I/O --------------------------------------------------------------------------------

    def say(self, *lines: str) -> None:
        for line in lines or ("",):
            print(line, file=self.stdout, flush=True)

    def ask(self, prompt: str, *, secret: bool = False) -> str:
        self.stdout.write(prompt)
        self.stdout.flush()
        if self.teletype is not None:
            return self._ask_terminal(prompt, secret=secret)
        line = self.stdin.readline()
        if not line:
            self.say()
            raise InputEnded
        answer = line.rstrip("\r\n")
        # A script's answers are not echoed by a terminal: echo them (never a secret) so the
        # transcript reads as a dialogue.
        self.say("" if secret else answer)
        return answer

    def _ask_terminal(self, prompt: str, *, secret: bool) -> str:
        assert self.teletype is not None
        read = self.teletype.read_line(secret=secret)
        if read is None:
            self.say()
            raise InputEnded
        answer, shown = read
        if secret and shown and answer:
            self.say(
                "  That was typed before mailsetup could hide it, so the terminal showed it: it "
                "is not used. Type the password again (it is not shown)."
            )
            return self.ask(prompt, secret=True)
        return answer

    def yes(self, question: str, default: bool) -> bool:
        hint = "[Y/n]" if default else "[y/N]"
        while True:
            answer = self.ask(f"{question} {hint}: ").strip().lower()
            if not answer:
                return default
            if answer in {"y", "yes"}:
                return True
            if answer in {"n", "no"}:
                return False
            self.say("  Please answer y or n.")

    # --- the steps --------------------------------------------------------------------------

    def run(self) -> ExitCode:
        try:
            if self.stdin.isatty():
                with Teletype(self.stdin, self.stdout) as self.teletype:
                    return self._run()
            return self._run()
        except InputEnded:
            self.say("Input ended: nothing was saved.")
            return ExitCode.USAGE
        finally:
            self.teletype = None

    def _run(self) -> ExitCode:
        self.say("System E-mail Account Setup (line mode)")
        self.draft = self._start()
        self._enter_fields()
        while True:
            account = self.draft.account()
            if account.sends_password_in_clear and not self.yes(
                f"{CLEAR_TEXT_WARNING} Test anyway?", default=False
            ):
                self._enter_fields()
                continue
            outcome = self._test()
            self.say(outcome.headline, outcome.detail)
            if outcome.ok:
                if not self.yes("Save these settings?", default=True):
                    self.say("Not saved.")
                    return ExitCode.OK
                saved = self._save()
                if saved is ExitCode.OK:
                    self._offer_test_message()
                return saved
            if not self._change_after_failure():
                self.say("Nothing was saved.")
                return ExitCode.FAILED

    # --- after a test ---------------------------------------------------------------------

    def _fields_to_change(self) -> list[Field]:
        """The fields this account asks for, in the form's order."""
        entry = provider(self.draft.provider_id)
        fields = [Field.SMTP_MAIL, Field.DISPLAY_NAME, Field.EMAIL]
        if entry.microsoft_signin:
            fields.append(Field.SIGN_IN)
        if self.draft.signin is SignInMethod.MICROSOFT:
            fields.append(Field.CLIENT_ID)
            if entry.fixed_tenant is None:
                fields.append(Field.TENANT)
        else:
            fields.append(Field.PASSWORD)
        if entry.connection is None:
            fields += [Field.SERVER, Field.PORT, Field.SECURITY]
        return fields

    def _change_after_failure(self) -> bool:
        """Offer to change one field (by number or name) and test again, rather than walking
        every field to fix only the password; Enter or y walks them all; False: stop."""
        fields = self._fields_to_change()
        self.say("Change: " + "  ".join(f"{n}) {field}" for n, field in enumerate(fields, start=1)))
        by_answer = {str(n): field for n, field in enumerate(fields, start=1)}
        by_answer |= {str(field).lower(): field for field in fields}
        while True:
            answer = self.ask(
                "Field to change and test again (number or name; Enter: all; n: stop) [all]: "
            )
            answer = answer.strip().lower()
            if answer in {"n", "no", "q", "quit"}:
                return False
            if answer in {"", "y", "yes", "all"}:
                self._enter_fields()
                return True
            field = by_answer.get(answer)
            if field is not None:
                break
            self.say(f"  Type 1-{len(fields)}, a field's name, Enter for all, or n.")
        if field is Field.SMTP_MAIL:  # another service: its fields follow from it
            self._enter_fields()
        else:
            self._ask_field(field)
            self._ask_until_clean()
        return True

    def _offer_test_message(self) -> None:
        """After a save, as the form's Send test: see a message reach an inbox. A script that
        has no more answers has saved, and ends here."""
        try:
            if not self.yes("Send a test message now?", default=False):
                return
            suggestion = self.draft.email.strip()
            to = self.ask(f"Send it to [{suggestion}]: ").strip() or suggestion
        except InputEnded:
            return
        sent = asyncio.run(self.session.send_test_message(self.draft, to))
        self.say(sent.headline, sent.detail)

    def _test(self) -> TestOutcome:
        progress = LineProgress(self.say, show_testing=True)
        return asyncio.run(self.session.test(self.draft, progress))

    def _start(self) -> AccountDraft:
        opened = self.session.open()
        self.say(opened.mode)
        if opened.warning:
            self.say(opened.warning)
        if opened.account is None:
            return AccountDraft(ProviderId.EXCHANGE, authority_host=default_authority_host())
        try:
            password = self.session.load_saved_secret(opened.account)
        except UnreadableSecret as problem:
            self.say(str(problem))
            password = None
        return AccountDraft.of(opened.account, password or "")

    def _update(self, **values: object) -> None:
        self.draft = replace(self.draft, **values)  # type: ignore[arg-type]

    def _enter_fields(self) -> None:
        self.say()
        self._ask_provider()
        entry = provider(self.draft.provider_id)
        self._ask_text(Field.DISPLAY_NAME)
        self._ask_text(Field.EMAIL)
        self._ask_signin()
        if self.draft.signin is SignInMethod.MICROSOFT:
            self._ask_text(Field.CLIENT_ID)
            if entry.fixed_tenant is None:
                self._ask_text(Field.TENANT)
            else:
                self.say(f"{Field.TENANT}: {entry.fixed_tenant} (set by {entry.label})")
        else:
            self._ask_password()
        fixed = entry.connection
        if fixed is not None:
            self._update(server=fixed.server, port=str(fixed.port), security=fixed.security)
            self.say(f"{Field.SERVER}: {fixed.server} (set by {entry.label})")
            self.say(f"{Field.PORT}: {fixed.port} ({fixed.security.label})")
        elif not self._took_discovered_server():
            self._ask_text(Field.SERVER)
            self._ask_text(Field.PORT)
            self._ask_security()
        self._ask_until_clean()

    def _ask_until_clean(self) -> None:
        """Rules that tie fields together (Email against SMTP Mail): ask again until clean."""
        while problems := self.draft.problems():
            for problem in problems:
                self.say(f"  {problem}")
            self._ask_field(problems[0].field)

    def _ask_field(self, field: Field) -> None:
        if field is Field.PASSWORD:
            self._ask_password()
        elif field is Field.SIGN_IN:
            self._ask_signin()
        elif field is Field.SECURITY:
            self._ask_security()
        elif field is Field.SMTP_MAIL:
            self._ask_provider()
        else:
            self._ask_text(field)

    def _ask_provider(self) -> None:
        choices = "  ".join(
            f"{n}) {entry.label}" for n, entry in enumerate(PROVIDERS.values(), start=1)
        )
        self.say(f"{Field.SMTP_MAIL}: {choices}")
        by_key = {str(n): pid for n, pid in enumerate(PROVIDERS, start=1)}
        by_key |= {entry.key: pid for pid, entry in PROVIDERS.items()}
        by_key |= {pid.value: pid for pid in PROVIDERS}
        hint = f"  Type 1-{len(PROVIDERS)}, or the first letter: {keys_listed()}."
        while True:
            current = provider(self.draft.provider_id).label
            answer = self.ask(f"{Field.SMTP_MAIL} [{current}]: ").strip().lower()
            if not answer:
                break
            if answer in by_key:
                self._update(provider_id=by_key[answer])
                break
            self.say(hint)
        entry = provider(self.draft.provider_id)
        if entry.notice:
            self.say(f"  Note: {entry.notice_detail or entry.notice}")

    def _ask_text(self, field: Field) -> None:
        attribute = SPECS[field].attribute
        while True:
            current = getattr(self.draft, attribute)
            shown = f" [{current}]" if current else ""
            answer = self.ask(f"{field}{shown}: ")
            self._update(**{attribute: answer if answer.strip() else current})
            if field is Field.EMAIL:
                self._learn_about_domain()
            problem = self._problem(field)
            if problem is None:
                return
            self.say(f"  {problem.message}")
            self._update(**{attribute: ""})  # Enter must not accept the bad value again

    def _took_discovered_server(self) -> bool:
        """For Other: offer the server mail clients would find for the address (autoconfig,
        SRV, MX); True when it was taken, and then Server, Port and Security are not asked."""
        try:
            found = asyncio.run(self.session.discover(self.draft.email)).found
        except ValueError:
            return False
        if found is None:
            return False
        domain = self.draft.email.rpartition("@")[2]
        if not self.yes(f"Found: {untrusted.shown(found.sentence(domain))}. Use it?", True):
            return False
        self._update(server=found.server, port=str(found.port), security=found.security)
        return True

    def _learn_about_domain(self) -> None:
        """What the address's MX says: Gmail takes a Google Workspace address, Exchange warns
        about a domain whose mail is not at Microsoft 365, no DNS is a note."""
        fact = asyncio.run(self.session.mx_fact(self.draft))
        if fact is None:
            return
        self._update(hosted=fact.hosted)
        if fact.note and fact.hosted is not provider(self.draft.provider_id).mx_service:
            self.say(f"  Note: {untrusted.shown(fact.note)}")

    def _ask_signin(self) -> None:
        entry = provider(self.draft.provider_id)
        if not entry.microsoft_signin:
            self._update(signin=SignInMethod.PASSWORD)
            return
        by_key = {"1": SignInMethod.PASSWORD, "2": SignInMethod.MICROSOFT}
        by_key |= {m.value: m for m in SignInMethod} | {m.value[0]: m for m in SignInMethod}
        self.say(
            f"{Field.SIGN_IN}: 1) {SignInMethod.PASSWORD.label}  "
            f"2) {SignInMethod.MICROSOFT.label} (see README: Microsoft sign-in)"
        )
        while True:
            answer = self.ask(f"{Field.SIGN_IN} [{self.draft.signin.label}]: ").strip().lower()
            if not answer:
                return
            if answer in by_key:
                self._update(signin=by_key[answer])
                return
            self.say("  Type 1 or 2 (p or m).")

    def _ask_password(self) -> None:
        keep = " (Enter keeps the current one)" if self.draft.password else ""
        while True:
            entered = self.ask(f"{Field.PASSWORD}, not shown{keep}: ", secret=True)
            if entered or not self.draft.password:
                self._update(password=entered)
            problem = self._problem(Field.PASSWORD)
            if problem is None:
                return
            self.say(f"  {problem.message}")

    def _ask_security(self) -> None:
        options = "/".join(s.value for s in Security)
        while True:
            answer = self.ask(
                f"{Field.SECURITY} ({options}) [{self.draft.security.value}]: "
            ).strip()
            if not answer:
                return
            try:
                self._update(security=Security(answer.lower()))
                return
            except ValueError:
                self.say(f"  Choose one of {options}.")

    def _problem(self, field: Field) -> FieldProblem | None:
        return next((p for p in self.draft.problems() if p.field is field), None)

    def _save(self) -> ExitCode:
        try:
            saved = self.session.save(self.draft)
        except StoreError as error:
            self.say(f"Not saved: {error}")
            return ExitCode.STORE
        self.say(saved.headline, *saved.details)
        return ExitCode.OK


def run_wizard(session: SetupSession, *, stdin: TextIO, stdout: TextIO) -> ExitCode:
    return Wizard(session, stdin=stdin, stdout=stdout).run()
