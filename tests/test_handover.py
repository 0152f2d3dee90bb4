"""The rules that make a handed-over message one a provider accepts (`core.handover`), and the
sendmail command line callers write (`sendmail.options.parse`, `read_message`)."""

from __future__ import annotations

import email
import io
from email.policy import default as default_policy

import pytest

from mailsetup_tui.core.account import Account
from mailsetup_tui.core.handover import (
    Handover,
    Malformed,
    UnknownLocalRecipient,
    prepare,
    to_seven_bit,
)
from mailsetup_tui.core.providers import ProviderId
from mailsetup_tui.sendmail import options as sendmail_options
from mailsetup_tui.sendmail.handoff import read_message
from mailsetup_tui.sendmail.options import (
    FLUSH,
    MODE_BY_NAME,
    QUEUE,
    SEND,
    WHICH,
    OptionError,
    Options,
    parse,
)

ACCOUNT = Account.create(ProviderId.GMAIL, "Acme Codes", "codes@gmail.com")
ALIASES = {"root": "ops@acme.example"}


def prepared_headers(message: bytes) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(message, policy=default_policy)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def body_of(message: bytes) -> bytes:
    return message.split(b"\r\n\r\n", 1)[1]


# --- headers ----------------------------------------------------------------------------------


def test_a_message_without_from_date_or_message_id_gets_the_accounts() -> None:
    handover = Handover(b"Subject: Code\n\nYour code is 482913.\n", ("alice@example.org",))
    prepared = prepare(handover, ACCOUNT)
    message = prepared_headers(prepared.message)
    assert message["From"] == "Acme Codes <codes@gmail.com>"
    assert message["Date"].datetime is not None
    assert message["Message-ID"] == prepared.message_id
    assert prepared.message_id.endswith("@gmail.com>")
    assert prepared.recipients == ("alice@example.org",)
    assert body_of(prepared.message) == b"Your code is 482913.\r\n"
    assert prepared.notes == ()


def test_minus_F_names_a_message_without_from() -> None:
    prepared = prepare(
        Handover(b"Subject: x\n\nbody\n", ("a@example.org",), full_name="Cron"), ACCOUNT
    )
    assert prepared_headers(prepared.message)["From"] == "Cron <codes@gmail.com>"


def test_a_from_with_another_address_is_replaced_and_goes_to_reply_to() -> None:
    handover = Handover(
        b"From: Web Shop <shop@acme.example>\nSubject: x\n\nbody\n", ("a@example.org",)
    )
    prepared = prepare(handover, ACCOUNT)
    message = prepared_headers(prepared.message)
    assert message["From"] == "Web Shop <codes@gmail.com>"
    assert message["Reply-To"] == "Web Shop <shop@acme.example>"
    assert any("replaced by codes@gmail.com" in note for note in prepared.notes)


def test_an_existing_reply_to_is_kept() -> None:
    handover = Handover(
        b"From: shop@acme.example\nReply-To: help@acme.example\n\nbody\n", ("a@example.org",)
    )
    message = prepared_headers(prepare(handover, ACCOUNT).message)
    assert message["From"] == "Acme Codes <codes@gmail.com>"  # no name of its own: the account's
    assert message.get_all("Reply-To") == ["help@acme.example"]


def test_the_accounts_own_from_is_left_as_it_is() -> None:
    raw = (
        b'From: "Codes" <CODES@gmail.com>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n'
        b"Message-ID: <x@y>\n\nb\n"
    )
    prepared = prepare(Handover(raw, ("a@example.org",)), ACCOUNT)
    assert prepared.message.startswith(raw.split(b"\n\n")[0].replace(b"\n", b"\r\n"))
    assert prepared.message_id == "<x@y>"
    assert prepared.notes == ()


def test_crons_local_from_keeps_its_name_and_adds_no_reply_to() -> None:
    raw = b"From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> backup\n\nfailed\n"
    prepared = prepare(Handover(raw, ("root",), full_name="CronDaemon"), ACCOUNT, ALIASES)
    message = prepared_headers(prepared.message)
    assert message["From"] == "Cron Daemon <codes@gmail.com>"
    assert message["Reply-To"] is None
    assert message["To"] == "ops@acme.example"
    assert prepared.recipients == ("ops@acme.example",)


def test_headers_with_control_characters_are_malformed() -> None:
    with pytest.raises(Malformed, match="Subject"):
        prepare(Handover(b"Subject: a\0b\n\nbody\n", ("a@example.org",)), ACCOUNT)


def test_a_message_with_no_headers_at_all_is_all_body() -> None:
    prepared = prepare(Handover(b"disk full on /var\n", ("a@example.org",)), ACCOUNT)
    assert body_of(prepared.message) == b"disk full on /var\r\n"
    assert prepared_headers(prepared.message)["From"] == "Acme Codes <codes@gmail.com>"


def test_an_empty_message_is_malformed() -> None:
    with pytest.raises(Malformed, match="no message"):
        prepare(Handover(b"\n\n", ("a@example.org",)), ACCOUNT)


def test_the_body_is_untouched_but_for_line_endings() -> None:
    body = b"line one\n.leading dot\n\xc3\xa9t\xc3\xa9 8-bit\r\ntrailing spaces   \n\n\nend"
    prepared = prepare(Handover(b"Subject: s\n\n" + body, ("a@example.org",)), ACCOUNT)
    assert body_of(prepared.message) == body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert prepared.eight_bit


def test_folded_headers_stay_folded() -> None:
    raw = b"Subject: a long\n\tsubject line\nX-Thing: 1\n\nbody\n"
    prepared = prepare(Handover(raw, ("a@example.org",)), ACCOUNT)
    assert b"Subject: a long\r\n\tsubject line\r\nX-Thing: 1\r\n" in prepared.message


# --- recipients -------------------------------------------------------------------------------


def test_minus_t_reads_to_cc_and_bcc_and_removes_bcc() -> None:
    raw = (
        b"To: Alice <alice@example.org>, bob@example.org\nCc: carol@example.org\n"
        b"Bcc: secret@example.org\nResent-Bcc: x@example.org\nReturn-Path: <x@y>\n\nbody\n"
    )
    prepared = prepare(Handover(raw, (), from_headers=True), ACCOUNT)
    assert prepared.recipients == (
        "alice@example.org",
        "bob@example.org",
        "carol@example.org",
        "secret@example.org",
    )
    assert b"secret@example.org" not in prepared.message
    assert b"Bcc" not in prepared.message and b"Return-Path" not in prepared.message


def test_argument_recipients_and_minus_t_add_up_without_duplicates() -> None:
    raw = b"To: alice@example.org\n\nbody\n"
    handover = Handover(raw, ("ALICE@example.org", "dave@example.org"), from_headers=True)
    assert prepare(handover, ACCOUNT).recipients == ("ALICE@example.org", "dave@example.org")


def test_no_recipient_at_all_is_malformed() -> None:
    with pytest.raises(Malformed, match="no recipients"):
        prepare(Handover(b"Subject: x\n\nbody\n", (), from_headers=True), ACCOUNT)


def test_local_names_go_to_their_alias_or_the_default() -> None:
    aliases = ALIASES | {"default": "it@acme.example"}
    prepared = prepare(Handover(b"To: www-data\n\nb\n", ("root", "www-data")), ACCOUNT, aliases)
    assert prepared.recipients == ("ops@acme.example", "it@acme.example")
    assert prepared_headers(prepared.message)["To"] == "it@acme.example"


def test_a_local_name_without_an_alias_is_an_unknown_recipient() -> None:
    with pytest.raises(UnknownLocalRecipient) as raised:
        prepare(Handover(b"Subject: x\n\nb\n", ("backup",)), ACCOUNT, ALIASES)
    assert raised.value.name == "backup"


# --- 7-bit servers ----------------------------------------------------------------------------


def test_an_eight_bit_body_becomes_quoted_printable_with_the_same_text() -> None:
    raw = (
        b"Subject: s\nContent-Type: text/plain; charset=utf-8\n\nGr\xc3\xbc\xc3\x9fe, caf\xc3\xa9\n"
    )
    prepared = prepare(Handover(raw, ("a@example.org",)), ACCOUNT)
    seven = to_seven_bit(prepared.message)
    assert seven.isascii()
    message = prepared_headers(seven)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert message.get_content().replace("\r\n", "\n") == "Grüße, café\n"
    assert message["Message-ID"] == prepared.message_id


def test_eight_bit_header_text_becomes_encoded_words() -> None:
    raw = b"From: J\xc3\xb6rg <codes@gmail.com>\nSubject: Gr\xc3\xbc\xc3\x9fe\nX-A: 1\n\nplain\n"
    prepared = prepare(Handover(raw, ("a@example.org",)), ACCOUNT)
    assert prepared.eight_bit  # declared BODY=8BITMIME where offered, as it came
    seven = to_seven_bit(prepared.message)
    assert seven.isascii()
    message = prepared_headers(seven)
    assert (message["From"], message["Subject"], message["X-A"]) == (
        "Jörg <codes@gmail.com>",
        "Grüße",
        "1",
    )
    assert list(message.keys())[:3] == ["From", "Subject", "X-A"]
    assert body_of(seven) == b"plain\r\n"


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-t", "-i"], Options(from_headers=True, dot_ends=False)),  # PHP's mail()
        (
            ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],  # cron
            Options(["root"], dot_ends=False, full_name="CronDaemon"),
        ),
        (["-i", "--", "root", "a@example.org"], Options(["root", "a@example.org"], dot_ends=False)),
        (
            ["-oi", "-f", "www@host", "a@b.c"],
            Options(["a@b.c"], dot_ends=False, sender_wish="www@host"),
        ),
        (
            ["-rwww@host", "-odi", "-odb", "-oep", "-bm", "a@b.c"],
            Options(["a@b.c"], sender_wish="www@host"),
        ),
        (["-ti"], Options(from_headers=True, dot_ends=False)),
        (
            ["-v", "-C", "/etc/x.toml", "a@b.c"],
            Options(["a@b.c"], config="/etc/x.toml", verbose=True),
        ),
        (["-F", "Name With Spaces", "a@b.c"], Options(["a@b.c"], full_name="Name With Spaces")),
        (["a@b.c", "-i"], Options(["a@b.c", "-i"])),  # options end at the first recipient
        (["-B", "8BITMIME", "a@b.c"], Options(["a@b.c"])),
    ],
)
def test_the_command_lines_callers_write(argv: list[str], expected: Options) -> None:
    assert parse(argv) == expected


@pytest.mark.parametrize(
    ("argv", "mode", "name"),
    [
        (["-bp"], QUEUE, "sendmail"),
        ([], QUEUE, "mailq"),
        (["-bi"], sendmail_options.ALIASES, "sendmail"),
        ([], sendmail_options.ALIASES, "newaliases"),
        (["-q"], FLUSH, "sendmail"),
        (["-q30m"], FLUSH, "sendmail"),
        (["--which"], WHICH, "sendmail"),
        (["-bm", "a@b.c"], SEND, "sendmail"),
    ],
)
def test_what_the_name_or_an_option_asks_for_besides_sending(
    argv: list[str], mode: str, name: str
) -> None:
    assert parse(argv, MODE_BY_NAME.get(name, SEND)).mode == mode


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["-x", "a@b.c"], "unknown option -x"),
        (["--to", "a@b.c"], "unknown option --to"),
        (["-bp", "root"], "mailq \\(-bp\\) takes no recipients"),
        (["-q", "a@b.c"], "-q takes no recipients"),
        (["-bs"], "only -bm \\(send\\), -bp"),
        (["--which", "a", "b"], "--which takes at most one path"),
        (["-f"], "-f needs a value"),
    ],
)
def test_what_is_not_sendmail_is_a_usage_error(argv: list[str], error: str) -> None:
    with pytest.raises(OptionError, match=error):
        parse(argv)


def test_a_lone_dot_ends_the_message_unless_minus_i() -> None:
    text = b"Subject: x\n\nbefore\n.\nafter\n"
    assert read_message(io.BytesIO(text), dot_ends=True) == b"Subject: x\n\nbefore\n"
    assert read_message(io.BytesIO(text), dot_ends=False) == text
    assert read_message(io.BytesIO(b"a\r\n.\r\nb"), dot_ends=True) == b"a\r\n"
    assert read_message(io.BytesIO(b"a\n..\nb\n"), dot_ends=True) == b"a\n..\nb\n"
