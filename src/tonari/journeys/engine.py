"""Run an instance's steps from where it stands until it waits or ends.

Every step runs inside the caller's transaction together with the instance's new position,
so a crash rolls both back and the retry repeats the same steps. Side effects are keyed by
(instance, step, visit): the send ledger's unique (instance, step, channel), the ledger's
idempotency key for points, the code batch's issue key for promo codes. A retried step
therefore finds its earlier effect instead of making a second one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.journeys import schemas as s
from tonari.kit.errors import TonariError
from tonari.models.base import table_of
from tonari.models.customers import Customer
from tonari.models.journeys import Journey, JourneyInstance, JourneyStepLog
from tonari.models.ledger import LedgerEntry
from tonari.models.messaging import MessageSend
from tonari.programs.schemas import Programme

# A definition passes check_graph (no loop without a wait), so this only guards the worker
# against a definition edited by hand in the database.
MAX_STEPS_PER_ADVANCE = 200
FINISHED = ("completed", "exited", "converted")


@dataclass
class Position:
    """Where an instance stands after a step: go on, sleep, or finish."""

    next: str | None = None
    wake_at: datetime | None = None
    waiting_kind: str | None = None
    waiting_key: str | None = None
    finish: str | None = None  # completed | exited | converted


@dataclass
class RunContext:
    """What one batch of instances shares: the clock, programmes and zones per tenant."""

    at: datetime
    programmes: dict[int, Programme] = field(default_factory=dict)
    zones: dict[int, str | None] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    # Send-ledger rows of the batch, written together by flush_batch (one round trip).
    sends: list[dict[str, Any]] = field(default_factory=list)
    # (tenant, template key, channel) → the template's (topic, transactional).
    template_kinds: dict[tuple[int, str, str], tuple[str, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedJourney:
    row: Journey
    definition: s.JourneyDefinition


async def programme_of(session: AsyncSession, ctx: RunContext, tenant_id: int) -> Programme:
    from tonari.programs.service import programme_in_force

    if tenant_id not in ctx.programmes:
        _, ctx.programmes[tenant_id] = await programme_in_force(
            session, tenant_id=tenant_id, at=ctx.at
        )
    return ctx.programmes[tenant_id]


async def template_kind(
    session: AsyncSession, ctx: RunContext, tenant_id: int, key: str, channel: str
) -> tuple[str, bool]:
    """The topic and transactional flag of the step's template, which decide the consent a
    message needs (a service notice on its own topic, a tier notice the customer may keep
    while unsubscribed from promotions). A template missing now is queued as marketing: the
    strictest consent; the dispatcher then fails the message naming the template."""
    from tonari.models.messaging import MessageTemplate

    name = (tenant_id, key, channel)
    if name not in ctx.template_kinds:
        row = (
            await session.execute(
                select(MessageTemplate.topic, MessageTemplate.transactional).where(
                    MessageTemplate.tenant_id == tenant_id,
                    MessageTemplate.key == key,
                    MessageTemplate.channel == channel,
                )
            )
        ).first()
        ctx.template_kinds[name] = (row.topic, row.transactional) if row else ("marketing", False)
    return ctx.template_kinds[name]


async def zone_of(session: AsyncSession, ctx: RunContext, instance: JourneyInstance) -> ZoneInfo:
    """The customer's own zone, else the programme's: "until 10:00" is their 10:00."""
    if instance.customer_id not in ctx.zones:
        ctx.zones[instance.customer_id] = await session.scalar(
            select(Customer.time_zone).where(Customer.id == instance.customer_id)
        )
    own = ctx.zones[instance.customer_id]
    if own:
        try:
            return ZoneInfo(own)
        except (KeyError, ValueError):
            pass
    return (await programme_of(session, ctx, instance.tenant_id)).zone


def next_local_time(at: datetime, zone: ZoneInfo, hhmm: str) -> datetime:
    """The first moment strictly after ``at`` when the clock in ``zone`` shows ``hhmm``."""
    wanted = s.parse_local_time(hhmm)
    local = at.astimezone(zone)
    candidate = local.replace(hour=wanted.hour, minute=wanted.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (local + timedelta(days=1)).replace(
            hour=wanted.hour, minute=wanted.minute, second=0, microsecond=0
        )
    return candidate.astimezone(at.tzinfo)


def branch_for(instance_id: int, step_id: str, branches: list[s.Branch]) -> int:
    """A stable choice: the same instance always takes the same branch, even on a retry."""
    digest = hashlib.sha256(f"{instance_id}:{step_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(b.weight for b in branches)
    for index, branch in enumerate(branches):
        if point < branch.weight:
            return index
        point -= branch.weight
    return len(branches) - 1  # pragma: no cover - the weights sum to the modulus


def effect_key(instance: JourneyInstance, step_id: str) -> str:
    """The business key of a step's side effect; a step visited again in a loop gets a new one."""
    visits = int(instance.state.get("visits", {}).get(step_id, 1))
    return step_id if visits <= 1 else f"{step_id}#{visits}"


def _visit(instance: JourneyInstance, step_id: str) -> None:
    state = dict(instance.state)
    visits = dict(state.get("visits", {}))
    visits[step_id] = int(visits.get(step_id, 0)) + 1
    state["visits"] = visits
    instance.state = state


def _remember(instance: JourneyInstance, **values: Any) -> None:
    instance.state = {**instance.state, **values}


def message_context(journey: Journey, instance: JourneyInstance) -> dict[str, Any]:
    """The instance's variables under the template language's queued names: ``cart``,
    ``promo_code``, ``temporary_points``, ``journey`` and the rest under ``data``."""
    state = instance.state
    context: dict[str, Any] = {"journey": {"key": journey.key, "name": journey.name}}
    if state.get("cart_id"):
        context["cart"] = {"id": state["cart_id"]}
    if state.get("promo_code"):
        context["promo_code"] = state["promo_code"]
    if state.get("temporary_points"):
        context["temporary_points"] = {
            "points": state["temporary_points"],
            "expires_at": state.get("temporary_points_expire_at"),
        }
    context["data"] = {
        k: v
        for k, v in state.items()
        if k not in ("visits", "cart_id", "promo_code", "temporary_points")
    }
    return context


async def _send(
    session: AsyncSession,
    ctx: RunContext,
    journey: Journey,
    instance: JourneyInstance,
    step_id: str,
    step: s.SendStep,
) -> str:
    """The send-ledger row of this step, as ``queue_message`` writes it, kept for the batch.

    The row's unique key (instance, step, channel) is what makes the message go once; rows
    are inserted together at the end of the batch, in the same transaction as the step.
    """
    context = message_context(journey, instance)
    if "profile_sections" in step.include:
        programme = await programme_of(session, ctx, instance.tenant_id)
        sections: list[dict[str, Any]] = [
            {"section": name, "points": points}
            for rule in programme.activities
            if rule.sections
            for name, points in rule.sections.items()
        ]
        context["data"]["profile_sections"] = sections
        context["data"]["profile_points_total"] = sum(p["points"] for p in sections)
    topic, transactional = await template_kind(
        session, ctx, instance.tenant_id, step.template, step.channel
    )
    ctx.sends.append(
        {
            "tenant_id": instance.tenant_id,
            "customer_id": instance.customer_id,
            "channel": step.channel,
            "template_key": step.template,
            "topic": topic,
            "transactional": transactional,
            "priority": journey.priority if step.priority is None else step.priority,
            "quiet_hours": journey.quiet_hours,
            "holdout_bp": journey.holdout_bp,
            "journey_id": journey.id,
            "journey_instance_id": instance.id,
            "step_key": effect_key(instance, step_id),
            "context": context,
            "not_before": ctx.at,
            "created_at": ctx.at,
        }
    )
    return "queued"


async def _grant_points(
    session: AsyncSession,
    ctx: RunContext,
    journey: Journey,
    instance: JourneyInstance,
    step_id: str,
    step: s.GrantPointsStep,
) -> str:
    from tonari.ledger import service as ledger
    from tonari.rules.lots import expires_at

    key = f"journey:{instance.id}:{effect_key(instance, step_id)}"
    account = await ledger.lock_account(
        session, tenant_id=instance.tenant_id, customer_id=instance.customer_id
    )
    earlier = await session.scalar(
        select(LedgerEntry.id).where(
            LedgerEntry.tenant_id == instance.tenant_id, LedgerEntry.idempotency_key == key
        )
    )
    if earlier is not None:
        return "already_granted"
    programme = await programme_of(session, ctx, instance.tenant_id)
    await ledger.earn_lots(
        session,
        account,
        [
            ledger.LotToEarn(
                amount=step.points,
                earned_at=ctx.at,
                pending_until=ctx.at,
                expires_at=expires_at(programme, ctx.at),
                source="journey",
            )
        ],
        reason=step.reason or f"journey {journey.key}",
        actor=f"journey:{journey.key}",
        occurred_at=ctx.at,
        idempotency_key=key,
        counter_account="adjustments",
    )
    _remember(instance, points_granted=step.points)
    return "granted"


async def _grant_temporary(
    session: AsyncSession,
    ctx: RunContext,
    journey: Journey,
    instance: JourneyInstance,
    step_id: str,
    step: s.GrantTemporaryPointsStep,
) -> str:
    from tonari.ledger.temporary import grant_temporary_points

    grant = await grant_temporary_points(
        session,
        tenant_id=instance.tenant_id,
        customer_id=instance.customer_id,
        points=step.points,
        expires_in=timedelta(days=step.valid_days),
        only_for_cart=(instance.entity_key or None) if step.for_cart else None,
        reason=f"journey {journey.key}",
        idempotency_key=f"journey:{instance.id}:{effect_key(instance, step_id)}",
        at=ctx.at,
        actor=f"journey:{journey.key}",
    )
    _remember(
        instance,
        temporary_points=step.points,
        temporary_points_expire_at=grant.expires_at.isoformat(),
    )
    return "already_granted" if grant.replayed else "granted"


async def _issue_code(
    session: AsyncSession,
    journey: Journey,
    instance: JourneyInstance,
    step_id: str,
    step: s.IssuePromoCodeStep,
    at: datetime,
) -> str:
    from tonari.codes.issuing import issue_personal_code

    code = await issue_personal_code(
        session,
        tenant_id=instance.tenant_id,
        pool=step.pool,
        customer_id=instance.customer_id,
        at=at,
        reason=f"journey {journey.key}",
        issue_key=f"journey:{instance.id}:{effect_key(instance, step_id)}",
    )
    _remember(instance, promo_code=code)
    return "issued"


async def _set_attribute(
    session: AsyncSession, instance: JourneyInstance, step: s.SetAttributeStep
) -> str:
    await session.execute(
        update(Customer)
        .where(Customer.tenant_id == instance.tenant_id, Customer.id == instance.customer_id)
        .values(
            attributes=Customer.attributes.op("||")(
                func.jsonb_build_object(step.name, literal(step.value, JSONB))
            )
        )
    )
    return "set"


async def matches_condition(
    session: AsyncSession, ctx: RunContext, instance: JourneyInstance, node: Any
) -> bool:
    from tonari.segments.compiler import compile_segment

    programme = await programme_of(session, ctx, instance.tenant_id)
    query = compile_segment(
        node,
        tenant_id=instance.tenant_id,
        at=ctx.at,
        zone=programme.zone,
        customer_ids=[instance.customer_id],
    )
    return (await session.scalar(query.limit(1))) is not None


async def run_step(
    session: AsyncSession,
    ctx: RunContext,
    journey: LoadedJourney,
    instance: JourneyInstance,
    step_id: str,
) -> tuple[Position, str]:
    """Execute one step: where the instance goes next, and the outcome to log."""
    step = journey.definition.steps[step_id]
    at = ctx.at
    row = journey.row
    if isinstance(step, s.WaitStep):
        if step.duration_seconds is not None:
            wake = at + timedelta(seconds=step.duration_seconds)
        else:
            assert step.until_local_time is not None
            wake = next_local_time(at, await zone_of(session, ctx, instance), step.until_local_time)
        return Position(wake_at=wake), "waiting"
    if isinstance(step, s.WaitForEventStep):
        return Position(
            wake_at=at + timedelta(seconds=step.timeout_seconds),
            waiting_kind=step.kind,
            waiting_key=instance.entity_key if step.same_key else None,
        ), "waiting"
    if isinstance(step, s.GoalStep):
        return Position(
            wake_at=at + timedelta(seconds=step.within_seconds),
            waiting_kind=step.event,
            waiting_key=instance.entity_key if step.same_key else None,
        ), "waiting"
    if isinstance(step, s.ExitStep):
        return Position(finish="exited"), "exited"
    if isinstance(step, s.ConditionStep):
        matched = await matches_condition(session, ctx, instance, step.if_)
        return Position(next=step.then if matched else step.else_), "then" if matched else "else"
    if isinstance(step, s.SplitStep):
        index = branch_for(instance.id, step_id, step.branches)
        branch = step.branches[index]
        name = branch.name or f"branch_{index}"
        _remember(instance, branches={**instance.state.get("branches", {}), step_id: name})
        return Position(next=branch.next), name
    if isinstance(step, s.SendStep):
        # No savepoint: queue_message checks its arguments before it writes its one row, and
        # a savepoint per message would cost two more round trips on the hottest step.
        try:
            outcome = await _send(session, ctx, row, instance, step_id, step)
        except TonariError as exc:
            _remember(instance, error={"step": step_id, "code": exc.code, "message": exc.message})
            return Position(finish="exited"), f"failed:{exc.code}"[:40]
        return Position(next=step.next), outcome
    try:
        async with session.begin_nested():
            if isinstance(step, s.GrantPointsStep):
                outcome = await _grant_points(session, ctx, row, instance, step_id, step)
            elif isinstance(step, s.GrantTemporaryPointsStep):
                outcome = await _grant_temporary(session, ctx, row, instance, step_id, step)
            elif isinstance(step, s.IssuePromoCodeStep):
                outcome = await _issue_code(session, row, instance, step_id, step, at)
            else:
                outcome = await _set_attribute(session, instance, step)
    except TonariError as exc:
        # A paused code pool must not stop the letter: it is written to do without a code.
        if isinstance(step, s.IssuePromoCodeStep):
            return Position(next=step.next), f"failed:{exc.code}"[:40]
        _remember(instance, error={"step": step_id, "code": exc.code, "message": exc.message})
        return Position(finish="exited"), f"failed:{exc.code}"[:40]
    return Position(next=step.next), outcome


def _log(ctx: RunContext, instance: JourneyInstance, step_id: str, outcome: str) -> None:
    ctx.log.append(
        {
            "tenant_id": instance.tenant_id,
            "journey_id": instance.journey_id,
            "instance_id": instance.id,
            "step_key": step_id,
            "outcome": outcome,
            "at": ctx.at,
        }
    )


def finish(ctx: RunContext, instance: JourneyInstance, status: str, step_id: str | None) -> None:
    instance.status = status
    instance.finished_at = ctx.at
    if status == "converted":
        instance.converted_at = ctx.at
    instance.wake_at = instance.waiting_kind = instance.waiting_key = None
    instance.timeout_at = None
    if step_id is not None:
        instance.step_key = step_id
    _log(ctx, instance, step_id or "-", status)


async def advance(
    session: AsyncSession,
    ctx: RunContext,
    journey: LoadedJourney,
    instance: JourneyInstance,
    step_id: str | None,
) -> None:
    """Run from ``step_id`` (None: the journey is done) until the instance waits or ends."""
    instance.status = "active"
    instance.attempt += 1
    instance.updated_at = ctx.at
    last = instance.step_key
    for _ in range(MAX_STEPS_PER_ADVANCE):
        if step_id is None:
            finish(ctx, instance, "completed", last)
            return
        _visit(instance, step_id)
        position, outcome = await run_step(session, ctx, journey, instance, step_id)
        _log(ctx, instance, step_id, outcome)
        last = step_id
        if position.finish is not None:
            instance.status = position.finish
            instance.finished_at = ctx.at
            instance.step_key = step_id
            instance.wake_at = instance.waiting_kind = instance.waiting_key = None
            return
        if position.wake_at is not None:
            instance.status = "waiting"
            instance.step_key = step_id
            instance.wake_at = instance.timeout_at = position.wake_at
            instance.waiting_kind = position.waiting_kind
            instance.waiting_key = position.waiting_key
            return
        step_id = position.next
    _remember(instance, error={"step": step_id, "code": "too_many_steps"})
    finish(ctx, instance, "exited", step_id)


def after_wake(journey: LoadedJourney, instance: JourneyInstance) -> str | None:
    """Where a woken instance goes. A wait for an event takes its timeout branch; a goal
    step that timed out ends the journey (completed, no conversion)."""
    if instance.step_key is None:  # a date entry scheduled ahead: start now
        return journey.definition.start
    step = journey.definition.steps.get(instance.step_key)
    if isinstance(step, s.WaitForEventStep):
        return step.on_timeout
    if isinstance(step, s.WaitStep):
        return step.next
    return None


def after_event(journey: LoadedJourney, instance: JourneyInstance) -> tuple[str | None, bool]:
    """Where an instance waiting for an event goes once the event came."""
    step = journey.definition.steps.get(instance.step_key or "")
    if isinstance(step, s.WaitForEventStep):
        return step.on_event, False
    return None, True  # a goal step reached


async def flush_batch(session: AsyncSession, ctx: RunContext) -> None:
    """The batch's queued messages and step log, one statement each."""
    from tonari.messaging.queue import notify_dispatcher

    await session.flush()
    if ctx.sends:
        await session.execute(pg_insert(table_of(MessageSend)).on_conflict_do_nothing(), ctx.sends)
        ctx.sends.clear()
        await notify_dispatcher(session)
    if ctx.log:
        await session.execute(insert(table_of(JourneyStepLog)), ctx.log)
        ctx.log.clear()


def in_goal_window(journey: LoadedJourney, instance: JourneyInstance, at: datetime) -> bool:
    goal = journey.definition.goal
    return goal is not None and at <= instance.entered_at + timedelta(seconds=goal.within_seconds)
