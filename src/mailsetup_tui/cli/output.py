"""What the CLI prints: the session's sentences as text, or one JSON object per command.

Scripts read the first two lines of `test` and `save` (the result, then the reason) and, with
`--json`, exactly one object on standard output; each object is built in one function here.
"""

from __future__ import annotations

import contextlib
import os
from typing import TextIO

from mailsetup_tui.core.account import DEFAULT_AUTHORITY_HOST, SignInMethod
from mailsetup_tui.core.fields import SPECS, Field
from mailsetup_tui.core.outcomes import SaveOutcome, SendOutcome, TestOutcome, renewal_text
from mailsetup_tui.core.providers import Security, provider
from mailsetup_tui.core.store.types import ConfigLocation, SecretStatus, StoredConfig
from mailsetup_tui.core.untrusted import json_text, shown


class Output:
    """Standard output and error for one command, in text or (`--json`) as JSON."""

    def __init__(
        self, out: TextIO, err: TextIO, *, json: bool, config_path: str | None = None
    ) -> None:
        self.out = out
        self.err = err
        self.json = json
        self.config_path = config_path
        """The config the command works on, once known: every error object names it."""
        self.emitted = False
        """The one JSON object has been printed (an internal error then prints none)."""

    def say(self, *lines: str) -> None:
        """Text for a person; nothing under --json, where standard output is one object."""
        if not self.json:
            for line in lines:
                _write(self.out, line)

    def note(self, line: str) -> None:
        """A line for the person at the terminal that never mixes into standard output."""
        _write(self.err, line)

    def emit_json(self, data: dict[str, object]) -> None:
        if self.json:
            self.emitted = True
            _write(self.out, json_text(data))

    def error(self, kind: str, *reasons: str, prefix: str = "error: ") -> None:
        """A usage, input or store error: each reason on standard error after `prefix`, and
        under --json the error object on standard output."""
        for reason in reasons:
            self.note(f"mailsetup: {prefix}{shown(reason)}")
        self.emit_json(self.error_object(kind, "; ".join(reasons)))

    def error_object(self, kind: str, reason: str) -> dict[str, object]:
        where = {"config_path": self.config_path} if self.config_path else {}
        return error_object(kind, reason) | where

    # --- outcomes -------------------------------------------------------------------------

    def tested(self, outcome: TestOutcome, **extra: object) -> None:
        """The result on the first line and the reason on the second (a contract), or the
        JSON object with `extra` keys."""
        self.say(outcome.headline, outcome.detail)
        self.emit_json(test_object(outcome) | extra)

    def saved(self, outcome: SaveOutcome) -> None:
        self.say(outcome.headline, *outcome.details)

    def sent(self, outcome: SendOutcome, **extra: object) -> None:
        self.say(outcome.headline, outcome.detail)
        self.emit_json(send_object(outcome) | extra)


def _write(stream: TextIO, line: str) -> None:
    """`line` to `stream`, unless its reader has gone (`| head -1`, `| true`): a closed output
    is not a failure of the work, which goes on to its end and its own exit code. Later writes
    to it go nowhere, and so does Python's flush at exit, which would complain."""
    try:
        print(line, file=stream, flush=True)
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)


# --- the JSON objects ------------------------------------------------------------------------


def error_object(kind: str, reason: str) -> dict[str, object]:
    return {
        "status": "error",
        "changed": False,
        "reason_kind": kind,
        "reason": reason,
        "temporary": False,
    }


def failure_fields(outcome: TestOutcome | SendOutcome) -> dict[str, object]:
    """status, reason_kind, reason and temporary: the keys every outcome object starts with.
    The reason is the exact text (a server's words included); JSON escaping keeps it safe."""
    failure = outcome.failure
    if failure is None:
        return {"status": "ok", "reason_kind": None, "reason": None, "temporary": False}
    return {
        "status": "failed",
        "reason_kind": failure.kind.value,
        "reason": failure.reason,
        "temporary": failure.temporary,
    }


def test_object(outcome: TestOutcome) -> dict[str, object]:
    data = failure_fields(outcome) | {"changed": False}
    if outcome.sign_in_failure is not None:
        data["signin"] = outcome.sign_in_failure.value
    return data | {"tls": outcome.result.tls_version, "elapsed": round(outcome.result.elapsed, 3)}


def send_object(outcome: SendOutcome) -> dict[str, object]:
    # Sending changes nothing that is saved: `changed` is about the account, as for test.
    data = failure_fields(outcome) | {"changed": False}
    if outcome.sent is not None:
        data |= {
            "message_id": outcome.sent.message_id,
            "recipients": list(outcome.sent.recipients),
        }
    return data


def no_account_object(location: ConfigLocation, reason: str) -> dict[str, object]:
    """No saved account: a store error (exit 3), as every command reports one."""
    return error_object("no_account", reason) | {"config_path": str(location.path)}


def show_object(
    config: StoredConfig, status: SecretStatus, location: ConfigLocation
) -> dict[str, object]:
    account = config.account
    fields: dict[str, object] = {
        str(SPECS[field].key): value for field, value in account.stored_values().items()
    }
    if account.signin is not None:
        fields["authority_host"] = account.signin.authority_host
    return {
        "status": "ok",
        "changed": False,
        "reason_kind": None,
        "reason": None,
        "temporary": False,
        "account": fields,
        "config_path": str(location.path),
        "chosen": location.chosen.value,
        "ca_file": str(config.ca_file) if config.ca_file else None,
        "readers_group": config.group,
        "aliases": config.alias_map,
        "log": str(config.log) if config.log else None,
        "secret": {
            "type": status.type.value,
            "kind": status.location.place.value,
            "where": status.location.where,
            "state": status.state.value,
            "problem": status.problem,
            "renewed": status.renewed.isoformat() if status.renewed else None,
        },
    }


def show_rows(
    config: StoredConfig, status: SecretStatus, location: ConfigLocation
) -> list[tuple[str, str]]:
    """`show` as "Label: value" rows, labelled as the form labels its fields."""
    account = config.account
    rows = [("Account", location.chosen.value)]
    rows += [(str(field), _shown(field, value)) for field, value in account.stored_values().items()]
    signin = account.signin
    if signin is not None:
        if signin.authority_host != DEFAULT_AUTHORITY_HOST:
            rows.append(("Login host", signin.authority_host))
    rows += [
        ("Trusted CA", str(config.ca_file) if config.ca_file else "the system store"),
        ("Readers", f"the group {config.group}" if config.group else "its owner only"),
        ("Aliases", ", ".join(f"{n} -> {a}" for n, a in config.aliases) or "none"),
        ("Config", str(location.path)),
        ("Password" if signin is None else "Sign-in token", status.describe()),
    ]
    renewal = renewal_text(status.renewed)
    if signin is not None and renewal:
        rows.append(("Sign-in renewed", renewal))
    return rows


def _shown(field: Field, value: str | int) -> str:
    """A stored value as the form shows it: a choice by its label."""
    if field is Field.SMTP_MAIL:
        return provider(str(value)).label
    if field is Field.SECURITY:
        return Security(str(value)).label
    if field is Field.SIGN_IN:
        return SignInMethod(str(value)).label
    return str(value)
