"""The form's keys, in one table: the bindings, the footer, the help screen and the README's
key table are all made from it (a test holds the README to it), so they cannot disagree.

Every action has an F-key and a Ctrl key. The footer shows the same keys on every terminal:
the F-keys (a VT100's PF1-PF4 are F1-F4) and Ctrl+X, which survive the XON/XOFF flow control
that takes Ctrl+S and Ctrl+Q on serial lines and console servers.
"""

from __future__ import annotations

from typing import NamedTuple

from textual.binding import Binding

from mailsetup_tui.core.providers import PROVIDERS, listed


class FormKey(NamedTuple):
    action: str
    keys: tuple[str, ...]
    """Textual's key names; the first is the one the footer shows."""
    label: str
    """The footer's word for it."""
    does: str
    """What it does, for the help screen and the README."""
    footer: bool = True
    on_app: bool = False
    """Bound on the App with priority (quit and redraw work over any dialog)."""


FORM_KEYS: tuple[FormKey, ...] = (
    FormKey(
        "test",
        ("f2", "ctrl+t"),
        "Test",
        "Test: validate, then connect, encrypt, log in and check the sender (nothing is sent)",
    ),
    FormKey(
        "save",
        ("f3", "ctrl+s"),
        "Save",
        "Save: once a test of exactly the values on screen has passed",
    ),
    FormKey(
        "send_test",
        ("f4", "ctrl+n"),
        "Send test",
        "Send test: a test message to an address you give (after a passing test, as Save)",
    ),
    FormKey("reveal", ("ctrl+r",), "Show password", "show the password for 5 seconds"),
    FormKey(
        "ca_file",
        ("f6", "ctrl+o"),
        "CA file",
        "for Other: trust the CAs in a PEM file (a server with a private CA), saved with "
        "the account as --ca-file is; empty: the system's CA store again",
        footer=False,
    ),
    FormKey(
        "cancel_test",
        ("escape",),
        "Cancel test",
        "cancel a running test or Microsoft sign-in; close a dialog",
    ),
    FormKey("help", ("f1", "ctrl+g"), "Help", "this help: each field, and the keys"),
    FormKey(
        "queue",
        ("f5", "ctrl+e"),
        "Queue",
        "the relay's queue, where a relay is set up: r retry, d drop, f flush, Esc back",
    ),
    FormKey(
        "redraw",
        ("ctrl+l",),
        "Redraw",
        "clear the screen and draw it again (after a console message wrote over it)",
        footer=False,
        on_app=True,
    ),
    FormKey(
        "quit",
        ("ctrl+x", "f10", "ctrl+q"),
        "Quit",
        "quit (asks first when there are unsaved changes)",
        on_app=True,
    ),
)


MOVING_KEYS: tuple[tuple[str, str], ...] = (
    ("Tab, Shift+Tab", "next / previous field (disabled fields are skipped)"),
    ("Enter", "in a field: next field; on a button: press it; on a choice: open its list"),
    (
        "Space, Up, Down",
        "on a choice (SMTP Mail, Sign-in, Security): open its list; in the list, Up/Down "
        "move, Enter picks, Esc closes",
    ),
    ("Left, Right", "on a choice: the previous or next option, without opening the list"),
    (
        ", ".join(entry.key.upper() for entry in PROVIDERS.values()),
        f"on SMTP Mail: pick {listed([e.label.split(' (')[0] for e in PROVIDERS.values()])} "
        "at once",
    ),
    ("A, M", "on Sign-in: App password or Microsoft sign-in"),
)
"""Keys the fields and lists handle themselves (their own bindings), as the table words them."""


def spoken(key: str) -> str:
    """A key as the help and the README write it: Ctrl+T, F2, Esc."""
    if key == "escape":
        return "Esc"
    if key.startswith("ctrl+"):
        return "Ctrl+" + key[5:].upper()
    return key.upper() if key.startswith("f") and key[1:].isdigit() else key.capitalize()


def footer_display(key: str) -> str:
    """A key as the compact footer shows it: ^T, F2, Esc."""
    return "^" + key[5:].upper() if key.startswith("ctrl+") else spoken(key)


def bindings(*, on_app: bool) -> list[Binding]:
    """The App's bindings (quit, redraw: priority) or the form screen's."""
    return [
        Binding(
            ",".join(key.keys),
            key.action,
            key.label,
            show=key.footer,
            key_display=footer_display(key.keys[0]),
            priority=on_app,
        )
        for key in FORM_KEYS
        if key.on_app == on_app
    ]


def key_for(action: str) -> str:
    """The footer's key for `action`, for sentences that name it ("Test again (F2)")."""
    return next(footer_display(key.keys[0]) for key in FORM_KEYS if key.action == action)


def key_rows() -> list[tuple[str, str]]:
    """Every key and what it does, in the order the help and the README list them."""
    rows = list(MOVING_KEYS)
    rows += [(", ".join(spoken(name) for name in key.keys), key.does) for key in FORM_KEYS]
    return rows


def markdown_table() -> str:
    """The README's key table."""
    lines = ["| key | what it does |", "|---|---|"]
    lines += [f"| {keys} | {does} |" for keys, does in key_rows()]
    return "\n".join(lines) + "\n"
