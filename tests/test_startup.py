"""Start-up without the garbage collector (mailsetup_tui.startup): off from the entry point,
back on once a command runs, and once the form is on screen, with start-up's garbage
collected and what survives frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from mailsetup_tui import startup
from mailsetup_tui.cli import run
from mailsetup_tui.exit_codes import ExitCode
from test_form import AppFactory, running, wait_until


class _Cycle:
    """Garbage that only the collector frees: it refers to itself."""

    def __init__(self) -> None:
        self.itself = self


@pytest.fixture
def collection_held() -> Iterator[None]:
    """`hold_collection` as the entry point calls it; afterwards the test process collects as
    before and nothing it made stays frozen."""
    startup.hold_collection()
    try:
        yield
    finally:
        startup.release_collection()
        gc.unfreeze()
        gc.enable()


def test_release_does_nothing_where_hold_did_not_stop_collection() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    startup.release_collection()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


@pytest.mark.usefixtures("collection_held")
def test_a_command_runs_with_collection_back_on() -> None:
    assert not gc.isenabled()
    frozen = gc.get_freeze_count()
    assert run(["show", "--config", "/nonexistent/mailsetup.toml"]) == ExitCode.STORE
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen  # a command ends in a moment: nothing to settle


@pytest.mark.usefixtures("collection_held")
async def test_the_form_turns_collection_back_on_once_it_is_on_screen(
    make_app: AppFactory,
) -> None:
    assert not gc.isenabled()
    garbage = _Cycle()
    collected = weakref.ref(garbage)
    del garbage
    app = make_app()
    async with running(app) as pilot:
        await wait_until(gc.isenabled, pilot, seconds=5)  # a moment after the first frame
        assert gc.get_freeze_count() > 0  # what start-up built is left out of collections
        assert collected() is None  # start-up's garbage was collected, not frozen in place
