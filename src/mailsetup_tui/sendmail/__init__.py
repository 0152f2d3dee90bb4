"""The sendmail interface: `mailsetup-sendmail`, a link named `sendmail`, `mailsetup sendmail`."""

from mailsetup_tui.sendmail.entry import main, run

__all__ = ["main", "run"]
