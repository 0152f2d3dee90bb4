"""A message a local program hands over (through the sendmail command), made into one the
account's provider accepts.

cron, PHP's mail(), mailx and git send-email write a whole RFC 5322 message and expect the
local "MTA" to deliver it. Providers refuse a message whose envelope sender or From is not the
account's own address, so: the envelope sender is always the account's address; a missing
From becomes the account's; a From with another address is replaced, the original going to
Reply-To (so answers still reach the program's idea of a sender); Date and Message-ID are
added when missing; Bcc is removed. Local names (`root`, as cron writes) become addresses
through the config's [aliases]. The body is passed on as it came, but for line endings and,
for a server without 8BITMIME or for a line longer than SMTP allows, quoted-printable. A
control character in a header, in -F or in -f is refused before anything else is done: a CR or
LF there would end the header early and let the caller add headers (a Bcc) of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formataddr, formatdate, getaddresses, make_msgid

from mailsetup_tui.core.account import Account

DEFAULT_ALIAS = "default"
"""The alias for any local name without one of its own."""

_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
_ADDRESS_HEADERS = ("to", "cc", "bcc")
_NAMED = re.compile(r"[^<>]*<([^<>]*)>")
_BARE = re.compile(r"[^\s<>(),;:\"]+")
_DROPPED = {"bcc", "resent-bcc", "return-path"}
"""Bcc must not reach the recipients; Return-Path is the final delivery's to write."""
_FOLDING = re.compile(r"\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
"""Any control character but tab (a CR, LF, NUL, ESC, ...)."""
MAX_LINE = 998
"""Bytes in one line of a message at most (RFC 5321 4.5.3.1.6, without its CRLF)."""


class Malformed(ValueError):
    """The handed-over message cannot be sent as it is (sendmail's EX_DATAERR)."""


class UnknownLocalRecipient(ValueError):
    """A local name (no @) with no alias for it (sendmail's EX_NOUSER)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class Handover:
    """What the calling program passed: the message, and what its command line said."""

    message: bytes
    recipients: tuple[str, ...] = ()
    """Addresses (or local names) from the command line."""
    from_headers: bool = False
    """-t: the recipients are also those in To, Cc and Bcc."""
    sender_wish: str | None = None
    """-f/-r: the envelope sender the caller asked for; recorded, never used (providers refuse
    other senders than the account)."""
    full_name: str | None = None
    """-F: the sender's name, for a message without From."""


@dataclass(frozen=True)
class Prepared:
    """The message as it will be sent, and to whom."""

    message: bytes
    """Headers and body, CRLF line endings."""
    recipients: tuple[str, ...]
    message_id: str
    eight_bit: bool
    """The message holds 8-bit bytes: BODY=8BITMIME, or 7-bit encodings without it."""
    notes: tuple[str, ...] = field(default=())
    """What was changed, for -v."""


@dataclass
class _Header:
    name: str
    raw: bytes
    """The whole field, folded lines included, without its final line ending."""

    @property
    def value(self) -> str:
        text = self.raw.decode("utf-8", "replace").split(":", 1)[1]
        return " ".join(text.split())


def prepare(
    handover: Handover, account: Account, aliases: Mapping[str, str] | None = None
) -> Prepared:
    """The message and envelope recipients for `handover`, sent through `account`; raises
    `Malformed` or `UnknownLocalRecipient` (see the module docstring for the rules)."""
    aliases = aliases or {}
    for option, text in (("-F", handover.full_name), ("-f", handover.sender_wish)):
        if text is not None and _CONTROL.search(text):
            raise Malformed(f"{option} holds control characters")
    if not handover.message.strip():
        raise Malformed("no message on standard input")
    message = handover.message.replace(b"\r\n", b"\n")
    if message.startswith(b"From "):  # an mbox separator, as Postfix's sendmail drops it
        message = message.partition(b"\n")[2]
    headers, body = _split(message)
    notes: list[str] = []
    wanted = [address for entry in handover.recipients for address in _argument_addresses(entry)]
    if handover.from_headers:
        wanted += [
            address
            for header in headers
            if header.name.lower() in _ADDRESS_HEADERS
            for _, address in getaddresses([header.value])
            if address  # none from a group such as `undisclosed-recipients:;`
        ]
    recipients = _resolve(wanted, aliases)
    if not recipients:
        raise Malformed(
            "no recipients: give them as arguments, or -t with To, Cc or Bcc in the message"
        )
    headers = [h for h in headers if h.name.lower() not in _DROPPED]
    headers = [_local_names_resolved(h, aliases) for h in headers]
    headers = _fix_from(headers, account, handover.full_name, notes)
    if not _find(headers, "date"):
        headers.append(_make("Date", formatdate(localtime=True)))
    message_id = next((h.value for h in headers if h.name.lower() == "message-id"), None)
    if message_id is None:
        message_id = make_msgid(domain=account.email.rsplit("@", 1)[1])
        headers.append(_make("Message-ID", message_id))
    message = b"\r\n".join(h.raw.replace(b"\n", b"\r\n") for h in headers)
    message += b"\r\n\r\n" + body.replace(b"\n", b"\r\n")
    if any(len(line) > MAX_LINE for line in message.split(b"\r\n")):
        message = _reencoded(message, seven_bit=False)
        notes.append(f"lines longer than {MAX_LINE} bytes folded or quoted-printable encoded")
    return Prepared(message, recipients, message_id, not message.isascii(), tuple(notes))


def to_seven_bit(message: bytes) -> bytes:
    """`message` with 8-bit body parts as quoted-printable and 8-bit header text (read as
    UTF-8) as RFC 2047 encoded words, for a server without 8BITMIME: 8-bit data it did not
    offer to take may be mangled or refused on its way."""
    return _reencoded(message, seven_bit=True)


def _reencoded(message: bytes, *, seven_bit: bool) -> bytes:
    """`message` re-encoded where it must be: each part whose lines are too long for SMTP, or
    (`seven_bit`) that holds 8-bit data, as quoted-printable; headers folded to short lines
    (and, `seven_bit`, 8-bit header text as encoded words). A message without MIME headers
    gets them, so that what is encoded can be decoded again: text/plain, UTF-8 when its bytes
    are UTF-8."""
    import email.encoders
    from email import message_from_bytes
    from email.policy import SMTP

    parsed = message_from_bytes(message, policy=SMTP)
    fields = [(name, str(value)) for name, value in parsed.items()]
    if seven_bit and not all(value.isascii() for _, value in fields):
        for name in {name for name, _ in fields}:
            del parsed[name]
        for name, value in fields:  # in their order, each written afresh as 7-bit
            parsed[name] = value
    for part in parsed.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        too_long = any(len(line) > MAX_LINE for line in payload.splitlines())
        if too_long or (seven_bit and not payload.isascii()):
            if part is parsed and "MIME-Version" not in parsed:
                parsed["MIME-Version"] = "1.0"
                del parsed["Content-Type"]
                parsed["Content-Type"] = f'text/plain; charset="{_charset(payload)}"'
            del part["Content-Transfer-Encoding"]
            part.set_payload(payload)
            email.encoders.encode_quopri(part)
    return parsed.as_bytes(policy=SMTP.clone(cte_type="7bit" if seven_bit else "8bit"))


def _charset(payload: bytes) -> str:
    if payload.isascii():
        return "us-ascii"
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown-8bit"
    return "utf-8"


# --- the parts ----------------------------------------------------------------------------


def _split(message: bytes) -> tuple[list[_Header], bytes]:
    """Header fields and body. A message that starts with no header at all (`echo text |
    sendmail root`) is all body."""
    lines = message.split(b"\n")
    headers: list[_Header] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line == b"":
            index += 1
            break
        if line[:1] in {b" ", b"\t"} and headers:
            headers[-1].raw += b"\n" + line
        elif _HEADER_LINE.match(line):
            name = line.split(b":", 1)[0].decode("ascii")
            headers.append(_Header(name, line))
        else:
            break  # the first line that is not a header begins the body
        index += 1
    for header in headers:
        # Checked as it came, folding aside, before any whitespace is folded: str.split()
        # would take a bare CR for a space and let `X: a\rBcc: b` through.
        text = _FOLDING.sub("", header.raw.decode("utf-8", "replace"))
        if _CONTROL.search(text):
            raise Malformed(f"the {header.name} header holds control characters")
    return headers, b"\n".join(lines[index:])


def _argument_addresses(entry: str) -> list[str]:
    """The addresses in one recipient argument: `a@b.c`, `Name <a@b.c>`, `root`, or several
    of those separated by commas. Anything else is refused, not guessed at: a parser that
    makes `a b c` into `a` would send a code to someone nobody named."""
    addresses = []
    for piece in entry.split(","):
        piece = piece.strip()
        match = _NAMED.fullmatch(piece)
        address = match[1] if match else piece
        if not _BARE.fullmatch(address) or address.startswith("@") or address.endswith("@"):
            raise Malformed(f"recipient {entry!r} is not an address or a local name")
        addresses.append(address)
    return addresses


def _resolve(wanted: Sequence[str], aliases: Mapping[str, str]) -> tuple[str, ...]:
    resolved: list[str] = []
    seen: set[str] = set()  # not a set rebuilt per address: 12,000 recipients took 20 s
    for address in wanted:
        if "@" not in address:
            alias = _alias_of(address, aliases)
            if alias is None:
                raise UnknownLocalRecipient(address)
            address = alias
        if address.lower() not in seen:
            seen.add(address.lower())
            resolved.append(address)
    return tuple(resolved)


def _alias_of(name: str, aliases: Mapping[str, str]) -> str | None:
    """Where mail to the local `name` goes: its own alias, else the default one."""
    return aliases.get(name) or aliases.get(DEFAULT_ALIAS)


def _local_names_resolved(header: _Header, aliases: Mapping[str, str]) -> _Header:
    """To and Cc written to local names (cron's `To: root`) name their aliases instead: a
    provider may refuse a header address without a domain."""
    if header.name.lower() not in {"to", "cc"}:
        return header
    pairs = getaddresses([header.value])
    if all("@" in address for _, address in pairs if address):
        return header
    fixed = []
    for name, address in pairs:
        if address and "@" not in address:
            address = _alias_of(address, aliases) or address
        fixed.append(formataddr((name, address)))
    return _make(header.name, ", ".join(fixed))


def _fix_from(
    headers: list[_Header], account: Account, full_name: str | None, notes: list[str]
) -> list[_Header]:
    own = account.email.lower()
    existing = _find(headers, "from")
    name = full_name or account.display_name.strip()
    own_from = _make("From", formataddr((name, account.email), charset="utf-8"))
    if existing is None:
        return [own_from, *headers]
    addresses = [address.lower() for _, address in getaddresses([existing.value]) if address]
    if addresses == [own]:
        return headers
    notes.append(f"From {existing.value} replaced by {account.email} (the account's address)")
    keep_name = [n for n, a in getaddresses([existing.value]) if a][:1]
    if keep_name and keep_name[0]:
        own_from = _make("From", formataddr((keep_name[0], account.email), charset="utf-8"))
    result = [own_from if h is existing else h for h in headers]
    if not all("@" in address for address in addresses):
        return result  # `root (Cron Daemon)`: no address anyone could reply to
    if _find(result, "reply-to") is None:
        result.append(_make("Reply-To", existing.value))
        notes.append(f"Reply-To {existing.value} added, so replies still reach it")
    return result


def _find(headers: Sequence[_Header], name: str) -> _Header | None:
    return next((h for h in headers if h.name.lower() == name), None)


def _make(name: str, value: str) -> _Header:
    return _Header(name, f"{name}: {value}".encode())
