"""Sending through the saved account: what the host system calls to deliver its codes.

    from mailsetup_tui.core.mailer import Mailer

    mailer = Mailer.from_saved()
    mailer.send("alice@example.com", "Your verification code", "Your code is 482913.")

The public API, and only a face: a `Mailer.from_saved()` sends through a setup session, so it
connects exactly as the connection test does (same TLS rules, same deadline, same failure
reasons) and keeps a Microsoft sign-in's rotated refresh token as the session's rules say.
A `Mailer(account, password)` sends with a secret the caller holds, and stores nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from email.message import EmailMessage

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.credential import Password, SignedIn, credential_for
from mailsetup_tui.core.delivery import Delivery, SendError, Sent, compose
from mailsetup_tui.core.message import InvalidMessage
from mailsetup_tui.core.session import DEFAULT_TIMEOUT, SetupSession

__all__ = ["InvalidMessage", "Mailer", "SendError", "Sent"]


class Mailer:
    """Sends through one account. Safe to reuse; each send is one connection.

    For an account with Microsoft sign-in, `password` is the refresh token: the access token
    is fetched before the first send, kept in memory only, and refreshed when it is about to
    expire.
    """

    def __init__(
        self,
        account: Account,
        password: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.account = account
        self.timeout = timeout
        self.ca_file = ca_file
        self._credential: Password | SignedIn = credential_for(account, password)
        self._session: SetupSession | None = None
        """The session of the saved account (`from_saved`), which keeps a rotated refresh
        token; None: the caller holds the secret, and nothing is stored."""

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
        session = SetupSession.at(config, timeout=timeout, ca_file=ca_file)
        saved, secret = session.saved_pair()
        account = saved.account
        mailer = cls(account, secret, timeout=timeout, ca_file=session.trusted_cas(account))
        mailer._session = session
        return mailer

    def message(
        self, to: str | Sequence[str], subject: str, text: str, html: str | None = None
    ) -> EmailMessage:
        """The message `send` would send (validated), for inspection or logging."""
        return compose(self.account, to, subject, text, html)

    async def send_async(
        self, to: str | Sequence[str], subject: str, text: str, html: str | None = None
    ) -> Sent:
        """Send one message, as `delivery.Delivery.send` does: `SendError` unless the server
        took it for every recipient, `InvalidMessage` before connecting."""
        if self._session is not None:
            return await self._session.deliver(
                self.account,
                self._credential,
                lambda delivery: delivery.send(to, subject, text, html),
            )
        delivery = Delivery(
            self.account, self._credential, timeout=self.timeout, ca_file=self.ca_file
        )
        return await delivery.send(to, subject, text, html)

    def send(
        self, to: str | Sequence[str], subject: str, text: str, html: str | None = None
    ) -> Sent:
        """`send_async` for synchronous callers (not from inside a running event loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.send_async(to, subject, text, html))
        raise RuntimeError("Mailer.send called inside an event loop: await send_async instead")
