"""`mailsetup relay`: the long-running service that keeps the host's mail flowing.

It opens both doors (SMTP on loopback, the Unix socket), tells systemd it is ready, delivers
the queue until SIGTERM, then closes the doors, lets the message in flight finish (or stay
queued), and says it stopped. Started against no saved account it refuses to run: there is
nothing it could deliver through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
import socket
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from mailsetup_tui.core.relay_settings import RelaySettings, shown_address
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.spool import Spool, SpoolError
from mailsetup_tui.core.store import StoreError
from mailsetup_tui.exit_codes import ExitCode
from mailsetup_tui.relay.courier import Courier
from mailsetup_tui.relay.intake import Intake
from mailsetup_tui.relay.log import RelayLog
from mailsetup_tui.relay.notify import notify
from mailsetup_tui.relay.smtp_door import SmtpDoor, smtp_factory
from mailsetup_tui.relay.socket_door import SocketDoor, open_socket_door

if TYPE_CHECKING:
    from mailsetup_tui.core.relay_wire import Value

STOP_GRACE = 20.0
"""Seconds the message in flight has to finish after SIGTERM (systemd waits 90)."""
_UNAVAILABLE = {errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="mailsetup relay",
        description=(
            "Run the relay in the foreground (systemd runs it): take messages from this host "
            "over SMTP on loopback and over a Unix socket (the sendmail command uses it), keep "
            "them in a durable queue, and deliver them through the saved account. Its settings "
            "are the [relay] table of the account's config file."
        ),
        epilog=(
            f"Exit codes: {ExitCode.OK} stopped cleanly, {ExitCode.STORE} no saved account or a "
            f"broken config or spool, {ExitCode.TEMPFAIL} a listening address is in use or not "
            f"allowed, {ExitCode.SOFTWARE} delivery stopped by an internal error (the queue is "
            "on disk; systemd starts it again). Readiness: sd_notify (Type=notify)."
        ),
    )
    parse.add_argument("--config", metavar="PATH", help="the account's config file")
    parse.add_argument("-v", "--verbose", action="store_true", help="a line on stderr per message")
    return parse


def run(argv: Sequence[str], *, err: TextIO | None = None) -> int:
    """Run the relay until SIGTERM or SIGINT; its exit code."""
    options = parser().parse_args(list(argv))
    log = RelayLog(err, verbose=options.verbose)
    try:
        session = SetupSession.at(options.config)
        config = session.store.saved_config()
    except StoreError as error:
        log.say(f"cannot start: {error}")
        return ExitCode.STORE
    settings = config.relay_settings
    log.log_file = config.log
    spool = Spool(settings.spool)
    try:
        spool.prepare()
    except SpoolError as error:
        log.say(f"cannot start: {error}")
        return ExitCode.STORE
    relay = Relay(session, spool, settings, log)
    try:
        return asyncio.run(relay.serve())
    except KeyboardInterrupt:
        return ExitCode.OK


class Relay:
    """The doors, the courier, and how the service starts and stops."""

    def __init__(
        self, session: SetupSession, spool: Spool, settings: RelaySettings, log: RelayLog
    ) -> None:
        self.session = session
        self.spool = spool
        self.settings = settings
        self.log = log
        self.started = time.time()
        self.courier = Courier(session, spool, settings, log, self._server_size)
        self.intake = Intake(session, spool, settings, log, self.courier.wake)

    def _server_size(self, size: int | None) -> None:
        self.intake.server_size = size

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopped.set)
        servers: list[asyncio.Server] = []
        try:
            servers = await self._open_doors()
        except OSError as error:
            for server in servers:
                server.close()
            self.log.say(f"cannot start: {error}")
            return ExitCode.TEMPFAIL
        courier = asyncio.create_task(self.courier.run())
        notify("READY=1\nSTATUS=delivering")
        self.log.say(f"ready: {self._where(servers)}; spool {self.spool.root}")
        stop = asyncio.create_task(stopped.wait())
        await asyncio.wait({courier, stop}, return_when=asyncio.FIRST_COMPLETED)
        notify("STOPPING=1")
        self.log.say("stopping: no new messages; the one in flight finishes or stays queued")
        for server in servers:
            server.close()
        self.courier.stop()
        try:
            async with asyncio.timeout(STOP_GRACE):
                await courier
        except TimeoutError:
            courier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await courier
        stop.cancel()
        with contextlib.suppress(OSError):
            self.settings.socket.unlink()
        crashed = courier.done() and not courier.cancelled() and courier.exception()
        if crashed:  # systemd restarts it (Restart=on-failure); the queue is on disk
            self.log.problem(f"delivery stopped by an internal error: {crashed!r}")
            return ExitCode.SOFTWARE
        self.log.say("stopped")
        return ExitCode.OK

    async def _open_doors(self) -> list[asyncio.Server]:
        loop = asyncio.get_running_loop()
        servers: list[asyncio.Server] = []
        door = SmtpDoor(self.intake)
        hostname = socket.getfqdn()
        for host, port in self.settings.listen:
            try:
                server = await loop.create_server(
                    lambda: smtp_factory(door, hostname, self.settings.max_size),
                    host,
                    port,
                    reuse_address=True,
                )
            except OSError as error:
                where = shown_address(host, port)
                if error.errno in _UNAVAILABLE:  # no IPv6 on this host: the other still serves
                    self.log.say(f"not listening on {where}: {error.strerror}")
                    continue
                hint = ""
                if error.errno == errno.EACCES and port < 1024:
                    hint = " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)"
                raise OSError(f"cannot listen on {where}: {error.strerror}{hint}") from None
            servers.append(server)
        socket_door = SocketDoor(self.intake, self.status)
        try:
            self.settings.socket.parent.mkdir(parents=True, exist_ok=True)
            servers.append(await open_socket_door(socket_door, self.settings.socket))
        except OSError as error:
            for server in servers:
                server.close()
            raise OSError(f"cannot listen at {self.settings.socket}: {error}") from None
        return servers

    def _where(self, servers: list[asyncio.Server]) -> str:
        places = []
        for server in servers:
            for sock in server.sockets:
                name = sock.getsockname()
                if isinstance(name, tuple):
                    places.append(f"smtp {shown_address(name[0], name[1])}")
                else:
                    places.append(f"socket {name}")
        return ", ".join(places)

    def status(self) -> dict[str, Value]:
        """How the relay stands, for `status` on the socket (the form's header, `check`)."""
        try:
            figures = self.spool.figures()
        except SpoolError as error:
            return {"running": True, "problem": str(error)}
        return {
            "running": True,
            "since": self.started,
            "queued": figures.queued,
            "failed": figures.failed,
            "oldest_age": round(figures.oldest_age),
            "last_delivery": figures.last_delivery,
            "logins": self.courier.logins,
            "problem": self.courier.problem,
        }


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(sys.argv[1:] if argv is None else argv))
