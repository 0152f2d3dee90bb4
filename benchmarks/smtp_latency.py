"""SMTP test latency: `probe` against a bare aiosmtplib login, same server, same run.

Prints the median of each over N rounds and their ratio. The baseline is the least any login
test must do (connect, STARTTLS, EHLO, AUTH, QUIT); the probe adds its own resolve and connect,
and the MAIL FROM / RCPT TO / RSET round trips that catch an account that may not send as its
address. With Microsoft sign-in, a test also refreshes the access token over HTTPS first
(the loopback authorization server), then logs in with XOAUTH2: that row shows what the sign-in
costs on top. Run with `make bench` (needs the test extras for the local servers).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import aiosmtplib

from mailsetup_tui.core.credential import SignedIn
from mailsetup_tui.core.probe import probe, tls_context

from support.authserver import AuthState, XOAuth2Handler, microsoft_account, run_auth_server
from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Certificates,
    other_account,
    run_smtp_server,
)


async def bare_login(port: int, ca_file: Path) -> None:
    smtp = aiosmtplib.SMTP(
        hostname=HOST, port=port, start_tls=True, tls_context=tls_context(ca_file), timeout=15
    )
    await smtp.connect()
    await smtp.login(LOGIN, PASSWORD)
    await smtp.quit()


async def mailsetup_probe(port: int, ca_file: Path) -> None:
    result = await probe(other_account(port), PASSWORD, timeout=15, ca_file=ca_file)
    if not result.ok:
        raise SystemExit(f"probe failed: {result.failure}")


class SignedInProbe:
    """A test of a Microsoft sign-in account from its refresh token, as `mailsetup test` runs
    one: refresh (HTTPS), then the probe with XOAUTH2. Keeps the rotated refresh token."""

    def __init__(self, smtp_port: int, auth_url: str, state: AuthState, ca_file: Path) -> None:
        self.account = microsoft_account(smtp_port, auth_url)
        self.refresh_token = str(state.issue(LOGIN)["refresh_token"])
        self.ca_file = ca_file

    async def __call__(self) -> None:
        assert self.account.signin is not None
        credential = SignedIn(self.account.email, self.account.signin, self.refresh_token)
        result = await probe(self.account, credential, timeout=15, ca_file=self.ca_file)
        if not result.ok or credential.tokens is None:
            raise SystemExit(f"signed-in probe failed: {result.failure}")
        self.refresh_token = credential.refresh_token


async def timed(rounds: int, run: Callable[[], Awaitable[None]]) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - started)
    return samples


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        certificates = Certificates.create(Path(directory), "bench")
        ca = certificates.ca_file
        with (
            run_smtp_server("starttls", certificates) as server,
            run_auth_server(certificates) as auth,
            run_smtp_server(
                "starttls", certificates, handler=XOAuth2Handler(auth.state)
            ) as microsoft,
        ):
            signed_in = SignedInProbe(microsoft.port, auth.url, auth.state, ca)
            # Warm up each, then measure each side in turn.
            await bare_login(server.port, ca)
            await mailsetup_probe(server.port, ca)
            await signed_in()
            baseline = await timed(rounds, lambda: bare_login(server.port, ca))
            measured = await timed(rounds, lambda: mailsetup_probe(server.port, ca))
            with_signin = await timed(rounds, signed_in)
    base, ours = statistics.median(baseline), statistics.median(measured)
    oauth = statistics.median(with_signin)
    print(f"SMTP test latency, STARTTLS on 127.0.0.1, {rounds} rounds each (medians)")
    print(f"{'bare aiosmtplib login (baseline)':<40}{base * 1000:8.1f} ms")
    print(f"{'mailsetup probe':<40}{ours * 1000:8.1f} ms")
    print(f"{'mailsetup probe, Microsoft sign-in':<40}{oauth * 1000:8.1f} ms")
    print(f"{'ratio probe / baseline':<40}{ours / base:8.2f} x")
    print(f"{'ratio sign-in probe / baseline':<40}{oauth / base:8.2f} x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(main(parser.parse_args().rounds))
