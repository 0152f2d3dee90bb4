"""Start-up: without the garbage collector (mailsetup_tui.startup: off from the entry point,
back on once a command runs, and once the form is on screen, with start-up's garbage
collected and what survives frozen); loading no more than the form needs; styling each
widget once."""

from __future__ import annotations

import argparse
import gc
import re
import subprocess
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailsetup_tui import startup
from mailsetup_tui.cli import run
from mailsetup_tui.cli.commands import NAMES, command
from mailsetup_tui.cli.context import no_options
from mailsetup_tui.cli.parser import build_parser
from mailsetup_tui.core.providers import ProviderId
from mailsetup_tui.core.store import AccountStore
from mailsetup_tui.exit_codes import ExitCode
from mailsetup_tui.tui.app import MailSetupApp
from test_form import AppFactory, running, wait_until

from support.servers import other_account


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


LOADED_BEFORE_THE_FORM = """
import sys
import mailsetup_tui.launch
from mailsetup_tui.cli import run
from mailsetup_tui.exit_codes import ExitCode

def open_form(session, plain, out):
    from mailsetup_tui.tui.app import MailSetupApp
    print("\\n".join(sorted(sys.modules)))
    return ExitCode.OK

run(sys.argv[1:], open_form=open_form)
"""

LOADED_TO_PARSE = """
import sys
from mailsetup_tui.cli.parser import build_parser

build_parser(sys.argv[1:]).parse_known_args(sys.argv[1:])
print("\\n".join(sorted(sys.modules)))
"""


def printed_by_fresh_interpreter(code: str, *words: str) -> set[str]:
    """The words `code` prints in a fresh interpreter (the test process has loaded
    everything)."""
    result = subprocess.run(
        [sys.executable, "-c", code, *words], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def modules_loaded_for(words: list[str]) -> set[str]:
    """What a run with `words` and no command has loaded once it opens the form."""
    return printed_by_fresh_interpreter(LOADED_BEFORE_THE_FORM, *words)


@pytest.mark.parametrize("words", [[], ["--config", "/nonexistent/account.toml"]])
def test_the_form_loads_no_command_dialog_or_heavy_library_before_its_first_frame(
    words: list[str],
) -> None:
    loaded = modules_loaded_for(words)
    assert "mailsetup_tui.tui.app" in loaded and "mailsetup_tui.core.session" in loaded
    heavy = {
        name
        for name in loaded
        if name.startswith(("mailsetup_tui.cli.commands.", "dns", "msal", "aiosmtplib"))
        or name
        in {
            "mailsetup_tui.tui.dialogs",
            "mailsetup_tui.tui.queue_screen",
            "mailsetup_tui.tui.result_panel",  # with the first outcome
            "mailsetup_tui.tui.note_line",  # with the first problem, banner or "too small"
            "mailsetup_tui.core.relay_status",
            "mailsetup_tui.core.discovery",
            "mailsetup_tui.core.spool",
            "json",
            "mailsetup_tui.core.oauth",  # with a test or a saved sign-in's first refresh
            "mailsetup_tui.core.failures",  # with a test's outcome
            "tomli_w",  # with the first save
            "mailsetup_tui.line_mode.wizard",
            "textual.widgets._data_table",
            "_hashlib",
            "email.message",
        }
    }
    assert heavy == set()


LOADED_BY_THE_FORMS_FIRST_FRAME = """
import sys
from mailsetup_tui.cli import run
from mailsetup_tui.exit_codes import ExitCode

async def report(pilot):
    await pilot.pause()
    print("\\n".join(sorted(sys.modules)))
    pilot.app.exit()

def open_form(session, plain, out):
    from mailsetup_tui.tui.app import MailSetupApp

    MailSetupApp(session).run(headless=True, size=(80, 24), auto_pilot=report)
    return ExitCode.OK

run(sys.argv[1:], open_form=open_form)
"""


def test_a_new_accounts_form_reads_no_toml(tmp_path: Path) -> None:
    """Nothing is saved yet, so there is nothing to parse: the TOML reader loads with the
    first saved account read (the form's start shows it), not with every start."""
    config = tmp_path / "account.toml"
    loaded = printed_by_fresh_interpreter(LOADED_BY_THE_FORMS_FIRST_FRAME, "--config", str(config))
    assert "mailsetup_tui.tui.account_form" in loaded  # the form was on screen
    assert "tomllib" not in loaded


def test_the_form_alone_loads_no_grammar() -> None:
    # `mailsetup` with no words, as most runs open the form, parses nothing: argparse and
    # the grammar are a third of a MiB of the form's memory. With options, they load.
    assert {"argparse", "mailsetup_tui.cli.parser"}.isdisjoint(modules_loaded_for([]))
    assert {"argparse", "mailsetup_tui.cli.parser"} <= modules_loaded_for(["--plain"])


def test_no_words_are_what_the_grammar_makes_of_none() -> None:
    parsed, unknown = build_parser([]).parse_known_args([])
    assert (vars(parsed), unknown) == (vars(no_options()), [])


DATACLASSES_BEFORE_THE_FORM = """
import dataclasses, sys
made = []
process_class = dataclasses._process_class

def recording(cls, *args, **kwargs):
    made.append(f"{cls.__module__}.{cls.__qualname__}")
    return process_class(cls, *args, **kwargs)

dataclasses._process_class = recording
import mailsetup_tui.cli.main, mailsetup_tui.launch
from mailsetup_tui.tui.app import MailSetupApp
print("\\n".join(name for name in made if name.startswith("mailsetup_tui")))
"""


def test_the_form_makes_no_dataclass_but_the_draft() -> None:
    """A frozen dataclass costs about 1 ms to create on Python 3.11, a NamedTuple a sixth of
    that, a plain class almost nothing; the form loaded some forty before its first frame
    (ARCHITECTURE.md says why the draft stays one)."""
    assert printed_by_fresh_interpreter(DATACLASSES_BEFORE_THE_FORM) == {
        "mailsetup_tui.core.account.AccountDraft",  # `hosted` is left out of its equality
    }


def test_a_command_named_anywhere_is_loaded_in_full() -> None:
    """Even where its name is also another option's value: which word is the command is
    argparse's choice, and every candidate must be a whole command."""
    loaded = printed_by_fresh_interpreter(LOADED_TO_PARSE, "--config", "test", "show")
    assert {"mailsetup_tui.cli.commands.test", "mailsetup_tui.cli.commands.show"} <= loaded
    assert "mailsetup_tui.cli.commands.save" not in loaded
    args, unknown = build_parser(["--config", "test", "show"]).parse_known_args(
        ["--config", "test", "show"]
    )
    assert (args.command, args.config, unknown) == ("show", "test", [])
    assert args.run is command("show").run


def commands_declared(words: list[str]) -> set[str]:
    table = next(
        action
        for action in build_parser(words)._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    return set(table.choices)


@pytest.mark.parametrize("words", [[], ["--plain"], ["--timeout=5", "-v"]])
def test_options_alone_declare_no_command(words: list[str]) -> None:
    # Nothing in them could be a command: the form starts without the table's parsers.
    assert commands_declared(words) == set()
    args, unknown = build_parser(words).parse_known_args(words)
    assert (unknown, hasattr(args, "run")) == ([], False)


@pytest.mark.parametrize("words", [["show"], ["--config", "x"], ["bogus"], ["--help"]])
def test_a_word_that_may_be_a_command_declares_them_all(words: list[str]) -> None:
    # Any word that is not an option may be argparse's command (an option's value included),
    # and a word that is none must be told the choices.
    assert commands_declared(words) >= {*NAMES, "sendmail", "relay"}


def test_a_word_that_is_no_command_is_told_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--plain", "bogus"]) == ExitCode.USAGE
    assert "invalid choice: 'bogus' (choose from " in capsys.readouterr().err


def test_the_full_help_lists_every_command_with_its_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--help"]) == ExitCode.OK
    listing = capsys.readouterr().out
    for name in NAMES:
        assert re.search(rf"^\s+{name}\s+{re.escape(command(name).help[:20])}", listing, re.M)


def styles_of_every_widget(app: MailSetupApp) -> list[tuple[str, str]]:
    return [(repr(node), node.styles.css) for node in app.screen.walk_children(with_self=True)]


@pytest.mark.parametrize("saved", [False, True], ids=["new", "saved-other"])
@pytest.mark.parametrize("term", ["xterm-256color", "vt100"])
async def test_the_form_first_shown_unrestyled_looks_as_a_full_restyle_leaves_it(
    make_app: AppFactory, store: AccountStore, saved: bool, term: str
) -> None:
    # The first ScreenResume skips Textual's restyle of every widget (SetupScreen): what
    # mounting and the changes since (a saved account loaded, focus) left must be complete.
    if saved:
        store.save(other_account(2525), "pw")
    app = make_app(environ={"TERM": term})
    async with running(app) as pilot:
        if saved:
            await wait_until(lambda: app.setup_screen.form.provider_id is ProviderId.OTHER, pilot)
        shown = (styles_of_every_widget(app), app.export_screenshot())
        app.update_styles(app.screen)
        await pilot.pause()
        assert (styles_of_every_widget(app), app.export_screenshot()) == shown


async def test_the_rules_of_a_list_a_problem_and_an_outcome_are_read_when_first_needed(
    make_app: AppFactory,
) -> None:
    """Neither a choice's list, nor a field's problem, nor an outcome is on the first screen:
    their rules (their DEFAULT_CSS, read from styles/) are not parsed at start, and are there
    once one shows."""

    def read(widget: str) -> bool:
        return any(name == f"{widget}.DEFAULT_CSS" for _, name in app.stylesheet.source)

    app = make_app()
    async with running(app) as pilot:
        assert not read("ChoiceList") and not read("NoteLine") and not read("ResultPanel")
        await pilot.press("down")  # SMTP Mail has focus: its list opens
        await pilot.pause()
        listing = app.screen.query_one("ChoiceList")
        assert read("ChoiceList") and listing.display
        assert listing.styles.max_height is not None and listing.styles.max_height.value == 9
        await pilot.press("escape")
        await pilot.pause()
        assert not listing.display
        await pilot.press("f2")  # a test of the empty form: its problems are the outcome
        await wait_until(lambda: read("ResultPanel"), pilot)
        assert read("NoteLine")
        problem = app.screen.query_one(".field-problem")
        assert problem.display and problem.styles.margin.left == 18
