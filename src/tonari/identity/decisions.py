"""A person's say over the evidence: the review queue, manual merges and undoing a merge.

A decision is stored as evidence (a confirmed or rejected pair), never as a direct edit of a
profile, and resolution then runs for the records involved. So the decision survives every
later run, and the outcome is explained the same way an automatic one is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tonari.identity.api_records import backfill_api_records
from tonari.identity.evidence import CONFIRMED, REJECTED
from tonari.identity.resolve import ResolveSummary, resolve_identities
from tonari.identity.schemas import PairOut, PairSide
from tonari.kit.errors import Conflict, InvalidState, NotFound
from tonari.models.customers import Customer
from tonari.models.identity import CustomerSource, IdentityMerge, IdentityPair, SourceRecord


async def list_pairs(
    session: AsyncSession, *, tenant_id: int, status: str, limit: int, after: int | None
) -> list[PairOut]:
    """Pairs by status, with both records side by side.

    The review queue leaves out pairs whose records already are one profile (through a shared
    email, say): there is nothing left to decide about them.
    """
    query = select(IdentityPair).where(
        IdentityPair.tenant_id == tenant_id, IdentityPair.status == status
    )
    if status == "review":
        left, right = aliased(SourceRecord), aliased(SourceRecord)
        query = (
            query.join(left, left.id == IdentityPair.left_record_id)
            .join(right, right.id == IdentityPair.right_record_id)
            .where(left.profile_id.is_distinct_from(right.profile_id))
        )
    if after is not None:
        query = query.where(IdentityPair.id > after)
    pairs = list(await session.scalars(query.order_by(IdentityPair.id).limit(limit)))
    ids = {p.left_record_id for p in pairs} | {p.right_record_id for p in pairs}
    rows = (
        await session.execute(
            select(SourceRecord, CustomerSource.name, Customer.external_id)
            .join(CustomerSource, CustomerSource.id == SourceRecord.source_id)
            .outerjoin(Customer, Customer.id == SourceRecord.profile_id)
            .where(SourceRecord.id.in_(ids))
        )
    ).all()
    sides = {record.id: _side(record, source, profile) for record, source, profile in rows}
    return [
        PairOut(
            pair_id=pair.id,
            status=pair.status,
            probability=pair.probability,
            weight=pair.weight,
            levels=dict(pair.levels or {}),
            left=sides[pair.left_record_id],
            right=sides[pair.right_record_id],
        )
        for pair in pairs
        if pair.left_record_id in sides and pair.right_record_id in sides
    ]


def _side(record: SourceRecord, source: str, profile: str | None) -> PairSide:
    return PairSide(
        record_key=record.id,
        source=source,
        record_id=record.record_id,
        profile=profile,
        first_name=record.first_name,
        last_name=record.last_name,
        birth_date=record.birth_date,
        email=record.email,
        phone=record.phone,
        city=record.city,
    )


async def _mark_for_resolution(session: AsyncSession, record_ids: list[int]) -> None:
    await session.execute(
        update(SourceRecord).where(SourceRecord.id.in_(record_ids)).values(needs_resolution=True)
    )


async def _store_decision(
    session: AsyncSession, tenant_id: int, left: int, right: int, status: str, actor: str, at: Any
) -> None:
    low, high = sorted((left, right))
    values = {"status": status, "decided_by": actor[:200], "decided_at": at}
    await session.execute(
        pg_insert(IdentityPair)
        .values(tenant_id=tenant_id, left_record_id=low, right_record_id=high, **values)
        .on_conflict_do_update(
            index_elements=[
                IdentityPair.tenant_id,
                IdentityPair.left_record_id,
                IdentityPair.right_record_id,
            ],
            set_=values,
        )
    )
    await _mark_for_resolution(session, [low, high])


async def decide_pair(
    session: AsyncSession,
    *,
    tenant_id: int,
    pair_id: int,
    confirm: bool,
    actor: str,
    at: datetime,
    first_tier: str | None,
) -> ResolveSummary:
    pair = await session.scalar(
        select(IdentityPair).where(IdentityPair.tenant_id == tenant_id, IdentityPair.id == pair_id)
    )
    if pair is None:
        raise NotFound(f"no pair {pair_id}", field="pair_id")
    await _store_decision(
        session,
        tenant_id,
        pair.left_record_id,
        pair.right_record_id,
        CONFIRMED if confirm else REJECTED,
        actor,
        at,
    )
    return await resolve_identities(
        session, tenant_id=tenant_id, at=at, incremental=True, first_tier=first_tier
    )


async def _profile(session: AsyncSession, tenant_id: int, external_id: str) -> Any:
    row = (
        await session.execute(
            select(Customer.id, Customer.merged_into_id).where(
                Customer.tenant_id == tenant_id, Customer.external_id == external_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no profile {external_id!r}", field="profiles", code="unknown_customer")
    return row


async def _a_record_of(session: AsyncSession, tenant_id: int, profile_id: int) -> int:
    record = await session.scalar(
        select(SourceRecord.id)
        .where(
            SourceRecord.tenant_id == tenant_id,
            SourceRecord.profile_id == profile_id,
            SourceRecord.erased_at.is_(None),
        )
        .order_by(SourceRecord.id)
        .limit(1)
    )
    if record is None:
        raise InvalidState(
            "this profile has no records to merge by (was it erased?)", field="profiles"
        )
    return int(record)


async def merge_manually(
    session: AsyncSession,
    *,
    tenant_id: int,
    external_ids: list[str],
    actor: str,
    at: datetime,
    first_tier: str | None,
) -> ResolveSummary:
    """Merge profiles a person knows are one: stored as confirmed pairs between them."""
    await backfill_api_records(session, tenant_id)
    profiles = [await _profile(session, tenant_id, external) for external in external_ids]
    live = sorted({int(p.merged_into_id or p.id) for p in profiles})
    if len(live) < 2:
        raise InvalidState("these are already one profile", field="profiles")
    anchors = [await _a_record_of(session, tenant_id, profile_id) for profile_id in live]
    for other in anchors[1:]:
        await _store_decision(session, tenant_id, anchors[0], other, CONFIRMED, actor, at)
    summary = await resolve_identities(
        session, tenant_id=tenant_id, at=at, incremental=True, first_tier=first_tier
    )
    holders = set(
        await session.scalars(select(SourceRecord.profile_id).where(SourceRecord.id.in_(anchors)))
    )
    if len(holders) > 1:
        raise Conflict(
            "these profiles cannot be merged: they hold different loyalty card numbers, or "
            "records of one source that are distinct people, or a match someone rejected",
            field="profiles",
            code="merge_refused",
        )
    return summary


async def undo_merge(
    session: AsyncSession,
    *,
    tenant_id: int,
    merge_id: int,
    actor: str,
    at: datetime,
    first_tier: str | None,
) -> ResolveSummary:
    """Split a merged profile back out: its records and what it brought go back to it."""
    merge = await session.scalar(
        select(IdentityMerge).where(
            IdentityMerge.tenant_id == tenant_id, IdentityMerge.id == merge_id
        )
    )
    if merge is None:
        raise NotFound(f"no merge {merge_id}", field="merge_id")
    if merge.undone_at is not None:
        raise InvalidState("this merge was already undone", field="merge_id")
    holder = await session.scalar(
        select(Customer.merged_into_id).where(Customer.id == merge.merged_id)
    )
    if holder is None:
        raise InvalidState("the merged profile is not merged any more", field="merge_id")
    theirs = await session.scalar(
        select(SourceRecord.id)
        .where(
            SourceRecord.tenant_id == tenant_id,
            SourceRecord.profile_id == holder,
            SourceRecord.home_profile_id == merge.merged_id,
        )
        .order_by(SourceRecord.id)
        .limit(1)
    )
    ours = await session.scalar(
        select(SourceRecord.id)
        .where(
            SourceRecord.tenant_id == tenant_id,
            SourceRecord.profile_id == holder,
            SourceRecord.home_profile_id.is_distinct_from(merge.merged_id),
        )
        .order_by(SourceRecord.id)
        .limit(1)
    )
    if theirs is None or ours is None:
        raise InvalidState("no records tell the two profiles apart", field="merge_id")
    # A rejected pair keeps the two groups of records apart through every later run.
    await _store_decision(session, tenant_id, int(theirs), int(ours), REJECTED, actor, at)
    await session.execute(
        update(SourceRecord)
        .where(SourceRecord.tenant_id == tenant_id, SourceRecord.profile_id == holder)
        .values(needs_resolution=True)
    )
    return await resolve_identities(
        session, tenant_id=tenant_id, at=at, incremental=True, first_tier=first_tier
    )
