"""Enter customers into journeys and wake the instances whose time has come.

* :func:`enter` inserts an instance with ``ON CONFLICT DO NOTHING`` on (journey, customer,
  entity key, run): a retried reaction or two workers entering the same event make one
  instance. A second run exists only when the re-entry policy allows it, and that insert is
  guarded by the same constraint.
* :func:`process_due_instances` claims waiting instances whose ``wake_at`` passed
  (``FOR UPDATE SKIP LOCKED``, so any number of workers share the work) and advances each
  in the claiming transaction.
* :func:`schedule_date_entries` enters birthdays, registration anniversaries and points
  expiry dates N local days ahead, keyed by the date so each year runs once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.journeys import schemas as s
from tonari.journeys.engine import LoadedJourney, RunContext, advance, after_wake, flush_batch
from tonari.kit.clock import utcnow
from tonari.models.journeys import Journey, JourneyInstance


class Transactions(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]: ...


def load(row: Journey) -> LoadedJourney:
    return LoadedJourney(row, s.JourneyDefinition.model_validate(row.definition))


async def active_journeys(
    session: AsyncSession, *, tenant_id: int, entry_kinds: Iterable[str] | None = None
) -> list[LoadedJourney]:
    query = select(Journey).where(Journey.tenant_id == tenant_id, Journey.status == "active")
    if entry_kinds is not None:
        query = query.where(Journey.entry_kind.in_(list(entry_kinds)))
    return [load(row) for row in await session.scalars(query.order_by(Journey.id))]


def _reentry(journey: LoadedJourney) -> tuple[str, int | None]:
    entry = journey.definition.entry
    if isinstance(entry, s.EventEntry | s.SegmentEntry):
        return entry.reentry, entry.reentry_days
    return "never", None


async def _next_run(
    session: AsyncSession, journey: LoadedJourney, customer_id: int, entity_key: str, at: datetime
) -> int | None:
    """The run number a new entry may take under the re-entry policy, or None."""
    policy, days = _reentry(journey)
    if policy == "never":
        return None
    last = (
        await session.execute(
            select(JourneyInstance.run, JourneyInstance.status, JourneyInstance.entered_at)
            .where(
                JourneyInstance.journey_id == journey.row.id,
                JourneyInstance.customer_id == customer_id,
                JourneyInstance.entity_key == entity_key,
            )
            .order_by(JourneyInstance.run.desc())
            .limit(1)
        )
    ).first()
    if last is None:
        return 1
    if last.status in ("active", "waiting"):
        return None
    if policy == "after_days" and at < last.entered_at + timedelta(days=days or 0):
        return None
    return int(last.run) + 1


async def enter(
    session: AsyncSession,
    journey: LoadedJourney,
    *,
    customer_id: int,
    entity_key: str,
    at: datetime,
    state: dict[str, Any] | None = None,
) -> JourneyInstance | None:
    """A new instance (not yet advanced), or None when this entry already has one."""
    from tonari.messaging.rules import holdout_group

    # The same hash the dispatcher uses for the journey's holdout: the instance records which
    # group its customer is in, so conversions can be compared between the two.
    bp = journey.row.holdout_bp
    group = (
        "holdout"
        if bp and holdout_group(customer_id, f"journey:{journey.row.id}", bp)
        else ("treated")
    )
    run = 1
    for _ in range(2):
        new_id = await session.scalar(
            insert(JourneyInstance)
            .values(
                tenant_id=journey.row.tenant_id,
                journey_id=journey.row.id,
                customer_id=customer_id,
                entity_key=entity_key,
                run=run,
                status="active",
                state=state or {},
                control_group=group,
                entered_at=at,
                updated_at=at,
            )
            .on_conflict_do_nothing()
            .returning(JourneyInstance.id)
        )
        if new_id is not None:
            return await session.get(JourneyInstance, new_id)
        following = await _next_run(session, journey, customer_id, entity_key, at)
        if following is None or following == run:
            return None
        run = following
    return None


async def advance_due_batch(session: AsyncSession, *, at: datetime, batch: int) -> int:
    """Claim and advance up to ``batch`` waiting instances due at ``at``; how many."""
    instances = list(
        await session.scalars(
            select(JourneyInstance)
            .join(Journey, Journey.id == JourneyInstance.journey_id)
            .where(
                JourneyInstance.status == "waiting",
                JourneyInstance.wake_at <= at,
                Journey.status == "active",
            )
            .order_by(JourneyInstance.wake_at)
            .limit(batch)
            .with_for_update(of=JourneyInstance, skip_locked=True)
        )
    )
    if not instances:
        return 0
    journey_ids = {instance.journey_id for instance in instances}
    journeys = {
        row.id: load(row)
        for row in await session.scalars(select(Journey).where(Journey.id.in_(journey_ids)))
    }
    ctx = RunContext(at=at)
    # The claimed rows are only written here, never read back by SQL before the end: their
    # updates go out together at the flush instead of one UPDATE before every statement.
    with session.sync_session.no_autoflush:
        for instance in instances:
            journey = journeys[instance.journey_id]
            await advance(session, ctx, journey, instance, after_wake(journey, instance))
    await flush_batch(session, ctx)
    await session.flush()
    return len(instances)


async def process_due_instances(
    database: Transactions,
    *,
    at: datetime | None = None,
    batch: int = 500,
    budget_seconds: float | None = None,
) -> int:
    """Advance every waiting instance whose time has come, batch by batch; how many."""
    done = 0
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    while deadline is None or time.monotonic() < deadline:
        async with database.transaction() as session:
            advanced = await advance_due_batch(session, at=at or utcnow(), batch=batch)
        done += advanced
        if advanced < batch:
            break
    return done


# --- date entries ---------------------------------------------------------------------------

# Candidates N local days ahead (today's and tomorrow's dates, so a missed hour never loses a
# day), entered waiting until the local time of day on the right day. The entity key carries
# the date, so the unique key lets each birthday (each expiry date) run once.
_LOCAL_TARGETS = (
    " FROM p, customers AS c"
    " CROSS JOIN LATERAL (SELECT COALESCE(c.time_zone, p.zone) AS zone) AS z"
    " CROSS JOIN LATERAL (SELECT (timezone(z.zone, p.at))::date + p.days + o AS target,"
    "   z.zone FROM generate_series(0, 1) AS o) AS d"
)
_LIVE = " WHERE c.tenant_id = :tenant_id AND c.merged_into_id IS NULL AND c.erased_at IS NULL"
_DATE_SOURCES = {
    "birthday": (
        "SELECT c.id AS customer_id, 'birthday:' || to_char(d.target, 'YYYY') AS entity_key,"
        " d.target, d.zone" + _LOCAL_TARGETS + _LIVE + " AND c.birth_date IS NOT NULL"
        " AND (to_char(c.birth_date, 'MM-DD') = to_char(d.target, 'MM-DD')"
        # Born on 29 February: greeted on the 28th when the year has no 29th (28th + 1 = 1 March).
        "  OR (to_char(c.birth_date, 'MM-DD') = '02-29' AND to_char(d.target, 'MM-DD') = '02-28'"
        "      AND to_char(d.target + 1, 'MM-DD') = '03-01'))"
    ),
    "anniversary": (
        "SELECT c.id AS customer_id, 'anniversary:' || to_char(d.target, 'YYYY') AS entity_key,"
        " d.target, d.zone"
        + _LOCAL_TARGETS
        + _LIVE
        + " AND to_char((timezone(z.zone, c.created_at))::date, 'MM-DD')"
        " = to_char(d.target, 'MM-DD')"
        " AND (timezone(z.zone, c.created_at))::date < d.target"
    ),
    "points_expiry": (
        "SELECT DISTINCT c.id AS customer_id, 'points_expiry:' || d.target::text AS entity_key,"
        " d.target, d.zone"
        + _LOCAL_TARGETS
        + " JOIN point_lots AS l ON l.customer_id = c.id AND l.state = 'available'"
        " AND l.remaining > 0 AND (timezone(d.zone, l.expires_at))::date = d.target" + _LIVE
    ),
}


def _date_entry_sql(kind: str) -> Any:
    return text(
        "WITH p AS (SELECT CAST(:at AS timestamptz) AS at, CAST(:days AS integer) AS days,"
        " CAST(:zone AS text) AS zone, CAST(:local_time AS time) AS local_time)"
        " INSERT INTO journey_instances (tenant_id, journey_id, customer_id, entity_key, run,"
        " status, step_key, wake_at, timeout_at, state, entered_at, updated_at)"
        " SELECT :tenant_id, :journey_id, src.customer_id, src.entity_key, 1, 'waiting', NULL,"
        " timezone(src.zone, (src.target - p.days) + p.local_time),"
        " timezone(src.zone, (src.target - p.days) + p.local_time),"
        " jsonb_build_object('date', src.target::text), p.at, p.at"
        f" FROM p, ({_DATE_SOURCES[kind]}) AS src"
        " ON CONFLICT DO NOTHING"
    )


async def schedule_date_entries_for(session: AsyncSession, *, tenant_id: int, at: datetime) -> int:
    """Enter this tenant's customers into its date journeys; how many new instances."""
    from tonari.programs.service import programme_in_force

    journeys = await active_journeys(session, tenant_id=tenant_id, entry_kinds=["date"])
    if not journeys:
        return 0
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    entered = 0
    for journey in journeys:
        entry = journey.definition.entry
        assert isinstance(entry, s.DateEntry)
        result = await session.execute(
            _date_entry_sql(entry.date),
            {
                "tenant_id": tenant_id,
                "journey_id": journey.row.id,
                "zone": programme.timezone,
                "at": at,
                "days": entry.days_before,
                "local_time": s.parse_local_time(entry.at_local_time),
            },
        )
        entered += int(getattr(result, "rowcount", 0) or 0)
    return entered


async def schedule_date_entries(database: Transactions, *, at: datetime | None = None) -> int:
    """Every tenant's date journeys; one transaction per tenant."""
    at = at or utcnow()
    async with database.transaction() as session:
        tenants = list(
            await session.scalars(
                select(Journey.tenant_id)
                .where(and_(Journey.entry_kind == "date", Journey.status == "active"))
                .distinct()
            )
        )
    entered = 0
    for tenant_id in tenants:
        async with database.transaction() as session:
            entered += await schedule_date_entries_for(session, tenant_id=tenant_id, at=at)
    return entered
