"""Keeping the password out of every text that leaves the core.

Servers sometimes echo what they were sent, and exceptions carry server replies; anything that
may reach a log, a screen or a script goes through `redact` with the password in hand.
"""

from __future__ import annotations

import base64

MASK = "********"


def redact(text: str, *secrets: str) -> str:
    """`text` with each secret, and the base64 forms SMTP AUTH sends it in, replaced by a mask."""
    for secret in secrets:
        if not secret:
            continue
        for form in _forms(secret):
            text = text.replace(form, MASK)
    return text


def _forms(secret: str) -> list[str]:
    encoded = base64.b64encode(secret.encode("utf-8", "surrogatepass")).decode("ascii")
    # Longest first, so a secret that contains another form is masked whole.
    return sorted({secret, encoded}, key=len, reverse=True)


class SecretsSeen:
    """Every secret one session has handled (passwords, tokens), to mask in any text that
    leaves it: outcome reasons, and the last-resort report of an unexpected error."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def __repr__(self) -> str:
        return f"SecretsSeen({len(self._secrets)})"

    def add(self, *secrets: str) -> None:
        self._secrets.update(secret for secret in secrets if secret)

    def redact(self, text: str) -> str:
        return redact(text, *self._secrets)
