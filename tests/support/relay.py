"""The relay as a service under test: `mailsetup relay` in a subprocess, against a config in
a temp dir, ready when it says so through $NOTIFY_SOCKET (as systemd hears it)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailsetup_tui.core.relay_wire import Fields, ask
from mailsetup_tui.core.spool import Spool

from support.servers import HOST, free_port

MAILSETUP = Path(sys.executable).parent / "mailsetup"


def relay_table(tmp_path: Path, *, port: int | None = None, **settings: Any) -> dict[str, Any]:
    """A [relay] table with everything inside `tmp_path`, on a free loopback port."""
    table: dict[str, Any] = {
        "spool": str(tmp_path / "spool"),
        "socket": str(tmp_path / "run" / "relay.sock"),
        "listen": [f"{HOST}:{port or free_port()}"],
        "retry_first": 1,
        "retry_max": 2,
    }
    return table | settings


def add_relay_table(config: Path, table: dict[str, Any]) -> None:
    """Append a [relay] table, as an administrator edits the file."""
    lines = ["", "[relay]"]
    for key, value in table.items():
        lines.append(f"{key} = {json.dumps(value)}")
    with config.open("a") as file:
        file.write("\n".join(lines) + "\n")


@dataclass
class RunningRelay:
    process: subprocess.Popen[bytes]
    table: dict[str, Any]
    log: Path

    @property
    def port(self) -> int:
        return int(self.table["listen"][0].rsplit(":", 1)[1])

    @property
    def socket(self) -> Path:
        return Path(self.table["socket"])

    @property
    def spool(self) -> Spool:
        return Spool(Path(self.table["spool"]))

    def status(self) -> Fields:
        return ask(self.socket, {"op": "status"})

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until(self, condition: Any, timeout: float = 20.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the relay exited {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what or condition}:\n{self.output()}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout)


def start_relay(
    env: dict[str, str], table: dict[str, Any], log: Path, *args: str, ready: bool = True
) -> RunningRelay:
    """Start `mailsetup relay ARGS`; return once it said READY=1 (unless `ready` is False)."""
    notify_path = log.with_suffix(".notify")
    with contextlib.suppress(FileNotFoundError):
        notify_path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    env = env | {"NOTIFY_SOCKET": str(notify_path), "MAILSETUP_RELAY_SOCKET": table["socket"]}
    output = log.open("ab")
    process = subprocess.Popen(
        [str(MAILSETUP), "relay", *args], env=env, stdout=output, stderr=output
    )
    running = RunningRelay(process, table, log)
    try:
        if ready:
            listener.settimeout(30)
            states: list[str] = []
            while "READY=1" not in states:
                try:
                    states += listener.recv(4096).decode().split("\n")
                except TimeoutError:
                    raise AssertionError(
                        f"the relay never said READY=1:\n{running.output()}"
                    ) from None
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(notify_path)
    return running


@contextlib.contextmanager
def relay_running(
    env: dict[str, str], table: dict[str, Any], log: Path, *args: str
) -> Iterator[RunningRelay]:
    running = start_relay(env, table, log, *args)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(10)
