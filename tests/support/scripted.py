"""An SMTP server that answers from a script: the replies real servers give that aiosmtpd will
not give on demand (a 504 to one AUTH mechanism, an echo of the AUTH line, a hostile greeting,
a refused EHLO), in clear text, recording every line it was sent."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from support.servers import HOST

DEFAULT_EHLO = ("250-scripted.example.com", "250-AUTH PLAIN LOGIN", "250 8BITMIME")


@dataclass
class Script:
    """What the server says. `replies` maps a command (`EHLO`, `AUTH PLAIN`, `AUTH LOGIN`,
    `MAIL`, `RCPT`, `RSET`, `MESSAGE` for the end of DATA, `CONTINUE` for a line after a 334)
    to its reply; a list is used in turn, its last entry repeating. `{line}` in a reply is
    replaced by the line received, as an echoing server does."""

    greeting: str = "220 scripted.example.com ESMTP"
    ehlo: tuple[str, ...] = DEFAULT_EHLO
    replies: dict[str, str | list[str]] = field(default_factory=dict)

    def reply(self, command: str, line: str) -> str:
        scripted = self.replies.get(command)
        if isinstance(scripted, list):
            reply = scripted.pop(0) if len(scripted) > 1 else scripted[0]
        elif scripted is not None:
            reply = scripted
        else:
            reply = {"DATA": "354 go ahead", "QUIT": "221 bye"}.get(command, "250 OK")
            if command.startswith("AUTH"):
                reply = "235 2.7.0 Authentication successful"
        return reply.replace("{line}", line)


@dataclass
class ScriptedServer:
    port: int
    received: list[str]

    def commands(self, word: str) -> list[str]:
        return [line for line in self.received if line.upper().startswith(word)]


@contextlib.contextmanager
def run_scripted_server(script: Script) -> Iterator[ScriptedServer]:
    """The server in its own thread and loop, so subprocesses and the test's loop can use it."""
    received: list[str] = []
    ready = threading.Event()
    state: dict[str, object] = {}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(text: str) -> None:
            writer.write(text.encode("utf-8", "surrogateescape") + b"\r\n")

        send(script.greeting)
        continuing = False
        try:
            while raw := await reader.readline():
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                received.append(line)
                words = line.split()
                if continuing:
                    command = "CONTINUE"
                elif words[:1] and words[0].upper() == "AUTH" and len(words) > 1:
                    command = f"AUTH {words[1].upper()}"
                else:
                    command = words[0].upper() if words else ""
                if command in {"EHLO", "HELO"} and command not in script.replies:
                    reply = "\r\n".join(script.ehlo)
                    send(reply)
                else:
                    reply = script.reply(command, line)
                    send(reply)
                    continuing = reply.startswith("334")
                if command == "DATA" and reply.startswith("354"):
                    while (body := await reader.readline()) not in {b".\r\n", b""}:
                        received.append(body.decode("utf-8", "replace").rstrip("\r\n"))
                    send(script.reply("MESSAGE", line))
                await writer.drain()
                if command == "QUIT" or reply.startswith("421"):
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, HOST, 0)
        state["port"] = server.sockets[0].getsockname()[1]
        stop = asyncio.Event()
        state["stop"] = stop
        ready.set()
        async with server:
            await stop.wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield ScriptedServer(int(str(state["port"])), received)
    finally:
        stop = state["stop"]
        assert isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
