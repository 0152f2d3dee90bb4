"""The provider catalogue and account validation: one rule per test or table row."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailsetup_tui.core.account import (
    DISPLAY_NAME_MAX,
    Account,
    AccountDraft,
    FieldProblem,
    InvalidAccount,
    port_problem,
    validate,
)
from mailsetup_tui.core.credential import Password
from mailsetup_tui.core.fields import Field
from mailsetup_tui.core.providers import PROVIDERS, ProviderId, Security, provider
from mailsetup_tui.core.session import Tested
from mailsetup_tui.core.store.secrets import Record
from mailsetup_tui.core.store.types import SecretType


def gmail(email: str = "codes@gmail.com", name: str = "Codes") -> Account:
    return Account.create(ProviderId.GMAIL, name, email)


def other(**changes: object) -> Account:
    values: dict[str, object] = {
        "display_name": "Codes",
        "email": "codes@example.com",
        "server": "smtp.example.com",
        "port": 587,
        "security": Security.AUTO,
    }
    values |= changes
    return Account.create(
        ProviderId.OTHER,
        str(values["display_name"]),
        str(values["email"]),
        server=str(values["server"]),
        port=int(str(values["port"])),
        security=Security(str(values["security"])),
    )


def fields(problems: tuple[FieldProblem, ...]) -> list[Field]:
    return [problem.field for problem in problems]


# --- catalogue ------------------------------------------------------------------------------


def test_catalogue_matches_the_design_table() -> None:
    table = {pid: (p.label, p.server, p.port, p.security) for pid, p in PROVIDERS.items()}
    assert table == {
        ProviderId.EXCHANGE: ("Exchange", "smtp.office365.com", 587, Security.STARTTLS),
        ProviderId.GMAIL: ("Gmail", "smtp.gmail.com", 587, Security.STARTTLS),
        ProviderId.HOTMAIL: (
            "Hotmail (Office 365)",
            "smtp-mail.outlook.com",
            587,
            Security.STARTTLS,
        ),
        ProviderId.YAHOO: ("Yahoo", "smtp.mail.yahoo.com", 465, Security.TLS),
        ProviderId.OTHER: ("Other", None, None, Security.AUTO),
    }


@pytest.mark.parametrize(
    ("pid", "domain", "accepted"),
    [
        (ProviderId.GMAIL, "gmail.com", True),
        (ProviderId.GMAIL, "googlemail.com", True),
        (ProviderId.GMAIL, "GMAIL.COM", True),
        (ProviderId.GMAIL, "gmail.co.uk", False),
        (ProviderId.GMAIL, "example.com", False),
        (ProviderId.YAHOO, "yahoo.com", True),
        (ProviderId.YAHOO, "yahoo.co.uk", True),
        (ProviderId.YAHOO, "yahoo.co.jp", True),
        (ProviderId.YAHOO, "yahoo.com.br", True),
        (ProviderId.YAHOO, "ymail.com", True),
        (ProviderId.YAHOO, "rocketmail.com", True),
        (ProviderId.YAHOO, "yahoo.evil.example", False),
        (ProviderId.YAHOO, "notyahoo.com", False),
        (ProviderId.HOTMAIL, "hotmail.com", True),
        (ProviderId.HOTMAIL, "hotmail.co.uk", True),
        (ProviderId.HOTMAIL, "outlook.de", True),
        (ProviderId.HOTMAIL, "outlook.com.au", True),
        (ProviderId.HOTMAIL, "live.com", True),
        (ProviderId.HOTMAIL, "msn.com", True),
        (ProviderId.HOTMAIL, "windowslive.com", True),
        (ProviderId.HOTMAIL, "gmail.com", False),
        (ProviderId.EXCHANGE, "contoso.com", True),
        (ProviderId.OTHER, "anything.example", True),
    ],
)
def test_domain_rules(pid: ProviderId, domain: str, accepted: bool) -> None:
    assert provider(pid).domains.matches(domain) is accepted


@pytest.mark.parametrize(
    ("pid", "typed", "sent"),
    [
        (ProviderId.GMAIL, "abcd efgh ijkl mnop", "abcdefghijklmnop"),
        (ProviderId.YAHOO, "abcd efgh ijkl mnop", "abcdefghijklmnop"),
        (ProviderId.EXCHANGE, "pass word", "pass word"),
        (ProviderId.OTHER, " spaced ", " spaced "),
    ],
)
def test_app_password_grouping_spaces_are_stripped_only_for_gmail_and_yahoo(
    pid: ProviderId, typed: str, sent: str
) -> None:
    assert provider(pid).normalize_password(typed) == sent


def test_security_auto_resolves_by_port() -> None:
    assert Security.AUTO.resolved(465) is Security.TLS
    assert Security.AUTO.resolved(587) is Security.STARTTLS
    assert Security.AUTO.resolved(25) is Security.STARTTLS
    assert Security.NONE.resolved(465) is Security.NONE


# --- validation -----------------------------------------------------------------------------


def test_a_good_account_has_no_problems() -> None:
    assert validate(gmail(), "abcd efgh ijkl mnop") == ()
    assert validate(other(), "pw") == ()


def test_every_problem_is_reported_at_once_in_form_order() -> None:
    account = other(display_name=" ", email="nope", server="", port=0)
    assert fields(validate(account, "")) == [
        Field.DISPLAY_NAME,
        Field.EMAIL,
        Field.PASSWORD,
        Field.SERVER,
        Field.PORT,
    ]


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("codes@example.com", "a Gmail address must end in @gmail.com (not @example.com)"),
        ("codes@gmail.com.evil.example", "must end in @gmail.com"),
        ("codes", "must have an @-sign"),
        ("codes@", "there must be something after the @-sign"),
        ("", "enter the address the codes are sent from"),
        ("co des@gmail.com", "invalid character"),
    ],
)
def test_gmail_email_rules(email: str, message: str) -> None:
    problems = validate(gmail(email))
    assert fields(problems) == [Field.EMAIL]
    assert message in problems[0].message


@pytest.mark.parametrize(
    ("provider_id", "email", "advice"),
    [
        (ProviderId.GMAIL, "codes@acme.com", "a Google Workspace address is taken when its "
         "domain's mail servers (MX) are Google's"),
        (ProviderId.HOTMAIL, "codes@acme.com", "a Microsoft 365 work or school address uses "
         "Exchange"),
    ],
)  # fmt: skip
def test_a_custom_domain_says_which_choice_it_belongs_to(
    provider_id: ProviderId, email: str, advice: str
) -> None:
    (problem,) = validate(Account.create(provider_id, "Codes", email))
    assert problem.field is Field.EMAIL
    assert problem.message.endswith(advice)


def test_email_is_checked_without_dns() -> None:
    # A domain that does not exist is fine: validation must never cause network traffic.
    assert validate(other(email="codes@no-such-domain-4711.example")) == ()


def test_other_accepts_internal_domains_that_presets_reject() -> None:
    # A relay's dotless domain is fine for Other; for a public service it is a typo.
    assert validate(other(email="codes@mailhost")) == ()
    exchange = Account.create(ProviderId.EXCHANGE, "Codes", "codes@mailhost")
    assert fields(validate(exchange)) == [Field.EMAIL]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Codes", None),
        ("Überprüfung \u2013 認証コード", None),  # an en dash
        ("👩‍💻 Ops", None),  # a zero-width joiner is part of the emoji
        ("a" * DISPLAY_NAME_MAX, None),
        ("a" * (DISPLAY_NAME_MAX + 1), "at most 78"),
        ("   ", "enter the name"),
        ("Codes\r\nBcc: victim@example.com", "one line"),
        ("Codes\u2028More", "one line"),
        ("Codes\x07", "control characters"),
        ("Support\u202eevil", "control characters"),
    ],
)
def test_display_name_rules(name: str, problem: str | None) -> None:
    problems = validate(gmail(name=name))
    if problem is None:
        assert problems == ()
    else:
        assert fields(problems) == [Field.DISPLAY_NAME]
        assert problem in problems[0].message


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        ("smtp.example.com", None),
        ("mailhost", None),
        ("192.0.2.10", None),
        ("2001:db8::25", None),
        ("[2001:db8::25]", None),
        ("smtp.bücher.example", None),
        ("smtp://smtp.example.com", "without a scheme"),
        ("smtp.example.com/submit", "without a path"),
        ("smtp.example.com:587", "SMTP Server Port"),
        ("smtp example.com", "spaces"),
        ("-smtp.example.com", "not a valid host name"),
        ("smtp..example.com", "not a valid host name"),
        ("999.1.1.1", "not a valid IP address"),
        ("", "enter the SMTP server"),
    ],
)
def test_server_rules(server: str, problem: str | None) -> None:
    problems = validate(other(server=server))
    if problem is None:
        assert problems == ()
    else:
        assert fields(problems) == [Field.SERVER]
        assert problem in problems[0].message


@pytest.mark.parametrize(("port", "ok"), [(1, True), (65535, True), (0, False), (65536, False)])
def test_port_range(port: int, ok: bool) -> None:
    assert (validate(other(port=port)) == ()) is ok


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("587", 587),
        (" 465 ", 465),
        ("", "enter the port"),
        ("abc", "not a number"),
        ("70000", "out of range"),
        ("٥٨٧", "not a number"),
    ],
)
def test_port_typed_as_text(text: str, result: int | str) -> None:
    problem = port_problem(text)
    if isinstance(result, int):
        assert problem is None
        draft = AccountDraft(ProviderId.OTHER, "Codes", "c@example.com", "pw", "mx.example", text)
        assert draft.check().port == result
    else:
        assert problem is not None and problem.field is Field.PORT and result in problem.message


def test_presets_cannot_change_server_port_or_security() -> None:
    account = Account(
        ProviderId.GMAIL, "Codes", "codes@gmail.com", "smtp.evil.example", 25, Security.NONE
    )
    assert fields(validate(account)) == [Field.SERVER, Field.PORT, Field.SECURITY]


@pytest.mark.parametrize("password", ["", "   ", "line\nbreak", "carriage\rreturn", "nul\x00"])
def test_password_rules(password: str) -> None:
    assert fields(validate(gmail(), password)) == [Field.PASSWORD]


def test_a_draft_checks_into_a_normalized_account_or_raises_with_all_problems() -> None:
    draft = AccountDraft(
        ProviderId.OTHER, "  Codes  ", " Codes@Example.COM ", "pw", " SMTP.Example.com. ", "587"
    )
    checked = draft.check()
    assert (checked.display_name, checked.email, checked.server) == (
        "Codes",
        "Codes@example.com",
        "smtp.example.com",
    )
    with pytest.raises(InvalidAccount) as caught:
        AccountDraft(ProviderId.OTHER, "Codes", "x", "", "", "587").check()
    assert fields(caught.value.problems) == [Field.EMAIL, Field.PASSWORD, Field.SERVER]
    with pytest.raises(InvalidAccount) as caught:
        AccountDraft(ProviderId.OTHER, "Codes", "c@example.com", "pw", "mx.example", "x").check()
    assert [str(problem) for problem in caught.value.problems] == [
        "SMTP Server Port: 'x' is not a number"
    ]


# --- properties: header injection and odd Unicode -------------------------------------------

LINE_BREAKS = st.sampled_from(["\r", "\n", "\r\n", "\x00", "\u2028", "\u2029", "\x85"])


@given(st.text(max_size=20), LINE_BREAKS, st.text(max_size=20))
def test_a_line_break_anywhere_in_any_field_is_rejected(
    before: str, newline: str, after: str
) -> None:
    value = before + newline + after
    assert Field.DISPLAY_NAME in fields(validate(gmail(name="Codes" + value)))
    assert Field.EMAIL in fields(validate(other(email="codes@example.com" + value)))
    assert Field.SERVER in fields(validate(other(server="smtp.example.com" + value)))
    assert Field.PASSWORD in fields(validate(gmail(), "pw" + value))


@given(st.text(min_size=1, max_size=DISPLAY_NAME_MAX))
def test_valid_display_names_make_a_well_formed_from_header(name: str) -> None:
    account = gmail(name=name)
    if validate(account):
        return
    message = EmailMessage(policy=SMTP)
    message["From"] = account.from_address()
    header_bytes = message.as_bytes()
    # One header, ASCII on the wire, no injected second header.
    assert header_bytes.isascii()
    unfolded = header_bytes.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    assert unfolded.count(b"\r\n") == 2  # the From line and the blank line ending the headers
    assert unfolded.startswith(b"From: ")
    assert message["From"].addresses[0].addr_spec == "codes@gmail.com"


def test_non_ascii_display_name_is_rfc2047_encoded() -> None:
    message = EmailMessage(policy=SMTP)
    message["From"] = gmail(name="Überprüfung").from_address()
    assert b"From: =?utf-8?q?=C3=9Cberpr=C3=BCfung?= <codes@gmail.com>" in message.as_bytes()


def test_display_name_with_specials_is_quoted() -> None:
    message = EmailMessage(policy=SMTP)
    message["From"] = gmail(name='Ops, "Night" Team').from_address()
    assert b'From: "Ops, \\"Night\\" Team" <codes@gmail.com>' in message.as_bytes()


def test_a_drafts_repr_leaves_the_password_out() -> None:
    """A draft may end up in a log line or an error report; its password must not."""
    draft = AccountDraft(ProviderId.GMAIL, "Codes", "codes@gmail.com", "abcd efgh ijkl mnop")
    assert "abcd" not in repr(draft) and "codes@gmail.com" in repr(draft)


def test_what_holds_a_secret_never_shows_it_in_its_repr() -> None:
    """A traceback's locals, a log line or a debugger show reprs: a secret's holder names the
    account, never the secret."""
    secret = "abcd efgh ijkl mnop"
    draft = AccountDraft(ProviderId.GMAIL, "Codes", "codes@gmail.com", secret)
    holders = [
        Password(secret),
        Tested(draft, gmail(), secret, Path("/etc/ssl/ca.pem")),
        Record(3, "codes@gmail.com", SecretType.PASSWORD, secret, datetime.now(UTC)),
    ]
    for holder in holders:
        assert "abcd" not in repr(holder) and "abcd" not in str(holder), type(holder).__name__
    assert "codes@gmail.com" in repr(holders[1]) and "codes@gmail.com" in repr(holders[2])
