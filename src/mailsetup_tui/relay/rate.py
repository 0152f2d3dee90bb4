"""How fast one caller may hand messages over: a token bucket per caller.

A runaway cron job or a login form under attack must not spend the provider's daily quota (a
few hundred to a few thousand messages) and get the account blocked for everyone. A caller may
hand over `rate` messages in a burst and `rate` a minute after that; beyond it the relay says
"not now" (4xx, exit 75), which a well-behaved sender retries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimit:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, caller: str, now: float | None = None) -> bool:
        """Take one message's token for `caller`; False when it has none left."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(float(self.per_minute), now)
        refill = (now - bucket.stamp) * self.per_minute / 60.0
        bucket.tokens = min(float(self.per_minute), bucket.tokens + refill)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        if len(self._buckets) > 10_000:  # callers come and go: forget the full ones
            full = [key for key, b in self._buckets.items() if b.tokens >= self.per_minute]
            for key in full:
                del self._buckets[key]
        return True
