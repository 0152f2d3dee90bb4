"""What the network says about the address typed into Email, for the form.

Gmail takes a Google Workspace address once its domain's MX is seen to be Google's; Exchange
warns when a domain's mail is not at Microsoft 365. For Other, the submission server is looked
for as mail clients look (`core.discovery`) and offered, never filled in unasked. The lookups
run when Email is left, in a worker (the session's `mx_fact` and `discover`, each under a
deadline); each answer is kept per provider and domain, so that DNS is asked once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mailsetup_tui.core.account import AccountDraft
from mailsetup_tui.core.providers import Hosted, ProviderId, provider

if TYPE_CHECKING:
    from mailsetup_tui.core.discovery import Discovery, Found, MxFact

MxLookup = Callable[[AccountDraft], Awaitable["MxFact | None"]]
Discover = Callable[[str], Awaitable["Discovery"]]


def _key(draft: AccountDraft) -> tuple[ProviderId, str]:
    return draft.provider_id, draft.email.strip().rpartition("@")[2].rstrip(".").lower()


class DomainFacts:
    def __init__(self, lookup: MxLookup | None, discover: Discover | None = None) -> None:
        self.lookup = lookup
        self.discover = discover
        self._facts: dict[tuple[ProviderId, str], MxFact | None] = {}
        self._offered: set[str] = set()
        """Domains whose server was looked for (and offered, when found): once each."""

    async def server_to_offer(self, draft: AccountDraft) -> Found | None:
        """For Other: the server found for the address's domain, when it is not what the
        fields say already; None otherwise, or when the domain was looked for before."""
        domain = _key(draft)[1]
        if self.discover is None or draft.provider_id is not ProviderId.OTHER:
            return None
        if "@" not in draft.email or domain in self._offered:
            return None
        self._offered.add(domain)
        try:
            found = (await self.discover(draft.email)).found
        except ValueError:  # not an address yet: the field's own problem says so
            return None
        if found is None:
            return None
        typed = (draft.server.strip().lower(), draft.port.strip(), draft.security)
        if typed == (found.server, str(found.port), found.security):
            return None
        return found

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
