"""Claim queued reactions and hand them to every module that reacts, in one transaction.

Rows are claimed ``FOR UPDATE SKIP LOCKED`` and deleted in the same transaction as the
effects the handlers write (memberships, journey instances, queued messages), so a reaction
is applied once: a worker killed half-way leaves its rows unclaimed for the next worker, and
two workers never take the same row. Reactions of one customer are taken together, oldest
first, so a customer's events are applied in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.db import Database
from tonari.kit.clock import utcnow


@dataclass(frozen=True, slots=True)
class Reaction:
    id: int
    tenant_id: int
    customer_id: int
    kind: str
    entity_id: str | None
    payload: dict[str, Any]
    occurred_at: datetime


# A handler gets one tenant's reactions (oldest first) and the transaction's timestamp.
ReactionHandler = Callable[[AsyncSession, int, Sequence[Reaction], datetime], Awaitable[None]]

# A customer is taken whole by one worker at a time (a transaction-scoped advisory lock on
# the customer), so the customer's reactions are applied in order; a lock already held by
# another worker is skipped, never waited for.
BUSY_PAUSE_SECONDS = 0.05
_LOCK_SPACE = 0x7E4C  # the advisory-lock class id of "reactions of a customer"
_CANDIDATES = text(
    "SELECT DISTINCT ON (customer_id) customer_id, id FROM ("
    " SELECT customer_id, id FROM customer_reactions ORDER BY id LIMIT :scan"
    ") AS head ORDER BY customer_id, id"
)
_LOCK = text(
    "SELECT c FROM unnest(CAST(:customers AS bigint[])) AS c "
    "WHERE pg_try_advisory_xact_lock(:space, (c % 2147483647)::int)"
)
_TAKE = text(
    """
    DELETE FROM customer_reactions
    WHERE customer_id = ANY(CAST(:customers AS bigint[]))
    RETURNING id, tenant_id, customer_id, kind, entity_id, payload, occurred_at
    """
)


def reaction_handlers() -> tuple[ReactionHandler, ...]:
    """Segments keep their memberships current first; journeys react after them (a
    ``segment.entered`` a segment queues is applied in the next batch)."""
    from tonari.journeys.reactions import react_to_reactions as journeys
    from tonari.segments.reactions import react_to_reactions as segments

    return (segments, journeys)


async def dispatch_claimed(
    session: AsyncSession,
    reactions: Sequence[Reaction],
    *,
    at: datetime,
    handlers: Sequence[ReactionHandler] | None = None,
) -> None:
    by_tenant: dict[int, list[Reaction]] = {}
    for reaction in reactions:
        by_tenant.setdefault(reaction.tenant_id, []).append(reaction)
    for handler in handlers if handlers is not None else reaction_handlers():
        for tenant_id, batch in by_tenant.items():
            await handler(session, tenant_id, batch, at)


@dataclass(frozen=True, slots=True)
class Claim:
    reactions: list[Reaction]
    # Reactions are queued but every customer among them is being applied by other workers.
    busy: bool


async def claim_reactions(session: AsyncSession, *, customers: int) -> Claim:
    """Up to ``customers`` customers' queued reactions, removed in this transaction.

    The oldest queued customers are tried a chunk at a time: those another worker holds (its
    deletions are not committed yet, so their rows still look queued here) are passed over.
    """
    heads = (await session.execute(_CANDIDATES, {"scan": customers * 10})).all()
    oldest_first = [row.customer_id for row in sorted(heads, key=lambda row: row.id)]
    locked: list[int] = []
    for start in range(0, len(oldest_first), customers):
        if len(locked) >= customers:
            break
        chunk = oldest_first[start : start + customers - len(locked)]
        got = await session.execute(_LOCK, {"customers": chunk, "space": _LOCK_SPACE})
        locked.extend(got.scalars().all())
    if not locked:
        return Claim([], busy=bool(oldest_first))
    rows = (await session.execute(_TAKE, {"customers": locked})).mappings().all()
    reactions = [Reaction(**row) for row in rows]
    reactions.sort(key=lambda reaction: (reaction.tenant_id, reaction.id))
    return Claim(reactions, busy=False)


async def process_reactions(
    database: Database,
    *,
    customers_per_batch: int = 500,
    budget_seconds: float | None = None,
    handlers: Sequence[ReactionHandler] | None = None,
) -> int:
    """Apply queued reactions batch by batch until none are left (or the budget is spent)."""
    done = 0
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    while deadline is None or time.monotonic() < deadline:
        async with database.transaction() as session:
            claim = await claim_reactions(session, customers=customers_per_batch)
            if claim.reactions:
                await dispatch_claimed(session, claim.reactions, at=utcnow(), handlers=handlers)
        if claim.busy:
            await asyncio.sleep(BUSY_PAUSE_SECONDS)
        elif not claim.reactions:
            break
        done += len(claim.reactions)
    return done
