"""Journeys as a marketer manages them: shipped templates, custom definitions, status, stats.

Enabling a template is idempotent: the journey is created once (or switched back on), and
each message template it sends is created only when the tenant has none with that key, so
a marketer's edits to the wording survive a second ``enable``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.journeys import schemas as s
from tonari.journeys.templates import SHIPPED, ShippedTemplate
from tonari.kit.errors import Conflict, InvalidState, NotFound
from tonari.models.customers import Customer
from tonari.models.journeys import Journey, JourneyInstance, JourneyStepLog
from tonari.models.messaging import MessageTemplate

STATUSES = ("draft", "active", "paused", "archived")
# Which status a journey may move to from which.
MOVES = {
    "pause": ({"active"}, "paused"),
    "resume": ({"paused", "draft"}, "active"),
    "archive": ({"draft", "active", "paused"}, "archived"),
}


def shipped_template(name: str) -> ShippedTemplate:
    try:
        return SHIPPED[name]
    except KeyError:
        raise NotFound(
            f"no shipped journey template {name!r}; see GET /v1/journeys/templates",
            field="name",
            code="unknown_template",
        ) from None


async def list_templates(session: AsyncSession, *, tenant_id: int) -> list[s.TemplateOut]:
    enabled = set(
        await session.scalars(
            select(Journey.template).where(
                Journey.tenant_id == tenant_id,
                Journey.template.is_not(None),
                Journey.status == "active",
            )
        )
    )
    return [
        s.TemplateOut(
            name=t.name,
            title=t.title,
            description=t.description,
            entry=t.entry,
            messages=[m.key for m in t.messages],
            enabled=t.name in enabled,
        )
        for t in SHIPPED.values()
    ]


async def _ensure_message_templates(
    session: AsyncSession, *, tenant_id: int, template: ShippedTemplate, at: datetime
) -> list[str]:
    """Create the message templates the tenant does not have yet; the keys created."""
    from tonari.messaging.templates import check_template

    created = []
    for message in template.messages:
        check_template(
            channel=message.channel, subject=message.subject, html=message.html, text=message.text
        )
        new_id = await session.scalar(
            insert(MessageTemplate)
            .values(
                tenant_id=tenant_id,
                key=message.key,
                channel=message.channel,
                topic=message.topic,
                transactional=False,
                subject=message.subject,
                html=message.html,
                text=message.text,
                version=1,
                created_at=at,
                updated_at=at,
            )
            .on_conflict_do_nothing()
            .returning(MessageTemplate.id)
        )
        if new_id is not None:
            created.append(message.key)
    return created


async def save_journey(
    session: AsyncSession,
    *,
    tenant_id: int,
    body: s.JourneyCreate,
    at: datetime,
    template: str | None = None,
) -> tuple[Journey, bool]:
    """Create the journey (True), or, when the key exists, re-activate it unchanged (False)."""
    definition = s.parse_definition(body.definition)
    entry = definition.entry
    reentry, reentry_days = ("never", None)
    if isinstance(entry, s.EventEntry | s.SegmentEntry):
        reentry, reentry_days = entry.reentry, entry.reentry_days
    new_id = await session.scalar(
        insert(Journey)
        .values(
            tenant_id=tenant_id,
            key=body.key,
            name=body.name,
            template=template,
            definition=definition.model_dump(mode="json", by_alias=True, exclude_none=True),
            entry_kind=s.entry_kind(definition),
            status=body.status,
            priority=body.priority,
            holdout_bp=body.holdout_bp,
            quiet_hours=body.quiet_hours,
            reentry=reentry,
            reentry_days=reentry_days,
            version=1,
            created_at=at,
            updated_at=at,
        )
        .on_conflict_do_nothing()
        .returning(Journey.id)
    )
    if new_id is not None:
        journey = await session.get(Journey, new_id)
        assert journey is not None
        return journey, True
    journey = await get_journey(session, tenant_id=tenant_id, key=body.key)
    if template is None:
        raise Conflict(f"a journey {body.key!r} already exists", field="key", code="journey_exists")
    if journey.template != template:
        raise InvalidState(
            f"the journey {body.key!r} was not made from template {template!r}", field="key"
        )
    if journey.status != "active":
        journey.status = "active"
        journey.updated_at = at
    return journey, False


async def enable_template(
    session: AsyncSession,
    *,
    tenant_id: int,
    name: str,
    at: datetime,
    key: str | None = None,
    holdout_bp: int | None = None,
) -> tuple[Journey, list[str], bool]:
    """Switch a shipped trigger on: (journey, message templates created, journey created?)."""
    template = shipped_template(name)
    created = await _ensure_message_templates(
        session, tenant_id=tenant_id, template=template, at=at
    )
    body = s.JourneyCreate(
        key=key or template.name.replace("_", "-"),
        name=template.title,
        definition=template.definition,
        priority=template.priority,
        holdout_bp=holdout_bp or 0,
    )
    journey, new = await save_journey(
        session, tenant_id=tenant_id, body=body, at=at, template=template.name
    )
    return journey, created, new


async def get_journey(session: AsyncSession, *, tenant_id: int, key: str) -> Journey:
    journey = await session.scalar(
        select(Journey).where(Journey.tenant_id == tenant_id, Journey.key == key)
    )
    if journey is None:
        raise NotFound(f"no journey {key!r}", field="key", code="unknown_journey")
    return journey


async def list_journeys(session: AsyncSession, *, tenant_id: int) -> list[Journey]:
    return list(
        await session.scalars(
            select(Journey).where(Journey.tenant_id == tenant_id).order_by(Journey.key)
        )
    )


async def move_journey(
    session: AsyncSession, *, tenant_id: int, key: str, action: str, at: datetime
) -> Journey:
    """Pause (instances keep their place and wait), resume, or archive a journey."""
    allowed, target = MOVES[action]
    journey = await get_journey(session, tenant_id=tenant_id, key=key)
    if journey.status == target:
        return journey
    if journey.status not in allowed:
        raise InvalidState(
            f"a {journey.status} journey cannot {action}", field="status", code="journey_state"
        )
    await session.execute(
        update(Journey).where(Journey.id == journey.id).values(status=target, updated_at=at)
    )
    if action == "archive":
        # An archived journey's live instances end here: nothing more will be sent.
        await session.execute(
            update(JourneyInstance)
            .where(
                JourneyInstance.journey_id == journey.id,
                JourneyInstance.status.in_(("active", "waiting")),
            )
            .values(status="exited", finished_at=at, wake_at=None, updated_at=at)
        )
    await session.refresh(journey)
    return journey


async def journey_stats(
    session: AsyncSession, journey: Journey
) -> tuple[dict[str, int], list[s.StepStats]]:
    """Instances by status (entered = all), and per step how often each outcome happened."""
    by_status = dict(
        (
            await session.execute(
                select(JourneyInstance.status, func.count())
                .where(JourneyInstance.journey_id == journey.id)
                .group_by(JourneyInstance.status)
            )
        ).all()
    )
    totals = {
        status: int(by_status.get(status, 0))
        for status in ("active", "waiting", "completed", "exited", "converted")
    }
    totals["entered"] = sum(int(v) for v in by_status.values())
    rows = (
        await session.execute(
            select(JourneyStepLog.step_key, JourneyStepLog.outcome, func.count())
            .where(JourneyStepLog.journey_id == journey.id)
            .group_by(JourneyStepLog.step_key, JourneyStepLog.outcome)
            .order_by(JourneyStepLog.step_key, JourneyStepLog.outcome)
        )
    ).all()
    steps: dict[str, dict[str, int]] = {}
    for step_key, outcome, count in rows:
        steps.setdefault(step_key, {})[outcome] = int(count)
    order = list(journey.definition.get("steps", {}))
    ordered = sorted(steps, key=lambda k: order.index(k) if k in order else len(order))
    return totals, [s.StepStats(step=k, outcomes=steps[k]) for k in ordered]


def journey_view(
    journey: Journey,
    stats: tuple[dict[str, int], list[s.StepStats]] | None = None,
) -> s.JourneyOut:
    return s.JourneyOut(
        key=journey.key,
        name=journey.name,
        template=journey.template,
        status=journey.status,
        entry_kind=journey.entry_kind,
        priority=journey.priority,
        holdout_bp=journey.holdout_bp,
        quiet_hours=journey.quiet_hours,
        version=journey.version,
        definition=journey.definition,
        created_at=journey.created_at,
        stats=stats[0] if stats else None,
        steps=stats[1] if stats else None,
    )


async def list_instances(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    status: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> s.InstancesPage:
    journey = await get_journey(session, tenant_id=tenant_id, key=key)
    query = (
        select(JourneyInstance, Customer.external_id)
        .join(Customer, Customer.id == JourneyInstance.customer_id)
        .where(JourneyInstance.tenant_id == tenant_id, JourneyInstance.journey_id == journey.id)
        .order_by(JourneyInstance.id)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(JourneyInstance.status == status)
    if after is not None:
        query = query.where(JourneyInstance.id > after)
    rows = (await session.execute(query)).all()
    items = [
        s.InstanceOut(
            id=row.id,
            customer=external_id,
            entity_key=row.entity_key,
            run=row.run,
            status=row.status,
            step=row.step_key,
            wake_at=row.wake_at,
            entered_at=row.entered_at,
            finished_at=row.finished_at,
            converted_at=row.converted_at,
            state={k: v for k, v in row.state.items() if k != "visits"},
        )
        for row, external_id in rows[:limit]
    ]
    return s.InstancesPage(
        items=items, next_after=items[-1].id if len(rows) > limit and items else None
    )
