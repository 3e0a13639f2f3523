"""Token buckets against abuse of the public chat endpoints.

A bucket holds up to `capacity` tokens and refills at `per_second`; each request takes one, and
a request finding less than one is refused (429) with the seconds until the next token. Buckets
are rows of `webchat_rate_buckets` keyed by what they limit ("visitor:<id>:message",
"ip:<address>:session", ...), so every API process shares them; the row is locked while it is read
and written (FOR UPDATE on PostgreSQL; SQLite's write transaction already holds the database).
Wall time, not the domain clock: this protects against real traffic. A refused request takes
nothing, so a client that waits the time it is told gets through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cuida.clock.service import wall_now
from cuida.common.errors import CuidaError
from cuida.webchat.models import WebchatRateBucket


@dataclass(frozen=True)
class Bucket:
    capacity: float
    per_second: float


# A visitor types: a burst of 10 messages, then one every 3 seconds (20 a minute).
VISITOR_MESSAGES = Bucket(capacity=10, per_second=1 / 3)
# One address may hold many visitors (an office, a shop's wifi): wider, still bounded.
IP_MESSAGES = Bucket(capacity=60, per_second=1)
# New visitor sessions: a browser needs one; a script minting thousands is refused.
IP_SESSIONS = Bucket(capacity=20, per_second=1 / 30)
# Leaving name and email (it links customers): a few tries, then one a minute.
VISITOR_IDENTIFY = Bucket(capacity=5, per_second=1 / 60)


class RateLimited(CuidaError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


def take(*, session: Session, key: str, bucket: Bucket, at: datetime | None = None) -> None:
    """Take one token from `key`'s bucket or raise RateLimited."""
    at = at or wall_now()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(WebchatRateBucket)
        .values(key=key, tokens=bucket.capacity, updated_at=at)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.scalars(
        select(WebchatRateBucket)
        .where(WebchatRateBucket.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    elapsed = max(0.0, (at - row.updated_at).total_seconds())
    tokens = min(bucket.capacity, row.tokens + elapsed * bucket.per_second)
    if tokens < 1:
        wait = math.ceil((1 - tokens) / bucket.per_second)
        raise RateLimited(f"too many requests; try again in {wait} s", retry_after=wait)
    row.tokens = tokens - 1
    row.updated_at = at
