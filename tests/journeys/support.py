"""Drive journeys end to end inside the test's transaction, with explicit instants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tests.messaging.smtp_sink import make_subscriber, send_email_to
from tonari.journeys.runner import process_due_instances, schedule_date_entries
from tonari.messaging.dispatcher import SessionTransactions, dispatch_due_messages
from tonari.models.journeys import JourneyInstance
from tonari.models.messaging import MessageSend
from tonari.reactions.dispatcher import claim_reactions, dispatch_claimed

# Noon in Moscow (the Panasonic programme's zone): outside any quiet hours.
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


async def react(session: Any, at: datetime) -> int:
    """What tonari.reactions.tick does, in the test's transaction, at ``at``."""
    applied = 0
    while True:
        async with session.begin_nested():
            claim = await claim_reactions(session, customers=500)
            if claim.reactions:
                await dispatch_claimed(session, claim.reactions, at=at)
        if not claim.reactions:
            return applied
        applied += len(claim.reactions)


async def tick(session: Any, at: datetime) -> int:
    """What tonari.journeys.tick does: wake the instances due at ``at``."""
    return await process_due_instances(SessionTransactions(session), at=at)


async def dates(session: Any, at: datetime) -> int:
    return await schedule_date_entries(SessionTransactions(session), at=at)


async def deliver(session: Any, at: datetime) -> Any:
    return await dispatch_due_messages(
        SessionTransactions(session), at=at, base_url="http://tonari.test"
    )


async def subscriber(session: Any, tenant: Any, external_id: str, **extra: Any) -> int:
    return await make_subscriber(
        session, tenant_id=tenant.id, external_id=external_id, at=extra.pop("at", T0), **extra
    )


async def mail_to_sink(session: Any, sink: Any, tenant: Any) -> None:
    await send_email_to(sink, session, tenant_id=tenant.id, at=T0)


async def post_event(
    client: Any,
    tenant: Any,
    *,
    event_type: str,
    customer: str,
    at: datetime,
    entity_id: str | None = None,
    payload: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> None:
    event: dict[str, Any] = {
        "event_id": event_id or f"{event_type}-{customer}-{entity_id}-{at.isoformat()}",
        "event_type": event_type,
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer},
        "payload": payload or {},
    }
    if entity_id is not None:
        event["entity_id"] = entity_id
    response = await client.post("/v1/events", json={"events": [event]}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "stored", response.text


async def enable(client: Any, tenant: Any, name: str) -> dict[str, Any]:
    response = await client.post(f"/v1/journeys/templates/{name}/enable", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def instances(session: Any, tenant_id: int) -> list[JourneyInstance]:
    rows = await session.scalars(
        select(JourneyInstance)
        .where(JourneyInstance.tenant_id == tenant_id)
        .order_by(JourneyInstance.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def sends(session: Any, tenant_id: int) -> list[MessageSend]:
    rows = await session.scalars(
        select(MessageSend)
        .where(MessageSend.tenant_id == tenant_id)
        .order_by(MessageSend.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


def text_of(message: Any) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content())
