"""What the dispatcher reads to decide a chunk of messages, in a fixed number of round trips.

Three statements per chunk (whatever its size), in the decide transaction:

1. the advisory locks on the chunk's customers, taken in one statement in ascending key order
   (so two workers locking overlapping chunks wait for each other instead of deadlocking);
   they serialise every customer's delivery decisions across lanes and workers;
2. the customers' profiles (address, time zone, the template's customer data);
3. *after* the locks, in a new statement (so under READ COMMITTED its snapshot includes every
   decision committed by whoever held a lock before): per message, whether the row is still
   ours (locked ``FOR UPDATE``), the customer's consent rows for the topic, and the marketing
   already sent or decided in their local day and week (the frequency caps), not counting the
   chunk's own messages: the decider adds those as it decides them.

The caps counts are read after the locks, never prefetched for a claim batch: another worker
may decide the same customer's other messages in the meantime.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.messaging.consents import marketing_allowed
from tonari.messaging.delivery import TenantDelivery
from tonari.messaging.rules import SentCounts, holdout_group
from tonari.models.consents import ALL_MARKETING
from tonari.models.customers import Customer

LOCK_SPACE = 0x7E4D  # advisory-lock class id of "a customer's delivery decision"
_LOCK_KEY_MODULUS = 2147483647


def _lock_key(customer_id: int) -> int:
    return customer_id % _LOCK_KEY_MODULUS


# The aggregate consumes the function scan row by row, in array order: keys are locked in the
# order given, which the caller sorts.
_LOCK_MANY = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) "
    "FROM unnest(CAST(:keys AS integer[])) WITH ORDINALITY AS u(k, n)"
)
_RULES = text(
    """
    SELECT v.id,
        (m.status = 'sending' AND m.claimed_until = v.claimed_until) AS ours,
        consented.topics, consented.granted, consented.changed_at,
        recent.day, recent.week, recent.channel_day, recent.channel_week
    FROM unnest(
        CAST(:ids AS bigint[]), CAST(:claimed AS timestamptz[]), CAST(:tenants AS bigint[]),
        CAST(:customers AS bigint[]), CAST(:channels AS text[]), CAST(:topics AS text[]),
        CAST(:day_starts AS timestamptz[]), CAST(:week_starts AS timestamptz[])
    ) AS v(id, claimed_until, tenant_id, customer_id, channel, topic, day_start, week_start)
    JOIN message_sends m ON m.id = v.id
    CROSS JOIN LATERAL (
        SELECT array_agg(c.topic) AS topics, array_agg(c.granted) AS granted,
               array_agg(c.changed_at) AS changed_at
        FROM consents c
        WHERE c.tenant_id = v.tenant_id AND c.customer_id = v.customer_id
          AND c.channel = v.channel AND c.topic IN (v.topic, :all_marketing)
    ) AS consented
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE s.moment >= v.day_start) AS day,
               count(*) AS week,
               count(*) FILTER (WHERE s.channel = v.channel AND s.moment >= v.day_start)
                   AS channel_day,
               count(*) FILTER (WHERE s.channel = v.channel) AS channel_week
        FROM (
            SELECT o.channel, coalesce(o.sent_at, o.decided_at) AS moment FROM message_sends o
            WHERE o.tenant_id = v.tenant_id AND o.customer_id = v.customer_id
              AND o.id <> ALL(CAST(:ids AS bigint[]))
              AND o.transactional = false AND o.control_group = 'treated'
              AND o.status IN ('sent', 'sending')
        ) AS s
        WHERE s.moment >= v.week_start
    ) AS recent
    FOR UPDATE OF m
    """
)


async def lock_customers(session: AsyncSession, customer_ids: Collection[int]) -> None:
    """Take the decision locks of these customers (held until the transaction ends)."""
    keys = sorted({_lock_key(customer_id) for customer_id in customer_ids})
    if keys:
        await session.execute(_LOCK_MANY, {"space": LOCK_SPACE, "keys": keys})


async def read_customers(
    session: AsyncSession, customer_ids: Collection[int]
) -> dict[int, Customer]:
    """The profiles of these customers by id (a missing id has no profile)."""
    if not customer_ids:
        return {}
    rows = await session.scalars(select(Customer).where(Customer.id.in_(list(customer_ids))))
    return {customer.id: customer for customer in rows}


@dataclass(frozen=True, slots=True)
class RulesQuery:
    """One message to read the rules state of; the window starts are in the customer's zone
    (for transactional mail both are the decision instant: no caps to count)."""

    send_id: int
    claimed_until: datetime
    tenant_id: int
    customer_id: int
    channel: str
    topic: str
    day_start: datetime
    week_start: datetime


@dataclass(frozen=True, slots=True)
class RulesState:
    ours: bool
    consented: bool
    counts: SentCounts


async def read_rules_states(
    session: AsyncSession, queries: Sequence[RulesQuery]
) -> dict[int, RulesState]:
    """Under the customers' locks: per send id, still ours, marketing consent, caps counts.

    A send id missing from the answer no longer exists (it is not ours either).
    """
    if not queries:
        return {}
    rows = await session.execute(
        _RULES,
        {
            "ids": [q.send_id for q in queries],
            "claimed": [q.claimed_until for q in queries],
            "tenants": [q.tenant_id for q in queries],
            "customers": [q.customer_id for q in queries],
            "channels": [q.channel for q in queries],
            "topics": [q.topic for q in queries],
            "day_starts": [q.day_start for q in queries],
            "week_starts": [q.week_start for q in queries],
            "all_marketing": ALL_MARKETING,
        },
    )
    topic_of = {q.send_id: q.topic for q in queries}
    states: dict[int, RulesState] = {}
    for row in rows:
        topics, granted, changed = row.topics or [], row.granted or [], row.changed_at or []
        consents = {t: (g, c) for t, g, c in zip(topics, granted, changed, strict=True)}
        states[row.id] = RulesState(
            ours=bool(row.ours),
            consented=marketing_allowed(consents, topic_of[row.id]),
            counts=SentCounts(
                day=row.day,
                week=row.week,
                channel_day=row.channel_day,
                channel_week=row.channel_week,
            ),
        )
    return states


def in_holdout(
    *,
    tenant_id: int,
    customer_id: int,
    transactional: bool,
    holdout_bp: int,
    campaign_id: int | None,
    journey_id: int | None,
    template_key: str,
    delivery: TenantDelivery,
) -> bool:
    """Marketing only: per journey/campaign holdout, then the tenant's global holdout."""
    if transactional:
        return False
    if holdout_bp > 0:
        if campaign_id is not None:
            salt = f"campaign:{campaign_id}"
        elif journey_id is not None:
            salt = f"journey:{journey_id}"
        else:
            salt = f"template:{template_key}"
        if holdout_group(customer_id, salt, holdout_bp):
            return True
    return delivery.holdout_bp > 0 and holdout_group(
        customer_id, f"tenant:{tenant_id}", delivery.holdout_bp
    )
