"""The form's rules, driven with Pilot at 80x24 against real local SMTP servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Input, Static

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.fields import Field
from mailsetup_tui.core.outcomes import MESSAGE_FAILED, MESSAGE_OK
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security
from mailsetup_tui.core.relay_settings import RelaySettings
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.store import KEYRING_SERVICE, AccountStore
from mailsetup_tui.tui.account_form import AccountForm
from mailsetup_tui.tui.action_button import ActionButton
from mailsetup_tui.tui.app import MailSetupApp
from mailsetup_tui.tui.choice import Choice, ChoiceList
from mailsetup_tui.tui.dialogs import ConfirmScreen, HelpScreen
from mailsetup_tui.tui.field_label import LABEL_WIDTH
from mailsetup_tui.tui.form_lines import TypingInput
from mailsetup_tui.tui.heading import FormHeading
from mailsetup_tui.tui.key_bar import KeyBar
from mailsetup_tui.tui.keys import FORM_KEYS, footer_display, markdown_table, spoken
from mailsetup_tui.tui.setup_screen import SetupScreen

from support.keyrings import MemoryKeyring
from support.servers import (
    HOST,
    LOGIN,
    PASSWORD,
    Certificates,
    SmtpServer,
    other_account,
    run_raw_server,
)

AppFactory = Callable[..., MailSetupApp]
"""The `make_app` fixture (conftest): the app on the test's store, trusting the test CA."""


@contextlib.asynccontextmanager
async def running(app: MailSetupApp) -> AsyncIterator[Pilot[None]]:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        yield pilot


def screen_of(app: MailSetupApp) -> SetupScreen:
    return app.setup_screen


def chosen_provider(app: MailSetupApp) -> ProviderId:
    return app.setup_screen.form.provider_id


def field(app: MailSetupApp, widget_id: str) -> Input:
    return app.setup_screen.query_one(f"#{widget_id}", Input)


def text_of(app: MailSetupApp, selector: str) -> str:
    return str(app.setup_screen.query_one(selector, Static).render())


def mode_of(app: MailSetupApp) -> str:
    """What the heading says the form edits (its second row)."""
    heading = app.setup_screen.query_one(FormHeading)
    assert str(heading.render()).splitlines()[1:] == [heading.mode]  # shown as it is
    return heading.mode


def problem(app: MailSetupApp, field: Field) -> str:
    return app.setup_screen.form.problem_shown(field)


async def fill_other(
    pilot: Pilot[None], port: int, password: str = PASSWORD, *, typing: bool = False
) -> None:
    """Enter an Other account for the local server: typed key by key, or (faster, through the
    same Input.Changed path) set on the fields."""
    app = pilot.app
    assert isinstance(app, MailSetupApp)
    app.setup_screen.query_one("#smtp-mail").focus()
    values = {"display-name": "Codes", "email": LOGIN, "signin": "", "password": password,
              "server": HOST, "port": str(port)}  # fmt: skip
    await pilot.press("o")
    if typing:
        for text in values.values():  # Sign-in is passed over: App password is the default
            await pilot.press("tab", *text)
        await pilot.press("tab")
    else:
        for widget_id, text in values.items():
            if widget_id != "signin":
                field(app, widget_id).value = text
    await pilot.pause()


async def wait_until(
    condition: Callable[[], bool], pilot: Pilot[None], seconds: float = 10
) -> None:
    async def poll() -> None:
        while not condition():
            await pilot.pause(0.05)

    await asyncio.wait_for(poll(), seconds)


async def pass_test_then_save(pilot: Pilot[None], port: int, written: Path) -> None:
    """Fill in, pass the test, press Save and wait until `written` exists."""
    await fill_other(pilot, port)
    await run_test_and_wait(pilot)
    await pilot.press("ctrl+s")
    await wait_until(written.exists, pilot)
    await pilot.pause(0.1)


async def run_test_and_wait(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, MailSetupApp)
    await pilot.press("ctrl+t")
    await wait_until(lambda: not app.setup_screen.testing, pilot)
    await pilot.pause()


# --- fields and provider switching ----------------------------------------------------------


async def test_fields_in_spec_order_with_tab(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("o")  # Other: server, port and security take part in Tab
        order = []
        for _ in range(10):
            assert app.focused is not None
            order.append(app.focused.id)
            await pilot.press("tab")
        assert order == [
            "smtp-mail", "display-name", "email", "signin", "password", "server", "port",
            "security", "test", "smtp-mail",  # Save is disabled until a test passes: skipped
        ]  # fmt: skip


async def test_presets_fill_and_disable_server_port_and_security(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("g")
        assert screen_of(app).form.provider_id is ProviderId.GMAIL
        assert field(app, "server").value == "smtp.gmail.com"
        assert field(app, "port").value == "587"
        for widget_id in ("server", "port", "security"):
            assert app.setup_screen.query_one(f"#{widget_id}").disabled
        order = []
        for _ in range(5):
            await pilot.press("tab")
            assert app.focused is not None
            order.append(app.focused.id)
        assert order == ["display-name", "email", "password", "test", "smtp-mail"]
        await pilot.press("y")
        assert field(app, "port").value == "465"
        assert app.setup_screen.query_one("#security", Choice).value is Security.TLS


@pytest.mark.parametrize(
    ("key", "provider_id"),
    [("e", ProviderId.EXCHANGE), ("G", ProviderId.GMAIL), ("h", ProviderId.HOTMAIL),
     ("y", ProviderId.YAHOO), ("o", ProviderId.OTHER)],
)  # fmt: skip
async def test_first_letter_selects_the_provider(
    make_app: AppFactory, key: str, provider_id: ProviderId
) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("o" if key != "o" else "g")
        await pilot.press(key)
        assert screen_of(app).form.provider_id is provider_id


async def test_enter_opens_the_provider_list(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        choice = app.setup_screen.query_one("#smtp-mail", Choice)
        await pilot.press("enter")
        assert choice.expanded
        listing = choice.query_one(ChoiceList)
        assert app.focused is listing
        # Open under the field's value, over the rows below, on to the screen's right edge:
        # no row it covers is left half shown beside it.
        assert listing.region.y == choice.region.y + 1
        assert listing.region.x == choice.region.x + LABEL_WIDTH
        assert listing.region.right == app.size.width
        await pilot.press("escape")
        assert not choice.expanded
        assert not listing.display
        assert app.focused is choice
        assert chosen_provider(app) is ProviderId.EXCHANGE  # Escape picks nothing


async def test_the_list_picks_by_arrows_and_enter_or_by_letter(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        choice = app.setup_screen.query_one("#smtp-mail", Choice)
        await pilot.press("enter", "down", "down", "enter")
        assert chosen_provider(app) is ProviderId.HOTMAIL
        assert not choice.expanded and app.focused is choice
        await pilot.press("space")
        assert choice.query_one(ChoiceList).highlighted == 2  # opens at the current choice
        await pilot.press("y")  # a letter in the open list picks and closes it
        assert chosen_provider(app) is ProviderId.YAHOO
        assert not choice.expanded and app.focused is choice


async def test_left_and_right_step_through_the_options(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("left")  # already the first: stays
        assert chosen_provider(app) is ProviderId.EXCHANGE
        await pilot.press("right", "right")
        assert field(app, "server").value == PROVIDERS[ProviderId.HOTMAIL].server
        await pilot.press("right", "right", "right")  # past the last: stays on Other
        assert chosen_provider(app) is ProviderId.OTHER
        assert not field(app, "server").disabled
        await pilot.press("left")
        assert chosen_provider(app) is ProviderId.YAHOO


async def test_a_click_opens_the_list_and_picks(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        choice = app.setup_screen.query_one("#smtp-mail", Choice)
        await pilot.click(choice)
        assert choice.expanded
        await pilot.click(ChoiceList, offset=(2, 2))  # the second option, under the top edge
        await pilot.pause()
        assert chosen_provider(app) is ProviderId.GMAIL
        assert not choice.expanded


async def test_a_disabled_choice_takes_no_focus_and_no_keys(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("g")  # a preset: Security is fixed
        security = app.setup_screen.query_one("#security", Choice)
        assert security.disabled
        security.focus()
        await pilot.pause()
        assert app.focused is not security
        with pytest.raises(ValueError, match="not one of this choice's options"):
            security.value = ProviderId.GMAIL


async def test_other_keeps_what_the_user_typed(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("o", *["tab"] * 5, *"smtp.example.com", "tab", *"2525")
        app.setup_screen.query_one("#smtp-mail").focus()
        await pilot.press("g")
        assert field(app, "server").value == "smtp.gmail.com"
        await pilot.press("o")
        assert field(app, "server").value == "smtp.example.com"
        assert field(app, "port").value == "2525"
        assert not field(app, "server").disabled


async def test_microsoft_providers_show_the_notice(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("h")
        assert "Microsoft is ending SMTP passwords" in text_of(app, "#provider-notice")
        notice = app.setup_screen.query_one("#provider-notice")
        await pilot.press("g")
        assert text_of(app, "#provider-notice") == ""
        assert notice.display and notice.region.height == 1  # its row stays: nothing moves


async def test_email_is_checked_against_the_provider_on_leaving(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("g", "tab", "tab", *"codes@example.com")
        assert problem(app, Field.EMAIL) == ""  # not while typing
        assert not app.setup_screen.query("#email-problem")  # a problem line is made when needed
        await pilot.press("tab")
        assert problem(app, Field.EMAIL) == (
            "a Gmail address must end in @gmail.com (not @example.com); a Google Workspace "
            "address is taken when its domain's mail servers (MX) are Google's"
        )
        # Under the field, wrapped at the field's left edge, pushing the next field down.
        await pilot.pause()
        line, email = app.setup_screen.query_one("#email-problem"), field(app, "email")
        assert (line.region.x, line.region.y) == (email.region.x + LABEL_WIDTH, email.region.bottom)
        assert line.region.height == 3  # 140 characters in the 60 columns right of the labels
        # Under it, what the domain's MX said (the tests' resolver knows no name).
        await app.setup_screen.form.workers.wait_for_complete()
        await pilot.pause()
        note = app.setup_screen.query_one("#email-note")
        assert str(note.render()) == "example.com's mail is not handled by Google (MX: none)"
        assert note.region.y == line.region.bottom
        assert app.setup_screen.query_one("#signin").region.y == note.region.bottom
        app.setup_screen.query_one("#smtp-mail").focus()
        await pilot.press("o")
        assert problem(app, Field.EMAIL) == ""  # Other takes any domain


async def test_password_is_masked_and_revealed_briefly(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        password = field(app, "password")
        assert password.password
        await pilot.press("ctrl+r")
        assert not password.password
        app.setup_screen.form.hide_password()  # what the 5 s timer calls
        assert password.password


# --- Test -----------------------------------------------------------------------------------


async def test_invalid_fields_are_marked_focused_and_nothing_is_sent(
    make_app: AppFactory, starttls_server: SmtpServer
) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("o", "tab", "tab", *"not-an-address", "ctrl+t")
        await pilot.pause()
        assert problem(app, Field.DISPLAY_NAME).startswith("enter the name")
        assert problem(app, Field.EMAIL) != ""
        assert problem(app, Field.SERVER).startswith("enter the SMTP server")
        assert app.focused is not None and app.focused.id == "display-name"
        assert app.setup_screen.result_panel.headline == "Please correct the marked fields."
        assert not screen_of(app).testing
    assert starttls_server.auth_attempts == []


async def test_a_successful_test_shows_the_spec_message_and_enables_save(
    make_app: AppFactory, starttls_server: SmtpServer
) -> None:
    app = make_app()
    async with running(app) as pilot:
        await fill_other(pilot, starttls_server.port, typing=True)
        assert app.setup_screen.query_one("#save", ActionButton).disabled
        await run_test_and_wait(pilot)
        assert app.setup_screen.result_panel.headline == MESSAGE_OK
        assert f"Login as {LOGIN} accepted over TLSv1." in app.setup_screen.result_panel.detail
        assert not app.setup_screen.query_one("#save", ActionButton).disabled


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("wrong password", "the server rejected the e-mail or password"),
        ("untrusted", "certificate is not trusted"),
        ("refused", "nothing accepts connections"),
        ("cleartext", "does not offer STARTTLS"),
        ("stall", "did not answer within 1 s"),
    ],
)
async def test_each_failure_shows_the_spec_message_and_the_reason(
    make_app: AppFactory,
    starttls_server: SmtpServer,
    untrusted_server: SmtpServer,
    cleartext_auth_server: SmtpServer,
    scenario: str,
    reason: str,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        port, password = starttls_server.port, PASSWORD
        if scenario == "wrong password":
            password = "wrong-password"
        elif scenario == "untrusted":
            port = untrusted_server.port
        elif scenario == "refused":
            from support.servers import free_port

            port = free_port()
        elif scenario == "cleartext":
            port = cleartext_auth_server.port
        elif scenario == "stall":
            port = (await stack.enter_async_context(run_raw_server("stall"))).port
        app = make_app(timeout=1.0)
        async with running(app) as pilot:
            await fill_other(pilot, port, password)
            await run_test_and_wait(pilot)
            assert app.setup_screen.result_panel.headline == MESSAGE_FAILED
            detail = app.setup_screen.result_panel.detail
            assert reason in detail
            assert password not in detail
            assert app.setup_screen.query_one("#save", ActionButton).disabled


async def test_busy_test_cannot_be_started_twice_and_escape_cancels(
    make_app: AppFactory,
) -> None:
    async with run_raw_server("stall") as server:
        app = make_app(timeout=30.0)
        async with running(app) as pilot:
            await fill_other(pilot, server.port)
            await pilot.press("ctrl+t")
            await wait_until(lambda: server.connections == 1, pilot)
            screen = screen_of(app)
            assert screen.testing
            assert str(app.setup_screen.query_one("#test", ActionButton).label) == "Testing..."
            await pilot.press("ctrl+t", "f2")
            await pilot.pause(0.2)
            assert server.connections == 1  # no second probe
            # The form stays live while the test runs.
            app.setup_screen.query_one("#display-name").focus()
            await pilot.press("end", "!")
            assert field(app, "display-name").value == "Codes!"
            await pilot.press("escape")
            await wait_until(lambda: not screen.testing, pilot)
            assert app.setup_screen.result_panel.headline == "Test cancelled."
            await asyncio.wait_for(server.hangups.wait(), 2)
            assert str(app.setup_screen.query_one("#test", ActionButton).label) == "Test"


async def test_security_none_asks_before_sending_the_password_in_clear(
    make_app: AppFactory, cleartext_auth_server: SmtpServer
) -> None:
    app = make_app()
    async with running(app) as pilot:
        await fill_other(pilot, cleartext_auth_server.port)
        app.setup_screen.query_one("#security", Choice).value = Security.NONE
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert cleartext_auth_server.auth_attempts == []
        await pilot.press("ctrl+t")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(lambda: not screen_of(app).testing, pilot)
        await pilot.pause()
        assert app.setup_screen.result_panel.headline == MESSAGE_OK
        assert [a.encrypted for a in cleartext_auth_server.auth_attempts] == [False]


# --- Save -----------------------------------------------------------------------------------


async def test_save_is_gated_by_the_last_successful_test_and_any_edit(
    make_app: AppFactory, starttls_server: SmtpServer, store: AccountStore
) -> None:
    app = make_app()
    async with running(app) as pilot:
        await fill_other(pilot, starttls_server.port)
        save = app.setup_screen.query_one("#save", ActionButton)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not store.path.exists()  # no test yet: the key saves nothing, and says why
        assert app.setup_screen.result_panel.headline == "Save is not available yet."
        assert app.setup_screen.result_panel.detail.startswith("Test these values first (F2)")
        await pilot.press("f4")
        await pilot.pause()
        assert app.setup_screen.result_panel.headline == "Send test is not available yet."
        await run_test_and_wait(pilot)
        assert not save.disabled
        assert "Save and Send test are now available." in app.setup_screen.result_panel.detail
        app.setup_screen.query_one("#display-name").focus()
        await pilot.press("end", "x")
        assert save.disabled
        # The success line would be stale: the panel says the test no longer matches.
        assert app.setup_screen.result_panel.headline == "The values changed since the test passed."
        assert app.setup_screen.result_panel.detail == "Test again (F2) before Save or Send test."
        await pilot.press("f3")
        await pilot.pause()
        assert not store.path.exists()
        assert app.setup_screen.result_panel.headline == (
            "Save is not available: the values changed since the test passed."
        )
        await pilot.press("backspace")  # back to exactly the tested values
        assert not save.disabled
        assert app.setup_screen.result_panel.headline == MESSAGE_OK
        assert "Save and Send test are now available." in app.setup_screen.result_panel.detail
        app.setup_screen.query_one("#smtp-mail").focus()
        await pilot.press("g")
        await pilot.pause()
        assert save.disabled
        await pilot.press("o")  # back to Other: the same values again
        await pilot.pause()
        assert not save.disabled


async def test_save_writes_config_and_secret_and_says_where(
    make_app: AppFactory,
    starttls_server: SmtpServer,
    store: AccountStore,
    memory_keyring: MemoryKeyring,
) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pass_test_then_save(pilot, starttls_server.port, store.path)
        assert app.setup_screen.result_panel.headline == f"Saved to {store.path}"
        assert "Password stored in the system keyring" in app.setup_screen.result_panel.detail
        assert mode_of(app).startswith("Editing the saved account")
        assert not screen_of(app).has_unsaved_changes
    assert store.load() == Account.create(
        ProviderId.OTHER, "Codes", LOGIN, server=HOST, port=starttls_server.port
    )
    written = store.path.read_text()
    assert PASSWORD not in written
    # The header names no one command: the form wrote this one.
    assert written.startswith("# mailsetup: the system e-mail account. Written by mailsetup (its")
    assert memory_keyring.entries == {(KEYRING_SERVICE, f"{LOGIN}#1"): PASSWORD}


async def test_save_without_keyring_says_the_fallback_file_plainly(
    make_app: AppFactory, starttls_server: SmtpServer, store: AccountStore, no_keyring: None
) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pass_test_then_save(pilot, starttls_server.port, store.secret_path)
        assert app.setup_screen.result_panel.detail == (
            f"Password stored in the file {store.secret_path} (mode 0600; no system keyring "
            "is available)"
        )


async def test_store_error_is_shown_inline_and_nothing_is_half_written(
    make_app: AppFactory, starttls_server: SmtpServer, store: AccountStore, tmp_path: Path
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.mkdir()  # a directory where the config file should go: the write must fail
    app = make_app()
    async with running(app) as pilot:
        assert "could not be read" in mode_of(app)
        await fill_other(pilot, starttls_server.port)
        await run_test_and_wait(pilot)
        await pilot.press("ctrl+s")
        await wait_until(lambda: app.setup_screen.result_panel.headline == "Not saved.", pilot)
        assert "cannot be written" in app.setup_screen.result_panel.detail
        assert not app.setup_screen.query_one("#save", ActionButton).disabled  # can retry
    assert store.path.is_dir()


# --- start-up, quit, help -------------------------------------------------------------------


async def test_a_saved_account_is_loaded_with_its_password_hidden(
    make_app: AppFactory, store: AccountStore
) -> None:
    saved = Account.create(ProviderId.GMAIL, "Acme Codes", "codes@gmail.com")
    store.save(saved, "abcdefghijklmnop")
    app = make_app()
    async with running(app) as pilot:
        await wait_until(lambda: field(app, "password").value != "", pilot)
        assert mode_of(app) == f"Editing the saved account ({store.path})"
        assert screen_of(app).form.provider_id is ProviderId.GMAIL
        assert field(app, "display-name").value == "Acme Codes"
        assert field(app, "password").password  # masked
        assert not screen_of(app).has_unsaved_changes


async def test_a_new_account_says_so(make_app: AppFactory, store: AccountStore) -> None:
    app = make_app()
    async with running(app):
        assert mode_of(app) == f"New account (will be saved to {store.path})"


async def test_a_long_config_path_wraps_under_the_title_and_the_form_moves_down(
    tmp_path: Path,
) -> None:
    """The heading counts its rows without rendering them: a path too long for one row takes
    two, whole, and the fields start below it."""
    deep = tmp_path.joinpath(*(["a-rather-long-directory-name"] * 4), "account.toml")
    app = MailSetupApp(SetupSession(AccountStore(deep)), environ={"TERM": "xterm-256color"})
    async with running(app):
        heading = app.setup_screen.query_one(FormHeading)
        assert mode_of(app) == f"New account (will be saved to {deep})"
        assert len(mode_of(app)) > heading.content_size.width
        assert heading.size.height >= 3  # the title's row and the path's two or more
        rows = heading.render_lines(Region(0, 0, *heading.size))
        shown = "".join(strip.text for strip in rows[1:])
        assert "".join(shown.split()) == "".join(mode_of(app).split())  # all of it, in order
        assert app.setup_screen.form.region.y > heading.region.bottom - 1


async def test_an_unreadable_saved_password_is_reported(
    make_app: AppFactory, store: AccountStore, memory_keyring: MemoryKeyring
) -> None:
    store.save(Account.create(ProviderId.GMAIL, "Codes", "codes@gmail.com"), "pw")
    memory_keyring.entries.clear()
    app = make_app()
    async with running(app) as pilot:
        await wait_until(lambda: bool(app.setup_screen.query("#banner.-visible")), pilot)
        assert "The saved password could not be read: no password for codes@gmail.com" in (
            text_of(app, "#banner")
        )


async def test_quit_without_changes_exits_at_once(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app._exit


async def test_quit_with_unsaved_changes_asks_first(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("tab", *"Codes", "ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # keep editing
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        assert field(app, "display-name").value == "Codes"
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app._exit


async def test_help_explains_the_fields_and_the_app_password(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("g", "f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("VerticalScroll Static", Static).render())
        assert "myaccount.google.com/apppasswords" in text
        assert "Display Name" in text
        assert "Hotmail also covers Outlook.com" in text  # the label stays the spec's
        assert "Sign-in  " in text and "Security  " in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)


async def test_one_key_table_for_the_footer_the_help_and_the_readme(
    make_app: AppFactory,
) -> None:
    """The footer shows the same keys on every terminal, the help lists every key of the
    table, and the README's key table is the table's own."""
    footers = []
    for environ in ({"TERM": "xterm-256color"}, {"TERM": "vt100"}):
        app = make_app(environ=environ)
        async with running(app) as pilot:
            footers.append(str(app.setup_screen.query_one(KeyBar).render()))
            await pilot.press("f1")
            await pilot.pause()
            help_text = str(app.screen.query_one("VerticalScroll Static", Static).render())
        for key in FORM_KEYS:
            assert ", ".join(spoken(name) for name in key.keys) in help_text, key
    # No test is running and no relay is set up: Esc and Queue do nothing here. Save and Send
    # test wait for a test: dimmed in colour, left out on a VT100, which shows no dim.
    here = [key for key in FORM_KEYS if key.footer and key.action not in {"cancel_test", "queue"}]
    line = " ".join(f"{footer_display(key.keys[0])} {key.label}" for key in here)
    assert footers[0] == line == "F2 Test F3 Save F4 Send test ^R Show password F1 Help ^X Quit"
    assert footers[1] == "F2 Test ^R Show password F1 Help ^X Quit"
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert markdown_table() in readme, "regenerate the README's key table:\n" + markdown_table()


async def test_cursor_blink_is_off(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app):
        fields = app.setup_screen.query_one(AccountForm).query(TypingInput)
        assert len(fields) >= 5 and not any(field.cursor_blink for field in fields)


@pytest.mark.parametrize(
    ("environ", "limited"),
    [({"TERM": "xterm-256color"}, False), ({"TERM": "vt100"}, True), ({"TERM": "linux"}, True),
     ({"TERM": "xterm-256color", "NO_COLOR": "1"}, True)],
)  # fmt: skip
async def test_limited_terminals_get_the_ansi_theme(
    make_app: AppFactory, environ: dict[str, str], limited: bool
) -> None:
    app = make_app(environ=environ)
    async with running(app):
        assert app.has_class("-limited") is limited
        assert (app.theme == "ansi-dark") is limited


async def test_the_form_fits_80x24_with_every_problem_shown(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("o", "tab", " ", "tab", *"x", "ctrl+t")
        await pilot.pause()
        footer_top = app.setup_screen.query_one(KeyBar).region.y
        result_bottom = app.setup_screen.query_one("#result").region.bottom
        assert result_bottom <= footer_top
        assert app.setup_screen.query_one("#buttons").region.bottom <= footer_top


def label_drawn_bold(control: TypingInput | Choice[Any]) -> bool:
    """Whether the label the control draws (tui/field_label.py) is bold, as drawn."""
    line = control.render_lines(Region(0, 0, control.outer_size.width, 1))[0]
    name = [segment for segment in line.crop(0, LABEL_WIDTH) if segment.text.strip()]
    return bool(name) and all(segment.style is not None and segment.style.bold for segment in name)


async def test_on_a_limited_terminal_a_problem_underlines_the_name_and_focus_marks_it(
    make_app: AppFactory,
) -> None:
    app = make_app(environ={"TERM": "vt100"})
    async with running(app) as pilot:
        await pilot.press("ctrl+t")  # every field empty: the first bad one gets focus
        await pilot.pause()
        control = field(app, "display-name")
        assert app.focused is control
        line = control.render_lines(Region(0, 0, control.outer_size.width, 1))[0]
        cells = [(char, segment.style) for segment in line for char in segment.text][:LABEL_WIDTH]
        name = len("Display Name")
        assert "".join(char for char, _ in cells) == "Display Name".ljust(LABEL_WIDTH)
        first = cells[0][1]
        assert first is not None and first.reverse and first.bold  # the focus mark
        assert all(style is not None and style.underline for _, style in cells[:name])
        assert not any(style is not None and style.underline for _, style in cells[name:])


async def test_exactly_the_focused_fields_label_is_marked(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:

        def marked() -> list[str]:
            return [
                str(control.field_label)
                for control in app.setup_screen.form.children
                if isinstance(control, TypingInput | Choice)
                and control.display
                and label_drawn_bold(control)
            ]

        assert marked() == ["SMTP Mail"]
        await pilot.press("tab")
        assert marked() == ["Display Name"]
        await pilot.press("tab", "tab", "tab", "tab")  # Exchange: Email, Sign-in, Password, Test
        assert marked() == []
        await pilot.press("ctrl+t")  # invalid: focus goes to the first bad field
        await pilot.pause()
        assert marked() == ["Display Name"]


async def test_a_form_started_too_small_says_so_at_once(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        too_small = app.setup_screen.query_one("#too-small", Static)
        assert too_small.display and not app.setup_screen.query_one(AccountForm).display
        assert "This terminal is 40x12; mailsetup needs at least 60x20" in str(too_small.render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not too_small.display and app.setup_screen.query_one(AccountForm).display


async def test_resizing_keeps_a_correct_screen_and_says_when_too_small(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with running(app) as pilot:
        # Made when first needed: most runs never are too small.
        assert app.setup_screen.query_one_optional("#too-small") is None
        form = app.setup_screen.query_one(AccountForm)
        for width, height, small in [(132, 43, False), (40, 12, True), (80, 24, False),
                                     (59, 24, True), (60, 20, False)]:  # fmt: skip
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            too_small = app.setup_screen.query_one_optional("#too-small", Static)
            assert (too_small is not None and too_small.display) is small, (width, height)
            assert form.display is not small, (width, height)
            if too_small is not None and small:
                assert f"This terminal is {width}x{height}" in str(too_small.render())
            else:
                footer_top = app.setup_screen.query_one(KeyBar).region.y
                assert app.setup_screen.query_one("#buttons").region.bottom <= footer_top


async def test_a_test_message_can_be_sent_after_a_successful_test(
    make_app: AppFactory, starttls_server: SmtpServer
) -> None:
    from mailsetup_tui.tui.dialogs import RecipientScreen

    app = make_app()
    async with running(app) as pilot:
        await fill_other(pilot, starttls_server.port)
        send = app.setup_screen.query_one("#send-test", ActionButton)
        assert send.disabled
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not isinstance(app.screen, RecipientScreen)  # not before a test passed
        await run_test_and_wait(pilot)
        assert not send.disabled
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, RecipientScreen)
        recipient = app.screen.query_one("#answer", Input)
        assert recipient.value == LOGIN  # the account's own address, to check it arrives
        recipient.value = "ops@example.org"
        await pilot.press("enter")
        await wait_until(lambda: bool(starttls_server.handler.delivered), pilot)
        await pilot.pause(0.1)
        assert app.setup_screen.result_panel.headline == "Test message sent to ops@example.org"
    (delivered,) = starttls_server.handler.delivered
    assert delivered.rcpt_tos == ["ops@example.org"]
    import email
    from email.policy import default as default_policy

    message = email.message_from_bytes(delivered.data, policy=default_policy)
    assert "verification codes will be sent from this address" in message.get_content()


async def test_a_refused_test_message_is_shown_inline(
    make_app: AppFactory, certificates: Certificates
) -> None:
    from support.servers import RecordingHandler, run_smtp_server

    handler = RecordingHandler(refuse_data="554 5.7.1 Rejected")
    with run_smtp_server("starttls", certificates, handler=handler) as server:
        app = make_app()
        async with running(app) as pilot:
            await fill_other(pilot, server.port)
            await run_test_and_wait(pilot)
            await pilot.press("ctrl+n")
            await pilot.pause()
            await pilot.press("enter")
            await wait_until(
                lambda: app.setup_screen.result_panel.headline == "Test message not sent.", pilot
            )
            assert (
                "refused the message (554 5.7.1 Rejected)" in app.setup_screen.result_panel.detail
            )


async def test_a_saved_ca_file_that_is_gone_is_said_plainly_on_the_form(
    make_app: AppFactory,
    store: AccountStore,
    starttls_server: SmtpServer,
    certificates: Certificates,
    tmp_path: Path,
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(certificates.ca_file.read_bytes())
    store.save(other_account(starttls_server.port), PASSWORD, ca_file=ca)
    ca.unlink()
    app = make_app(ca_file=None)  # no --ca-file: the saved one is what the test must trust
    async with running(app) as pilot:
        await run_test_and_wait(pilot)
        panel = app.setup_screen.result_panel
        shown = f"{panel.headline} {panel.detail}"
    assert "The saved account cannot be used." in shown
    assert str(ca) in shown and "unexpected" not in shown
    assert starttls_server.auth_attempts == []


async def test_a_private_ca_is_named_in_the_form_tested_and_saved_with_the_account(
    make_app: AppFactory,
    starttls_server: SmtpServer,
    certificates: Certificates,
    store: AccountStore,
    tmp_path: Path,
) -> None:
    """Without --ca-file the test fails on the private CA; F6 names the CA file, the next test
    trusts it, and Save keeps it with the account, as `save --ca-file` does."""
    app = make_app(ca_file=None)
    async with running(app) as pilot:
        await pilot.press("f6")  # not for the presets: it says why
        await pilot.pause()
        assert app.setup_screen.result_panel.headline == "A CA file is for Other."
        await fill_other(pilot, starttls_server.port)
        await run_test_and_wait(pilot)
        assert "F6 in the form" in app.setup_screen.result_panel.detail
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press(*str(tmp_path / "missing.pem"), "enter")
        await pilot.pause()
        assert app.setup_screen.result_panel.headline == "Not a CA file the test can trust."
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press(*str(certificates.ca_file), "enter")
        await pilot.pause()
        trusting = f"The test will trust the CAs in {certificates.ca_file}."
        assert app.setup_screen.result_panel.headline == trusting
        await run_test_and_wait(pilot)
        assert app.setup_screen.result_panel.headline == MESSAGE_OK
        await pilot.press("f3")
        await wait_until(store.path.exists, pilot)
    saved = store.load_config()
    assert saved is not None and saved.ca_file == certificates.ca_file


async def test_a_value_longer_than_its_field_scrolls_and_nothing_else_moves(
    make_app: AppFactory,
) -> None:
    """Typing never lays the screen out again (TypingInput.virtual_size), yet a value wider
    than its field still scrolls to keep the typing position in view."""
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("tab")
        name = field(app, "display-name")
        regions = {widget: widget.region for widget in app.setup_screen.query("*")}
        text = "Acme Verification Codes for the North Region Datacentre"  # 55 > 46 cells
        await pilot.press(*text)
        await pilot.pause()
        assert name.value == text
        assert name.scroll_offset.x > 0
        shown = str(app.setup_screen.query_one("#display-name").render_line(0).text)
        assert shown.rstrip().endswith("Datacentre")
        assert app.cursor_position == name.cursor_screen_offset
        assert name.region.x <= app.cursor_position.x < name.region.right
        assert {widget: widget.region for widget in regions} == regions


async def test_a_click_on_a_footer_key_does_what_the_key_does(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        bar = app.setup_screen.query_one(KeyBar)
        line = str(bar.render())
        await pilot.click(KeyBar, offset=(line.index("F1 Help") + 3, 0))
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"


async def test_the_footer_leaves_out_disabled_keys_rather_than_cut_off_quit(
    make_app: AppFactory, tmp_path: Path
) -> None:
    """A test running where a relay is set up: every key would take 86 cells; the keys that
    do nothing now go, and Quit stays."""
    app = make_app(environ={"TERM": "xterm-256color"})
    async with running(app) as pilot:
        screen = app.setup_screen
        bar = screen.query_one(KeyBar)
        assert "F3 Save" in str(bar.render())  # dimmed where there is room
        screen.relay_settings = RelaySettings(spool=tmp_path / "spool", socket=tmp_path / "s")
        screen.testing = True
        await pilot.pause()
        line = str(bar.render())
        assert line == "^R Show password Esc Cancel test F1 Help F5 Queue ^X Quit"
        assert len(line) <= bar.content_size.width
