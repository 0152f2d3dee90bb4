"""Run inside a fresh network namespace (`unshare --net`, as root): give the loopback device a
second, non-loopback address, start the relay, and connect to its loopback port from that
address, as a peer on another host would reach a relay that listened too widely. Prints one
JSON object: what each peer was told."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support.relay import relay_running

FOREIGN = "198.51.100.7"  # TEST-NET-2: never a real host


def greeting(port: int, source: str | None) -> str:
    with socket.socket() as sock:
        sock.settimeout(10)
        if source:
            sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        return sock.recv(200).decode(errors="replace").strip()


def main() -> None:
    env, table, log = json.loads(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[3])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{FOREIGN}/32", "dev", "lo"], check=True)
    with relay_running(env, table, log) as relay:
        told = {"foreign": greeting(relay.port, FOREIGN), "local": greeting(relay.port, None)}
        relay.stop()
    print(json.dumps(told))


if __name__ == "__main__":
    main()
