"""Fold one profile into another, and undo it, moving everything the person owns.

A merge moves the folded profile's live point lots through ledger postings (never by editing a
balance), re-points its orders, events and loyalty history, and records every row that moved in
``identity_merges``. An unmerge moves exactly those rows back, and the lots that came from the
folded profile (what is left of them: points spent meanwhile stay spent). Both are outbox events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import InvalidState, NotFound
from tonari.kit.outbox import record_event
from tonari.ledger.transfers import TRANSFERRED, lock_accounts, move_live_lots
from tonari.models.customers import Customer
from tonari.models.identity import IdentityMerge, MergedLot
from tonari.models.ledger import PointLot


@dataclass(frozen=True, slots=True)
class OwnedRows:
    """A table whose rows belong to a customer, and what must stay unique when they move."""

    table: str
    column: str
    key: str = "id"
    # Columns that, with the customer, must stay unique: a clashing row stays where it is.
    unique_with: tuple[str, ...] = ()
    # The unique index's condition, with {t} for the row's alias.
    unique_where: str = "true"


OWNED = (
    OwnedRows("orders", "customer_id"),
    OwnedRows("customer_events", "customer_id"),
    OwnedRows("anonymous_links", "customer_id", key="anonymous_id"),
    OwnedRows("offer_applications", "customer_id"),
    OwnedRows("stamp_movements", "customer_id"),
    OwnedRows("memberships", "customer_id"),
    OwnedRows("activity_reports", "customer_id"),
    OwnedRows(
        "activity_rewards",
        "customer_id",
        unique_with=("rule_code", "once_key"),
        unique_where="{t}.once_key IS NOT NULL",
    ),
    OwnedRows("partner_accruals", "customer_id"),
    OwnedRows("codes", "owner_customer_id"),
    OwnedRows(
        "code_redemptions",
        "customer_id",
        unique_with=("code_id",),
        unique_where="{t}.order_external_id IS NULL",
    ),
)
_AGGREGATES = ("orders_count", "lifetime_spend")


@dataclass(frozen=True, slots=True)
class MergeResult:
    merge_id: int
    points: int
    moved: dict[str, int]


def _move_statement(owned: OwnedRows) -> str:
    clash = ""
    if owned.unique_with:
        same = " AND ".join(f"other.{name} = moving.{name}" for name in owned.unique_with)
        moving, other = (owned.unique_where.format(t=alias) for alias in ("moving", "other"))
        clash = (
            f" AND NOT ({moving} AND EXISTS (SELECT 1 FROM {owned.table} AS other "
            f"WHERE other.tenant_id = :tenant_id AND other.{owned.column} = :target "
            f"AND {other} AND {same}))"
        )
    return (
        f"UPDATE {owned.table} AS moving SET {owned.column} = :target "
        f"WHERE moving.tenant_id = :tenant_id AND moving.{owned.column} = :source{clash} "
        f"RETURNING moving.{owned.key}"
    )


async def merge_profiles(
    session: AsyncSession,
    *,
    tenant_id: int,
    survivor_id: int,
    merged_id: int,
    at: datetime,
    actor: str,
    reason: str,
) -> MergeResult:
    """Fold ``merged_id`` into ``survivor_id``; refuses while the folded one holds reservations."""
    accounts = await lock_accounts(session, tenant_id, [survivor_id, merged_id])
    survivor_account, merged_account = accounts.get(survivor_id), accounts.get(merged_id)
    if merged_account is not None and (merged_account.reserved or merged_account.debt):
        raise InvalidState(
            f"profile {merged_id} has points reserved for an open order or a points debt; "
            "it is merged once that order is paid or cancelled",
            code="merge_deferred",
        )
    customers = {
        row.id: row
        for row in await session.execute(
            select(
                Customer.id,
                Customer.external_id,
                Customer.merged_into_id,
                Customer.orders_count,
                Customer.lifetime_spend,
                Customer.first_purchase_at,
                Customer.last_purchase_at,
            )
            .where(Customer.tenant_id == tenant_id, Customer.id.in_([survivor_id, merged_id]))
            .with_for_update()
        )
    }
    if len(customers) != 2:
        raise NotFound("one of the two profiles does not exist", field="profile_id")
    if customers[merged_id].merged_into_id is not None:
        raise InvalidState("this profile is already merged into another", field="profile_id")
    moved: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for owned in OWNED:
        keys = list(
            await session.scalars(
                text(_move_statement(owned)),
                {"tenant_id": tenant_id, "target": survivor_id, "source": merged_id},
            )
        )
        if keys:
            moved[owned.table] = keys
            counts[owned.table] = len(keys)
    folded = customers[merged_id]
    moved["aggregates"] = {name: int(getattr(folded, name)) for name in _AGGREGATES}
    await session.execute(
        update(Customer)
        .where(Customer.id == survivor_id)
        .values(
            orders_count=Customer.orders_count + folded.orders_count,
            lifetime_spend=Customer.lifetime_spend + folded.lifetime_spend,
            first_purchase_at=func.least(Customer.first_purchase_at, folded.first_purchase_at),
            last_purchase_at=func.greatest(Customer.last_purchase_at, folded.last_purchase_at),
            updated_at=at,
        )
    )
    # The folded row keeps its id for an undo but gives up its card, which must stay unique.
    await session.execute(
        update(Customer)
        .where(Customer.id == merged_id)
        .values(merged_into_id=survivor_id, card_number=None, updated_at=at)
    )
    await session.execute(
        update(Customer)
        .where(Customer.tenant_id == tenant_id, Customer.merged_into_id == merged_id)
        .values(merged_into_id=survivor_id)
    )
    points, entry_id, lots = 0, None, []
    if survivor_account is not None and merged_account is not None:
        transfer = await move_live_lots(
            session,
            merged_account,
            survivor_account,
            at=at,
            actor=actor,
            # Profile ids, not the brand's ids: the ledger outlives an erasure, ids may not.
            reason=f"profiles merged: profile {merged_id} into profile {survivor_id}",
        )
        points, entry_id, lots = transfer.points, transfer.entry_id, transfer.lots
    merge_id = await session.scalar(
        insert(IdentityMerge)
        .values(
            tenant_id=tenant_id,
            survivor_id=survivor_id,
            merged_id=merged_id,
            reason=reason[:200],
            actor=actor[:200],
            ledger_entry_id=entry_id,
            moved=moved,
            merged_at=at,
        )
        .returning(IdentityMerge.id)
    )
    assert merge_id is not None
    if lots:
        await session.execute(
            insert(MergedLot),
            [{"merge_id": merge_id, "old_lot_id": old, "new_lot_id": new} for old, new in lots],
        )
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type="profile.merged",
        subject=str(customers[survivor_id].external_id),
        payload={
            "survivor": customers[survivor_id].external_id,
            "merged": folded.external_id,
            "merge_id": merge_id,
            "reason": reason,
            "points_moved": points,
            "moved": counts,
        },
        occurred_at=at,
    )
    return MergeResult(int(merge_id), points, counts)


async def _live_descendants(session: AsyncSession, merge_id: int) -> list[int]:
    """The lots that now hold what a merge moved, following later merges that moved them on."""
    frontier = list(
        await session.scalars(select(MergedLot.new_lot_id).where(MergedLot.merge_id == merge_id))
    )
    live: list[int] = []
    seen: set[int] = set()
    while frontier:
        rows = (
            await session.execute(
                select(PointLot.id, PointLot.state).where(PointLot.id.in_(frontier))
            )
        ).all()
        seen.update(frontier)
        moved_on = [row.id for row in rows if row.state == TRANSFERRED]
        live.extend(row.id for row in rows if row.state != TRANSFERRED)
        frontier = [
            lot
            for lot in await session.scalars(
                select(MergedLot.new_lot_id).where(MergedLot.old_lot_id.in_(moved_on))
            )
            if lot not in seen
        ]
    return live


async def unmerge_profile(
    session: AsyncSession, *, tenant_id: int, merged_id: int, at: datetime, actor: str
) -> int:
    """Bring a folded profile back with what it brought; returns the undone merge's id."""
    merge = (
        await session.execute(
            select(IdentityMerge)
            .where(
                IdentityMerge.tenant_id == tenant_id,
                IdentityMerge.merged_id == merged_id,
                IdentityMerge.undone_at.is_(None),
            )
            .order_by(IdentityMerge.id.desc())
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    holder_id = await session.scalar(
        select(Customer.merged_into_id).where(
            Customer.tenant_id == tenant_id, Customer.id == merged_id
        )
    )
    if merge is None or holder_id is None:
        raise InvalidState("this profile is not merged into another", field="profile_id")
    accounts = await lock_accounts(session, tenant_id, [holder_id, merged_id])
    entry_id = None
    if holder_id in accounts and merged_id in accounts:
        lots = await _live_descendants(session, merge.id)
        held = [
            lot
            for lot in await session.scalars(
                select(PointLot.id).where(
                    PointLot.id.in_(lots), PointLot.account_id == accounts[holder_id].id
                )
            )
        ]
        if held:
            transfer = await move_live_lots(
                session,
                accounts[holder_id],
                accounts[merged_id],
                at=at,
                actor=actor,
                reason=f"merge {merge.id} undone: points go back to the profile they came from",
                only_lots=held,
            )
            entry_id = transfer.entry_id
    for owned in OWNED:
        keys = merge.moved.get(owned.table)
        if keys:
            await session.execute(
                text(
                    f"UPDATE {owned.table} SET {owned.column} = :target "
                    f"WHERE tenant_id = :tenant_id AND {owned.key} = ANY(:keys)"
                ),
                {"target": merged_id, "tenant_id": tenant_id, "keys": keys},
            )
    aggregates = merge.moved.get("aggregates", {})
    await session.execute(
        text(
            "UPDATE customers SET orders_count = GREATEST(0, orders_count - :orders), "
            "lifetime_spend = GREATEST(0, lifetime_spend - :spend), "
            "first_purchase_at = (SELECT min(placed_at) FROM orders WHERE customer_id = :id), "
            "last_purchase_at = (SELECT max(placed_at) FROM orders WHERE customer_id = :id) "
            "WHERE id = :id"
        ),
        {
            "orders": int(aggregates.get("orders_count", 0)),
            "spend": int(aggregates.get("lifetime_spend", 0)),
            "id": holder_id,
        },
    )
    await session.execute(
        update(Customer).where(Customer.id == merged_id).values(merged_into_id=None, updated_at=at)
    )
    merge.undone_at = at
    merge.undo_ledger_entry_id = entry_id
    names: dict[int, str] = dict(
        (
            await session.execute(
                select(Customer.id, Customer.external_id).where(
                    Customer.id.in_([holder_id, merged_id])
                )
            )
        ).all()
    )
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type="profile.unmerged",
        subject=str(names[merged_id]),
        payload={"restored": names[merged_id], "from": names[holder_id], "merge_id": merge.id},
        occurred_at=at,
    )
    return int(merge.id)
