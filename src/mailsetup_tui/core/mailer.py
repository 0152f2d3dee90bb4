"""Sending through the saved account: what the host system calls to deliver its codes.

    from mailsetup_tui.core.mailer import Mailer

    mailer = Mailer.from_saved()
    mailer.send("alice@example.com", "Your verification code", "Your code is 482913.")

Connects exactly as the connection test does (same TLS rules, same deadline, same failure
reasons) and sends one message with a correct From, Date, Message-ID and
`Auto-Submitted: auto-generated`, so that vacation responders do not answer it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from aiosmtplib import SMTP

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.failures import Failed, FailureKind, ProbeFailure, Step
from mailsetup_tui.core.message import InvalidMessage, check_subject, checked_recipients
from mailsetup_tui.core.probe import DEFAULT_TIMEOUT, Session
from mailsetup_tui.core.store import AccountStore, StoreError

if TYPE_CHECKING:
    from mailsetup_tui.core.oauth import Tokens
    from mailsetup_tui.core.relay import Prepared

__all__ = ["InvalidMessage", "Mailer", "SendError", "Sent"]


class SendError(Exception):
    """Sending failed; `failure` has the same kinds and reasons as the connection test, plus
    recipient refused and message refused."""

    def __init__(self, failure: ProbeFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure

    @property
    def temporary(self) -> bool:
        """A 4xx reply, a time-out or a network error: the same send may pass in a few
        minutes, so a caller with a queue should retry (`mailsetup send` exits 75)."""
        return self.failure.temporary


@dataclass(frozen=True)
class Sent:
    """A message the server accepted."""

    message_id: str
    recipients: tuple[str, ...]
    elapsed: float
    reply: str = ""
    """The server's reply to the message's data (often with its queue id), as it said it:
    untrusted text."""
    size: int = 0
    """The message's size in bytes, as sent."""


class Mailer:
    """Sends through one account. Safe to reuse; each send is one connection.

    For an account with Microsoft sign-in, `password` is the refresh token: the access token
    is fetched before the first send, kept in memory only, and refreshed when it is about to
    expire. `keep_refresh_token` is told about each new refresh token Microsoft hands out.
    """

    def __init__(
        self,
        account: Account,
        password: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: str | os.PathLike[str] | None = None,
        keep_refresh_token: Callable[[str], None] | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        self.account = account
        self._password = account.provider.normalize_password(password)
        self.timeout = timeout
        self.ca_file = ca_file
        self._keep_refresh_token = keep_refresh_token
        self._tokens = tokens
        """The current tokens of a Microsoft sign-in (e.g. from the sign-in just made)."""

    def __repr__(self) -> str:  # never the password, even in a traceback's locals
        return f"Mailer({self.account.email!r} via {self.account.server}:{self.account.port})"

    @classmethod
    def from_saved(
        cls,
        config: str | os.PathLike[str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> Mailer:
        """The saved account: `config`, else $MAILSETUP_CONFIG, else (root) the system account,
        else the user's own account, else the system account, as `mailsetup` finds it; so a
        service in the account's readers group needs no path. The CA file saved with the
        account is trusted unless `ca_file` is given.

        Raises `StoreError` (or its `SecretError`) when there is no saved account or its
        password cannot be read.
        """
        store = AccountStore.at(config)
        saved = store.load_config()
        if saved is None:
            raise StoreError(f"no saved account at {store.path}; run mailsetup to set one up")
        account = saved.account
        secret = store.read_secret(account)
        return cls(
            account,
            secret,
            timeout=timeout,
            ca_file=ca_file if ca_file is not None else saved.ca_file,
            keep_refresh_token=lambda token: store.replace_refresh_token(account, token),
        )

    def message(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        *,
        eight_bit: bool = True,
    ) -> EmailMessage:
        """The message `send` would send (validated), for inspection or logging.

        A non-ASCII body goes as 8-bit text where the server offers 8BITMIME (`eight_bit`),
        and as quoted-printable otherwise: 8-bit data to a server that did not offer it may be
        mangled or refused on its way.
        """
        recipients = checked_recipients(to)
        check_subject(subject)
        message = EmailMessage(policy=SMTP_POLICY)
        message["From"] = self.account.from_address()
        message["To"] = [Address(addr_spec=address) for address in recipients]
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.account.email.rsplit("@", 1)[1])
        message["Auto-Submitted"] = "auto-generated"
        cte = None if eight_bit or text.isascii() else "quoted-printable"
        message.set_content(text, cte=cte)
        if html is not None:
            html_cte = None if eight_bit or html.isascii() else "quoted-printable"
            message.add_alternative(html, subtype="html", cte=html_cte)
        return message

    async def send_async(
        self, to: str | Sequence[str], subject: str, text: str, html: str | None = None
    ) -> Sent:
        """Send one message; `SendError` if the server did not take it, for every recipient.

        Every recipient is offered before any data is sent, and one refusal sends nothing:
        a verification code reaching some of its addressees is a failure to report, not a
        partial success to hide.
        """
        self.message(to, subject, text, html)  # invalid input fails here, before connecting

        def build(eight_bit: bool) -> tuple[bytes, str]:
            message = self.message(to, subject, text, html, eight_bit=eight_bit)
            return message.as_bytes(), str(message["Message-ID"])

        non_ascii = not (text.isascii() and (html or "").isascii())
        return await self._deliver(checked_recipients(to), build, non_ascii)

    async def relay_async(self, prepared: Prepared) -> Sent:
        """Send a message a local program handed over (the sendmail command), made ready by
        `relay.prepare`: as it is where the server offers 8BITMIME, its 8-bit parts as
        quoted-printable otherwise. Same rules as `send_async`."""
        from mailsetup_tui.core.relay import to_seven_bit

        def build(eight_bit: bool) -> tuple[bytes, str]:
            if prepared.eight_bit and not eight_bit:
                return to_seven_bit(prepared.message), prepared.message_id
            return prepared.message, prepared.message_id

        return await self._deliver(
            checked_recipients(prepared.recipients), build, prepared.eight_bit
        )

    async def _deliver(
        self,
        recipients: tuple[str, ...],
        build: Callable[[bool], tuple[bytes, str]],
        eight_bit_body: bool,
    ) -> Sent:
        """One connection: log in, MAIL FROM the account, RCPT TO each recipient, DATA with
        the message `build` makes (told whether the server takes 8-bit data) and its
        Message-ID."""
        accepted: list[tuple[str, int, str]] = []
        """The Message-ID, the size and the server's reply of the message it took."""

        async def deliver(session: Session, smtp: SMTP) -> None:
            offers_8bit = smtp.supports_extension("8bitmime")
            data, message_id = build(offers_8bit)
            session.step = Step.MAIL_FROM
            _check_size(smtp, len(data), self.account.server)
            options = ["BODY=8BITMIME"] if offers_8bit and eight_bit_body else []
            if smtp.supports_extension("size"):
                options.append(f"SIZE={len(data)}")
            with session.classified():
                sender = self.account.email
                session.log_reply(f"MAIL FROM:<{sender}>", await smtp.mail(sender, options=options))
                for recipient in recipients:
                    session.step, session.recipient = Step.RCPT_TO, recipient
                    session.log_reply(f"RCPT TO:<{recipient}>", await smtp.rcpt(recipient))
                session.recipient = None
                session.step = Step.DATA
                reply = await smtp.data(data)
                session.log_reply("DATA", reply)
            text = " ".join(session.heard(reply.message).split())
            accepted.append((message_id, len(data), f"{reply.code} {text}"))

        session = Session(self.account, await self._credential(), self.timeout, self.ca_file)
        result = await session.run(deliver)
        if result.failure is not None:
            raise SendError(result.failure)
        message_id, size, reply = accepted[0]
        return Sent(message_id, recipients, result.elapsed, reply, size)

    async def _credential(self) -> str:
        """The password, or a current access token for Microsoft sign-in."""
        if self.account.signin is None:
            return self._password
        from mailsetup_tui.core import oauth

        held = self._tokens or self._password
        try:
            self._tokens = await oauth.current(
                self.account.signin, held, timeout=self.timeout, ca_file=self.ca_file
            )
        except oauth.SignInError as error:
            raise SendError(error.as_probe_failure()) from None
        previous = held if isinstance(held, str) else held.refresh_token
        if self._tokens.refresh_token != previous and self._keep_refresh_token:
            self._keep_refresh_token(self._tokens.refresh_token)
        return self._tokens.access_token

    def send(
        self, to: str | Sequence[str], subject: str, text: str, html: str | None = None
    ) -> Sent:
        """`send_async` for synchronous callers (not from inside a running event loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.send_async(to, subject, text, html))
        raise RuntimeError("Mailer.send called inside an event loop: await send_async instead")


def _check_size(smtp: SMTP, size: int, server: str) -> None:
    """Refuse, before MAIL FROM, a message larger than the server's SIZE (RFC 1870) says it
    takes: the server would refuse it anyway, after the whole upload on a slow line."""
    offered = smtp.esmtp_extensions.get("size", "")
    limit = int(offered) if offered.strip().isdigit() else 0
    if limit and size > limit:
        raise Failed(
            FailureKind.TOO_LARGE,
            f"the message is {size} bytes; {server} takes at most {limit} (its SIZE)",
        )
