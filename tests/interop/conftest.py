"""The interop suite's mail system: one private Postfix + Dovecot for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.mailsystem import MailSystem, missing, running_mail_system

WHY_NOT = missing()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if WHY_NOT is None:
        return
    skip = pytest.mark.skip(reason=f"interop suite skipped: {WHY_NOT}")
    for item in items:
        if "interop" in item.path.parts:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mail_system() -> Iterator[MailSystem]:
    with running_mail_system() as system:
        yield system
