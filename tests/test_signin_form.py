"""Microsoft sign-in in the form, driven with Pilot at 80x24: the Exchange and Hotmail rows
pointed at the loopback SMTP server, the sign-in at the loopback authorization server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from mailsetup_tui.core import oauth
from mailsetup_tui.core.account import AUTHORITY_HOST_ENV, SignInMethod
from mailsetup_tui.core.fields import Field
from mailsetup_tui.core.outcomes import MESSAGE_FAILED, MESSAGE_OK
from mailsetup_tui.core.providers import PROVIDERS, ProviderId
from mailsetup_tui.core.store import KEYRING_SERVICE, AccountStore
from mailsetup_tui.tui.action_button import ActionButton
from mailsetup_tui.tui.app import MailSetupApp
from mailsetup_tui.tui.choice import Choice
from mailsetup_tui.tui.dialogs import DeviceCodeScreen, HelpScreen
from test_form import AppFactory, field, running, wait_until

from support.authserver import CLIENT_ID, TENANT, USER_CODE, AuthServer, microsoft_account
from support.keyrings import MemoryKeyring
from support.servers import HOST, LOGIN, Certificates, SmtpServer

pytestmark = pytest.mark.usefixtures("microsoft_preset")


@pytest.fixture
def microsoft_preset(
    monkeypatch: pytest.MonkeyPatch, auth_server: AuthServer, microsoft_server: SmtpServer
) -> None:
    """Exchange and Hotmail as presets whose server is the loopback one, and new sign-ins
    going to the loopback authorization server (as MAILSETUP_AUTHORITY_HOST does for a
    national cloud)."""
    for pid in (ProviderId.EXCHANGE, ProviderId.HOTMAIL):
        entry = PROVIDERS[pid]._replace(server=HOST, port=microsoft_server.port)
        monkeypatch.setitem(PROVIDERS, pid, entry)
    monkeypatch.setenv(AUTHORITY_HOST_ENV, auth_server.url)


def screenshots(app: MailSetupApp, shots: list[str]) -> Callable[[], None]:
    def take() -> None:
        shots.append(app.export_screenshot())

    return take


async def choose_microsoft_sign_in(pilot: Pilot[None]) -> None:
    """Sign-in is focused: open its list, move to Microsoft sign-in, take it."""
    await pilot.press("enter", "down", "enter")
    await pilot.pause()


async def fill_exchange_with_sign_in(pilot: Pilot[None]) -> None:
    """Typed up to Sign-in, picked from its list; the two long IDs set through the same
    Input.Changed path (typing them, key by key, is test_form's part and took seconds)."""
    await pilot.press("tab", *"Codes", "tab", *LOGIN, "tab")
    await choose_microsoft_sign_in(pilot)
    app = pilot.app
    assert isinstance(app, MailSetupApp)
    field(app, "client-id").value = CLIENT_ID
    field(app, "tenant").value = TENANT
    await pilot.press("tab", "tab")
    await pilot.pause()


async def wait_for_code_screen(app: MailSetupApp, pilot: Pilot[None]) -> DeviceCodeScreen:
    await wait_until(lambda: isinstance(app.screen, DeviceCodeScreen), pilot)
    screen = app.screen
    assert isinstance(screen, DeviceCodeScreen)
    return screen


async def wait_for_result(app: MailSetupApp, pilot: Pilot[None]) -> None:
    await wait_until(lambda: not app.setup_screen.testing, pilot)
    await pilot.pause()


async def test_exchange_sign_in_test_save_and_send_end_to_end(
    make_app: AppFactory,
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    store: AccountStore,
    memory_keyring: MemoryKeyring,
) -> None:
    auth_server.state.script = ["pending", "approved"]
    app = make_app()
    shots: list[str] = []
    async with running(app) as pilot:
        await fill_exchange_with_sign_in(pilot)
        assert not app.setup_screen.form.shows(Field.PASSWORD)
        assert app.setup_screen.form.values.signin is SignInMethod.MICROSOFT
        await pilot.press("ctrl+t")
        code_screen = await wait_for_code_screen(app, pilot)
        await pilot.pause()
        screenshots(app, shots)()
        assert USER_CODE in shots[-1]
        assert "https://microsoft.com/devicelogin" in shots[-1]
        assert str(code_screen.query_one("#user-code").render()) == USER_CODE
        await wait_for_result(app, pilot)
        assert not isinstance(app.screen, DeviceCodeScreen)
        assert app.setup_screen.result_panel.headline == MESSAGE_OK
        assert f"Signed in as {LOGIN}" in app.setup_screen.result_panel.detail
        (attempt,) = microsoft_server.handler.xoauth2  # type: ignore[attr-defined]
        assert attempt.accepted and attempt.encrypted
        assert not app.setup_screen.query_one("#save", ActionButton).disabled

        await pilot.press("ctrl+s")
        await wait_until(store.path.exists, pilot)
        await pilot.pause(0.1)
        assert (
            "Microsoft sign-in stored in the system keyring" in app.setup_screen.result_panel.detail
        )
        screenshots(app, shots)()

        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("enter")  # the suggested recipient: the account itself
        await wait_until(lambda: bool(microsoft_server.handler.delivered), pilot)
        await pilot.pause(0.1)
        assert app.setup_screen.result_panel.headline.startswith("Test message sent")
        screenshots(app, shots)()

    saved = store.load()
    assert saved is not None and saved.signin is not None
    assert (saved.provider_id, saved.signin.client_id, saved.signin.tenant) == (
        ProviderId.EXCHANGE, CLIENT_ID, TENANT,
    )  # fmt: skip
    stored = memory_keyring.entries[(KEYRING_SERVICE, f"{LOGIN}#1")]
    assert stored in auth_server.state.refresh_tokens  # the newest, after the send refreshed
    config = store.path.read_text()
    for token in [*auth_server.state.access_tokens, *auth_server.state.refresh_tokens]:
        assert token not in config
        assert all(token not in shot for shot in shots)


async def test_escape_cancels_the_sign_in_and_stops_polling(
    make_app: AppFactory, auth_server: AuthServer
) -> None:
    auth_server.state.script = ["pending"]
    app = make_app()
    async with running(app) as pilot:
        await fill_exchange_with_sign_in(pilot)
        await pilot.press("ctrl+t")
        await wait_for_code_screen(app, pilot)
        await pilot.press("escape")
        await wait_for_result(app, pilot)
        assert not isinstance(app.screen, DeviceCodeScreen)
        assert app.setup_screen.result_panel.headline == "Test cancelled."
        polls = len(auth_server.state.grants[0].polls)
        await asyncio.sleep(1.5)
        assert len(auth_server.state.grants[0].polls) == polls
        assert app.setup_screen.query_one("#save", ActionButton).disabled


@pytest.mark.parametrize(("outcome", "words"), [("declined", "declined"), ("expired", "expired")])
async def test_a_declined_or_expired_sign_in_is_a_plain_failure(
    make_app: AppFactory, auth_server: AuthServer, outcome: str, words: str
) -> None:
    auth_server.state.script = [outcome]
    app = make_app()
    async with running(app) as pilot:
        await fill_exchange_with_sign_in(pilot)
        await pilot.press("ctrl+t")
        await wait_for_result(app, pilot)
        assert app.setup_screen.result_panel.headline == MESSAGE_FAILED
        assert words in app.setup_screen.result_panel.detail
        assert app.setup_screen.query_one("#save", ActionButton).disabled


async def signed_in_and_saved(
    auth_server: AuthServer, microsoft_server: SmtpServer, certificates: Certificates,
    store: AccountStore,
) -> None:  # fmt: skip
    auth_server.state.script = ["approved"]
    account = microsoft_account(
        microsoft_server.port, auth_server.url, provider_id=ProviderId.EXCHANGE
    )
    assert account.signin is not None
    tokens = await oauth.sign_in(
        account.signin, lambda code: None, timeout=5, ca_file=certificates.ca_file
    )
    store.save(account, tokens.refresh_token)


async def test_a_saved_sign_in_is_loaded_and_refreshed_without_a_new_code(
    make_app: AppFactory,
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    store: AccountStore,
) -> None:
    await signed_in_and_saved(auth_server, microsoft_server, certificates, store)
    app = make_app()
    async with running(app) as pilot:
        await pilot.pause(0.2)  # the secret is read in a thread
        assert app.setup_screen.form.values.client_id == CLIENT_ID
        assert app.setup_screen.query_one("#signin", Choice).value is SignInMethod.MICROSOFT
        await pilot.press("ctrl+t")
        await wait_for_result(app, pilot)
        assert app.setup_screen.result_panel.headline == MESSAGE_OK
        assert len(auth_server.state.grants) == 1  # only the one made before the form
        assert auth_server.state.refreshes == 1


async def test_a_revoked_saved_sign_in_fails_then_the_next_test_signs_in_again(
    make_app: AppFactory,
    auth_server: AuthServer,
    microsoft_server: SmtpServer,
    certificates: Certificates,
    store: AccountStore,
) -> None:
    await signed_in_and_saved(auth_server, microsoft_server, certificates, store)
    auth_server.state.revoke_refresh_tokens()
    auth_server.state.script = ["approved"]
    app = make_app()
    async with running(app) as pilot:
        await pilot.pause(0.2)
        await pilot.press("ctrl+t")
        await wait_for_result(app, pilot)
        assert app.setup_screen.result_panel.headline == MESSAGE_FAILED
        assert "sign in again" in app.setup_screen.result_panel.detail
        await pilot.press("ctrl+t")
        await wait_for_code_screen(app, pilot)
        await wait_for_result(app, pilot)
        assert app.setup_screen.result_panel.headline == MESSAGE_OK
        assert len(auth_server.state.grants) == 2


async def test_hotmail_locks_the_tenant_and_gmail_offers_no_sign_in(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("h")
        assert not app.setup_screen.query("#client-id, #tenant")  # made when first needed
        await pilot.press("tab", "tab", "tab", "m")  # the first letter picks, as on SMTP Mail
        await pilot.pause()
        assert app.setup_screen.form.signin_method is SignInMethod.MICROSOFT
        tenant = field(app, "tenant")
        assert (tenant.value, tenant.disabled) == ("consumers", True)
        assert app.setup_screen.form.shows(Field.CLIENT_ID)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.method is SignInMethod.MICROSOFT
        await pilot.press("escape")
        app.setup_screen.query_one("#smtp-mail").focus()
        await pilot.press("g")
        await pilot.pause()
        signin = app.setup_screen.query_one("#signin", Choice)
        assert (signin.value, signin.disabled) == (SignInMethod.PASSWORD, True)
        assert app.setup_screen.form.shows(Field.PASSWORD)
        assert not app.setup_screen.form.shows(Field.TENANT)
        await pilot.press("e")  # back to Exchange: the tenant is the user's to type again
        await pilot.pause()
        assert not field(app, "tenant").disabled


async def test_a_typed_password_is_not_part_of_a_microsoft_sign_in(make_app: AppFactory) -> None:
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("tab", *"Codes", "tab", *LOGIN, "tab", "tab", *"s3cret")
        assert app.setup_screen.form.values.password == "s3cret"
        app.setup_screen.query_one("#signin", Choice).focus()
        await choose_microsoft_sign_in(pilot)
        assert app.setup_screen.form.values.password == ""
        assert isinstance(app.focused, Choice)
        await pilot.press("tab")
        assert isinstance(app.focused, Input) and app.focused.id == "client-id"
