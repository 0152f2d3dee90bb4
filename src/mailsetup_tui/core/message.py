"""What makes a message sendable: real recipient addresses and a one-line subject.

Checked before any connection is made, so that a script's typo is a usage error (`mailsetup
send` exits 2, the sendmail command 65) and never a half-sent message.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailsetup_tui.core.account import line_break_in

SUBJECT_MAX = 200


class InvalidMessage(ValueError):
    """A recipient, subject or body that cannot be sent; the text says which and why."""


def checked_recipients(to: str | Sequence[str]) -> tuple[str, ...]:
    """The recipients as normalized addresses; `InvalidMessage` names the first bad one."""
    # Deferred: email-validator builds its tables at import, which start-up does not need.
    from email_validator import EmailNotValidError, validate_email

    addresses = [to] if isinstance(to, str) else list(to)
    if not addresses:
        raise InvalidMessage("give at least one recipient")
    checked = []
    for address in addresses:
        if line_break_in(address):
            raise InvalidMessage(f"recipient {address!r} must be one line (no line breaks)")
        try:
            result = validate_email(
                address.strip(), check_deliverability=False, allow_smtputf8=False
            )
        except EmailNotValidError as error:
            raise InvalidMessage(f"recipient {address.strip()!r}: {error}") from None
        checked.append(result.normalized)
    return tuple(checked)


def check_subject(subject: str) -> None:
    """`InvalidMessage` for a subject that is not one line of at most SUBJECT_MAX characters."""
    if line_break_in(subject):
        raise InvalidMessage("the subject must be one line (no line breaks)")
    if len(subject) > SUBJECT_MAX:
        raise InvalidMessage(f"the subject is longer than {SUBJECT_MAX} characters")
