"""Where the outcome of Test and Save appears, under the buttons, in the spec's words."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from mailsetup_tui.core.mailer import Sent
from mailsetup_tui.core.probe import MESSAGE_FAILED, MESSAGE_OK, ProbeResult
from mailsetup_tui.core.store import SaveReport, SecretKind


class ResultPanel(Vertical):
    """A headline and a detail line; the state class (-ok, -failed, -busy) styles them."""

    STATES = ("-ok", "-failed", "-busy", "-saved")

    def compose(self) -> ComposeResult:
        yield Static("", id="headline", markup=False)
        yield Static("", id="detail", markup=False)

    def _show(self, state: str | None, headline: str, detail: str = "") -> None:
        for name in self.STATES:
            self.set_class(name == state, name)
        self.query_one("#headline", Static).update(headline)
        self.query_one("#detail", Static).update(detail)

    def clear(self) -> None:
        self._show(None, "")

    def show_testing(self, where: str) -> None:
        self._show("-busy", f"Testing {where} ...", "Esc cancels the test.")

    def show_signing_in(self) -> None:
        self._show("-busy", "Starting Microsoft sign-in ...", "Esc cancels.")

    def show_probe(self, result: ProbeResult, login: str, signed_in_as: str | None = None) -> None:
        if result.ok:
            via = f"over {result.tls_version}" if result.tls_version else "without encryption"
            who = f"Signed in as {signed_in_as}. " if signed_in_as else ""
            self._show(
                "-ok",
                MESSAGE_OK,
                f"{who}Login as {login} accepted {via} in {result.elapsed:.1f} s. Save and "
                "Send test are now available.",
            )
        else:
            assert result.failure is not None
            self._show("-failed", MESSAGE_FAILED, result.failure.reason)

    def show_cancelled(self) -> None:
        self._show("-failed", "Test cancelled.", "Nothing was saved.")

    def show_error(self, headline: str, detail: str) -> None:
        self._show("-failed", headline, detail)

    def show_sending(self, to: str) -> None:
        self._show("-busy", f"Sending a test message to {to} ...")

    def show_sent(self, sent: Sent) -> None:
        self._show(
            "-ok",
            f"Test message sent to {', '.join(sent.recipients)}",
            f"The server accepted it as {sent.message_id}; check that it arrived.",
        )

    def show_saved(self, report: SaveReport) -> None:
        if report.secret.kind is SecretKind.FILE:
            secret = (
                f"No system keyring was found, so the {report.secret_type.noun} is in "
                f"{report.secret.where} "
                "(readable only by you)."
            )
        else:
            secret = f"{report.secret_type.noun.capitalize()} in {report.secret.describe()}."
        backup = (
            f" The unreadable old config was kept as {report.backup_path}."
            if report.backup_path
            else ""
        )
        self._show("-saved", f"Saved to {report.config_path}", secret + backup)
