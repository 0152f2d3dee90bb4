"""The relay service (`mailsetup relay`): a front end that takes mail from this host and
delivers it through the saved account, from a durable queue."""

from mailsetup_tui.relay.service import main, run

__all__ = ["main", "run"]
