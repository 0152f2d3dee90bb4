"""Text from a server or the network, made safe to show.

A greeting arrives before TLS, so anyone on the network path can write it; replies, certificate
fields and Microsoft's error descriptions are the other side's words too. Shown raw, an escape
sequence in them retitles or recolours the administrator's terminal, and a bidirectional
override makes a reason read as something else. Everything such text goes through `shown()`
before a terminal, a log or a widget; JSON output keeps the exact text and lets JSON escape it
(`json_text`).
"""

from __future__ import annotations

import re

LIMIT = 600
"""Characters of one shown text at most: enough for any honest reply with its advice, not for
a 10,000-character name that scrolls the real message away."""

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HIDDEN_IN_JSON = re.compile(f"[\\x7f-\\x9f\\u2028\\u2029{_BIDI}]")


def shown(text: str, limit: int = LIMIT) -> str:
    """`text` with control characters (C0, C1, ESC, DEL, line separators) written as visible
    escapes, bidirectional overrides removed, and at most `limit` characters."""
    text = text.translate({ord(ch): None for ch in _BIDI})
    text = _CONTROLS.sub(lambda match: f"\\x{ord(match[0]):02x}", text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def json_text(data: object) -> str:
    """`data` as one line of JSON whose strings are exact, with the characters a terminal would
    act on escaped: JSON escapes C0 itself; C1, DEL, line separators and bidi overrides are
    written as \\u escapes here too (non-ASCII text stays readable)."""
    import json

    text = json.dumps(data, ensure_ascii=False)
    return _HIDDEN_IN_JSON.sub(lambda match: f"\\u{ord(match[0]):04x}", text)
