"""Keeping a secret out of text that a secret may have entered: a server's reply after AUTH
(servers sometimes echo what they were sent), or an exception's message.

Only such text is masked. Masking elsewhere would give a short password away: with the
password `x`, a certificate subject would come out as `IW7QjtYwU_********v_3Q`. So a secret
shorter than `LONG` is masked only where it stands alone as a word, and the AUTH payloads
(base64 of the password with the login) are masked wherever they appear.
"""

from __future__ import annotations

import base64
import re

MASK = "********"
LONG = 8
"""A secret at least this long is masked wherever it appears: such a run does not occur by
chance in other text. A shorter one only as a word of its own."""


def redact(text: str, *secrets: str) -> str:
    """`text` with each secret, and the base64 form SMTP AUTH LOGIN sends it in, masked."""
    forms = {form for secret in secrets if secret for form in (secret, _b64(secret))}
    # Longest first, so a secret that contains another form is masked whole.
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= LONG:
            text = text.replace(form, MASK)
        else:
            text = re.sub(rf"(?<![\w+/=]){re.escape(form)}(?![\w+/=])", MASK, text)
    return text


def auth_forms(login: str, secret: str) -> tuple[str, ...]:
    """What an AUTH command carries for `login` and `secret`: the secret itself, and the
    PLAIN, LOGIN and XOAUTH2 payloads, each of which a reply might echo."""
    from aiosmtplib.auth import auth_plain_encode, auth_xoauth2_encode

    return (
        secret,
        _b64(secret),
        auth_plain_encode(login, secret).decode("ascii"),
        auth_xoauth2_encode(login, secret).decode("ascii"),
    )


class SecretsSeen:
    """Every secret one session has handled (passwords, tokens), masked in the last-resort
    report of an unexpected error, whose text nobody chose."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def __repr__(self) -> str:
        return f"SecretsSeen({len(self._secrets)})"

    def add(self, *secrets: str) -> None:
        self._secrets.update(secret for secret in secrets if secret)

    def redact(self, text: str) -> str:
        return redact(text, *self._secrets)


def _b64(secret: str) -> str:
    return base64.b64encode(secret.encode("utf-8", "surrogatepass")).decode("ascii")
