"""Providers by the domain's MX: Gmail takes a Google Workspace address, Exchange warns about a
domain whose mail is not at Microsoft 365, and no DNS falls back to the usual rules with a
note. DNS is the tests' own (dnslib on 127.0.0.1); a preset's server is pointed at a loopback
SMTP server where a test logs in."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from mailsetup_tui import cli
from mailsetup_tui.core.account import AccountDraft
from mailsetup_tui.core.fields import Field
from mailsetup_tui.core.providers import PROVIDERS, Hosted, ProviderId
from mailsetup_tui.core.session import SetupSession
from mailsetup_tui.core.store import AccountStore, StoreError
from mailsetup_tui.tui.app import MailSetupApp

from support.cli import mailsetup_env, run_mailsetup
from support.dns import MX, SRV, Zone, dns_server, silent_nameserver
from support.servers import HOST, LOGIN, PASSWORD, Certificates, SmtpServer

WORKSPACE: Zone = {
    ("example.com", "MX"): [MX("aspmx.l.google.com.", 1), MX("alt1.aspmx.l.google.com.", 5)]
}
ELSEWHERE: Zone = {("example.com", "MX"): [MX("mx.hosting.example.", 10)]}


def at_loopback(monkeypatch: pytest.MonkeyPatch, pid: ProviderId, server: SmtpServer) -> None:
    entry = PROVIDERS[pid]._replace(server=HOST, port=server.port)
    monkeypatch.setitem(PROVIDERS, pid, entry)


def test_a_presets_draft_needs_no_port_of_its_own() -> None:
    """As the CLI builds it from --smtp-mail gmail without --port (a regression: every preset
    was refused with "enter the port number")."""
    assert AccountDraft(ProviderId.GMAIL, "Codes", "codes@gmail.com", "pw").problems() == ()
    other = AccountDraft(ProviderId.OTHER, "Codes", "c@acme.example", "pw", "smtp.acme.example")
    assert [p.field for p in other.problems()] == [Field.PORT]


def test_gmail_takes_an_address_only_with_googles_mx() -> None:
    draft = AccountDraft(ProviderId.GMAIL, "Codes", "codes@acme.example", "pw")
    assert [p.field for p in draft.problems()] == [Field.EMAIL]
    assert dataclasses.replace(draft, hosted=Hosted.GOOGLE).problems() == ()
    assert [
        p.field for p in dataclasses.replace(draft, hosted=Hosted.MICROSOFT_365).problems()
    ] == [Field.EMAIL]
    yahoo = AccountDraft(
        ProviderId.YAHOO, "Codes", "codes@acme.example", "pw", hosted=Hosted.GOOGLE
    )
    assert [p.field for p in yahoo.problems()] == [Field.EMAIL]  # no MX makes it Yahoo's
    assert dataclasses.replace(draft, hosted=Hosted.GOOGLE) == draft  # a fact, not a value


async def test_a_workspace_address_tests_and_saves_as_gmail(
    monkeypatch: pytest.MonkeyPatch,
    starttls_server: SmtpServer,
    certificates: Certificates,
    store: AccountStore,
) -> None:
    at_loopback(monkeypatch, ProviderId.GMAIL, starttls_server)
    with dns_server(WORKSPACE) as (nameserver, asked):
        monkeypatch.setenv("MAILSETUP_NAMESERVER", nameserver)
        session = SetupSession(store, ca_file=certificates.ca_file)
        draft = AccountDraft(ProviderId.GMAIL, "Codes", LOGIN, PASSWORD)
        outcome = await session.test(draft)
    assert outcome.ok, outcome.detail
    assert ("example.com", "MX") in asked.asked
    session.save(draft)
    assert 'hosted = "google"' in store.path.read_text()
    assert store.saved_config().account.hosted is Hosted.GOOGLE


def test_a_hosted_value_that_is_not_one_is_a_clear_error(store: AccountStore) -> None:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(
        'schema = 1\n[account]\nsmtp_mail = "gmail"\ndisplay_name = "C"\n'
        'email = "codes@acme.example"\nhosted = "yahoo"\n'
    )
    store.path.chmod(0o600)
    with pytest.raises(StoreError, match='hosted is \'yahoo\'; it is "google" or "microsoft365"'):
        store.saved_config()


def test_gmail_with_mx_elsewhere_is_refused_with_what_the_mx_said(tmp_path: Path) -> None:
    with dns_server(ELSEWHERE) as (nameserver, _):
        env = mailsetup_env(tmp_path, MAILSETUP_NAMESERVER=nameserver)
        ran = run_mailsetup(
            "test", "--smtp-mail", "gmail", "--display-name", "Codes", "--email", LOGIN,
            "--password-stdin", env=env, stdin=PASSWORD + "\n",
        )  # fmt: skip
    assert ran.code == 2
    assert (
        "mailsetup: note: example.com's mail is not handled by Google (MX: mx.hosting.example)"
        in ran.err
    )
    assert "a Gmail address must end in @gmail.com (not @example.com)" in ran.err


def test_no_dns_is_a_note_and_the_usual_rule(tmp_path: Path) -> None:
    env = mailsetup_env(tmp_path, MAILSETUP_NAMESERVER=silent_nameserver())
    ran = run_mailsetup(
        "test", "--smtp-mail", "gmail", "--display-name", "Codes", "--email", LOGIN,
        "--password-stdin", env=env, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert ran.code == 2
    assert "example.com's mail servers could not be looked up" in ran.err
    assert "Traceback" not in ran.err


def test_exchange_warns_about_a_domain_not_at_microsoft_365_and_still_tests(
    monkeypatch: pytest.MonkeyPatch, starttls_server: SmtpServer, certificates: Certificates
) -> None:
    at_loopback(monkeypatch, ProviderId.EXCHANGE, starttls_server)
    out, err = io.StringIO(), io.StringIO()
    with dns_server(ELSEWHERE) as (nameserver, _):
        monkeypatch.setenv("MAILSETUP_NAMESERVER", nameserver)
        monkeypatch.setenv("MAILSETUP_PASSWORD", PASSWORD)
        code = cli.run(
            ["test", "--smtp-mail", "exchange", "--display-name", "Codes", "--email", LOGIN,
             "--ca-file", str(certificates.ca_file)],
            out=out, err=err,
        )  # fmt: skip
    assert code == 0, err.getvalue()
    assert (
        "mailsetup: note: example.com's mail is not handled by Microsoft 365 "
        "(MX: mx.hosting.example)" in err.getvalue()
    )


async def test_the_form_takes_a_workspace_address_once_the_mx_is_googles(
    store: AccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with dns_server(WORKSPACE) as (nameserver, _):
        monkeypatch.setenv("MAILSETUP_NAMESERVER", nameserver)
        app = MailSetupApp(SetupSession(store), environ={"TERM": "xterm-256color"})
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("g", "tab", *"Codes", "tab", *LOGIN, "tab")
            form = app.setup_screen.form
            await form.workers.wait_for_complete()
            await pilot.pause()
            assert form.problem_shown(Field.EMAIL) == ""
            note = app.setup_screen.query_one_optional("#email-note")
            assert note is None or not note.has_class("-visible")
            assert form.values.hosted is Hosted.GOOGLE


@pytest.mark.parametrize(("zone", "taken"), [(WORKSPACE, True), (ELSEWHERE, False)])
def test_the_line_mode_asks_the_mx_after_the_address(
    tmp_path: Path, zone: Zone, taken: bool
) -> None:
    with dns_server(zone) as (nameserver, _):
        env = mailsetup_env(tmp_path, MAILSETUP_NAMESERVER=nameserver)
        ran = run_mailsetup("--plain", env=env, stdin=f"g\nCodes\n{LOGIN}\n")
    refused = "a Gmail address must end in @gmail.com (not @example.com)" in ran.out
    assert refused is not taken
    note = "Note: example.com's mail is not handled by Google (MX: mx.hosting.example)"
    assert (note in ran.out) is not taken
    assert ran.code == 2 and "Input ended: nothing was saved." in ran.out


@pytest.mark.parametrize("take", [True, False])
async def test_the_form_offers_others_server_and_never_fills_it_unasked(
    store: AccountStore, monkeypatch: pytest.MonkeyPatch, take: bool
) -> None:
    from textual.widgets import Input

    from mailsetup_tui.tui.dialogs import ConfirmScreen

    zone: Zone = {("_submissions._tcp.example.com", "SRV"): [SRV(0, 1, 465, "smtp.example.com.")]}
    with dns_server(zone) as (nameserver, _):
        monkeypatch.setenv("MAILSETUP_NAMESERVER", nameserver)
        app = MailSetupApp(SetupSession(store), environ={"TERM": "xterm-256color"})
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("o", "tab", *"Codes", "tab", *LOGIN, "tab")
            form = app.setup_screen.form
            await form.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            assert "Found: smtp.example.com, port 465, TLS (from example.com's SRV record)" in (
                app.screen.question
            )
            await pilot.press("y" if take else "n")
            await pilot.pause()
            server = app.setup_screen.query_one("#server", Input).value
            port = app.setup_screen.query_one("#port", Input).value
            assert (server, port) == (("smtp.example.com", "465") if take else ("", ""))


def test_only_a_fact_that_lets_the_address_pass_is_kept_and_stored(store: AccountStore) -> None:
    """An Exchange account whose domain's mail is elsewhere was once saved with
    hosted = "elsewhere", and then refused to load."""
    from mailsetup_tui.core.account import Account

    exchange = Account.create(ProviderId.EXCHANGE, "C", LOGIN, hosted=Hosted.ELSEWHERE)
    assert exchange.hosted is None
    assert Account.create(ProviderId.GMAIL, "C", LOGIN, hosted=Hosted.ELSEWHERE).hosted is None
    assert Account.create(ProviderId.OTHER, "C", LOGIN, hosted=Hosted.GOOGLE).hosted is None
    store.save(exchange, PASSWORD)
    assert "hosted" not in store.path.read_text()
    assert store.saved_config().account == exchange
