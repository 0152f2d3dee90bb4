"""SMTP test latency: `probe` against a bare aiosmtplib login, same server, same run.

Prints the median of each over N rounds and their ratio. The baseline is the least any login
test must do (connect, STARTTLS, EHLO, AUTH, QUIT); the probe adds its own resolve and connect,
and the MAIL FROM / RCPT TO / RSET round trips that catch an account that may not send as its
address. Run with `make bench` (needs the test extras for the local server).
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

from mailsetup_tui.core.probe import probe, tls_context

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
        with run_smtp_server("starttls", certificates) as server:
            ca = certificates.ca_file
            # Interleave warm-up, then measure each side in turn.
            await bare_login(server.port, ca)
            await mailsetup_probe(server.port, ca)
            baseline = await timed(rounds, lambda: bare_login(server.port, ca))
            measured = await timed(rounds, lambda: mailsetup_probe(server.port, ca))
    base, ours = statistics.median(baseline), statistics.median(measured)
    print(f"SMTP test latency, STARTTLS on 127.0.0.1, {rounds} rounds each (medians)")
    print(f"{'bare aiosmtplib login (baseline)':<36}{base * 1000:8.1f} ms")
    print(f"{'mailsetup probe':<36}{ours * 1000:8.1f} ms")
    print(f"{'ratio probe / baseline':<36}{ours / base:8.2f} x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(main(parser.parse_args().rounds))
