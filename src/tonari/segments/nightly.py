"""The nightly rebuild of segments whose conditions rank a customer against everyone else.

An RFM quintile moves when *other* customers buy: the incremental path re-evaluates only the
customers an event names, so a customer pushed out of the top quintile by someone else's
orders would stay a member until the next rebuild. Once a night (``tonari.segments.nightly``)
every active segment with such a condition is rebuilt, emitting ``segment.entered`` /
``segment.exited`` for whoever moved, as Mindbox and most CDPs recompute RFM overnight. All
other conditions depend only on the customer's own data and time, which the incremental path
and the time boundaries already keep exact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.models.segments import Segment
from tonari.segments.membership import load_definition
from tonari.segments.reactions import fields_of
from tonari.segments.service import rebuild_segment

logger = logging.getLogger(__name__)

# Conditions whose truth for one customer depends on the other customers' data.
POPULATION_RELATIVE = frozenset({"rfm"})


@dataclass
class NightlyReport:
    rebuilt: list[str] = field(default_factory=list)
    entered: int = 0
    exited: int = 0
    failed: list[str] = field(default_factory=list)


def is_population_relative(definition: dict[str, object]) -> bool:
    return not POPULATION_RELATIVE.isdisjoint(fields_of(load_definition(definition)))


async def rebuild_relative_segments(
    database: Database, *, at: datetime | None = None
) -> NightlyReport:
    """Rebuild every active population-relative segment of every tenant, one transaction each
    (a failing one is logged and the others still run)."""
    at = at or utcnow()
    async with database.transaction() as session:
        candidates = (
            await session.execute(
                select(Segment.id, Segment.key, Segment.definition).where(
                    Segment.status == "active"
                )
            )
        ).all()
    report = NightlyReport()
    for segment_id, key, definition in candidates:
        if not is_population_relative(definition):
            continue
        try:
            async with database.transaction() as session:
                segment = await session.get(Segment, segment_id, with_for_update=True)
                if segment is None or segment.status != "active":
                    continue
                result = await rebuild_segment(session, segment=segment, at=at)
        except Exception:
            logger.exception("nightly rebuild of segment %s failed", key)
            report.failed.append(key)
            continue
        report.rebuilt.append(key)
        report.entered += result.entered
        report.exited += result.exited
    return report
