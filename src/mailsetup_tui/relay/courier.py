"""Delivering the queue through the saved account: bursts over one login, retries with
back-off, and nothing that locks the account out.

A burst sends every due message over one connection and one AUTH (RSET between messages),
up to `PER_CONNECTION`; a 421 or a closed connection ends it, and the next connection picks up
where it stopped. A temporary failure (4xx, network, time-out) waits `retry_first`, doubling up
to `retry_max`, until the message is older than `give_up_after`; a permanent one (5xx) fails
the message at once. A failed login is the account's problem, not the messages': they all
wait, and no new login is tried until the account is saved again (a fixed password) or
`retry_max` has passed, because each failed login counts toward the provider's lock-out.
The account is read again for every connection, so a new password or sign-in takes effect
without a restart; a new save also makes every queued message due at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from mailsetup_tui.core.delivery import Sent
from mailsetup_tui.core.failures import FailureKind, ProbeFailure, ProbeResult, Step
from mailsetup_tui.core.handover import Prepared
from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.spool import Entry, EntryState, Spool, SpoolError
from mailsetup_tui.core.store import StoreError
from mailsetup_tui.relay.intake import config_path_signature
from mailsetup_tui.relay.log import RelayLog

PER_CONNECTION = 100
"""Messages over one connection at most (Gmail and Microsoft 365 close after about 100)."""
LINGER = 2.0
"""Seconds a connection waits for the next message once the queue is empty (as Postfix's
connection cache): a burst handed over one by one still travels over one login."""
MAINTENANCE_EVERY = 60.0
"""Seconds between looks for messages too old to keep trying and failures to remove."""
LOGIN_FAILURES = frozenset(
    {
        FailureKind.CREDENTIALS,
        FailureKind.APP_PASSWORD_REQUIRED,
        FailureKind.OAUTH_REQUIRED,
        FailureKind.SMTP_AUTH_DISABLED,
        FailureKind.SIGNIN,
        FailureKind.SIGNIN_REVOKED,
        FailureKind.NO_AUTH,
    }
)


class Courier:
    def __init__(
        self,
        session: SetupSession,
        spool: Spool,
        settings: RelaySettings,
        log: RelayLog,
        on_server_size: Callable[[int | None], None] = lambda size: None,
    ) -> None:
        self.session = session
        self.spool = spool
        self.settings = settings
        self.log = log
        self.on_server_size = on_server_size
        self.woken = asyncio.Event()
        self.stopping = False
        self.logins = 0
        """Logins that passed since the start (the benchmark and tests count them)."""
        self.problem: str | None = None
        """Why mail is not flowing right now (the account's login failed...), for `status`."""
        self._login_held_until: float | None = None
        """After a failed login: no new login before this, or before the account is saved."""
        self._config_seen = config_path_signature(session.config_path)
        self._last_maintenance = 0.0
        self._reconnect_at = 0.0
        """After a connection that failed before any message: no new one before this (new
        messages wait with the others, instead of each trying a server that is down)."""
        self._failed_connections = 0
        self._held_back: dict[str, float] = {}
        """Next tries that the spool could not record (a full disk), by message."""

    def wake(self) -> None:
        self.woken.set()

    async def run(self) -> None:
        """Deliver until `stop`; the spool is read afresh each round (the CLI changes it)."""
        while not self.stopping:
            self.woken.clear()
            try:
                await self._notice_a_new_save()
                await self._maintain()
                due = await asyncio.to_thread(self.due_now)
                if due and not self._login_on_hold() and time.time() >= self._reconnect_at:
                    await self._connection(due)
                    continue
                wait = await asyncio.to_thread(self._wait)
            except (OSError, SpoolError) as error:  # a full or broken spool: keep trying
                self.log.problem(f"delivery paused: {getattr(error, 'strerror', None) or error}")
                wait = float(min(self.settings.retry_first, 30))
            await self.sleep(wait)

    def stop(self) -> None:
        """Finish the message in flight, start no other (SIGTERM)."""
        self.stopping = True
        self.woken.set()

    # --- one connection -----------------------------------------------------------------------

    async def _connection(self, due: list[Entry]) -> None:
        burst = _SpoolBurst(self, due)
        try:
            result = await self.session.deliver_saved(lambda d: d.send_burst(burst))
        except StoreError as error:
            await self._defer_all(due, f"the relay cannot read the account: {error}")
            self.problem = str(error)
            return
        await burst.release(result.failure)
        failure = result.failure
        if failure is None or burst.sent_count:
            self.problem = None
            self._failed_connections = 0
            self._reconnect_at = 0.0
        if failure is None:
            return
        if burst.settled_count == 0 and _before_messages(result):
            self._failed_connections += 1
            delay = self.settings.retry_delay(self._failed_connections)
            self._reconnect_at = time.time() + delay
            await self._defer_all(due, failure.reason)
            if failure.kind in LOGIN_FAILURES:
                self._hold_logins()
            self.problem = failure.reason
        elif burst.sent_count == 0:  # a connection that carries nothing: wait for the back-off
            self.problem = failure.reason

    async def _defer_all(self, due: list[Entry], reason: str) -> None:
        for entry in due:
            await self.settle(entry, ProbeFailure(FailureKind.DEFERRED, reason, temporary=True))

    async def settle(self, entry: Entry, outcome: Sent | ProbeFailure) -> None:
        """Record what became of `entry`: sent (it leaves), deferred or failed. A spool that
        cannot take the record (a full disk) leaves the message queued as it was: it is tried
        again (sent twice at worst), never lost."""
        try:
            await self._settle(entry, outcome)
        except OSError as error:
            self.log.problem(f"cannot record what became of {entry.id}: {error.strerror}")
            if not isinstance(outcome, Sent):  # its next try, kept in memory instead
                delay = self.settings.retry_delay(entry.tries.attempts + 1)
                self._held_back[entry.id] = time.time() + delay

    async def _settle(self, entry: Entry, outcome: Sent | ProbeFailure) -> None:
        if isinstance(outcome, Sent):
            await asyncio.to_thread(self.spool.delivered, entry.id)
            self.log.event("sent", entry, smtpmsg=outcome.reply)
            return
        age = entry.age()
        if outcome.temporary and age < self.settings.give_up_after:
            delay = self.settings.retry_delay(entry.tries.attempts + 1)
            tries = await asyncio.to_thread(
                self.spool.deferred, entry, outcome.reason, time.time() + delay
            )
            self.log.event("deferred", entry, reason=outcome.reason, attempts=str(tries.attempts))
            return
        reason = outcome.reason
        if outcome.temporary:
            reason = (
                f"gave up after {_duration(age)} and {entry.tries.attempts + 1} tries: {reason}"
            )
        await asyncio.to_thread(self.spool.fail, entry, reason)
        self.log.event("failed", entry, error=True, reason=reason)

    # --- pacing -------------------------------------------------------------------------------

    def due_now(self) -> list[Entry]:
        try:
            due = self.spool.due()
        except SpoolError as error:
            self.log.problem(str(error))
            return []
        now = time.time()
        self._held_back = {key: at for key, at in self._held_back.items() if at > now}
        return [entry for entry in due if entry.id not in self._held_back]

    def _wait(self) -> float:
        """Seconds until the next thing to do."""
        try:
            next_due = self.spool.next_due()
        except SpoolError:
            next_due = None
        if self._held_back:
            held = min(self._held_back.values())
            next_due = held if next_due is None or next_due <= time.time() else min(next_due, held)
        wait = MAINTENANCE_EVERY if next_due is None else next_due - time.time()
        wait = max(wait, self._reconnect_at - time.time())
        if self._login_on_hold() or self._reconnect_at > time.time():
            wait = min(wait, 5.0)  # held back: look for a new save every few seconds
        return max(0.05, min(wait, MAINTENANCE_EVERY))

    async def sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.woken.wait()

    def _hold_logins(self) -> None:
        self._login_held_until = time.time() + self.settings.retry_max
        self.log.problem(
            "the account's login failed; no new login until the account is saved again "
            f"(mailsetup save) or {self.settings.retry_max} s have passed"
        )

    def _login_on_hold(self) -> bool:
        return self._login_held_until is not None and time.time() < self._login_held_until

    async def _notice_a_new_save(self) -> None:
        """A new `save` (a fixed password, another server) is worth trying at once: the hold
        and the back-off end, and every queued message is due now."""
        signature = config_path_signature(self.session.config_path)
        if signature == self._config_seen:
            return
        self._config_seen = signature
        self._login_held_until = None
        self._reconnect_at, self._failed_connections = 0.0, 0
        if count := await asyncio.to_thread(self.spool.flush):
            self.log.say(f"the account was saved again: {count} queued messages are tried now")

    async def _maintain(self) -> None:
        """Fail what is too old to keep trying; remove failures older than `keep_failed`."""
        now = time.monotonic()
        if now - self._last_maintenance < MAINTENANCE_EVERY:
            return
        self._last_maintenance = now
        try:
            expired = await asyncio.to_thread(
                self.spool.expired_failures, self.settings.keep_failed
            )
            queued = await asyncio.to_thread(self.spool.entries, EntryState.QUEUED)
        except SpoolError as error:
            self.log.problem(str(error))
            return
        for entry in expired:
            self.log.event("expired", entry, reason=entry.tries.reason)
        for entry in queued:
            if entry.age() >= self.settings.give_up_after:
                with self.spool.claimed(entry.id) as held:
                    if held:
                        reason = entry.tries.reason or "not delivered in time"
                        await self.settle(entry, ProbeFailure(FailureKind.DEFERRED, reason))


class _SpoolBurst:
    """A burst's messages from the spool, each held (flock) from when it is handed out until
    it is settled; the `Burst` that `Delivery.send_burst` pulls from."""

    def __init__(self, courier: Courier, due: list[Entry]) -> None:
        self.courier = courier
        self.pending = list(due)
        self.seen = {entry.id for entry in due}
        self.current: tuple[Entry, contextlib.ExitStack] | None = None
        self.handed_out = 0
        self.settled_count = 0
        self.sent_count = 0

    def opened(self, size_limit: int | None) -> None:
        self.courier.logins += 1
        self.courier.on_server_size(size_limit)

    async def next(self) -> Prepared | None:
        spool = self.courier.spool
        while not self.courier.stopping and self.handed_out < PER_CONNECTION:
            if not self.pending and not await self._more():
                return None
            entry = self.pending.pop(0)
            stack = contextlib.ExitStack()
            if not stack.enter_context(spool.claimed(entry.id)):
                stack.close()
                continue  # delivered or dropped meanwhile, or held by `queue --drop`
            try:
                message = await asyncio.to_thread(spool.message, entry.id)
            except OSError:
                stack.close()
                continue
            self.current = (entry, stack)
            self.handed_out += 1
            envelope = entry.envelope
            return Prepared(message, envelope.recipients, envelope.message_id, envelope.eight_bit)
        return None

    async def _more(self) -> bool:
        """Messages that came in meanwhile, waiting up to `LINGER` for one."""
        courier = self.courier
        deadline = time.monotonic() + LINGER
        while not courier.stopping:
            courier.woken.clear()
            fresh = [e for e in await asyncio.to_thread(courier.due_now) if e.id not in self.seen]
            if fresh:
                self.pending = fresh
                self.seen.update(entry.id for entry in fresh)
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await courier.sleep(left)
        return False

    async def settled(self, prepared: Prepared, outcome: Sent | ProbeFailure) -> None:
        if self.current is None:
            return
        entry, stack = self.current
        self.current = None
        try:
            await self.courier.settle(entry, outcome)
        finally:
            stack.close()
        self.settled_count += 1
        self.sent_count += isinstance(outcome, Sent)

    async def release(self, failure: ProbeFailure | None) -> None:
        """After the connection: the message handed out but not settled (a time-out, a
        stop) waits for the next try; it stays in the queue either way."""
        if self.current is None:
            return
        reason = failure.reason if failure else "the connection ended before the server answered"
        await self.settled(
            Prepared(b"", (), "", False),
            ProbeFailure(FailureKind.DEFERRED, reason, temporary=True),
        )


def _before_messages(result: ProbeResult) -> bool:
    return result.step not in {Step.MAIL_FROM, Step.RCPT_TO, Step.RSET, Step.DATA, Step.DONE}


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 60:.0f} minutes"
