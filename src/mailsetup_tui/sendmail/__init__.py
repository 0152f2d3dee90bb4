"""The sendmail interface: `mailsetup-sendmail`, a link named `sendmail`, `mailsetup sendmail`."""

from mailsetup_tui.sendmail.command import main, run

__all__ = ["main", "run"]
