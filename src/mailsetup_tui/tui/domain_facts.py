"""What the MX of each domain typed into Email said, for the form.

Gmail takes a Google Workspace address once its domain's MX is seen to be Google's; Exchange
warns when a domain's mail is not at Microsoft 365. The lookup runs when Email is left, in a
worker (the session's `mx_fact`, under a short deadline); the answer is kept per provider and
domain, so that typing the address again or leaving the field twice asks DNS once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mailsetup_tui.core.account import AccountDraft
from mailsetup_tui.core.providers import Hosted, ProviderId, provider

if TYPE_CHECKING:
    from mailsetup_tui.core.discovery import MxFact

MxLookup = Callable[[AccountDraft], Awaitable["MxFact | None"]]


def _key(draft: AccountDraft) -> tuple[ProviderId, str]:
    return draft.provider_id, draft.email.strip().rpartition("@")[2].rstrip(".").lower()


class DomainFacts:
    def __init__(self, lookup: MxLookup | None) -> None:
        self.lookup = lookup
        self._facts: dict[tuple[ProviderId, str], MxFact | None] = {}

    def wanted(self, draft: AccountDraft) -> bool:
        """Whether leaving Email should ask DNS about `draft`'s domain (not yet asked, and
        the provider is one whose MX says something)."""
        return (
            self.lookup is not None
            and provider(draft.provider_id).mx_service is not None
            and "@" in draft.email
            and _key(draft) not in self._facts
        )

    async def learn(self, draft: AccountDraft) -> None:
        assert self.lookup is not None
        self._facts[_key(draft)] = await self.lookup(draft)

    def hosted(self, draft: AccountDraft) -> Hosted | None:
        fact = self._facts.get(_key(draft))
        return fact.hosted if fact is not None else None

    def note(self, draft: AccountDraft) -> str:
        """What to say under Email: a domain not handled by the provider's service, or DNS
        that could not be asked; nothing when the MX agrees."""
        fact = self._facts.get(_key(draft))
        if fact is None or fact.note is None:
            return ""
        if fact.hosted is provider(draft.provider_id).mx_service:
            return ""
        return fact.note
