"""Sending one message through an account: the connection test's SMTP dialogue, with the
message instead of the sender check.

Connects exactly as the connection test does (same TLS rules, same deadline, same failure
reasons, one login) and sends one message with a correct From, Date, Message-ID and
`Auto-Submitted: auto-generated`, so that vacation responders do not answer it. Front ends
send through the session; host programs through `core.mailer`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Protocol

from aiosmtplib import SMTP

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.credential import Credential
from mailsetup_tui.core.failures import Failed, FailureKind, ProbeFailure, ProbeResult, Step
from mailsetup_tui.core.message import InvalidMessage, check_subject, checked_recipients
from mailsetup_tui.core.probe import SmtpDialogue

if TYPE_CHECKING:
    from mailsetup_tui.core.handover import Prepared


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


def compose(
    account: Account,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    *,
    eight_bit: bool = True,
) -> EmailMessage:
    """The message `Delivery.send` would send from `account` (validated: `InvalidMessage`).

    A non-ASCII body goes as 8-bit text where the server offers 8BITMIME (`eight_bit`), and
    as quoted-printable otherwise: 8-bit data to a server that did not offer it may be
    mangled or refused on its way.
    """
    recipients = checked_recipients(to)
    check_subject(subject)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = account.from_address()
    message["To"] = [Address(addr_spec=address) for address in recipients]
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=account.email.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"
    cte = None if eight_bit or text.isascii() else "quoted-printable"
    message.set_content(text, cte=cte)
    if html is not None:
        html_cte = None if eight_bit or html.isascii() else "quoted-printable"
        message.add_alternative(html, subtype="html", cte=html_cte)
    return message


class Delivery:
    """Sends through one account with one credential; each send is one connection."""

    def __init__(
        self,
        account: Account,
        credential: Credential,
        *,
        timeout: float,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.account = account
        self.credential = credential
        self.timeout = timeout
        self.ca_file = ca_file

    def __repr__(self) -> str:  # never the credential, even in a traceback's locals
        return f"Delivery({self.account.email!r} via {self.account.server}:{self.account.port})"

    async def send(
        self, to: str | Sequence[str], subject: str, text: str, html: str | None = None
    ) -> Sent:
        """Send one message; `SendError` if the server did not take it, for every recipient.

        Every recipient is offered before any data is sent, and one refusal sends nothing:
        a verification code reaching some of its addressees is a failure to report, not a
        partial success to hide.
        """
        compose(self.account, to, subject, text, html)  # invalid input fails here, first

        def build(eight_bit: bool) -> tuple[bytes, str]:
            message = compose(self.account, to, subject, text, html, eight_bit=eight_bit)
            return message.as_bytes(), str(message["Message-ID"])

        non_ascii = not (text.isascii() and (html or "").isascii())
        return await self._deliver(checked_recipients(to), build, non_ascii)

    async def send_prepared(self, prepared: Prepared) -> Sent:
        """Send a message a local program handed over (the sendmail command), made ready by
        `handover.prepare`: as it is where the server offers 8BITMIME, its 8-bit parts as
        quoted-printable otherwise. Same rules as `send`."""
        return await self._deliver(
            checked_recipients(prepared.recipients), _as_prepared(prepared), prepared.eight_bit
        )

    async def _deliver(
        self,
        recipients: tuple[str, ...],
        build: Callable[[bool], tuple[bytes, str]],
        eight_bit_body: bool,
    ) -> Sent:
        """One connection: log in, then `_transfer` the message `build` makes."""
        sent: list[Sent] = []

        async def deliver(dialogue: SmtpDialogue, smtp: SMTP) -> None:
            sent.append(await _transfer(dialogue, smtp, recipients, build, eight_bit_body))

        dialogue = SmtpDialogue(self.account, self.credential, self.timeout, self.ca_file)
        result = await dialogue.run(deliver)
        if result.failure is not None:
            raise SendError(result.failure)
        return sent[0]

    async def send_burst(self, burst: Burst) -> ProbeResult:
        """Send what `burst` hands out over one connection and one login, each message
        settled as it goes: a refused message (a 5xx for its recipient, its size) is settled
        as refused and the next follows after RSET; a closed connection or a 421 ends the
        burst. The result's failure is what ended the connection (None: the burst ran out),
        and its step says whether that was before any message (connecting, logging in)."""

        async def deliver_all(dialogue: SmtpDialogue, smtp: SMTP) -> None:
            offered = smtp.esmtp_extensions.get("size", "").strip()
            burst.opened(int(offered) if offered.isdigit() and int(offered) else None)
            while (prepared := await burst.next()) is not None:
                dialogue.extend_deadline()  # the deadline is per message in a burst
                try:
                    sent = await _transfer(
                        dialogue,
                        smtp,
                        checked_recipients(prepared.recipients),
                        _as_prepared(prepared),
                        prepared.eight_bit,
                    )
                except Failed as failed:
                    await burst.settled(prepared, failed.failure)
                    if not smtp.is_connected or failed.failure.kind in _CONNECTION_ENDED:
                        raise
                    dialogue.step = Step.RSET
                    with dialogue.classified():
                        await smtp.rset()
                    continue
                except InvalidMessage as error:
                    failure = ProbeFailure(FailureKind.MESSAGE_REFUSED, str(error))
                    await burst.settled(prepared, failure)
                    continue
                await burst.settled(prepared, sent)

        dialogue = SmtpDialogue(self.account, self.credential, self.timeout, self.ca_file)
        return await dialogue.run(deliver_all)


class Burst(Protocol):
    """Where a burst's messages come from and where each one's outcome goes (the relay's
    courier, over its spool)."""

    def opened(self, size_limit: int | None) -> None:
        """Logged in; the server takes messages up to `size_limit` bytes (its SIZE)."""

    async def next(self) -> Prepared | None:
        """The next message for this connection; None ends the burst."""

    async def settled(self, prepared: Prepared, outcome: Sent | ProbeFailure) -> None:
        """What became of `prepared`: sent, or refused with a reason (temporary or not)."""


_CONNECTION_ENDED = frozenset({FailureKind.TIMEOUT, FailureKind.CLOSED})
"""Failures after which the connection cannot carry the next message."""


def _as_prepared(prepared: Prepared) -> Callable[[bool], tuple[bytes, str]]:
    """The message as it is where the server offers 8BITMIME, its 8-bit parts as
    quoted-printable otherwise."""
    from mailsetup_tui.core.handover import to_seven_bit

    def build(eight_bit: bool) -> tuple[bytes, str]:
        if prepared.eight_bit and not eight_bit:
            return to_seven_bit(prepared.message), prepared.message_id
        return prepared.message, prepared.message_id

    return build


async def _transfer(
    dialogue: SmtpDialogue,
    smtp: SMTP,
    recipients: tuple[str, ...],
    build: Callable[[bool], tuple[bytes, str]],
    eight_bit_body: bool,
) -> Sent:
    """MAIL FROM the account, RCPT TO each recipient, DATA with the message `build` makes
    (told whether the server takes 8-bit data); `Failed` for the step that failed."""
    started = time.monotonic()
    offers_8bit = smtp.supports_extension("8bitmime")
    data, message_id = build(offers_8bit)
    dialogue.step = Step.MAIL_FROM
    _check_size(smtp, len(data), dialogue.account.server)
    options = ["BODY=8BITMIME"] if offers_8bit and eight_bit_body else []
    if smtp.supports_extension("size"):
        options.append(f"SIZE={len(data)}")
    with dialogue.classified():
        sender = dialogue.account.email
        dialogue.log_reply(f"MAIL FROM:<{sender}>", await smtp.mail(sender, options=options))
        for recipient in recipients:
            dialogue.step, dialogue.recipient = Step.RCPT_TO, recipient
            dialogue.log_reply(f"RCPT TO:<{recipient}>", await smtp.rcpt(recipient))
        dialogue.recipient = None
        dialogue.step = Step.DATA
        reply = await smtp.data(data)
        dialogue.log_reply("DATA", reply)
    text = " ".join(dialogue.heard(reply.message).split())
    elapsed = time.monotonic() - started
    return Sent(message_id, recipients, elapsed, f"{reply.code} {text}", len(data))


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
