"""How journeys react to queued customer reactions (see tonari.reactions.dispatcher).

Per reaction, oldest first: instances waiting for this event (same key) move on; instances
whose goal this is convert; then the journeys this event starts are entered and run up to
their first wait. All of it happens in the dispatcher's transaction, which also deletes the
reaction, so a reaction is applied to journeys once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.journeys import schemas as s
from tonari.journeys.engine import (
    LoadedJourney,
    RunContext,
    advance,
    after_event,
    finish,
    flush_batch,
    in_goal_window,
    matches_condition,
)
from tonari.journeys.runner import active_journeys, enter
from tonari.models.journeys import JourneyInstance
from tonari.reactions.dispatcher import Reaction


def _entity_key(entry: s.EventEntry | s.SegmentEntry, reaction: Reaction) -> str | None:
    if isinstance(entry, s.SegmentEntry):
        return ""
    if entry.key == "entity":
        return reaction.entity_id  # None: an entity journey ignores events without one
    if entry.key == "each":
        return f"r{reaction.id}"
    return ""


def _starts(journey: LoadedJourney, reaction: Reaction) -> bool:
    entry = journey.definition.entry
    if isinstance(entry, s.SegmentEntry):
        return reaction.kind == "segment.entered" and reaction.entity_id == entry.segment
    return isinstance(entry, s.EventEntry) and entry.event == reaction.kind


async def _passes_filter(
    session: AsyncSession, ctx: RunContext, journey: LoadedJourney, instance: JourneyInstance
) -> bool:
    entry = journey.definition.entry
    if not isinstance(entry, s.EventEntry) or entry.filter is None:
        return True
    return await matches_condition(session, ctx, instance, entry.filter)


async def _live_instances(
    session: AsyncSession, tenant_id: int, reaction: Reaction
) -> list[JourneyInstance]:
    """The customer's live instances this event may concern, locked (a due-instances worker
    holding one finishes first; the WHERE is checked again on the row it left)."""
    return list(
        await session.scalars(
            select(JourneyInstance)
            .where(
                JourneyInstance.tenant_id == tenant_id,
                JourneyInstance.customer_id == reaction.customer_id,
                JourneyInstance.status.in_(("active", "waiting")),
            )
            .order_by(JourneyInstance.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _key_matches(entity_key: str, reaction: Reaction, same: bool) -> bool:
    if not same:
        return True
    return reaction.entity_id is not None and reaction.entity_id == entity_key


async def _resolve(
    session: AsyncSession,
    ctx: RunContext,
    journeys: dict[int, LoadedJourney],
    reaction: Reaction,
) -> None:
    instances = await _live_instances(session, reaction.tenant_id, reaction)
    for instance in instances:
        journey = journeys.get(instance.journey_id)
        if journey is None:  # a paused journey: its instances keep their place
            continue
        goal = journey.definition.goal
        if (
            goal is not None
            and goal.event == reaction.kind
            and _key_matches(instance.entity_key, reaction, goal.same_key)
            and in_goal_window(journey, instance, reaction.occurred_at)
        ):
            finish(ctx, instance, "converted", instance.step_key)
            continue
        if instance.status != "waiting" or instance.waiting_kind != reaction.kind:
            continue
        if instance.waiting_key is not None and instance.waiting_key != reaction.entity_id:
            continue
        step_id, converted = after_event(journey, instance)
        if converted:
            finish(ctx, instance, "converted", instance.step_key)
        else:
            await advance(session, ctx, journey, instance, step_id)


async def _leave(
    session: AsyncSession, ctx: RunContext, leaving: dict[int, str], reaction: Reaction
) -> None:
    """The customer left a segment: its ``exit_on_leave`` journeys' live instances end."""
    for instance in await _live_instances(session, reaction.tenant_id, reaction):
        if leaving.get(instance.journey_id) == reaction.entity_id:
            finish(ctx, instance, "exited", instance.step_key)


async def react_to_reactions(
    session: AsyncSession, tenant_id: int, reactions: Sequence[Reaction], at: datetime
) -> None:
    """Enter journeys, resolve waits for an event and count goals for one tenant's reactions."""
    journeys = {
        journey.row.id: journey for journey in await active_journeys(session, tenant_id=tenant_id)
    }
    if not journeys:
        return
    starting = [j for j in journeys.values() if not isinstance(j.definition.entry, s.DateEntry)]
    listened = {j.definition.goal.event for j in journeys.values() if j.definition.goal}
    for journey in journeys.values():
        listened.update(
            step.kind if isinstance(step, s.WaitForEventStep) else step.event
            for step in journey.definition.steps.values()
            if isinstance(step, s.WaitForEventStep | s.GoalStep)
        )
    leaving = {
        j.row.id: j.definition.entry.segment
        for j in journeys.values()
        if isinstance(j.definition.entry, s.SegmentEntry) and j.definition.entry.exit_on_leave
    }
    ctx = RunContext(at=at)
    for reaction in reactions:
        if reaction.kind in listened:
            await _resolve(session, ctx, journeys, reaction)
        if reaction.kind == "segment.exited" and reaction.entity_id in leaving.values():
            await _leave(session, ctx, leaving, reaction)
        for journey in starting:
            if not _starts(journey, reaction):
                continue
            entry = journey.definition.entry
            assert isinstance(entry, s.EventEntry | s.SegmentEntry)
            entity_key = _entity_key(entry, reaction)
            if entity_key is None:
                continue
            state = {"entity": entity_key} if entity_key else {}
            if isinstance(entry, s.EventEntry) and entry.key == "entity":
                state = {"entity": entity_key, "cart_id": entity_key}
            instance = await enter(
                session,
                journey,
                customer_id=reaction.customer_id,
                entity_key=entity_key,
                at=at,
                state=state,
            )
            if instance is None:
                continue
            if not await _passes_filter(session, ctx, journey, instance):
                finish(ctx, instance, "exited", None)
                continue
            await advance(session, ctx, journey, instance, journey.definition.start)
    await flush_batch(session, ctx)
    await session.flush()


__all__ = ["react_to_reactions"]
