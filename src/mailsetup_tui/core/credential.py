"""What an SMTP login proves itself with: a password, or a Microsoft sign-in's access token.

The SMTP dialogue (`core.probe`) takes one `Credential` and asks it for the secret to send
just before it connects; it never knows which kind it holds. The session builds credentials
and, after a dialogue, looks at a sign-in's refresh token: Microsoft may have rotated it while
handing out a new access token, and whether the new one is stored is the session's decision.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

from mailsetup_tui.core.account import Account, MicrosoftSignIn

if TYPE_CHECKING:
    from mailsetup_tui.core import oauth

# `oauth` (and `failures`, for what a refresh raises) load with the first refresh: the form
# builds a saved account's credential before its first frame, and needs neither for that.


class Credential(Protocol):
    async def login_secret(self, *, timeout: float, ca_file: str | os.PathLike[str] | None) -> str:
        """The secret AUTH sends (within `timeout`, trusting `ca_file` for any HTTPS on the
        way); `Failed` when there is none to be had."""
        ...


class Password:
    """A password (or, for a tool that has one in hand, an access token), sent as it is.

    A plain class, as `SignedIn` is: its default `repr` names no secret, and a dataclass
    would cost the form's start-up its generated methods, compiled (ARCHITECTURE.md).
    """

    __slots__ = ("secret",)

    def __init__(self, secret: str) -> None:
        self.secret = secret

    @classmethod
    def of(cls, account: Account, typed: str) -> Password:
        """The password `account`'s server expects from what was typed or stored: the one
        place app-password grouping spaces are taken out (`Provider.normalize_password`)."""
        return cls(account.provider.normalize_password(typed))

    async def login_secret(self, *, timeout: float, ca_file: str | os.PathLike[str] | None) -> str:
        return self.secret


class SignedIn:
    """A Microsoft sign-in in hand for one address and app registration: its refresh token,
    and the tokens of the last sign-in or refresh while they are fresh.

    The access token is fetched when a login needs one, kept in memory only, and refreshed
    when it is about to expire. `refresh_token` is always the newest Microsoft handed out.
    """

    def __init__(
        self,
        email: str,
        signin: MicrosoftSignIn,
        refresh_token: str,
        tokens: oauth.Tokens | None = None,
    ) -> None:
        self.email = email
        self.signin = signin
        self.refresh_token = refresh_token
        self.tokens = tokens
        """The tokens of the last sign-in or refresh; None before the first, or after one
        failed."""

    @classmethod
    def from_tokens(cls, email: str, signin: MicrosoftSignIn, tokens: oauth.Tokens) -> SignedIn:
        return cls(email, signin, tokens.refresh_token, tokens)

    def __repr__(self) -> str:  # never a token, even in a traceback's locals
        return f"SignedIn({self.email!r} via {self.signin.client_id})"

    @property
    def username(self) -> str | None:
        """Who signed in, as Microsoft's last token reply named them."""
        return self.tokens.username if self.tokens else None

    def fits(self, account: Account) -> bool:
        return (self.email, self.signin) == (account.email, account.signin)

    async def login_secret(self, *, timeout: float, ca_file: str | os.PathLike[str] | None) -> str:
        if self.tokens is None or not self.tokens.fresh:
            from mailsetup_tui.core import oauth
            from mailsetup_tui.core.failures import Failed

            try:
                self.tokens = await oauth.refresh(
                    self.signin, self.refresh_token, timeout=timeout, ca_file=ca_file
                )
            except oauth.SignInError as error:
                self.tokens = None
                failure = error.as_probe_failure()
                raise Failed(failure.kind, failure.reason) from None
            self.refresh_token = self.tokens.refresh_token
        return self.tokens.access_token


def credential_for(account: Account, secret: str) -> Password | SignedIn:
    """`account`'s credential from its stored secret: the password, or for Microsoft sign-in
    the refresh token."""
    if account.signin is None:
        return Password.of(account, secret)
    return SignedIn(account.email, account.signin, secret)
