"""The layering ARCHITECTURE.md describes: a core without Textual, front ends that are siblings
and leave the behaviour to the session, no import cycle, one table for providers and fields,
and scripts that never load Textual or keyring for `--help`."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import mailsetup_tui
from mailsetup_tui.core.fields import FIELDS, Field
from mailsetup_tui.core.providers import PROVIDERS

PACKAGE = Path(mailsetup_tui.__file__).parent

FRONT_ENDS = ("cli", "line_mode", "relay", "sendmail", "tui")
"""Sibling packages: each gathers input and shows outcomes, and imports none of the others
(`launch`, the `mailsetup` program, is the one module that knows them all)."""

CORE_MODULES = [
    "mailsetup_tui.core.providers",
    "mailsetup_tui.core.fields",
    "mailsetup_tui.core.account",
    "mailsetup_tui.core.credential",
    "mailsetup_tui.core.probe",
    "mailsetup_tui.core.delivery",
    "mailsetup_tui.core.oauth",
    "mailsetup_tui.core.store",
    "mailsetup_tui.core.redact",
    "mailsetup_tui.core.mailer",
    "mailsetup_tui.core.outcomes",
    "mailsetup_tui.core.session",
    "mailsetup_tui.core.handover",
    "mailsetup_tui.core.spool",
    "mailsetup_tui.core.relay_settings",
    "mailsetup_tui.core.relay_wire",
    "mailsetup_tui.exit_codes",
    "mailsetup_tui.mail_log",
    "mailsetup_tui.teletype",
    "mailsetup_tui.cli",
    "mailsetup_tui.sendmail",
    "mailsetup_tui.relay",
    "mailsetup_tui.line_mode",
    "mailsetup_tui.terminal.frugal",
]

BEHAVIOUR = {
    # Opening or acting on the store: the session decides when.
    "mailsetup_tui.core.store.AccountStore",
    "mailsetup_tui.core.store.account_store",
    "mailsetup_tui.core.store.secrets",
    "mailsetup_tui.core.store.files",
    # The SMTP dialogue, sending, logging in.
    "mailsetup_tui.core.probe",
    "mailsetup_tui.core.delivery",
    "mailsetup_tui.core.credential",
    "mailsetup_tui.core.mailer",
    # The Microsoft client (its value types, such as DeviceCode, may be shown).
    "mailsetup_tui.core.oauth.sign_in",
    "mailsetup_tui.core.oauth.refresh",
    "mailsetup_tui.core.oauth.MicrosoftClient",
}
"""What a front end must leave to the session, by module or by name."""

VALUES = {"mailsetup_tui.core.delivery.Sent"}
"""Value types that live beside behaviour and that a front end may show or compare (the relay
records what a burst sent)."""


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its `__init__`)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, name) for every import in `path`, function-local and TYPE_CHECKING ones too;
    name is None for `import module`."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def imported_names(path: Path) -> set[str]:
    """Each import as `module` and as `module.name`."""
    names = set()
    for module, name in imports_of(path):
        names.add(module)
        if name is not None:
            names.add(f"{module}.{name}")
    return names


def imported_modules(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports (`from a import b` is module a.b if it is
    one, else a)."""
    found = set()
    for module, name in imports_of(path):
        target = f"{module}.{name}" if name is not None and f"{module}.{name}" in known else module
        if target in known:
            found.add(target)
    return found


def front_end_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FRONT_ENDS else None


def front_end_files() -> list[Path]:
    return [path for name, path in modules().items() if front_end_of(name)]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in `graph`, as the modules along it, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


# --- layers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_modules_do_not_import_textual(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(loaded)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert finished.stdout.strip() == "[]"


@pytest.mark.parametrize("path", front_end_files(), ids=lambda path: path.stem)
def test_front_ends_leave_the_behaviour_to_the_session(path: Path) -> None:
    names = {
        found
        for module, name in imports_of(path)
        if f"{module}.{name}" not in VALUES
        for found in (module, f"{module}.{name}")
    }
    used = sorted(names & BEHAVIOUR)
    assert used == [], f"{path.relative_to(PACKAGE)} imports {used}: go through the session"


@pytest.mark.parametrize("path", front_end_files(), ids=lambda path: path.stem)
def test_front_ends_do_not_import_each_other(path: Path) -> None:
    known = modules()
    own = front_end_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
    others = sorted(
        module
        for module in imported_modules(path, known)
        if front_end_of(module) not in {None, own}
    )
    assert others == [], f"{path.relative_to(PACKAGE)} imports the front ends {others}"


def test_oauth_and_sending_stay_below_the_store_and_each_other() -> None:
    known = modules()
    oauth = imported_modules(known["mailsetup_tui.core.oauth"], known)
    assert oauth <= {
        "mailsetup_tui.core.account",
        "mailsetup_tui.core.failures",
        "mailsetup_tui.core.redact",
        "mailsetup_tui.core.untrusted",
    }, "oauth is a leaf: value types, the failures it reports, and the text sanitisers"
    for sender in ("mailsetup_tui.core.delivery", "mailsetup_tui.core.probe"):
        imported = imported_modules(known[sender], known)
        assert not {m for m in imported if m.startswith("mailsetup_tui.core.store")}, sender
        assert "mailsetup_tui.core.oauth" not in imported, sender


def test_there_is_no_import_cycle() -> None:
    known = modules()
    graph = {name: imported_modules(path, known) - {name} for name, path in known.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_check_sees_a_cycle_made_by_a_function_local_import(tmp_path: Path) -> None:
    first = tmp_path / "first.py"
    first.write_text("import mailsetup_tui.second\n")
    second = tmp_path / "second.py"
    second.write_text("def later():\n    from mailsetup_tui import first\n")
    known = {"mailsetup_tui.first": first, "mailsetup_tui.second": second}
    graph = {name: imported_modules(path, known) for name, path in known.items()}
    assert find_cycle(graph) == [
        "mailsetup_tui.first",
        "mailsetup_tui.second",
        "mailsetup_tui.first",
    ]


def test_the_architecture_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "from mailsetup_tui.core.store import AccountStore\nimport mailsetup_tui.core.probe\n"
        "def later():\n    from mailsetup_tui.core.oauth import sign_in\n"
    )
    assert imported_names(sneaky) & BEHAVIOUR == {
        "mailsetup_tui.core.store.AccountStore",
        "mailsetup_tui.core.probe",
        "mailsetup_tui.core.oauth.sign_in",
    }


# --- one table for each kind of knowledge --------------------------------------------------


def test_no_two_providers_are_picked_by_the_same_letter() -> None:
    keys = [entry.key for entry in PROVIDERS.values()]
    assert len(set(keys)) == len(keys), keys


def test_the_field_table_names_every_field_once_and_the_draft_holds_each() -> None:
    from dataclasses import fields

    from mailsetup_tui.core.account import AccountDraft

    assert sorted(spec.field for spec in FIELDS) == sorted(Field)
    attributes = {f.name for f in fields(AccountDraft)}
    assert {spec.attribute for spec in FIELDS} <= attributes
    ids = [spec.widget_id for spec in FIELDS]
    assert len(set(ids)) == len(ids)


def string_constants(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


@pytest.mark.parametrize("path", front_end_files(), ids=lambda path: path.stem)
def test_front_ends_do_not_list_the_providers_themselves(path: Path) -> None:
    labels = {entry.label for entry in PROVIDERS.values()}
    letters = ", ".join(entry.key.upper() for entry in list(PROVIDERS.values())[:3])
    for text in string_constants(path):
        assert text not in labels, f"{path.name} spells the provider {text!r}: use PROVIDERS"
        assert letters not in text, f"{path.name} lists the providers' keys: use keys_listed()"


def test_help_does_not_load_keyring_or_textual() -> None:
    # `--help` and validation stay instant on a slow box: keyring probes D-Bus at import.
    code = (
        "import sys, contextlib, io\n"
        "from mailsetup_tui import launch\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    launch.run(['--help'])\n"
        "print(sorted(m for m in ('keyring', 'textual') if m in sys.modules))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert finished.stdout.strip() == "[]"
