"""The demo brand's marketing: segments, every shipped trigger, consents and a mail outbox.

Letters go to a JSON-lines file instead of a mail server, so a newcomer can watch the
triggers fire without configuring SMTP (``docs/sending.md`` says how to switch to SMTP).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.journeys.service import enable_template
from tonari.journeys.templates import SHIPPED
from tonari.messaging.consents import set_consent
from tonari.messaging.delivery import configure_channel
from tonari.models.customers import Customer
from tonari.models.reactions import CustomerReaction
from tonari.segments.service import create_segment

DEMO_SEGMENTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "kitchen-wishlist",
        "Kitchen appliances on the wishlist",
        {"field": "wishlist", "categories": ["kitchen"]},
    ),
    (
        "lapsed-90-days",
        "Bought before, nothing for 90 days",
        {"field": "last_purchase", "more_than_days": 90},
    ),
    (
        "gold-and-premium",
        "Gold and Premium members",
        {"field": "tier", "values": ["gold", "premium"]},
    ),
    (
        "points-expiring-30-days",
        "Points expiring within 30 days",
        {"field": "points_expiring", "within_days": 30},
    ),
)


@dataclass(frozen=True, slots=True)
class DemoMessaging:
    segments: int
    journeys: int
    subscribers: int
    outbox: Path | None


async def set_up_demo_messaging(
    session: AsyncSession, *, tenant_id: int, at: datetime, outbox_dir: Path | None
) -> DemoMessaging:
    """Runs in the caller's transaction. Customers with an e-mail address have opted in to
    marketing mail (the demo's consent source says so)."""
    # Two years of replayed history are not news: triggers start from today, not from a
    # backlog of welcome and tier letters for events long past.
    await session.execute(delete(CustomerReaction).where(CustomerReaction.tenant_id == tenant_id))
    for key, name, definition in DEMO_SEGMENTS:
        await create_segment(
            session, tenant_id=tenant_id, key=key, name=name, definition=definition, at=at
        )
    for template in SHIPPED:
        await enable_template(session, tenant_id=tenant_id, name=template, at=at)
    emails = (
        await session.scalars(
            select(Customer.id).where(
                Customer.tenant_id == tenant_id,
                Customer.email.is_not(None),
                Customer.merged_into_id.is_(None),
            )
        )
    ).all()
    for customer_id in emails:
        await set_consent(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            channel="email",
            topic="marketing",
            granted=True,
            source="demo",
            at=at,
        )
    outbox = None
    if outbox_dir is not None:
        outbox = outbox_dir / "email.jsonl"
        await configure_channel(
            session,
            tenant_id=tenant_id,
            channel="email",
            adapter="file",
            settings={"path": str(outbox)},
            sender="Panasonic Club <club@panasonic-demo.example>",
            at=at,
        )
    return DemoMessaging(len(DEMO_SEGMENTS), len(SHIPPED), len(emails), outbox)
