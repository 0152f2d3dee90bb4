"""At least once, never lost: the relay killed with SIGKILL at random moments while callers
hand messages over and it delivers them. Every message the relay said yes to (250, or exit 0)
must reach the server at least once after the restarts; a few may arrive twice (the one in
flight when it died), none may be missing.

The number of kills comes from $MAILSETUP_KILL_ROUNDS (a few in `make test`; `.ci/run` asks
for more, since a lost message may show only at one moment in many).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from mailsetup_tui.core.relay_wire import RelayBroken, RelayUnavailable, ask
from mailsetup_tui.core.store import AccountStore

from support.cli import mailsetup_env
from support.relay import add_relay_table, relay_table, start_relay
from support.servers import PASSWORD, Certificates, SmtpServer, other_account

ROUNDS = int(os.environ.get("MAILSETUP_KILL_ROUNDS", "4"))
# Each caller hands over at most this many messages per round: enough that kills land while
# messages are handed over and while they are delivered, few enough that the backlog after 50
# kills drains in seconds rather than minutes on a slow machine.
PER_CALLER_PER_ROUND = 15
# The final relay must keep making progress; it fails only after this long without any.
STALL_SECONDS = 30.0


def test_kill_9_at_random_moments_loses_no_accepted_message(
    tmp_path: Path, starttls_server: SmtpServer, certificates: Certificates, no_keyring: None
) -> None:
    config = tmp_path / "config" / "account.toml"
    AccountStore(config).save(
        other_account(starttls_server.port), PASSWORD, ca_file=certificates.ca_file
    )
    env = mailsetup_env(tmp_path)
    table = relay_table(tmp_path, retry_first=1, retry_max=1)
    add_relay_table(config, table)
    accepted: list[int] = []
    counter = iter(range(1_000_000))
    chooser = random.Random(int(os.environ.get("MAILSETUP_KILL_SEED", time.time_ns())))

    def hand_over_until(stop: threading.Event) -> None:
        handed_over = 0
        while not stop.is_set() and handed_over < PER_CALLER_PER_ROUND:
            number = next(counter)
            message = f"Subject: n\nX-Number: {number}\n\nx\n".encode()
            try:
                answer = ask(
                    Path(table["socket"]),
                    {"op": "submit", "recipient": ["a@example.org"]},
                    message,
                )
            except (RelayUnavailable, RelayBroken, OSError):
                time.sleep(0.01)  # not accepted: the caller was told so (75)
                continue
            if answer.ok:
                accepted.append(number)
                handed_over += 1

    for round_number in range(ROUNDS):
        relay = start_relay(env, table, tmp_path / f"relay-{round_number}.log")
        stop = threading.Event()
        callers = [threading.Thread(target=hand_over_until, args=(stop,)) for _ in range(3)]
        for caller in callers:
            caller.start()
        time.sleep(chooser.uniform(0.02, 0.5))
        relay.process.send_signal(signal.SIGKILL)
        relay.process.wait(10)
        stop.set()
        for caller in callers:
            caller.join()

    assert accepted, "no message was accepted at all"
    final = start_relay(env, table, tmp_path / "relay-final.log")
    try:
        _wait_for_drain(final.spool.root / "queue", final.output)
    finally:
        assert final.stop() == 0
    arrived: Counter[int] = Counter()
    for delivered in starttls_server.handler.delivered:
        for line in delivered.data.split(b"\r\n"):
            if line.startswith(b"X-Number: "):
                arrived[int(line.split()[1])] += 1
    missing = sorted(set(accepted) - set(arrived))
    assert missing == [], f"accepted but never delivered: {missing}"
    twice = sum(1 for count in arrived.values() if count > 1)
    assert twice <= ROUNDS, f"{twice} messages arrived more than once in {ROUNDS} kills"


def _wait_for_drain(queue: Path, relay_output: Callable[[], str]) -> None:
    """Wait until `queue` is empty, failing only when it stops shrinking: the backlog's size
    depends on the machine's speed, a stall does not."""
    last_size, last_progress = len(os.listdir(queue)), time.monotonic()
    while last_size:
        time.sleep(0.1)
        size = len(os.listdir(queue))
        if size < last_size:
            last_size, last_progress = size, time.monotonic()
        elif time.monotonic() - last_progress > STALL_SECONDS:
            raise AssertionError(
                f"{size} messages stayed queued for {STALL_SECONDS:.0f} s:\n{relay_output()}"
            )
