"""One setup session: what the form, the line mode, the CLI and the sendmail interface each do
with an account.

The front ends gather input and show outcomes; everything between is here, once (the layers are
drawn in ARCHITECTURE.md). A session holds what every step needs: the store, the deadline, the
trusted CAs, the Microsoft sign-in in hand, and the last draft that passed a test. What it
returns is worded in `core.outcomes`, so that every front end says the same sentences. Plain
store administration (who may read the account, the sendmail aliases) goes to `session.store`
directly: there is nothing to decide about it.

Two decisions are made here and nowhere else.

Which secret a test uses:
    App password: the draft's password. An empty one means the saved password, when the draft
    is for the saved account's address (otherwise `NoPassword`).
    Microsoft sign-in: the sign-in held for exactly this address and app registration (made or
    refreshed earlier in this session, else the saved account's stored refresh token). With
    none, a device-code sign-in when the front end can show a code, else `NeedsSignIn`.
    `new_sign_in=True` always starts one (that is `mailsetup signin`).

When a rotated refresh token is stored:
    Microsoft may hand out a new refresh token with each refresh. After every login (a test, a
    send, a handed-over message, the API's `Mailer`) the session looks at the credential: a new
    refresh token is held from then on, and written to the store at once when it belongs to
    the saved account's sign-in (same address and app registration) and the running user may
    change the account. A reader (a service in the readers group) keeps using the stored one,
    which Microsoft keeps valid. The write runs off the event loop. A sign-in that is not saved
    yet is held in memory and stored by `save`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import stat
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from mailsetup_tui.core.account import Account, AccountDraft, MicrosoftSignIn
from mailsetup_tui.core.credential import Credential, Password, SignedIn, credential_for
from mailsetup_tui.core.message import InvalidMessage
from mailsetup_tui.core.outcomes import (
    HandoverOutcome,
    Opened,
    SaveOutcome,
    SendOutcome,
    TestOutcome,
    TestProgress,
    signed_in_text,
    testing_text,
)
from mailsetup_tui.core.providers import provider
from mailsetup_tui.core.redact import SecretsSeen
from mailsetup_tui.core.store import (
    KEEP,
    AccountStore,
    Keep,
    SecretError,
    SecretType,
    StoredConfig,
    StoreError,
    config_from_toml,
)
from mailsetup_tui.core.store.files import read_text_file

if TYPE_CHECKING:
    from mailsetup_tui.core.delivery import Delivery
    from mailsetup_tui.core.discovery import Discovery, MxFact
    from mailsetup_tui.core.failures import ProbeResult
    from mailsetup_tui.core.handover import Handover

DEFAULT_TIMEOUT = 15.0
"""Seconds one test, sign-in exchange or send may take, from the name lookup to the last
reply."""

TEST_MESSAGE_SUBJECT = "mailsetup test message"

_T = TypeVar("_T")


class NeedsSignIn(Exception):
    """A Microsoft sign-in account with no sign-in held or stored for it, where the front end
    cannot show a device code (the CLI's `test`, `save`, `send`, `apply`)."""

    def __init__(self, account: Account) -> None:
        super().__init__(f"no Microsoft sign-in is stored for {account.email}")
        self.account = account


class NoPassword(Exception):
    """An empty password, and no saved password for that address to use instead."""

    def __init__(self, email: str) -> None:
        super().__init__(f"no password for {email}")
        self.email = email


class NotTested(Exception):
    """Save or a test message asked for values other than those of the last passed test."""


class UnreadableSecret(Exception):
    """The saved account's secret could not be read; the text is the sentence to show."""


class Tested:
    """The last draft that passed a test: what Save stores and a test message goes through.

    A plain class whose `repr` names no password (a dataclass would cost the form's start-up
    its generated methods, compiled: ARCHITECTURE.md).
    """

    __test__ = False  # pytest: not a test class, despite the name
    __slots__ = ("account", "ca_file", "draft", "password")

    def __init__(
        self, draft: AccountDraft, account: Account, password: str, ca_file: Path | None
    ) -> None:
        self.draft = draft
        self.account = account
        self.password = password
        """The password the test used (perhaps the saved one), as its server takes it; empty
        for Microsoft sign-in, whose secret is the held sign-in."""
        self.ca_file = ca_file
        """The CA file the test trusted, saved with the account so later tests trust it too."""

    def __repr__(self) -> str:
        return f"Tested({self.draft!r}, {self.account.email!r})"


def ca_file_problem(path: Path) -> str | None:
    """Why `path` cannot serve as the trusted CAs, or None."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return "not a file"
    except FileNotFoundError:
        return "no such file"
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    from mailsetup_tui.core.probe import tls_context

    try:
        tls_context(path)
    except (ssl.SSLError, OSError) as error:
        return f"not a readable PEM certificate file ({error})"
    return None


# --- the session -----------------------------------------------------------------------------


class SetupSession:
    """One run of a front end against one config; see the module docstring for its rules."""

    def __init__(
        self,
        store: AccountStore,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.store = store
        self.timeout = timeout
        """The one deadline each test, sign-in exchange and send must meet, in seconds."""
        self.ca_file = ca_file
        """Trust exactly these CAs instead of the system store (SMTP and sign-in alike); None:
        the CA file saved with the account, when testing its server, else the system store."""
        self.secrets = SecretsSeen()
        """Every password and token handled, masked in whatever text leaves the session."""
        self.held: SignedIn | None = None
        self.tested: Tested | None = None
        self._refused: tuple[str, MicrosoftSignIn | None] | None = None
        """The address and app registration whose sign-in the server or Microsoft refused
        last: the stored one is not tried again where a new sign-in can be made."""

    @classmethod
    def at(
        cls,
        config: str | os.PathLike[str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> SetupSession:
        """A session on `config`, else $MAILSETUP_CONFIG, else the per-user config path;
        what a killed or failed save left there is cleared first (`AccountStore.tidy`)."""
        store = AccountStore.at(config)
        store.tidy()
        return cls(store, timeout=timeout, ca_file=ca_file)

    @property
    def config_path(self) -> Path:
        return self.store.path

    def trusted_cas(self, account: Account) -> Path | None:
        """The CA file to trust for `account`: the one given, else the one saved with the
        account when `account` is on the saved account's server (a CA travels with its
        server, not to a new one), else None: the system store. `StoreError` when the saved
        one is gone, unreadable or not PEM: a config problem, never an internal error."""
        if self.ca_file is not None:
            return Path(self.ca_file).absolute()
        try:
            saved = self.store.load_config()
        except StoreError:
            return None
        if saved is not None and saved.account.server == account.server:
            if saved.ca_file is not None and (problem := ca_file_problem(saved.ca_file)):
                raise StoreError(
                    f"{self.config_path}: the CA file saved with the account, "
                    f"{saved.ca_file}, {problem}: restore it, or save the account again "
                    "with --ca-file naming one that works"
                )
            return saved.ca_file
        return None

    def use_ca_file(self, path: Path | None) -> str | None:
        """Trust exactly the CAs in `path` from the next test on (the form's CA file key, as
        `--ca-file` does for the commands), and save it with the account; None: back to the
        one saved with the account, else the system store. Returns why `path` cannot serve,
        changing nothing, or None."""
        if path is not None:
            path = path.expanduser().absolute()
            if problem := ca_file_problem(path):
                return f"{path}: {problem}"
        self.ca_file = path
        return None

    def ca_file_in_use(self) -> Path | None:
        """The CA file a test would trust: the one given (`use_ca_file`, `--ca-file`), else
        the one saved with the account, if any (None too when it cannot be read)."""
        if self.ca_file is not None:
            return Path(self.ca_file)
        try:
            saved = self.store.load_config()
        except StoreError:
            return None
        return saved.ca_file if saved is not None else None

    # --- the saved account ------------------------------------------------------------------

    def open(self) -> Opened:
        """The saved account to start from, with a problem to show if it cannot be read."""
        location = self.store.location
        try:
            return Opened(self.store.load(), self.config_path, chosen=location.chosen)
        except StoreError as error:
            return Opened(None, self.config_path, str(error), chosen=location.chosen)

    def load_saved_secret(self, account: Account) -> str | None:
        """Read `account`'s stored secret: the password, to fill a password field, or (None
        returned) a Microsoft sign-in, which the session holds for the next test.

        Blocking (a keyring may be slow to answer): front ends call it off their UI loop.
        `UnreadableSecret` says what could not be read.
        """
        try:
            secret = self.store.read_secret(account)
        except SecretError as error:
            noun = SecretType.of(account).noun
            raise UnreadableSecret(f"The saved {noun} could not be read: {error}") from None
        self.secrets.add(secret)
        if account.signin is None:
            return secret
        self.held = SignedIn(account.email, account.signin, secret)
        return None

    def saved_pair(self) -> tuple[StoredConfig, str]:
        """The saved config and its secret, read as one pair (blocking: the API's `Mailer`,
        and `_saved_pair` in a thread). `StoreError` when there is none or its secret cannot
        be read."""
        config, secret = self.store.load_with_secret()
        self.secrets.add(secret)
        return config, secret

    @staticmethod
    def read_account_file(path: Path) -> Account:
        """An account from a TOML file in the config's schema (`apply`); `StoreError` names
        the file and what is wrong."""
        try:
            text = read_text_file(path)
        except (OSError, UnicodeDecodeError) as error:
            raise StoreError(f"{path}: cannot be read ({error})") from None
        config = config_from_toml(text, path)
        extra = [
            name
            for name, value in (
                ("[access]", config.group),
                ("[aliases]", config.aliases),
                ("log", config.log),
                ("secret_generation", config.generation),
            )
            if value
        ]
        if extra:
            raise StoreError(
                f"{path}: apply takes the [account] table only, not {', '.join(extra)}: give "
                "the readers group with --group (or mailsetup access), aliases and the log "
                "with mailsetup aliases"
            )
        return config.account

    # --- Test -------------------------------------------------------------------------------

    async def test(
        self,
        draft: AccountDraft,
        progress: TestProgress | None = None,
        *,
        new_sign_in: bool = False,
    ) -> TestOutcome:
        """Test `draft` against its server; for Microsoft sign-in, sign in first if needed.

        `progress` hears each stage; a device-code sign-in starts only where it can show a
        code. `new_sign_in` signs in even when a sign-in is held or stored. Raises
        `InvalidAccount` for a draft with problems, `NoPassword`, `NeedsSignIn`, or
        `StoreError` when a stored secret it needs cannot be read; every connection problem
        is an outcome. Cancelling the task stops the sign-in or the test at once.
        """
        progress = progress or TestProgress()
        if not provider(draft.provider_id).domains.accepts_any and draft.hosted is None:
            # Gmail takes a Google Workspace address: what its domain's MX says, asked now.
            fact = await self.mx_fact(draft)
            if fact is not None and fact.hosted is not None:
                draft = replace(draft, hosted=fact.hosted)
        # An empty password is not a problem here: it means the saved one (see the docstring).
        account = draft.check(with_password=bool(draft.password))
        if account.signin is None:
            return await self._test_with_password(draft, account, progress)
        held = None
        if not new_sign_in:
            held = await self._sign_in_for(account, can_sign_in=progress.can_show_code)
        if held is None:
            if not progress.can_show_code:
                raise NeedsSignIn(account)
            signed_in = await self._sign_in(account, progress)
            if isinstance(signed_in, TestOutcome):
                return signed_in
            held = signed_in
        progress.testing(testing_text(account))
        trusted = self.trusted_cas(account)
        result = await self._logged_in(account, held, lambda: self._probe(account, held, trusted))
        from mailsetup_tui.core import oauth  # with the test: the form's start needs none of it

        if result.failure is not None and result.failure.kind in oauth.SIGN_IN_AGAIN:
            self.held, self._refused = None, (account.email, account.signin)
        else:
            self.held, self._refused = held, None
        self.tested = Tested(draft, account, "", trusted) if result.ok else None
        return TestOutcome(result, account.email, held.username)

    async def mx_fact(self, draft: AccountDraft) -> MxFact | None:
        """What the MX of `draft`'s address says for its provider (`discovery.mx_fact`): a
        Google Workspace address for Gmail, a domain not at Microsoft 365 for Exchange. The
        front ends ask on leaving Email; `test` asks where the answer decides."""
        from mailsetup_tui.core.discovery import mx_fact  # dnspython: not for the first paint

        return await mx_fact(draft.email, provider(draft.provider_id))

    async def discover(self, email: str) -> Discovery:
        """Other's server for `email`, found as mail clients find it (`core.discovery`),
        trusting what a test trusts (`--ca-file` besides the system store)."""
        from mailsetup_tui.core.discovery import discover

        return await discover(email, ca_file=self.ca_file, timeout=self.timeout)

    async def _sign_in(self, account: Account, progress: TestProgress) -> SignedIn | TestOutcome:
        """A new device-code sign-in for `account`: held, or the failed test it ends in."""
        assert account.signin is not None
        from mailsetup_tui.core import oauth
        from mailsetup_tui.core.failures import ProbeResult, Step

        progress.signing_in()
        started = time.monotonic()
        try:
            tokens = await oauth.sign_in(
                account.signin,
                progress.show_code,
                timeout=self.timeout,
                ca_file=self.trusted_cas(account),
            )
        except oauth.SignInError as error:
            self.held = self.tested = None
            failed = ProbeResult(error.as_probe_failure(), Step.AUTH, time.monotonic() - started)
            return TestOutcome(failed, account.email, sign_in_failure=error.kind)
        self.secrets.add(tokens.access_token, tokens.refresh_token)
        progress.signed_in(signed_in_text(tokens.username, account.email))
        return SignedIn.from_tokens(account.email, account.signin, tokens)

    async def _test_with_password(
        self, draft: AccountDraft, account: Account, progress: TestProgress
    ) -> TestOutcome:
        password = Password.of(account, draft.password or await self._saved_password(account))
        self.secrets.add(draft.password, password.secret)
        progress.testing(testing_text(account))
        trusted = self.trusted_cas(account)
        result = await self._probe(account, password, trusted)
        self.tested = Tested(draft, account, password.secret, trusted) if result.ok else None
        return TestOutcome(result, account.email)

    async def _probe(
        self, account: Account, credential: Credential, trusted: Path | None
    ) -> ProbeResult:
        from mailsetup_tui.core.probe import probe  # aiosmtplib: not for the form's first paint

        return await probe(account, credential, timeout=self.timeout, ca_file=trusted)

    async def _saved_password(self, account: Account) -> str:
        try:
            saved = self.store.load()
        except StoreError:
            saved = None
        if saved is None or saved.signin is not None or saved.email != account.email:
            raise NoPassword(account.email)
        return await self._read_secret(saved)

    async def _sign_in_for(self, account: Account, *, can_sign_in: bool) -> SignedIn | None:
        """The sign-in to test `account` with: the one held, else the stored one; None if a
        new one is needed."""
        if self.held is not None and self.held.fits(account):
            return self.held
        if can_sign_in and self._refused == (account.email, account.signin):
            return None
        if not self.store.keeps_sign_in(account.email, account.signin):
            return None
        assert account.signin is not None
        try:
            token = await self._read_secret(account)
        except SecretError:
            if can_sign_in:
                return None  # a new sign-in replaces what cannot be read
            raise
        self.held = SignedIn(account.email, account.signin, token)
        return self.held

    # --- after every login: the rotation policy ---------------------------------------------

    async def _logged_in(
        self, account: Account, credential: Credential, login: Callable[[], Awaitable[_T]]
    ) -> _T:
        """Run `login` (a test or a send with `credential`), then keep what a Microsoft
        sign-in brought back, as the module docstring says."""
        if not isinstance(credential, SignedIn):
            return await login()
        before = credential.refresh_token
        try:
            return await login()
        finally:
            if credential.tokens is not None:
                self.secrets.add(credential.tokens.access_token, credential.refresh_token)
            if credential.refresh_token != before:
                self.held = credential  # the newest refresh token is the one to go on with
                await asyncio.to_thread(
                    self.keep_rotated_refresh_token, account, credential.refresh_token
                )

    def keep_rotated_refresh_token(self, account: Account, token: str) -> None:
        """Write a rotated refresh token when it belongs to the saved account's sign-in and
        the running user may change the account; otherwise (a reader, or a write that fails)
        the stored one stays, and still works: the next refresh tries again. Blocking: the
        session calls it off the event loop after every login."""
        if not self.store.keeps_sign_in(account.email, account.signin):
            return
        with contextlib.suppress(StoreError, OSError):
            self.store.check_may_change()
            self.store.write_refresh_token(account, token)

    # --- after a passed test ------------------------------------------------------------------

    def tested_account(self, draft: AccountDraft) -> Account:
        """The account of `draft` if it is exactly what passed the last test and its secret is
        in hand; `NotTested` or `NeedsSignIn` otherwise."""
        tested = self.tested
        if tested is None or tested.draft != draft:
            raise NotTested("test these values first: Save is only for values that passed")
        if tested.account.signin is not None and (
            self.held is None or not self.held.fits(tested.account)
        ):
            raise NeedsSignIn(tested.account)
        return tested.account

    def _tested_credential(self, draft: AccountDraft) -> tuple[Account, Password | SignedIn]:
        account = self.tested_account(draft)
        assert self.tested is not None
        if account.signin is None:
            return account, Password(self.tested.password)
        assert self.held is not None
        return account, self.held

    def _tested_secret(self, draft: AccountDraft) -> tuple[Account, str]:
        """What Save stores: the tested password, or the held sign-in's refresh token."""
        account, credential = self._tested_credential(draft)
        if isinstance(credential, Password):
            return account, credential.secret
        return account, credential.refresh_token

    def tested_is_saved(self, draft: AccountDraft) -> bool:
        """Whether saving `draft` (which passed) would change nothing: the same account and
        the same secret are saved already."""
        account, secret = self._tested_secret(draft)
        try:
            saved = self.store.load_config()
        except StoreError:
            return False
        assert self.tested is not None
        if saved is None or (saved.account, saved.ca_file) != (account, self.tested.ca_file):
            return False
        try:
            return self.store.read_secret(account) == secret
        except StoreError:
            return False

    def save(self, draft: AccountDraft, *, group: str | Keep | None = KEEP) -> SaveOutcome:
        """Store `draft`, which must be what passed the last test (the spec's rule), with its
        password or the held sign-in's refresh token, the CA file the test trusted, and the
        readers group (default: the one recorded). `StoreError` if it cannot be written, or
        the running user may not change the account."""
        account, secret = self._tested_secret(draft)
        assert self.tested is not None
        report = self.store.save(account, secret, ca_file=self.tested.ca_file, group=group)
        return SaveOutcome(report)

    # --- sending ------------------------------------------------------------------------------

    async def send(self, to: str | Sequence[str], subject: str | None, text: str) -> SendOutcome:
        """Send one message through the saved account, connected exactly as a test connects
        (subject None: "Message from" the display name).

        `StoreError` when there is no saved account or its secret cannot be read,
        `InvalidMessage` for a bad recipient or subject.
        """
        config, secret = await self._saved_pair()
        account = config.account
        credential = credential_for(account, secret)
        subject = subject or f"Message from {account.display_name}"
        return await self._send(account, credential, to, subject, text)

    async def send_test_message(self, draft: AccountDraft, to: str) -> SendOutcome:
        """A short message through the account that just passed its test (the form's Send
        test), to see a code's way to an inbox before saving."""
        account, credential = self._tested_credential(draft)
        body = (
            f"This test message was sent by mailsetup through {account.email} "
            f"({account.server}:{account.port}).\n\nIt shows that the system e-mail account "
            "works: verification codes will be sent from this address.\n"
        )
        return await self._send(account, credential, to, TEST_MESSAGE_SUBJECT, body, test=True)

    async def _send(
        self,
        account: Account,
        credential: Password | SignedIn,
        to: str | Sequence[str],
        subject: str,
        text: str,
        *,
        test: bool = False,
    ) -> SendOutcome:
        from mailsetup_tui.core.delivery import SendError

        try:
            sent = await self.deliver(
                account, credential, lambda delivery: delivery.send(to, subject, text)
            )
        except InvalidMessage as error:
            if not test:
                raise  # a script's bad recipient is a usage error
            return SendOutcome(None, invalid=str(error), test_message=True)
        except SendError as error:
            return SendOutcome(None, error.failure, test_message=test)
        return SendOutcome(sent, test_message=test)

    async def deliver(
        self,
        account: Account,
        credential: Password | SignedIn,
        send: Callable[[Delivery], Awaitable[_T]],
    ) -> _T:
        """`send` through `account` with `credential` (the sign-in held for it instead, whose
        tokens may still be fresh), trusting what a test of `account` trusts; a rotated
        refresh token is kept as the module docstring says. `send` is one message (`SendError`
        when the server did not take it) or the relay's burst."""
        from mailsetup_tui.core.delivery import Delivery  # aiosmtplib: not for the first paint

        if isinstance(credential, SignedIn) and self.held is not None and self.held.fits(account):
            credential = self.held
        delivery = Delivery(
            account, credential, timeout=self.timeout, ca_file=self.trusted_cas(account)
        )
        return await self._logged_in(account, credential, lambda: send(delivery))

    async def deliver_saved(self, send: Callable[[Delivery], Awaitable[_T]]) -> _T:
        """`send` through the saved account as it is on disk now: read again for each call,
        so that a new password or sign-in takes effect at once (the relay's courier calls
        this for every connection). `StoreError` when it cannot be read."""
        config, secret = await self._saved_pair()
        account = config.account
        return await self.deliver(account, credential_for(account, secret), send)

    async def send_handover(self, handover: Handover) -> HandoverOutcome:
        """Send a message a local program handed over (the sendmail command) through the
        saved account, made acceptable to its provider by `handover.prepare` (the config's
        aliases name local recipients).

        `handover.Malformed` or `handover.UnknownLocalRecipient` for the message,
        `InvalidMessage` for a recipient that is no address, `StoreError` when there is no
        account or its secret cannot be read; every connection problem is an outcome.
        """
        from mailsetup_tui.core.delivery import SendError
        from mailsetup_tui.core.handover import prepare  # only the sendmail command needs it

        config, secret = await self._saved_pair()
        account = config.account
        prepared = prepare(handover, account, config.alias_map)
        credential = credential_for(account, secret)
        try:
            sent = await self.deliver(account, credential, lambda d: d.send_prepared(prepared))
        except SendError as error:
            return HandoverOutcome(prepared, None, error.failure)
        return HandoverOutcome(prepared, sent)

    async def _saved_pair(self) -> tuple[StoredConfig, str]:
        """`saved_pair`, read off the event loop (a keyring may be slow)."""
        return await asyncio.to_thread(self.saved_pair)

    async def _read_secret(self, account: Account) -> str:
        """The saved account's secret, read off the event loop (a keyring may be slow)."""
        secret = await asyncio.to_thread(self.store.read_secret, account)
        self.secrets.add(secret)
        return secret
