"""What the dispatcher reads to decide one message, in as few round trips as the rules allow.

Two statements per message, in the decide transaction:

1. the customer's profile (address, time zone, the template's customer data), taking the
   advisory lock on the customer that serialises their delivery decisions across lanes and
   workers;
2. *after* that lock, in a new statement (so under READ COMMITTED its snapshot includes every
   decision committed by whoever held the lock before): whether the row is still ours (locked
   ``FOR UPDATE``), the customer's consent rows for the topic, and the marketing already sent
   or decided in their local day and week (the frequency caps).

The caps counts must be read after the lock, never prefetched for a batch: another worker may
decide the same customer's other messages in the meantime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.messaging.consents import marketing_allowed
from tonari.messaging.delivery import TenantDelivery
from tonari.messaging.rules import SentCounts, holdout_group, local_day_start, local_week_start
from tonari.models.consents import ALL_MARKETING
from tonari.models.customers import Customer

LOCK_SPACE = 0x7E4D  # advisory-lock class id of "a customer's delivery decision"
_LOCK_KEY_MODULUS = 2147483647


def _lock_key(customer_id: int) -> int:
    return customer_id % _LOCK_KEY_MODULUS


_LOCK = text("SELECT pg_advisory_xact_lock(:space, :key)")
_LOCK_CALL = func.pg_advisory_xact_lock(
    bindparam("space", type_=Integer), bindparam("key", type_=Integer)
)
_LOCK_AND_CUSTOMER = select(Customer, _LOCK_CALL.label("locked")).where(
    Customer.tenant_id == bindparam("tenant"), Customer.id == bindparam("customer")
)
# One round trip after the lock: the row still ours, the consent rows, the caps counts.
# Marketing already sent (or decided and on its way) in the customer's local week and day.
_RULES = text(
    """
    SELECT
        EXISTS (SELECT 1 FROM message_sends WHERE id = :id AND status = 'sending'
                AND claimed_until = :claimed_until FOR UPDATE) AS ours,
        consented.topics, consented.granted, consented.changed_at,
        recent.day, recent.week, recent.channel_day, recent.channel_week
    FROM (
        SELECT array_agg(topic) AS topics, array_agg(granted) AS granted,
               array_agg(changed_at) AS changed_at
        FROM consents WHERE tenant_id = :tenant AND customer_id = :customer
          AND channel = :channel AND topic = ANY(:topics)
    ) AS consented, (
        SELECT count(*) FILTER (WHERE moment >= :day_start) AS day,
               count(*) AS week,
               count(*) FILTER (WHERE channel = :channel AND moment >= :day_start)
                   AS channel_day,
               count(*) FILTER (WHERE channel = :channel) AS channel_week
        FROM (
            SELECT channel, coalesce(sent_at, decided_at) AS moment FROM message_sends
            WHERE tenant_id = :tenant AND customer_id = :customer AND id <> :id
              AND transactional = false AND control_group = 'treated'
              AND status IN ('sent', 'sending')
        ) AS sends
        WHERE moment >= :week_start
    ) AS recent
    """
)


async def lock_and_read_customer(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> Customer | None:
    """Take the customer's decision lock and read their profile (``None``: no such customer)."""
    params = {
        "space": LOCK_SPACE,
        "key": _lock_key(customer_id),
        "tenant": tenant_id,
        "customer": customer_id,
    }
    row = (await session.execute(_LOCK_AND_CUSTOMER, params)).first()
    if row is not None:
        customer: Customer = row[0]
        return customer
    # No profile: the lock is still taken, as for any other customer.
    await session.execute(_LOCK, {"space": LOCK_SPACE, "key": _lock_key(customer_id)})
    return None


@dataclass(frozen=True, slots=True)
class RulesState:
    ours: bool
    consented: bool
    counts: SentCounts


async def read_rules_state(
    session: AsyncSession,
    *,
    send_id: int,
    claimed_until: datetime,
    tenant_id: int,
    customer_id: int,
    channel: str,
    topic: str,
    at: datetime,
    zone: str,
    count_caps: bool,
) -> RulesState:
    """Under the customer's lock: still ours, marketing consent, the caps counts.

    Without ``count_caps`` (transactional mail) the counts are not meaningful (zero window).
    """
    day_start = local_day_start(at, zone) if count_caps else at
    week_start = local_week_start(at, zone) if count_caps else at
    row = (
        await session.execute(
            _RULES,
            {
                "id": send_id,
                "claimed_until": claimed_until,
                "tenant": tenant_id,
                "customer": customer_id,
                "channel": channel,
                "topics": [topic, ALL_MARKETING],
                "day_start": day_start,
                "week_start": week_start,
            },
        )
    ).one()
    topics, granted, changed = row.topics or [], row.granted or [], row.changed_at or []
    consents = {t: (g, c) for t, g, c in zip(topics, granted, changed, strict=True)}
    return RulesState(
        ours=bool(row.ours),
        consented=marketing_allowed(consents, topic),
        counts=SentCounts(
            day=row.day, week=row.week, channel_day=row.channel_day, channel_week=row.channel_week
        ),
    )


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
