"""A Microsoft-like authorization server on 127.0.0.1 over HTTPS (trustme certificate).

It serves what MSAL reads and sends, the way login.microsoftonline.com answers: the tenant's
OpenID configuration, the device authorization endpoint and the token endpoint (device-code and
refresh-token grants), with Microsoft's error codes. Each device code follows a script of
outcomes, one per poll ("pending", "slow_down", "approved", "declined", "expired"), so a test
decides how the person at the browser behaves. Tokens it issues are remembered, so the SMTP
server (`XOAuth2Handler`) accepts exactly the access tokens that are currently valid.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.smtp import SMTP, AuthResult

from mailsetup_tui.core.account import Account, MicrosoftSignIn
from mailsetup_tui.core.providers import ProviderId

from support.servers import HOST, LOGIN, Certificates, RecordingHandler

CLIENT_ID = "0f9a3c2e-5b7d-4e21-9a6c-1d2e3f4a5b6c"
TENANT = "example.com"
UNKNOWN_CLIENT_ID = "99999999-9999-4999-8999-999999999999"
USER_CODE = "HK7QW3ZP"


def microsoft_account(
    smtp_port: int,
    authority_host: str,
    *,
    provider_id: ProviderId = ProviderId.OTHER,
    client_id: str = CLIENT_ID,
    tenant: str = TENANT,
) -> Account:
    """An account with Microsoft sign-in against the loopback servers (Other: the presets'
    servers are Microsoft's own; the form tests point a preset row at loopback instead)."""
    return Account.create(
        provider_id,
        "Verification Codes",
        LOGIN,
        server=HOST,
        port=smtp_port,
        signin=MicrosoftSignIn(client_id, tenant, authority_host),
    )


@dataclass
class DeviceGrant:
    """One device code and how its polls go."""

    device_code: str
    client_id: str
    tenant: str
    scope: str
    script: list[str]
    polls: list[float] = field(default_factory=list)
    issued_at: float = field(default_factory=time.monotonic)


@dataclass
class Issued:
    user: str
    expires_at: float


@dataclass
class AuthState:
    """What the server does and what it saw; tests set the former and read the latter."""

    tenants: set[str] = field(default_factory=lambda: {TENANT, "consumers"})
    clients: set[str] = field(default_factory=lambda: {CLIENT_ID})
    public_client_flows: bool = True
    script: list[str] = field(default_factory=lambda: ["pending", "approved"])
    """The outcomes of the polls for the next device code; the last one repeats."""
    interval: int = 1
    expires_in: int = 900
    access_token_lifetime: float = 3600.0
    user: str = LOGIN
    rotate_refresh_tokens: bool = True
    html_from_token_endpoint: bool = False
    """Answer token requests with an HTML page, as a captive portal or a meddling proxy does."""
    grants: list[DeviceGrant] = field(default_factory=list)
    access_tokens: dict[str, Issued] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    """Valid refresh token -> user."""
    refreshes: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request, in order."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def valid(self, token: str, user: str) -> bool:
        issued = self.access_tokens.get(token)
        return issued is not None and issued.user == user and time.time() < issued.expires_at

    def revoke_refresh_tokens(self) -> None:
        """What "revoke sessions" or a password change does at Microsoft."""
        with self.lock:
            self.refresh_tokens.clear()

    def issue(self, user: str) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        refresh = "rt-" + secrets.token_urlsafe(32)
        self.access_tokens[access] = Issued(user, time.time() + self.access_token_lifetime)
        self.refresh_tokens[refresh] = user
        return {
            "token_type": "Bearer",
            "scope": "https://outlook.office.com/SMTP.Send",
            "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": _unsigned_jwt(
                {
                    "preferred_username": user,
                    "aud": CLIENT_ID,
                    "iss": "https://login.example/v2.0",
                    "sub": "s",
                    "exp": int(time.time()) + 3600,
                }
            ),
            "client_info": _b64({"uid": "u", "utid": "t"}),
        }


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _error(code: str, aadsts: str, text: str) -> dict[str, Any]:
    return {
        "error": code,
        "error_description": f"AADSTS{aadsts}: {text} Trace ID: 0 Correlation ID: 0 "
        "Timestamp: 2026-11-24 00:00:00Z",
        "error_codes": [int(aadsts)],
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append(("GET", self.path))
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = parts[0]
            if tenant not in state.tenants:
                self._reply(400, _error("invalid_tenant", "90002", f"Tenant '{tenant}' not found."))
                return
            base = f"{self.server.url}/{tenant}"
            self._reply(
                200,
                {
                    "issuer": f"{self.server.url}/{tenant}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                },
            )
            return
        self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        state = self.server.state
        state.requests.append(("POST", self.path))
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        parts = self.path.split("?")[0].strip("/").split("/")
        tenant, endpoint = parts[0], parts[-1]
        with state.lock:
            if form.get("client_id") not in state.clients:
                self._reply(
                    400,
                    _error(
                        "unauthorized_client",
                        "700016",
                        f"Application with identifier '{form.get('client_id')}' was not "
                        "found in the directory.",
                    ),
                )
                return
            if endpoint == "devicecode":
                self._device_code(tenant, form)
            elif endpoint == "token":
                self._token(form)
            else:
                self._reply(404, {"error": "not_found"})

    def _device_code(self, tenant: str, form: dict[str, str]) -> None:
        state = self.server.state
        grant = DeviceGrant(
            "dc-" + secrets.token_urlsafe(16), form["client_id"], tenant,
            form.get("scope", ""), list(state.script),
        )  # fmt: skip
        state.grants.append(grant)
        self._reply(
            200,
            {
                "device_code": grant.device_code,
                "user_code": USER_CODE,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": state.expires_in,
                "interval": state.interval,
                "message": f"To sign in, use a web browser to open the page "
                f"https://microsoft.com/devicelogin and enter the code {USER_CODE}.",
            },
        )

    def _token(self, form: dict[str, str]) -> None:
        state = self.server.state
        if state.html_from_token_endpoint:
            page = b"<html><body>Please log in to the guest network</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        grant_type = form.get("grant_type", "")
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            if not state.public_client_flows:
                self._reply(
                    401,
                    _error(
                        "invalid_client",
                        "7000218",
                        "The request body must contain the following parameter: "
                        "'client_assertion' or 'client_secret'.",
                    ),
                )
                return
            grant = next(g for g in state.grants if g.device_code == form["device_code"])
            grant.polls.append(time.monotonic())
            outcome = grant.script.pop(0) if len(grant.script) > 1 else grant.script[0]
            if outcome == "approved":
                self._reply(200, state.issue(state.user))
            elif outcome == "pending":
                self._reply(400, _error("authorization_pending", "70016", "Pending."))
            elif outcome == "slow_down":
                self._reply(400, {"error": "slow_down", "error_description": "Slow down."})
            elif outcome == "declined":
                self._reply(400, _error("authorization_declined", "70000", "The user declined."))
            else:
                self._reply(400, _error("expired_token", "70019", "The code expired."))
        elif grant_type == "refresh_token":
            state.refreshes += 1
            token = form.get("refresh_token", "")
            user = state.refresh_tokens.get(token)
            if user is None:
                self._reply(
                    400,
                    _error(
                        "invalid_grant",
                        "50173",
                        "The provided grant has expired due to it being revoked.",
                    ),
                )
                return
            if state.rotate_refresh_tokens:
                del state.refresh_tokens[token]
            self._reply(200, state.issue(user))
        else:
            self._reply(400, _error("unsupported_grant_type", "70003", "Unsupported."))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: AuthState
    url: str


@dataclass
class AuthServer:
    url: str
    state: AuthState


@contextmanager
def run_auth_server(certificates: Certificates) -> Iterator[AuthServer]:
    server = _Server((HOST, 0), _Handler)
    server.socket = certificates.server_context.wrap_socket(server.socket, server_side=True)
    server.state = AuthState()
    server.url = f"https://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield AuthServer(server.url, server.state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class XOAuth2Attempt:
    user: str
    token: str
    encrypted: bool
    accepted: bool


class XOAuth2Handler(RecordingHandler):
    """An SMTP handler that takes AUTH XOAUTH2 with a currently valid token from `state`,
    as Exchange Online does (535 5.7.3 otherwise)."""

    def __init__(self, state: AuthState) -> None:
        super().__init__()
        self.state = state
        self.xoauth2: list[XOAuth2Attempt] = []

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        raw = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        fields = dict(part.split("=", 1) for part in raw.split("\x01") if "=" in part)
        user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        assert server.transport is not None
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        accepted = self.state.valid(token, user)
        self.xoauth2.append(XOAuth2Attempt(user, token, encrypted, accepted))
        if accepted:
            return AuthResult(success=True)
        return AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )
