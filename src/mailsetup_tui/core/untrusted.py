"""Text from a server or the network, made safe to show.

A greeting arrives before TLS, so anyone on the network path can write it; replies, certificate
fields and Microsoft's error descriptions are the other side's words too. Shown raw, an escape
sequence in them retitles or recolours the administrator's terminal, and a bidirectional
override makes a reason read as something else. Everything such text goes through `shown()`
before a terminal, a log or a widget; JSON output keeps the exact text and lets JSON escape it
(`json_text`).
"""

from __future__ import annotations

LIMIT = 600
"""Characters of one shown text at most: enough for any honest reply with its advice, not for
a 10,000-character name that scrolls the real message away."""

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_SHOWN: dict[int, str | None] = {
    **{code: f"\\x{code:02x}" for code in _CONTROLS},
    **dict.fromkeys(map(ord, _BIDI)),
}
"""One translation does it all (no `re`: the sendmail command's fast path uses this)."""
_HIDDEN_IN_JSON = {
    code: f"\\u{code:04x}" for code in [*range(0x7F, 0xA0), 0x2028, 0x2029, *map(ord, _BIDI)]
}


def shown(text: str, limit: int = LIMIT) -> str:
    """`text` with control characters (C0, C1, ESC, DEL, line separators) written as visible
    escapes, bidirectional overrides removed, and at most `limit` characters."""
    text = text.translate(_SHOWN)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def json_text(data: object) -> str:
    """`data` as one line of JSON whose strings are exact, with the characters a terminal would
    act on escaped: JSON escapes C0 itself; C1, DEL, line separators and bidi overrides are
    written as \\u escapes here too (non-ASCII text stays readable)."""
    import json

    return json.dumps(data, ensure_ascii=False).translate(_HIDDEN_IN_JSON)
