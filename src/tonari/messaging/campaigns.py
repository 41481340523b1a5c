"""Mass mailings to a segment: throttled, pausable, resumable, never sent twice.

Starting a campaign materialises its audience into the send ledger, chunk by chunk of
customer ids: one row per member keyed uniquely by (campaign, customer, channel), so
starting twice, resuming, or a crash half-way through materialising never queues anyone
twice. The throttle is written into the rows themselves: member *n* gets ``not_before =
start + n × 60 / send_rate_per_minute`` seconds, so however many workers dispatch, the
campaign goes out at its rate. Pausing only flips the campaign's status: the dispatcher
leaves queued rows of a campaign that is not running where they are. Resuming re-spaces the
rows still queued from the moment of the resume (no burst of everything that fell due during
the pause). Progress is the ledger's rows counted by status.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import Conflict, InvalidState, NotFound, ValidationFailed
from tonari.messaging.queue import CHANNELS
from tonari.models.customers import Customer
from tonari.models.delivery import Campaign
from tonari.models.messaging import MessageSend, MessageTemplate
from tonari.models.segments import Segment

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,79}$"
CHUNK = 2_000
FINISHED_STATES = ("finished", "cancelled")
STATUSES = ("queued", "sending", "sent", "skipped", "failed")


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="lowercase letters, digits, - and _")
    name: str = Field(min_length=1, max_length=200)
    segment_key: str | None = Field(default=None, max_length=80)
    definition: dict[str, Any] | None = Field(
        default=None, description="An inline segment definition instead of segment_key"
    )
    channel: str = "email"
    template_key: str = Field(min_length=1, max_length=80)
    topic: str = Field(default="marketing", min_length=1, max_length=64)
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    send_rate_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    holdout_bp: Annotated[int, Field(ge=0, le=10_000)] = 0
    scheduled_at: AwareDatetime | None = None


class CampaignProgress(BaseModel):
    audience: int
    queued: int
    sending: int
    sent: int
    skipped: int
    failed: int
    skipped_by_reason: dict[str, int]
    done: int
    percent: float


class CampaignOut(BaseModel):
    key: str
    name: str
    segment_key: str | None
    definition: dict[str, Any] | None
    channel: str
    template_key: str
    topic: str
    priority: int
    status: str
    send_rate_per_minute: int | None
    holdout_bp: int
    scheduled_at: datetime | None
    started_at: datetime | None
    paused_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    progress: CampaignProgress | None = None


def campaign_view(campaign: Campaign, progress: CampaignProgress | None = None) -> CampaignOut:
    return CampaignOut(
        key=campaign.key,
        name=campaign.name,
        segment_key=campaign.segment_key,
        definition=campaign.definition,
        channel=campaign.channel,
        template_key=campaign.template_key,
        topic=campaign.topic,
        priority=campaign.priority,
        status=campaign.status,
        send_rate_per_minute=campaign.send_rate_per_minute,
        holdout_bp=campaign.holdout_bp,
        scheduled_at=campaign.scheduled_at,
        started_at=campaign.started_at,
        paused_at=campaign.paused_at,
        finished_at=campaign.finished_at,
        created_at=campaign.created_at,
        progress=progress,
    )


def _parse_definition(definition: dict[str, Any]) -> Any:
    from tonari.segments.schemas import NODE_ADAPTER

    try:
        return NODE_ADAPTER.validate_python(definition)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise ValidationFailed(
            f"definition.{place}: {first['msg']}" if place else f"definition: {first['msg']}",
            field=f"definition.{place}" if place else "definition",
        ) from None


async def create_campaign(
    session: AsyncSession, *, tenant_id: int, data: CampaignCreate, at: datetime
) -> Campaign:
    if data.channel not in CHANNELS:
        raise ValidationFailed(
            f"unknown channel {data.channel!r}; use one of {', '.join(CHANNELS)}", field="channel"
        )
    if (data.segment_key is None) == (data.definition is None):
        raise ValidationFailed("give a segment_key or an inline definition", field="segment_key")
    if data.definition is not None:
        _parse_definition(data.definition)
    else:
        await _segment_definition(session, tenant_id=tenant_id, segment_key=data.segment_key)
    campaign = Campaign(
        tenant_id=tenant_id,
        status="scheduled" if data.scheduled_at is not None else "draft",
        created_at=at,
        **data.model_dump(),
    )
    try:
        async with session.begin_nested():
            session.add(campaign)
            await session.flush()
    except Exception as error:
        if "uq_campaigns_tenant_id_key" in str(error):
            raise Conflict(f"campaign {data.key!r} already exists", field="key") from None
        raise
    return campaign


async def _segment_definition(
    session: AsyncSession, *, tenant_id: int, segment_key: str | None
) -> dict[str, Any]:
    definition = await session.scalar(
        select(Segment.definition).where(Segment.tenant_id == tenant_id, Segment.key == segment_key)
    )
    if definition is None:
        raise NotFound(f"no segment {segment_key!r}", field="segment_key")
    return dict(definition)


async def get_campaign(
    session: AsyncSession, *, tenant_id: int, key: str, for_update: bool = False
) -> Campaign:
    query = select(Campaign).where(Campaign.tenant_id == tenant_id, Campaign.key == key)
    if for_update:
        query = query.with_for_update()
    campaign = await session.scalar(query.execution_options(populate_existing=True))
    if campaign is None:
        raise NotFound(f"no campaign {key!r}", field="key")
    return campaign


async def list_campaigns(session: AsyncSession, *, tenant_id: int) -> list[Campaign]:
    rows = await session.scalars(
        select(Campaign).where(Campaign.tenant_id == tenant_id).order_by(Campaign.id)
    )
    return list(rows)


def _spacing(campaign: Campaign) -> timedelta:
    if not campaign.send_rate_per_minute:
        return timedelta(0)
    return timedelta(seconds=60.0 / campaign.send_rate_per_minute)


async def start_campaign(
    session: AsyncSession, *, tenant_id: int, key: str, at: datetime
) -> Campaign:
    """Queue one ledger row per audience member, spaced by the send rate, and run."""
    campaign = await get_campaign(session, tenant_id=tenant_id, key=key, for_update=True)
    if campaign.status not in ("draft", "scheduled"):
        raise InvalidState(
            f"campaign {key!r} is {campaign.status}; only a draft or scheduled one starts",
            field="status",
        )
    template = await session.scalar(
        select(MessageTemplate.id).where(
            MessageTemplate.tenant_id == tenant_id,
            MessageTemplate.key == campaign.template_key,
            MessageTemplate.channel == campaign.channel,
        )
    )
    if template is None:
        raise ValidationFailed(
            f"no {campaign.channel} template {campaign.template_key!r}", field="template_key"
        )
    if campaign.definition is not None:
        definition = campaign.definition
    else:
        definition = await _segment_definition(
            session, tenant_id=tenant_id, segment_key=campaign.segment_key
        )
    audience = await materialise_audience(session, campaign=campaign, definition=definition, at=at)
    campaign.status = "running" if audience else "finished"
    campaign.started_at = at
    campaign.audience_size = audience
    if not audience:
        campaign.finished_at = at
    await session.flush()
    return campaign


async def materialise_audience(
    session: AsyncSession, *, campaign: Campaign, definition: dict[str, Any], at: datetime
) -> int:
    """Ledger rows for every member, in chunks of customer ids; returns the audience size."""
    from tonari.segments.compiler import compile_segment

    node = _parse_definition(definition)
    members = compile_segment(node, tenant_id=campaign.tenant_id, at=at)
    spacing = _spacing(campaign)
    position, last_id = 0, 0
    while True:
        chunk = list(
            await session.scalars(
                members.where(Customer.id > last_id).order_by(Customer.id).limit(CHUNK)
            )
        )
        if not chunk:
            return position
        rows = [
            {
                "tenant_id": campaign.tenant_id,
                "customer_id": customer_id,
                "channel": campaign.channel,
                "template_key": campaign.template_key,
                "topic": campaign.topic,
                "transactional": False,
                "priority": campaign.priority,
                "holdout_bp": campaign.holdout_bp,
                "campaign_id": campaign.id,
                "not_before": at + spacing * (position + offset),
                "created_at": at,
            }
            for offset, customer_id in enumerate(chunk)
        ]
        await session.execute(insert(MessageSend).values(rows).on_conflict_do_nothing())
        position += len(chunk)
        last_id = chunk[-1]


async def pause_campaign(
    session: AsyncSession, *, tenant_id: int, key: str, at: datetime
) -> Campaign:
    campaign = await get_campaign(session, tenant_id=tenant_id, key=key, for_update=True)
    if campaign.status != "running":
        raise InvalidState(f"campaign {key!r} is {campaign.status}, not running", field="status")
    campaign.status, campaign.paused_at = "paused", at
    await session.flush()
    return campaign


_RESPACE = text(
    """
    UPDATE message_sends m
    SET not_before = CAST(:at AS timestamptz) + (r.rank - 1) * CAST(:spacing AS interval)
    FROM (SELECT id, row_number() OVER (ORDER BY not_before, id) AS rank
          FROM message_sends WHERE campaign_id = :campaign AND status = 'queued') AS r
    WHERE m.id = r.id
    """
)


async def resume_campaign(
    session: AsyncSession, *, tenant_id: int, key: str, at: datetime
) -> Campaign:
    """Run again from ``at``, at the campaign's rate; already sent rows are never touched."""
    campaign = await get_campaign(session, tenant_id=tenant_id, key=key, for_update=True)
    if campaign.status != "paused":
        raise InvalidState(f"campaign {key!r} is {campaign.status}, not paused", field="status")
    await session.execute(
        _RESPACE, {"at": at, "spacing": _spacing(campaign), "campaign": campaign.id}
    )
    campaign.status, campaign.paused_at = "running", None
    await session.flush()
    return campaign


async def cancel_campaign(
    session: AsyncSession, *, tenant_id: int, key: str, at: datetime
) -> Campaign:
    """Stop for good: rows still queued are recorded skipped ``cancelled``."""
    campaign = await get_campaign(session, tenant_id=tenant_id, key=key, for_update=True)
    if campaign.status in FINISHED_STATES:
        raise InvalidState(f"campaign {key!r} is already {campaign.status}", field="status")
    await session.execute(
        text(
            "UPDATE message_sends SET status = 'skipped', reason = 'cancelled', decided_at = :at "
            "WHERE campaign_id = :campaign AND status = 'queued'"
        ),
        {"at": at, "campaign": campaign.id},
    )
    campaign.status, campaign.finished_at = "cancelled", at
    await session.flush()
    return campaign


async def campaign_progress(session: AsyncSession, *, campaign: Campaign) -> CampaignProgress:
    rows = await session.execute(
        select(MessageSend.status, MessageSend.reason, func.count())
        .where(MessageSend.tenant_id == campaign.tenant_id, MessageSend.campaign_id == campaign.id)
        .group_by(MessageSend.status, MessageSend.reason)
    )
    counts = dict.fromkeys(STATUSES, 0)
    reasons: dict[str, int] = {}
    for status, reason, count in rows:
        counts[status] = counts.get(status, 0) + count
        if status == "skipped":
            reasons[reason or "unknown"] = reasons.get(reason or "unknown", 0) + count
    done = counts["sent"] + counts["skipped"] + counts["failed"]
    audience = campaign.audience_size
    return CampaignProgress(
        audience=audience,
        queued=counts["queued"],
        sending=counts["sending"],
        sent=counts["sent"],
        skipped=counts["skipped"],
        failed=counts["failed"],
        skipped_by_reason=reasons,
        done=done,
        percent=round(100.0 * done / audience, 1) if audience else 100.0,
    )


async def start_due_campaigns(session: AsyncSession, *, at: datetime) -> int:
    """Start every scheduled campaign whose time has come (any tenant); returns how many."""
    due = await session.execute(
        select(Campaign.tenant_id, Campaign.key)
        .where(Campaign.status == "scheduled", Campaign.scheduled_at <= at)
        .with_for_update(skip_locked=True)
    )
    started = 0
    for tenant_id, key in due.all():
        try:
            async with session.begin_nested():
                await start_campaign(session, tenant_id=tenant_id, key=key, at=at)
            started += 1
        except (ValidationFailed, NotFound) as error:
            await session.execute(
                # Back to draft with the reason: a broken schedule is not retried every tick.
                text(
                    "UPDATE campaigns SET status = 'draft', error = :error "
                    "WHERE tenant_id = :t AND key = :k"
                ),
                {"error": str(error), "t": tenant_id, "k": key},
            )
    return started
