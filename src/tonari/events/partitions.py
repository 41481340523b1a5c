"""Monthly partitions of ``customer_events``, created ahead of time and never losing a row.

Every month gets its own partition (``customer_events_YYYY_MM``) so that old months can be
detached or dropped whole and a timeline query only touches the months it asks for. The
DEFAULT partition catches whatever has no month yet (a clock far off, a back-fill of old
history), so ingest never fails for want of a partition.

A month is created by ``CREATE TABLE ... (LIKE ...)``, moving that month's rows out of the
DEFAULT partition into it, then ``ATTACH PARTITION``. A plain ``PARTITION OF`` would fail as
soon as the DEFAULT partition holds a row of that month, which is exactly what happens when a
worker was down at the turn of the month.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PARENT = "customer_events"
DEFAULT_PARTITION = "customer_events_default"
MAX_MONTHS_AHEAD = 120


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def partition_name(first: date) -> str:
    return f"{PARENT}_{first.year:04d}_{first.month:02d}"


async def existing_partitions(session: AsyncSession) -> set[str]:
    rows = await session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": PARENT},
    )
    return set(rows)


async def ensure_event_partitions(
    session: AsyncSession, *, through: date, since: date | None = None
) -> list[str]:
    """Create the monthly partitions from ``since``'s month (default: ``through``'s month)
    up to and including ``through``'s month; returns the names of those created.

    Safe to run from several workers at once: a transaction-scoped advisory lock serialises
    them, and a month that exists is skipped. The DEFAULT partition is locked while its rows
    of a new month move out, so no concurrent insert can slip a row in between.
    """
    first = month_start(since or through)
    last = month_start(through)
    months: list[date] = []
    while first <= last and len(months) < MAX_MONTHS_AHEAD:
        months.append(first)
        first = next_month(first)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('customer_events_parts'))"))
    present = await existing_partitions(session)
    created: list[str] = []
    for start in months:
        name = partition_name(start)
        if name in present:
            continue
        bounds = {"lo": start.isoformat(), "hi": next_month(start).isoformat()}
        await session.execute(text(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE"))
        await session.execute(
            text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        )
        # Bounds are dates made here, never input: safe to inline (DDL takes no parameters).
        await session.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
                f"WHERE occurred_at >= '{bounds['lo']}' AND occurred_at < '{bounds['hi']}' "
                f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            )
        )
        await session.execute(
            text(
                f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
                f"FOR VALUES FROM ('{bounds['lo']}') TO ('{bounds['hi']}')"
            )
        )
        created.append(name)
    return created


async def ensure_partitions_ahead(
    session: AsyncSession, *, today: date, months_ahead: int = 2
) -> list[str]:
    """This month's partition and the next ``months_ahead`` ones: what a daily job runs, so
    events land in their month and the DEFAULT partition stays empty in normal operation."""
    through = month_start(today)
    for _ in range(months_ahead):
        through = next_month(through)
    return await ensure_event_partitions(session, through=through, since=today)
