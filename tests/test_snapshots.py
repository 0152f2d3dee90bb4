"""How the form looks at 80x24: pytest-textual-snapshot SVGs, checked by eye before committing.

Probe outcomes are shown from fixed results here (ports, timings and TLS versions vary from
run to run); test_form.py drives the same panel with real probes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from mailsetup_tui.core.account import SignInMethod
from mailsetup_tui.core.oauth import DeviceCode
from mailsetup_tui.core.outcomes import TestOutcome
from mailsetup_tui.core.probe import FailureKind, ProbeFailure, ProbeResult, Step
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.store import AccountStore
from mailsetup_tui.tui.app import MailSetupApp
from mailsetup_tui.tui.choice import Choice
from mailsetup_tui.tui.dialogs import DeviceCodeScreen

# Read, never written: no save happens in these tests, and a fixed path keeps the mode line
# the same on every machine.
SNAPSHOT_CONFIG = Path("/nonexistent/mailsetup-snapshots/account.toml")


class SnapCompare(Protocol):
    def __call__(
        self,
        app: MailSetupApp,
        *,
        terminal_size: tuple[int, int],
        press: list[str] = ...,
        run_before: Callable[[Pilot[None]], Awaitable[None]] | None = ...,
    ) -> bool: ...


def app(**environ: str) -> MailSetupApp:
    return MailSetupApp(
        SetupSession(AccountStore(SNAPSHOT_CONFIG)), environ={"TERM": "xterm-256color", **environ}
    )


async def fill_other(pilot: Pilot[None]) -> None:
    screen = pilot.app.screen
    await pilot.pause()  # the first key must find SMTP Mail focused
    await pilot.press("o")
    for widget_id, value in {
        "display-name": "Acme Verification",
        "email": "codes@example.com",
        "password": "app-password",
        "server": "smtp.example.com",
        "port": "587",
    }.items():
        screen.query_one(f"#{widget_id}", Input).value = value
    await pilot.pause()


def test_empty_form(snap_compare: SnapCompare) -> None:
    assert snap_compare(app(), terminal_size=(80, 24))


def test_other_selected(snap_compare: SnapCompare) -> None:
    assert snap_compare(app(), terminal_size=(80, 24), run_before=fill_other)


def test_failed_test(snap_compare: SnapCompare) -> None:
    async def failed(pilot: Pilot[None]) -> None:
        await fill_other(pilot)
        assert isinstance(pilot.app, MailSetupApp)
        failure = ProbeFailure(
            FailureKind.CREDENTIALS,
            "the server rejected the e-mail or password (535 5.7.8 Authentication credentials "
            "invalid); use the password (or app password) your mail administrator gave you",
        )
        pilot.app.setup_screen.result_panel.show_test(
            TestOutcome(ProbeResult(failure, Step.AUTH, 0.4), "codes@example.com")
        )
        await pilot.pause()

    assert snap_compare(app(), terminal_size=(80, 24), run_before=failed)


def test_successful_test(snap_compare: SnapCompare) -> None:
    async def succeeded(pilot: Pilot[None]) -> None:
        await fill_other(pilot)
        assert isinstance(pilot.app, MailSetupApp)
        screen = pilot.app.setup_screen
        screen.result_panel.show_test(
            TestOutcome(ProbeResult(None, Step.DONE, 0.4, "TLSv1.3"), "codes@example.com")
        )
        screen.tested_ok = screen.form.values
        await pilot.pause()

    assert snap_compare(app(), terminal_size=(80, 24), run_before=succeeded)


def test_invalid_fields_marked(snap_compare: SnapCompare) -> None:
    async def invalid(pilot: Pilot[None]) -> None:
        await pilot.pause()
        await pilot.press("g", "tab", "tab", *"x@y", "ctrl+t")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=(80, 24), run_before=invalid)


def test_monochrome(snap_compare: SnapCompare) -> None:
    assert snap_compare(app(NO_COLOR="1"), terminal_size=(80, 24), run_before=fill_other)


async def fill_exchange_with_sign_in(pilot: Pilot[None]) -> None:
    screen = pilot.app.screen
    await pilot.pause()
    screen.query_one("#signin", Choice).value = SignInMethod.MICROSOFT
    await pilot.pause()  # Client ID and Tenant are made when the choice's message arrives
    for widget_id, value in {
        "display-name": "Acme Verification",
        "email": "codes@contoso.com",
        "client-id": "0f9a3c2e-5b7d-4e21-9a6c-1d2e3f4a5b6c",
        "tenant": "contoso.com",
    }.items():
        screen.query_one(f"#{widget_id}", Input).value = value
    await pilot.pause()


def test_microsoft_sign_in_fields(snap_compare: SnapCompare) -> None:
    async def succeeded(pilot: Pilot[None]) -> None:
        await fill_exchange_with_sign_in(pilot)
        assert isinstance(pilot.app, MailSetupApp)
        pilot.app.setup_screen.result_panel.show_test(
            TestOutcome(
                ProbeResult(None, Step.DONE, 0.9, "TLSv1.3"),
                "codes@contoso.com",
                signed_in_as="codes@contoso.com",
            )
        )
        await pilot.pause()

    assert snap_compare(app(), terminal_size=(80, 24), run_before=succeeded)


@pytest.fixture
def utc() -> Iterator[None]:
    """The code's expiry is shown in local time: pin the zone so the snapshot is the same
    everywhere."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "UTC")
        time.tzset()
        yield
    time.tzset()


def show_device_code(screen_app: MailSetupApp) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def show(pilot: Pilot[None]) -> None:
        await fill_exchange_with_sign_in(pilot)
        code = DeviceCode("HK7QW3ZP", "https://microsoft.com/devicelogin", 1_795_000_000.0)
        await screen_app.push_screen(DeviceCodeScreen(code, "codes@contoso.com"))
        await pilot.pause()

    return show


@pytest.mark.usefixtures("utc")
def test_device_code_dialog(snap_compare: SnapCompare) -> None:
    shown = app()
    assert snap_compare(shown, terminal_size=(80, 24), run_before=show_device_code(shown))


@pytest.mark.usefixtures("utc")
def test_device_code_dialog_monochrome(snap_compare: SnapCompare) -> None:
    shown = app(NO_COLOR="1", TERM="vt100")
    assert snap_compare(shown, terminal_size=(80, 24), run_before=show_device_code(shown))


def test_values_changed_after_a_successful_test(snap_compare: SnapCompare) -> None:
    """One character typed after a passing test: the panel no longer says Save is available."""

    async def edited(pilot: Pilot[None]) -> None:
        await fill_other(pilot)
        assert isinstance(pilot.app, MailSetupApp)
        screen = pilot.app.setup_screen
        screen.show_test_outcome(
            screen.TestFinished(
                screen.form.values,
                TestOutcome(ProbeResult(None, Step.DONE, 0.4, "TLSv1.3"), "codes@example.com"),
            )
        )
        await pilot.pause()
        screen.query_one("#display-name").focus()
        await pilot.press("end", "s")
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(app(), terminal_size=(80, 24), run_before=edited)


def test_help_scrolls_on_a_vt100(snap_compare: SnapCompare) -> None:
    async def help_opened(pilot: Pilot[None]) -> None:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()

    shown = app(TERM="vt100")
    assert snap_compare(shown, terminal_size=(80, 24), run_before=help_opened)


def test_an_untrusted_certificate_keeps_its_fingerprint_whole(snap_compare: SnapCompare) -> None:
    """The SHA-256 fingerprint wraps between its halves, never inside a hex pair."""
    fingerprint = ":".join(f"{n * 7 % 256:02X}" for n in range(32))

    async def untrusted(pilot: Pilot[None]) -> None:
        await fill_other(pilot)
        assert isinstance(pilot.app, MailSetupApp)
        failure = ProbeFailure(
            FailureKind.CERTIFICATE,
            "the server's certificate is not trusted (self-signed certificate): subject "
            f"CN=smtp.example.com, issuer CN=smtp.example.com, SHA-256 {fingerprint}",
        )
        pilot.app.setup_screen.result_panel.show_test(
            TestOutcome(ProbeResult(failure, Step.TLS_HANDSHAKE, 0.2), "codes@example.com")
        )
        await pilot.pause()

    assert snap_compare(app(), terminal_size=(80, 24), run_before=untrusted)
