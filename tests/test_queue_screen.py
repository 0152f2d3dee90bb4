"""The relay on the form: the header line says how it stands, and the Queue screen (Ctrl+E,
F5 on limited terminals) lists queued and failed messages with retry and drop, at 80x24."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from mailsetup_tui.core import relay_status
from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.spool import EntryState, Envelope, Spool
from mailsetup_tui.core.store import AccountStore
from mailsetup_tui.tui.app import MailSetupApp
from mailsetup_tui.tui.dialogs import ConfirmScreen
from mailsetup_tui.tui.heading import POLL_SECONDS as RELAY_POLL
from mailsetup_tui.tui.heading import FormHeading
from mailsetup_tui.tui.queue_screen import QueueScreen

from support.relay import add_relay_table
from support.servers import PASSWORD, other_account

FIXED_NOW = 1_800_000_000.0


def fixed_spool(root: Path) -> Spool:
    """A spool with one queued and one failed message, ids and times fixed."""
    spool = Spool(root)
    spool.prepare()
    for number, (state, reason, attempts) in enumerate(
        [
            ("queue", "421 4.7.0 Try again later", 3),
            ("failed", "550 5.1.1 <nobody@example.org>: no such user", 1),
        ]
    ):
        entry_id = f"18c4f2a9e1b3{number}-4fa21e"
        envelope = Envelope(
            (f"user{number}@example.org",), f"<m{number}@example.com>",
            "www-data", "socket", False, FIXED_NOW - 600 * (number + 1), 120,
        )  # fmt: skip
        head = json.dumps(envelope._asdict())
        (root / state / entry_id).write_bytes(head.encode() + b"\nSubject: x\r\n\r\nx\r\n")
        tries = {"attempts": attempts, "next_try": FIXED_NOW + 240, "reason": reason,
                 "failed_at": FIXED_NOW - 60 if state == "failed" else 0.0}  # fmt: skip
        (root / state / f"{entry_id}.state").write_text(json.dumps(tries))
    return spool


@pytest.fixture
def relay_store(store: AccountStore, tmp_path: Path) -> AccountStore:
    store.save(other_account(2525), PASSWORD)
    add_relay_table(
        store.path,
        {"spool": str(tmp_path / "spool"), "socket": str(tmp_path / "relay.sock")},
    )
    return store


async def test_the_header_says_how_the_relay_stands_and_the_queue_screen_acts(
    relay_store: AccountStore, tmp_path: Path
) -> None:
    spool = fixed_spool(tmp_path / "spool")
    app = MailSetupApp(SetupSession(relay_store), environ={"TERM": "xterm-256color"})
    async with app.run_test(size=(80, 24)) as pilot:
        line = app.screen.query_one(FormHeading)
        for _ in range(100):
            await pilot.pause(0.02)
            if line.status is not None:
                break
        assert line.shown_status == "Relay: not running, 1 queued, 1 failed"
        assert str(line.render()).splitlines()[0].rstrip().endswith(line.shown_status)
        await pilot.press("ctrl+e")
        assert isinstance(app.screen, QueueScreen)
        await pilot.pause(0.2)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        await pilot.press("d")  # drop the queued one: asked first
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        for _ in range(100):
            await pilot.pause(0.02)
            if len(spool.entries()) == 1:
                break
        assert [entry.state for entry in spool.entries()] == [EntryState.FAILED]
        await pilot.pause(0.1)
        await pilot.press("r")  # the failed one back to the queue
        for _ in range(100):
            await pilot.pause(0.02)
            if spool.entries()[0].state is EntryState.QUEUED:
                break
        assert spool.entries()[0].state is EntryState.QUEUED
        await pilot.press("escape")
        assert not isinstance(app.screen, QueueScreen)


async def test_without_a_relay_there_is_no_header_line_and_no_queue_key(
    store: AccountStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No socket and no spool: no relay can be set up, and its status is not even read (no
    # thread, no queue's code: half a MiB of the form's memory).
    store.save(other_account(2525), PASSWORD)
    add_relay_table(store.path, {"spool": str(tmp_path / "spool"), "socket": str(tmp_path / "s")})
    read: list[RelaySettings] = []
    monkeypatch.setattr(relay_status, "relay_status", read.append)
    app = MailSetupApp(SetupSession(store), environ={"TERM": "xterm-256color"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        line = app.screen.query_one(FormHeading)
        assert line.shown_status == ""
        assert str(line.render()).splitlines()[0].strip() == line.title
        await pilot.press("ctrl+e")
        assert not isinstance(app.screen, QueueScreen)
        assert read == []
        (tmp_path / "spool").mkdir()  # now there may be one
        app.screen.query_one(FormHeading).poll()
        await app.workers.wait_for_complete()
        assert [settings.spool for settings in read] == [tmp_path / "spool"]


def test_the_queue_screen_at_80x24_on_a_vt100(snap_compare: object, tmp_path: Path) -> None:
    fixed_spool(tmp_path / "spool")
    settings = RelaySettings(spool=tmp_path / "spool", socket=tmp_path / "none.sock")
    app = MailSetupApp(
        SetupSession(AccountStore(Path("/nonexistent/mailsetup-snapshots/account.toml"))),
        environ={"TERM": "vt100"},
    )

    async def open_queue(pilot: object) -> None:
        await app.push_screen(QueueScreen(settings, clock=lambda: FIXED_NOW))
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_queue)  # type: ignore[operator]


def test_an_idle_form_sends_nothing_while_the_relay_line_stands_still(
    tmp_path: Path, no_keyring: None
) -> None:
    """On a 9600-baud console the header's polls must cost nothing until the queue changes;
    then only the line that changed is sent."""
    from support.cli import mailsetup_env
    from support.terminal import Terminal

    config = tmp_path / "config" / "account.toml"
    AccountStore(config).save(other_account(2525), PASSWORD)
    add_relay_table(config, {"spool": str(tmp_path / "spool"), "socket": str(tmp_path / "r.sock")})
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    env = mailsetup_env(tmp_path, TERM="vt100")
    with Terminal([Path(sys.executable).parent / "mailsetup"], env=env) as term:
        term.wait_for("Relay: not running, 0 queued")
        before = term.wait_quiet(0.5)
        time.sleep(RELAY_POLL + 1)  # a poll at least, with nothing new to say
        assert len(term.received) == before
        spool.accept(
            b"Subject: x\r\n\r\nx\r\n", Envelope(("a@example.org",), "<m>", "cron", "socket")
        )
        term.wait_for("Relay: not running, 1 queued")
        assert len(term.received) - before < 120  # the line, not the screen
