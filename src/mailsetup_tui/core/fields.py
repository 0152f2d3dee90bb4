"""The account's fields as one table: how each is labelled, held, stored, given and explained.

The form, the line mode, the command line's options, the config file, `show` and its JSON all
read this table rather than listing the fields themselves, so a field is added, renamed or
explained in one row. Labels are the spec's; the order of `FIELDS` is the form's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Field(StrEnum):
    """The form's fields, named as the spec labels them, in the order problems are reported."""

    SMTP_MAIL = "SMTP Mail"
    DISPLAY_NAME = "Display Name"
    EMAIL = "Email"
    PASSWORD = "Password"
    SERVER = "SMTP Server Name"
    PORT = "SMTP Server Port"
    SECURITY = "Security"
    SIGN_IN = "Sign-in"
    CLIENT_ID = "Client ID"
    TENANT = "Tenant"


class FieldSpec(NamedTuple):
    """One field: where each part of the program finds it."""

    field: Field
    attribute: str
    """The `AccountDraft` attribute that holds what was typed or chosen."""
    key: str | None
    """Its key in the config's [account] table and in `show --json` (None: never stored)."""
    option: str | None
    """The command line's option for it (None: not given as an option)."""
    metavar: str | None
    help: str
    """What to enter, in a few words (the option's help)."""
    other_only: bool = False
    """Only Other takes a value: a preset fills it (`Provider.connection`)."""
    microsoft_only: bool = False
    """Only an account with Microsoft sign-in has it."""

    @property
    def dest(self) -> str | None:
        """The option's name in argparse's namespace."""
        return self.option.removeprefix("--").replace("-", "_") if self.option else None

    @property
    def widget_id(self) -> str:
        """The id of the form's control for it (`-label` and `-problem` are its label's and
        its problem line's)."""
        return (self.key or self.attribute).replace("_", "-")


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(Field.SMTP_MAIL, "provider_id", "smtp_mail", "--smtp-mail", None, "the mail service"),
    FieldSpec(
        Field.DISPLAY_NAME,
        "display_name",
        "display_name",
        "--display-name",
        "NAME",
        "the name shown in the From line",
    ),
    FieldSpec(
        Field.EMAIL, "email", "email", "--email", "ADDR", "the address the codes are sent from"
    ),
    FieldSpec(
        Field.SIGN_IN,
        "signin",
        "signin",
        None,
        None,
        "App password, or Microsoft sign-in (OAuth2: no password is stored)",
    ),
    FieldSpec(
        Field.PASSWORD,
        "password",
        None,
        None,
        None,
        "the app password your provider generated (never in the config file)",
    ),
    FieldSpec(
        Field.CLIENT_ID,
        "client_id",
        "client_id",
        "--client-id",
        "GUID",
        "Microsoft sign-in instead of a password: the Application (client) ID of your app "
        "registration (exchange, hotmail, other)",
        microsoft_only=True,
    ),
    FieldSpec(
        Field.TENANT,
        "tenant",
        "tenant",
        "--tenant",
        "ID|DOMAIN",
        "Microsoft sign-in: the Directory (tenant) ID or a domain of it (hotmail: always "
        "consumers)",
        microsoft_only=True,
    ),
    FieldSpec(
        Field.SERVER, "server", "server", "--server", "HOST", "SMTP server name", other_only=True
    ),
    FieldSpec(Field.PORT, "port", "port", "--port", "N", "SMTP server port", other_only=True),
    FieldSpec(
        Field.SECURITY,
        "security",
        "security",
        "--security",
        None,
        "auto (TLS on 465, STARTTLS otherwise; the default), starttls, tls, or none (sends the "
        "password unencrypted)",
        other_only=True,
    ),
)

SPECS: dict[Field, FieldSpec] = {spec.field: spec for spec in FIELDS}

OTHER_ONLY: tuple[FieldSpec, ...] = tuple(spec for spec in FIELDS if spec.other_only)
"""Server, port and security: what a preset fills and only Other takes."""
