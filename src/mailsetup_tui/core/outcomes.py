"""Every outcome a front end shows, worded once: the form, the line mode and the CLI say the
same sentences because they take them from here.

The spec's two Test messages stay word for word. Everything else is a sentence with what to do
next where there is something to do. See ARCHITECTURE.md (the session layer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.store.types import Chosen, SaveReport
from mailsetup_tui.core.untrusted import shown

if TYPE_CHECKING:
    from mailsetup_tui.core.delivery import Sent
    from mailsetup_tui.core.failures import ProbeFailure, ProbeResult
    from mailsetup_tui.core.handover import Prepared
    from mailsetup_tui.core.oauth import DeviceCode, SignInFailure

# The failures and the sign-in are named here for their types only: the form loads its
# outcomes' wording before its first frame, and a test loads those two when it runs.

MESSAGE_OK = "Connected successfully"
MESSAGE_FAILED = "Test connection failed. Please review email account information entered."
"""The spec's two outcomes of Test, word for word."""

CLEAR_TEXT_WARNING = (
    "Security None sends the password unencrypted: anyone on the network path can read it."
)


class TestProgress:
    """What a front end shows while a test runs. Each hook does nothing unless a front end
    overrides it. A front end that can show a device code says so (`can_show_code`) and
    overrides `show_code`: a test with nowhere to show one cannot start a sign-in."""

    __test__ = False  # pytest: not a test class, despite the name

    can_show_code: ClassVar[bool] = False

    def signing_in(self) -> None:
        """A Microsoft sign-in starts (a code will follow)."""

    def show_code(self, code: DeviceCode) -> None:
        raise NotImplementedError

    def signed_in(self, sentence: str) -> None:
        """The sign-in ended well: who signed in (`signed_in_text`)."""

    def testing(self, sentence: str) -> None:
        """The connection test itself starts (`testing_text`)."""


class LineProgress(TestProgress):
    """A test's progress as plain lines, for any terminal or log: the device code, who signed
    in, and (with `show_testing`) that the test itself starts."""

    can_show_code = True

    def __init__(self, say: Callable[[str], None], *, show_testing: bool = False) -> None:
        self.say = say
        self.show_testing = show_testing

    def show_code(self, code: DeviceCode) -> None:
        self.say(sign_in_instructions(code))

    def signed_in(self, sentence: str) -> None:
        self.say(sentence)

    def testing(self, sentence: str) -> None:
        if self.show_testing:
            self.say(sentence)


def testing_text(account: Account) -> str:
    return f"Testing {account.server}:{account.port} ..."


def sign_in_instructions(code: DeviceCode) -> str:
    """What to do with a device code, as plain lines for any terminal or log."""
    expires = time.strftime("%H:%M", time.localtime(code.expires_at))
    return (
        f"To sign in, open {code.verification_uri} on any device and enter the code\n\n"
        f"    {code.user_code}\n\n"
        f"Waiting for the sign-in (the code expires at {expires}; Ctrl+C cancels)..."
    )


def editing_text(config_path: Path) -> str:
    return f"Editing the saved account ({config_path})"


def signed_in_text(username: str | None, email: str) -> str:
    """Who signed in, and a warning when it is not the account's own address."""
    who = username or "an unnamed user"
    text = f"Signed in as {who}."
    if username and username.lower() != email.lower():
        text += f" Note: the Email is {email}; the server must let {who} send as it."
    return text


class Opened(NamedTuple):
    """Where a front end starts: the saved account, if there is one that can be read, and
    which account it is."""

    account: Account | None
    config_path: Path
    problem: str | None = None
    """Why the saved config could not be read."""
    chosen: Chosen = Chosen.OPTION
    """Why this config: given, the system account, the user's own."""

    @property
    def mode(self) -> str:
        """The form's second line: which account this is, and whether it exists yet."""
        if self.problem is not None:
            return f"New account. The saved config could not be read: {self.problem}"
        return account_text(self.config_path, self.chosen, exists=self.account is not None)

    @property
    def warning(self) -> str | None:
        if self.problem is not None:
            return (
                "Saving will keep the unreadable file as a backup; fix or replace it first if "
                "it holds something you need."
            )
        if self.account is not None and self.account.sends_password_in_clear:
            return CLEAR_TEXT_WARNING
        return None


SIGN_IN_IDLE_DAYS = 90
"""Microsoft ends a sign-in (its refresh token) not used for this long."""
RENEWAL_WARNING_DAYS = 60


def renewal_text(renewed: datetime | None, today: datetime | None = None) -> str | None:
    """When a stored Microsoft sign-in was last renewed, with a warning well before
    Microsoft's limit for an unused sign-in; None when it is not recorded."""
    if renewed is None:
        return None
    today = today or datetime.now(UTC)
    days = (today - renewed).days
    text = f"renewed {renewed:%Y-%m-%d} ({days} days ago)"
    if days >= RENEWAL_WARNING_DAYS:
        text += (
            f"; warning: Microsoft ends a sign-in unused for {SIGN_IN_IDLE_DAYS} days: run "
            "`mailsetup test` as the account's owner (README: a daily timer does it)"
        )
    return text


def account_text(config_path: Path, chosen: Chosen, *, exists: bool) -> str:
    """Which account a front end works on, and why that one."""
    if chosen is Chosen.ROOT:
        if exists:
            return f"Editing the system account ({config_path})"
        return f"New system account (will be saved to {config_path})"
    if chosen is Chosen.FALLBACK:
        return (
            f"Using the system account ({config_path}): you have no account of your own; "
            "only root can change it"
        )
    if chosen in {Chosen.OWN, Chosen.NEW_OWN}:
        if exists:
            return f"Editing your own account ({config_path})"
        return f"New account of your own (will be saved to {config_path})"
    if exists:
        return editing_text(config_path)
    return f"New account (will be saved to {config_path})"


class TestOutcome(NamedTuple):
    """How one Test ended: the spec's headline and one sentence under it."""

    result: ProbeResult
    email: str
    signed_in_as: str | None = None
    """Who the Microsoft sign-in used by this test belongs to, when it used one."""
    sign_in_failure: SignInFailure | None = None
    """Why the device-code sign-in itself failed (the test never reached the server)."""

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def failure(self) -> ProbeFailure | None:
        return self.result.failure

    @property
    def headline(self) -> str:
        return MESSAGE_OK if self.ok else MESSAGE_FAILED

    @property
    def temporary(self) -> bool:
        """Trying again in a few minutes may pass (a 4xx reply, a time-out, the network)."""
        return self.result.failure is not None and self.result.failure.temporary

    @property
    def detail(self) -> str:
        """The reason, or what passed (and what could not be checked), safe to show."""
        if self.result.failure is not None:
            return shown(self.result.failure.reason)
        via = f"over {self.result.tls_version}" if self.result.tls_version else "without encryption"
        text = f"Login as {self.email} accepted {via} in {self.result.elapsed:.1f} s."
        if self.result.note:
            text += f" Note: {self.result.note}."
        return shown(text)

    @property
    def signed_in(self) -> str | None:
        """The sign-in sentence, for a front end that did not say it when the sign-in ended."""
        if self.signed_in_as is None:
            return None
        return signed_in_text(self.signed_in_as, self.email)


# pytest: not a test class, despite the name (a NamedTuple cannot declare it in its body)
TestOutcome.__test__ = False  # type: ignore[attr-defined]


class SaveOutcome(NamedTuple):
    """What Save wrote, and where, in the words every front end prints."""

    report: SaveReport

    @property
    def headline(self) -> str:
        return f"Saved to {self.report.config_path}"

    @property
    def secret_where(self) -> str:
        return self.report.secret.describe()

    @property
    def details(self) -> tuple[str, ...]:
        """The lines under the headline: where the secret went, and a kept backup."""
        lines = [f"{self.report.secret_type.noun.capitalize()} stored in {self.secret_where}"]
        if self.report.backup_path is not None:
            lines.append(f"The unreadable old config was kept as {self.report.backup_path}")
        lines += [f"Warning: {warning}" for warning in self.report.warnings]
        return tuple(lines)

    @property
    def mode(self) -> str:
        """What a form now edits: the account just saved."""
        return editing_text(self.report.config_path)


class SendOutcome(NamedTuple):
    """How sending a message ended."""

    sent: Sent | None
    failure: ProbeFailure | None = None
    """Why the server did not take it."""
    invalid: str | None = None
    """Why the message could not be made (a recipient typed in the form that is no address)."""
    test_message: bool = False
    """A test message from the form, so the words say so."""

    @property
    def ok(self) -> bool:
        return self.sent is not None

    @property
    def temporary(self) -> bool:
        """Trying again in a few minutes may pass (a 4xx reply, a time-out, the network)."""
        return self.failure is not None and self.failure.temporary

    @property
    def headline(self) -> str:
        what = "Test message" if self.test_message else "Message"
        if self.sent is None:
            return f"{what} not sent."
        return f"{what} sent to {', '.join(self.sent.recipients)}"

    @property
    def detail(self) -> str:
        if self.sent is None:
            return shown(self.failure.reason if self.failure else self.invalid or "")
        return f"The server accepted it as {self.sent.message_id}; check that it arrived."


class HandoverOutcome(NamedTuple):
    """How a handed-over message (the sendmail command) ended."""

    prepared: Prepared
    sent: Sent | None
    failure: ProbeFailure | None = None

    @property
    def temporary(self) -> bool:
        """Trying again in a few minutes may pass: the caller may (sendmail's 75)."""
        return self.failure is not None and self.failure.temporary

    @property
    def too_large(self) -> bool:
        if self.failure is None:
            return False
        from mailsetup_tui.core.failures import FailureKind  # loaded: the failure is one

        return self.failure.kind is FailureKind.TOO_LARGE

    @property
    def reason(self) -> str:
        """Why it was not sent, safe for a terminal or a log."""
        return shown(self.failure.reason) if self.failure else ""
