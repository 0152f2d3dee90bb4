"""Sending one message through an account: the connection test's SMTP dialogue, with the
message instead of the sender check.

Connects exactly as the connection test does (same TLS rules, same deadline, same failure
reasons, one login) and sends one message with a correct From, Date, Message-ID and
`Auto-Submitted: auto-generated`, so that vacation responders do not answer it. Front ends
send through the session; host programs through `core.mailer`.
"""

from __future__ import annotations

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
from mailsetup_tui.core.credential import Credential
from mailsetup_tui.core.failures import Failed, FailureKind, ProbeFailure, Step
from mailsetup_tui.core.message import check_subject, checked_recipients
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
        from mailsetup_tui.core.handover import to_seven_bit

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

        async def deliver(dialogue: SmtpDialogue, smtp: SMTP) -> None:
            offers_8bit = smtp.supports_extension("8bitmime")
            data, message_id = build(offers_8bit)
            dialogue.step = Step.MAIL_FROM
            _check_size(smtp, len(data), self.account.server)
            options = ["BODY=8BITMIME"] if offers_8bit and eight_bit_body else []
            if smtp.supports_extension("size"):
                options.append(f"SIZE={len(data)}")
            with dialogue.classified():
                sender = self.account.email
                dialogue.log_reply(
                    f"MAIL FROM:<{sender}>", await smtp.mail(sender, options=options)
                )
                for recipient in recipients:
                    dialogue.step, dialogue.recipient = Step.RCPT_TO, recipient
                    dialogue.log_reply(f"RCPT TO:<{recipient}>", await smtp.rcpt(recipient))
                dialogue.recipient = None
                dialogue.step = Step.DATA
                reply = await smtp.data(data)
                dialogue.log_reply("DATA", reply)
            text = " ".join(dialogue.heard(reply.message).split())
            accepted.append((message_id, len(data), f"{reply.code} {text}"))

        dialogue = SmtpDialogue(self.account, self.credential, self.timeout, self.ca_file)
        result = await dialogue.run(deliver)
        if result.failure is not None:
            raise SendError(result.failure)
        message_id, size, reply = accepted[0]
        return Sent(message_id, recipients, result.elapsed, reply, size)


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
