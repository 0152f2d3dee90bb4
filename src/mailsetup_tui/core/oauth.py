"""Microsoft sign-in for SMTP: the device authorization grant (RFC 8628) and token refresh.

A headless server has no browser, so the sign-in happens elsewhere: the user opens Microsoft's
page on any device and types the code shown here, while this side polls. MSAL, Microsoft's own
library, does every HTTP exchange and parses every response; this module sets the polling
rhythm (asynchronous, so it can be cancelled and a form stays live), turns MSAL's error
replies into outcomes a user can act on, and keeps tokens out of reprs, logs and reasons.

MSAL is synchronous (requests), so each exchange runs in a worker thread, and it is imported
only here, when a sign-in or refresh actually happens. A leaf: it knows the app registration
and reports failures, and nothing of SMTP or the store (`core.credential` turns its tokens
into a login, the session decides what is kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from mailsetup_tui.core.account import MicrosoftSignIn
from mailsetup_tui.core.failures import FailureKind, ProbeFailure
from mailsetup_tui.core.redact import redact
from mailsetup_tui.core.untrusted import shown

if TYPE_CHECKING:
    import msal
    import requests
    from requests.sessions import _Settings

SMTP_SCOPE = "https://outlook.office.com/SMTP.Send"
"""The delegated permission SMTP AUTH needs. MSAL adds openid, profile and offline_access (the
last is what yields a refresh token) by itself, and refuses them when passed explicitly."""

SIGN_IN_AGAIN = frozenset({FailureKind.CREDENTIALS, FailureKind.SIGNIN, FailureKind.SIGNIN_REVOKED})
"""Failures after which a held sign-in is dropped, so the next test signs in afresh: another
user, a revoked or refused sign-in."""

CODE_EXPIRED = "the code expired before the sign-in was finished: start the sign-in again"

REFRESH_MARGIN = 300.0
"""Seconds before its expiry an access token is refreshed, so that it cannot run out between
the check and the SMTP login."""


class SignInFailure(StrEnum):
    """Why a sign-in or refresh failed; stable names for scripts (`--json`) and tests."""

    DECLINED = "declined"
    EXPIRED = "expired"
    WRONG_TENANT = "wrong_tenant"
    WRONG_CLIENT = "wrong_client"
    CONSENT = "consent"
    REVOKED = "revoked"
    NETWORK = "network"
    CERTIFICATE = "certificate"
    SERVER = "server"


class SignInError(Exception):
    """A sign-in or refresh that did not yield a token; `reason` says what to do."""

    def __init__(self, kind: SignInFailure, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason

    @property
    def temporary(self) -> bool:
        """The network failed: the same sign-in may pass in a few minutes, as a network
        failure of SMTP is temporary (the README's rule)."""
        return self.kind is SignInFailure.NETWORK

    def as_probe_failure(self) -> ProbeFailure:
        revoked = self.kind is SignInFailure.REVOKED
        return ProbeFailure(
            FailureKind.SIGNIN_REVOKED if revoked else FailureKind.SIGNIN,
            self.reason,
            temporary=self.temporary,
        )


class DeviceCode(NamedTuple):
    """What the user must see to sign in: where to go and what to type there."""

    user_code: str
    verification_uri: str
    expires_at: float
    """time.time() after which the code is dead."""


@dataclass(frozen=True, repr=False)
class Tokens:
    """The result of a sign-in or refresh. Never printed: its repr names no token."""

    access_token: str
    refresh_token: str
    expires_at: float
    username: str | None
    """Who signed in (the id token's preferred_username), to show and to compare."""

    def __repr__(self) -> str:
        return f"Tokens(for {self.username!r}, expires {time.ctime(self.expires_at)})"

    @property
    def fresh(self) -> bool:
        return time.time() < self.expires_at - REFRESH_MARGIN


def http_verify(ca_file: str | os.PathLike[str] | None) -> str | bool:
    """What requests should trust: `ca_file`, else the system store as `ssl` finds it.

    requests would otherwise trust certifi's bundle rather than the system's, so that a private
    CA installed on the host (or named by SSL_CERT_FILE) would work for SMTP but not for
    sign-in. `ssl.get_default_verify_paths` honours SSL_CERT_FILE and SSL_CERT_DIR.
    """
    if ca_file is not None:
        return os.fspath(ca_file)
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.capath):
        if candidate and Path(candidate).exists():
            return candidate
    return True


def _http_session(trusted: str | bool, timeout: float) -> requests.Session:
    """A requests session that trusts exactly `verify` and gives up after `timeout`.

    requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE replace a session's own `verify`; here
    `--ca-file` and the system store must decide, as they do for SMTP. Proxies from the
    environment (HTTPS_PROXY, NO_PROXY) still apply.
    """
    import requests

    class TrustingExactly(requests.Session):
        def merge_environment_settings(
            self,
            url: str | bytes | None,
            proxies: MutableMapping[str, str] | None,
            stream: bool | None,
            verify: bool | str | None,
            cert: str | tuple[str, str] | None,
        ) -> _Settings:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            settings["verify"] = trusted
            return settings

        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", timeout)
            return super().request(*args, **kwargs)

    session = TrustingExactly()
    session.verify = trusted
    return session


class MicrosoftClient:
    """One app registration's exchanges with Microsoft's login service (blocking calls)."""

    def __init__(
        self,
        signin: MicrosoftSignIn,
        *,
        timeout: float,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.signin = signin
        self.timeout = timeout
        self.ca_file = ca_file
        self._app: msal.PublicClientApplication | None = None

    @property
    def host(self) -> str:
        return self.signin.authority_host.removeprefix("https://")

    @contextlib.contextmanager
    def _exchanging(self, *secrets: str) -> Iterator[None]:
        """Turn whatever MSAL or requests raise during an exchange into a `SignInError`."""
        try:
            yield
        except SignInError:
            raise
        except Exception as error:
            raise self._transport_error(error, *secrets) from error

    def app(self) -> msal.PublicClientApplication:
        """The MSAL application; reads the tenant's OpenID configuration the first time."""
        if self._app is None:
            import msal

            with self._exchanging():
                try:
                    self._app = msal.PublicClientApplication(
                        self.signin.client_id,
                        authority=self.signin.authority,
                        # No lookup at login.microsoftonline.com of whether the host is a known
                        # Microsoft cloud: the tenant's own configuration is read either way,
                        # and a national cloud's host must not depend on the global one.
                        instance_discovery=False,
                        http_client=_http_session(http_verify(self.ca_file), self.timeout),
                    )
                except ValueError as error:  # MSAL's word for "no OpenID configuration there"
                    raise SignInError(
                        SignInFailure.WRONG_TENANT,
                        f"the tenant {self.signin.tenant!r} was not found at {self.host}: "
                        "enter the Directory (tenant) ID or a verified domain of your "
                        "organisation",
                    ) from error
        return self._app

    def start(self) -> tuple[DeviceCode, dict[str, Any]]:
        """Ask for a device code; the flow dict goes back into `poll`."""
        with self._exchanging():
            flow: dict[str, Any] = self.app().initiate_device_flow(scopes=[SMTP_SCOPE])
        if "user_code" not in flow:
            raise self._reply_error(flow)
        code = DeviceCode(
            # Shown on screen as they came: the network's words, made safe once here.
            user_code=shown(str(flow["user_code"]), 40),
            verification_uri=shown(
                str(flow.get("verification_uri") or flow.get("verification_url", "")), 200
            ),
            expires_at=float(flow["expires_at"]),
        )
        return code, flow

    def poll(self, flow: dict[str, Any]) -> Tokens | None:
        """One token request for the device code: tokens, None while the user has not
        finished (MSAL lengthens `flow["interval"]` on slow_down), or `SignInError`."""
        with self._exchanging():
            result = self.app().acquire_token_by_device_flow(flow, exit_condition=lambda flow: True)
        if result.get("error") in {"authorization_pending", "slow_down"}:
            return None
        return self._tokens(result)

    def refresh(self, refresh_token: str) -> Tokens:
        """A new access token (and usually a new refresh token) for a stored sign-in."""
        with self._exchanging(refresh_token):
            result = self.app().acquire_token_by_refresh_token(refresh_token, [SMTP_SCOPE])
        return self._tokens(result, refresh_token)

    def _tokens(self, result: dict[str, Any], previous_refresh_token: str = "") -> Tokens:
        if "access_token" not in result:
            raise self._reply_error(result, refresh=bool(previous_refresh_token))
        refresh_token = result.get("refresh_token") or previous_refresh_token
        if not refresh_token:
            raise SignInError(
                SignInFailure.CONSENT,
                "Microsoft gave no refresh token, so the sign-in could not be kept: the app "
                "registration needs the delegated permission offline_access",
            )
        claims = result.get("id_token_claims") or {}
        username = claims.get("preferred_username") or claims.get("email")
        return Tokens(
            access_token=result["access_token"],
            refresh_token=refresh_token,
            expires_at=time.time() + float(result.get("expires_in", 3600)),
            username=shown(username, 200) if isinstance(username, str) else None,
        )

    def _reply_error(self, result: dict[str, Any], *, refresh: bool = False) -> SignInError:
        """An OAuth error reply as an outcome; Microsoft's AADSTS code picks the advice."""
        error = str(result.get("error") or "unknown_error")
        description = str(result.get("error_description") or "")
        summary = _first_sentence(description) or error
        codes = set(re.findall(r"AADSTS(\d+)", description))
        client = self.signin.client_id
        if error == "authorization_declined":
            return SignInError(
                SignInFailure.DECLINED, "the sign-in was declined on Microsoft's page"
            )
        if error in {"expired_token", "code_expired"}:
            return SignInError(SignInFailure.EXPIRED, CODE_EXPIRED)
        if codes & {"90002", "50059", "90072", "900023", "50020"}:
            return SignInError(
                SignInFailure.WRONG_TENANT,
                f"the tenant {self.signin.tenant!r} does not fit this account ({summary})",
            )
        if codes & {"7000218", "700016", "700025", "50011", "9002331"} or error in {
            "invalid_client",
            "unauthorized_client",
        }:
            hint = {
                "7000218": "in the app registration, turn on Authentication > Allow public "
                "client flows",
                "700016": f"check the Application (client) ID {client} and the tenant",
                "9002331": "the app registration must allow personal Microsoft accounts for "
                "Hotmail/Outlook.com",
            }
            advice = next((hint[c] for c in sorted(codes) if c in hint), None) or (
                f"check the app registration {client} (public client flows on, supported "
                "account types)"
            )
            return SignInError(SignInFailure.WRONG_CLIENT, f"{advice} ({summary})")
        if codes & {"65001", "65004", "70011"} or error in {"consent_required", "invalid_scope"}:
            return SignInError(
                SignInFailure.CONSENT,
                "the app registration lacks consent for SMTP.Send: add the delegated "
                "permissions SMTP.Send and offline_access, and grant consent "
                f"({summary})",
            )
        if refresh and error in {"invalid_grant", "interaction_required"}:
            return SignInError(
                SignInFailure.REVOKED,
                "the stored Microsoft sign-in is no longer valid (expired, revoked, or the "
                f"password changed): sign in again with `mailsetup signin` ({summary})",
            )
        return SignInError(SignInFailure.SERVER, f"Microsoft sign-in failed: {error} ({summary})")

    def _transport_error(self, error: Exception, *secrets: str) -> SignInError:
        """An exception from MSAL or requests as an outcome: network, TLS trust, or a reply
        that could not be understood."""
        import requests

        text = redact(str(error), *secrets)
        if isinstance(error, requests.exceptions.SSLError):
            certificate = "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower()
            return SignInError(
                SignInFailure.CERTIFICATE if certificate else SignInFailure.NETWORK,
                f"TLS with {self.host} failed"
                + (
                    ": its certificate is not trusted (use --ca-file or SSL_CERT_FILE for a "
                    "private CA or an inspecting proxy)"
                    if certificate
                    else f" ({text})"
                ),
            )
        if isinstance(error, requests.exceptions.Timeout):
            return SignInError(
                SignInFailure.NETWORK, f"{self.host} did not answer within {self.timeout:g} s"
            )
        if isinstance(error, requests.exceptions.ConnectionError):
            return SignInError(
                SignInFailure.NETWORK,
                f"cannot reach {self.host} (no network, a firewall, or a proxy to set in "
                "HTTPS_PROXY)",
            )
        # Anything else is a reply MSAL could not take (malformed JSON, a missing field).
        return SignInError(
            SignInFailure.SERVER,
            f"{self.host} answered in a way mailsetup did not expect "
            f"({type(error).__name__}: {text})",
        )


def _first_sentence(description: str) -> str:
    """Microsoft's error text without its trace/correlation boilerplate."""
    text = " ".join(description.split())
    text = re.split(r"\s(?:Trace ID|Correlation ID|Timestamp):", text)[0]
    match = re.match(r"(.+?\.)(?:\s|$)", text)
    return (match[1] if match else text).strip()


async def sign_in(
    signin: MicrosoftSignIn,
    show_code: Callable[[DeviceCode], None],
    *,
    timeout: float,
    ca_file: str | os.PathLike[str] | None = None,
) -> Tokens:
    """Run the device-code sign-in: get a code, hand it to `show_code`, poll until done.

    Polls at the server's `interval` (longer after slow_down, as RFC 8628 asks). Cancelling the
    task stops the polling at once; a request in flight finishes in its thread, bounded by
    `timeout`.
    """
    client = MicrosoftClient(signin, timeout=timeout, ca_file=ca_file)
    code, flow = await asyncio.to_thread(client.start)
    show_code(code)
    while True:
        await asyncio.sleep(max(1, int(flow.get("interval", 5))))
        if time.time() > code.expires_at:
            raise SignInError(SignInFailure.EXPIRED, CODE_EXPIRED)
        tokens = await asyncio.to_thread(client.poll, flow)
        if tokens is not None:
            return tokens


async def refresh(
    signin: MicrosoftSignIn,
    refresh_token: str,
    *,
    timeout: float,
    ca_file: str | os.PathLike[str] | None = None,
) -> Tokens:
    """Fresh tokens for a stored sign-in, or `SignInError` (REVOKED when it must be redone)."""
    client = MicrosoftClient(signin, timeout=timeout, ca_file=ca_file)
    return await asyncio.to_thread(client.refresh, refresh_token)
