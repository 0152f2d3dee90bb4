"""Taking a message in, by either door (SMTP on loopback, or the Unix socket): the checks,
the same rules as the sendmail command (`core.handover`), then the spool; an answer only once
the message is on disk.

Each refusal carries both the SMTP reply and the sendmail exit code that say it, so both
doors refuse the same message with the same words.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailsetup_tui.core.handover import Handover, Malformed, UnknownLocalRecipient, prepare
from mailsetup_tui.core.message import InvalidMessage, checked_recipients
from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.spool import Entry, Envelope, Spool, SpoolError
from mailsetup_tui.core.store import StoredConfig, StoreError
from mailsetup_tui.exit_codes import Sysexit
from mailsetup_tui.relay.log import RelayLog
from mailsetup_tui.relay.rate import RateLimit


class Refusal(Exception):
    """A message not taken: why, as an SMTP reply and as a sendmail exit code."""

    def __init__(self, code: int, status: str, reason: str, exit_code: Sysexit) -> None:
        super().__init__(reason)
        self.code, self.status, self.reason, self.exit_code = code, status, reason, exit_code

    @property
    def reply(self) -> str:
        return f"{self.code} {self.status} {' '.join(self.reason.split())}"

    @property
    def temporary(self) -> bool:
        return self.code < 500


@dataclass(frozen=True)
class Caller:
    """Who hands a message over: a user name where the kernel says who (the socket's peer
    credentials, the owner of a local TCP connection), else the peer's address."""

    name: str
    uid: int | None = None


@dataclass(frozen=True)
class Accepted:
    entry: Entry


class Intake:
    def __init__(
        self,
        session: SetupSession,
        spool: Spool,
        settings: RelaySettings,
        log: RelayLog,
        wake: Callable[[], None],
    ) -> None:
        self.session = session
        self.spool = spool
        self.settings = settings
        self.log = log
        self.wake = wake
        self.rate = RateLimit(settings.rate)
        self.server_size: int | None = None
        """The provider's SIZE, once the courier has heard it: more would be refused there."""
        self._config: tuple[tuple[int, int, int], StoredConfig] | None = None
        self._good: dict[str, None] = {}
        """Recipients (and, at RCPT, local names) that passed, for the config as it is."""

    @property
    def max_size(self) -> int:
        return min(self.settings.max_size, self.server_size or self.settings.max_size)

    async def accept(self, handover: Handover, caller: Caller, via: str) -> Accepted:
        """Check, prepare and store `handover`; `Refusal` when it is not taken."""
        if len(handover.message) > self.max_size:
            raise Refusal(
                552,
                "5.3.4",
                f"the message is {len(handover.message)} bytes; at most {self.max_size} are taken",
                Sysexit.EX_DATAERR,
            )
        config = self.saved_config()  # a stat; the file is read again only when saved anew
        try:
            prepared = prepare(handover, config.account, config.alias_map)
            self._check_addresses(prepared.recipients)
        except UnknownLocalRecipient as error:
            raise _no_alias(error.name) from None
        except (Malformed, InvalidMessage) as error:
            raise Refusal(550, "5.6.0", str(error), Sysexit.EX_DATAERR) from None
        if len(prepared.recipients) > self.settings.max_recipients:
            raise Refusal(
                452,
                "4.5.3",
                f"more than {self.settings.max_recipients} recipients",
                Sysexit.EX_DATAERR,
            )
        if not self.rate.allow(caller.name):
            raise Refusal(
                451,
                "4.7.1",
                f"{caller.name} handed over more than {self.settings.rate} messages a minute; "
                "try again later",
                Sysexit.EX_TEMPFAIL,
            )
        envelope = Envelope(
            prepared.recipients, prepared.message_id, caller.name, via, prepared.eight_bit
        )
        try:
            entry = await asyncio.to_thread(self.spool.accept, prepared.message, envelope)
        except SpoolError as error:
            self.log.problem(str(error))
            raise Refusal(452, "4.3.1", str(error), Sysexit.EX_TEMPFAIL) from None
        self.log.event("queued", entry, via=via)
        self.wake()
        return Accepted(entry)

    def check_recipient(self, address: str) -> None:
        """`Refusal` for a recipient no message could go to (not an address, a local name
        without an alias), said at RCPT TO, before the client sends the whole message."""
        config = self.saved_config()
        if address in self._good:
            return
        probe = Handover(b"Subject: -\n\n-\n", (address,))
        try:
            self._check_addresses(prepare(probe, config.account, config.alias_map).recipients)
        except UnknownLocalRecipient as error:
            raise _no_alias(error.name) from None
        except (Malformed, InvalidMessage) as error:
            raise Refusal(553, "5.1.3", str(error), Sysexit.EX_DATAERR) from None
        self._good[address] = None

    def _check_addresses(self, addresses: tuple[str, ...]) -> None:
        """`checked_recipients`, remembering the addresses that passed (a burst of codes goes
        to few addresses, and validating one is most of what taking a message costs)."""
        new = tuple(address for address in addresses if address not in self._good)
        if new:
            checked_recipients(new)
            if len(self._good) > 10_000:
                self._good.clear()
            self._good.update(dict.fromkeys(new))

    def saved_config(self) -> StoredConfig:
        """The saved config, read again only when the file changed (a new `save`)."""
        signature = config_path_signature(self.session.config_path)
        if self._config is None or self._config[0] != signature:
            try:
                config = self.session.store.saved_config()
            except StoreError as error:
                raise Refusal(
                    451, "4.3.0", f"the relay cannot read the account: {error}", Sysexit.EX_TEMPFAIL
                ) from None
            self._config = (signature, config)
            self._good.clear()  # aliases may have changed
            self.log.log_file = config.log
        return self._config[1]


def _no_alias(name: str) -> Refusal:
    return Refusal(
        550,
        "5.1.1",
        f"no address for the local recipient {name!r}: add one to [aliases] "
        f"(mailsetup aliases {name}=ADDRESS)",
        Sysexit.EX_NOUSER,
    )


def config_path_signature(path: Path) -> tuple[int, int, int]:
    """What changes when the config file is saved again (it is replaced, never edited)."""
    try:
        stat = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)
