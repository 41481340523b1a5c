"""Segments by key: define, preview, list members, export, rebuild; and what journeys and
campaigns ask (``evaluate_for_customers``, ``is_member``, ``member_ids``).

Services never commit; the API request, the CLI command or the job owns the transaction.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import Conflict, NotFound
from tonari.models.customers import Customer
from tonari.models.segments import Segment, SegmentBoundary, SegmentMembership
from tonari.segments import schemas as s
from tonari.segments.compiler import compile_segment
from tonari.segments.membership import (
    apply_to_customers,
    context_for,
    evaluate,
    load_definition,
    parse_definition,
)

REBUILD_CHUNK = 50_000  # customer ids per rebuild transaction step (bounded memory, progress)
MEMBER_COLUMNS = ("external_id", "email", "phone", "first_name", "last_name", "city", "tier")
EXPORT_COLUMNS = (*MEMBER_COLUMNS, "entered_at")
Progress = Callable[[int, int], None]


def _definition_of(definition: s.Node | dict[str, Any]) -> s.Node:
    return parse_definition(definition) if isinstance(definition, dict) else definition


# --- definitions ----------------------------------------------------------------------------


async def get_segment(session: AsyncSession, *, tenant_id: int, key: str) -> Segment:
    segment = await session.scalar(
        select(Segment).where(
            Segment.tenant_id == tenant_id, Segment.key == key, Segment.status == "active"
        )
    )
    if segment is None:
        raise NotFound(f"no segment {key!r}", field="key", code="segment_not_found")
    return segment


async def list_segments(session: AsyncSession, *, tenant_id: int) -> list[Segment]:
    rows = await session.scalars(
        select(Segment)
        .where(Segment.tenant_id == tenant_id, Segment.status == "active")
        .order_by(Segment.key)
    )
    return list(rows)


async def segment_size(session: AsyncSession, *, segment: Segment) -> int:
    count = await session.scalar(
        select(func.count()).where(SegmentMembership.segment_id == segment.id)
    )
    return int(count or 0)


async def sizes_of(session: AsyncSession, *, segments: Sequence[Segment]) -> dict[int, int]:
    if not segments:
        return {}
    rows = await session.execute(
        select(SegmentMembership.segment_id, func.count())
        .where(SegmentMembership.segment_id.in_([seg.id for seg in segments]))
        .group_by(SegmentMembership.segment_id)
    )
    return {int(segment_id): int(count) for segment_id, count in rows.all()}


async def create_segment(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    name: str,
    definition: dict[str, Any],
    at: datetime,
) -> Segment:
    """Define a segment and fill it at once. Its first members arrive without
    ``segment.entered`` events: nobody *entered* anything, the segment just began to exist."""
    node = parse_definition(definition)
    stored = s.NODE_ADAPTER.dump_python(node, mode="json", by_alias=True, exclude_none=True)
    existing = await session.scalar(
        select(Segment).where(Segment.tenant_id == tenant_id, Segment.key == key).with_for_update()
    )
    if existing is not None and existing.status == "active":
        raise Conflict(f"segment {key!r} already exists; update it with PUT", field="key")
    if existing is not None:  # an archived key is reused: it starts again, empty
        segment = existing
        segment.name, segment.definition, segment.status = name, stored, "active"
        segment.updated_at = at
        await session.execute(
            delete(SegmentMembership).where(SegmentMembership.segment_id == segment.id)
        )
    else:
        segment = Segment(
            tenant_id=tenant_id,
            key=key,
            name=name,
            definition=stored,
            status="active",
            created_at=at,
            updated_at=at,
        )
        session.add(segment)
    await session.flush()
    await rebuild_segment(session, segment=segment, at=at, emit=False)
    return segment


async def update_segment(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    name: str | None,
    definition: dict[str, Any] | None,
    at: datetime,
) -> Segment:
    """Rename and/or redefine; a new definition is applied at once, and whoever it moves
    in or out gets ``segment.entered`` / ``segment.exited``."""
    segment = await get_segment(session, tenant_id=tenant_id, key=key)
    if name is not None:
        segment.name = name
    if definition is not None:
        node = parse_definition(definition)
        segment.definition = s.NODE_ADAPTER.dump_python(
            node, mode="json", by_alias=True, exclude_none=True
        )
    segment.updated_at = at
    await session.flush()
    if definition is not None:
        await rebuild_segment(session, segment=segment, at=at)
    return segment


async def archive_segment(session: AsyncSession, *, tenant_id: int, key: str, at: datetime) -> None:
    """Stop maintaining a segment; its members are forgotten (without exit events)."""
    segment = await get_segment(session, tenant_id=tenant_id, key=key)
    segment.status = "archived"
    segment.updated_at = at
    await session.execute(
        delete(SegmentMembership).where(SegmentMembership.segment_id == segment.id)
    )
    await session.execute(delete(SegmentBoundary).where(SegmentBoundary.segment_id == segment.id))


# --- evaluating -----------------------------------------------------------------------------


async def preview_size(
    session: AsyncSession, *, tenant_id: int, definition: s.Node | dict[str, Any], at: datetime
) -> int:
    """How many live customers match now: one ``COUNT`` over the compiled query."""
    ctx = await context_for(session, tenant_id, at)
    query = compile_segment(_definition_of(definition), tenant_id=tenant_id, at=at, zone=ctx.zone)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    return int(count or 0)


def _member_row(customer: Any) -> dict[str, Any]:
    return {
        "customer_id": customer.id,
        "external_id": customer.external_id,
        "email": customer.email,
        "phone": customer.phone,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "city": customer.city,
        "tier": customer.tier_code,
    }


_MEMBER_SELECT = (
    Customer.id,
    Customer.external_id,
    Customer.email,
    Customer.phone,
    Customer.first_name,
    Customer.last_name,
    Customer.city,
    Customer.tier_code,
)


async def sample_members(
    session: AsyncSession,
    *,
    tenant_id: int,
    definition: s.Node | dict[str, Any],
    at: datetime,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """A few matching customers (lowest ids first) as the API shows them."""
    if limit <= 0:
        return []
    ctx = await context_for(session, tenant_id, at)
    ids = compile_segment(
        _definition_of(definition), tenant_id=tenant_id, at=at, zone=ctx.zone
    ).subquery()
    rows = await session.execute(
        select(*_MEMBER_SELECT)
        .where(Customer.id.in_(select(ids.c.id)))
        .order_by(Customer.id)
        .limit(limit)
    )
    return [_member_row(row) for row in rows]


async def evaluate_for_customers(
    session: AsyncSession,
    *,
    tenant_id: int,
    definition: s.Node | dict[str, Any],
    customer_ids: Sequence[int],
    at: datetime,
) -> set[int]:
    """Which of these customers match the definition now (one query)."""
    ctx = await context_for(session, tenant_id, at)
    return await evaluate(
        session, node=_definition_of(definition), ctx=ctx, customer_ids=list(customer_ids)
    )


async def is_member(
    session: AsyncSession, *, tenant_id: int, segment_id: int, customer_id: int
) -> bool:
    """Whether the customer is in the segment as maintained (memberships table)."""
    found = await session.scalar(
        select(SegmentMembership.customer_id).where(
            SegmentMembership.tenant_id == tenant_id,
            SegmentMembership.segment_id == segment_id,
            SegmentMembership.customer_id == customer_id,
        )
    )
    return found is not None


async def member_ids(session: AsyncSession, *, tenant_id: int, segment_id: int) -> list[int]:
    rows = await session.scalars(
        select(SegmentMembership.customer_id)
        .where(SegmentMembership.tenant_id == tenant_id, SegmentMembership.segment_id == segment_id)
        .order_by(SegmentMembership.customer_id)
    )
    return list(rows)


async def segments_of_customer(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> list[Segment]:
    """The active segments the customer is in now (as maintained), by key."""
    rows = await session.scalars(
        select(Segment)
        .join(SegmentMembership, SegmentMembership.segment_id == Segment.id)
        .where(
            SegmentMembership.tenant_id == tenant_id,
            SegmentMembership.customer_id == customer_id,
            Segment.status == "active",
        )
        .order_by(Segment.key)
    )
    return list(rows)


async def members_page(
    session: AsyncSession, *, segment: Segment, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Members in customer-id order from ``after``; returns the page and the next cursor."""
    query = (
        select(*_MEMBER_SELECT, SegmentMembership.entered_at)
        .join(Customer, Customer.id == SegmentMembership.customer_id)
        .where(
            SegmentMembership.tenant_id == segment.tenant_id,
            SegmentMembership.segment_id == segment.id,
        )
        .order_by(SegmentMembership.customer_id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(SegmentMembership.customer_id > after)
    rows = list(await session.execute(query))
    page = [{**_member_row(row), "entered_at": row.entered_at} for row in rows[:limit]]
    next_after = page[-1]["customer_id"] if len(rows) > limit else None
    return page, next_after


async def export_rows(
    session: AsyncSession, *, segment: Segment, page_size: int = 5_000
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The members as CSV rows, page by page (for a streamed response or a file)."""
    after: int | None = None
    while True:
        page, after = await members_page(session, segment=segment, after=after, limit=page_size)
        if page:
            yield [
                (*(row[c] for c in MEMBER_COLUMNS), row["entered_at"].isoformat()) for row in page
            ]
        if after is None:
            return


# --- rebuilding -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RebuildResult:
    key: str
    size: int
    entered: int
    exited: int
    seconds: float


async def rebuild_segment(
    session: AsyncSession,
    *,
    segment: Segment,
    at: datetime,
    emit: bool = True,
    progress: Progress | None = None,
) -> RebuildResult:
    """Recompute every customer's membership (recovery, or a new definition), chunk by
    chunk of customer ids: inserts who is new, deletes who is gone, emits entered/exited,
    and reschedules every customer's time boundary."""
    started = time.perf_counter()
    node = load_definition(segment.definition)
    ctx = await context_for(session, segment.tenant_id, at)
    low, high = (
        await session.execute(
            select(func.min(Customer.id), func.max(Customer.id)).where(
                Customer.tenant_id == segment.tenant_id
            )
        )
    ).one()
    floor = min(
        low or 0,
        await session.scalar(
            select(func.min(SegmentMembership.customer_id)).where(
                SegmentMembership.segment_id == segment.id
            )
        )
        or low
        or 0,
    )
    entered = exited = 0
    if high is not None:
        total = high - floor + 1
        for start in range(floor, high + 1, REBUILD_CHUNK):
            end = min(start + REBUILD_CHUNK - 1, high)
            came, left = await apply_to_customers(
                session, segment=segment, node=node, ctx=ctx, id_range=(start, end), emit=emit
            )
            entered += len(came)
            exited += len(left)
            if progress is not None:
                progress(end - floor + 1, total)
    segment.rebuilt_at = at
    await session.flush()
    size = await segment_size(session, segment=segment)
    return RebuildResult(segment.key, size, entered, exited, time.perf_counter() - started)
