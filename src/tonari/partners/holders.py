"""Whose points a partner's row is: a known customer, or a side account until they register.

A side account is a placeholder customer (``customer_type = 'partner_holder'``) with its own
ledger account; see :mod:`tonari.models.partners` for why. When a customer with the card or
phone appears, :func:`claim_partner_holdings` moves the lots over in one ledger entry: the
holder's postings go out, the customer's come in, each lot keeping its dates and expiry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.outbox import record_event
from tonari.ledger.transfers import lock_accounts, move_live_lots
from tonari.models.customers import Customer
from tonari.models.ledger import LedgerAccount
from tonari.models.partners import PARTNER_HOLDER, PartnerHolder

# The advisory-lock namespace for creating a side account (programmes use 7_001).
HOLDER_LOCK = 7_002


class RowProblem(ValueError):
    """Why a partner's row cannot be credited to anybody (reported, nothing written)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Whose ledger account gets the points, and the side account involved, if any."""

    customer_id: int
    holder_id: int | None
    to_profile: bool
    created_holder: bool = False


async def find_target(
    session: AsyncSession,
    *,
    tenant_id: int,
    partner_code: str,
    card_number: str | None,
    phone: str | None,
    first_tier: str | None = None,
) -> Target:
    """A customer with this card, else with this phone, else the holder's side account.

    A claimed side account forwards to the customer who claimed it; an unknown card or
    phone gets a new side account.
    """
    if card_number:
        found = await session.scalar(
            select(Customer.id).where(
                Customer.tenant_id == tenant_id, Customer.card_number == card_number
            )
        )
        if found is not None:
            return Target(int(found), None, True)
    if phone:
        matches = list(
            await session.scalars(
                select(Customer.id)
                .where(
                    Customer.tenant_id == tenant_id,
                    Customer.phone == phone,
                    Customer.customer_type != PARTNER_HOLDER,
                )
                .limit(2)
            )
        )
        if len(matches) > 1:
            raise RowProblem(f"phone {phone} belongs to several customers: send the card number")
        if matches:
            return Target(int(matches[0]), None, True)
    key = holder_key(card_number, phone)
    holder = await _holder(session, tenant_id, key)
    created = False
    if holder is None:
        holder, created = await _side_account(
            session,
            tenant_id=tenant_id,
            key=key,
            card_number=card_number,
            phone=phone,
            partner_code=partner_code,
            first_tier=first_tier,
        )
    return _target_of(holder, created)


def _target_of(holder: Any, created: bool = False) -> Target:
    if holder.claimed_by_customer_id is not None:
        return Target(int(holder.claimed_by_customer_id), int(holder.id), True)
    return Target(int(holder.customer_id), int(holder.id), False, created)


async def _side_account(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    card_number: str | None,
    phone: str | None,
    partner_code: str,
    first_tier: str | None,
) -> tuple[Any, bool]:
    """The side account for ``key``, opened if nobody has; (holder row, opened now)."""
    # Two imports meeting a new card at once must open one side account, not two.
    await session.execute(
        select(func.pg_advisory_xact_lock(HOLDER_LOCK, func.hashtext(f"{tenant_id}:{key}")))
    )
    holder = await _holder(session, tenant_id, key)
    if holder is not None:
        return holder, False
    holder = await _create_holder(
        session,
        tenant_id=tenant_id,
        key=key,
        card_number=card_number,
        phone=phone,
        partner_code=partner_code,
        first_tier=first_tier,
    )
    return holder, True


async def find_targets(
    session: AsyncSession,
    *,
    tenant_id: int,
    partner_code: str,
    identities: list[tuple[str | None, str | None]],
    first_tier: str | None = None,
) -> list[Target | RowProblem]:
    """:func:`find_target` for many (card, phone) pairs with three queries, not three each.

    Only a card or phone seen for the first time costs more: its side account is opened.
    """
    cards = {card for card, _ in identities if card}
    phones = {phone for _, phone in identities if phone}
    by_card: dict[str, int] = {}
    if cards:
        rows = await session.execute(
            select(Customer.card_number, Customer.id).where(
                Customer.tenant_id == tenant_id, Customer.card_number.in_(cards)
            )
        )
        by_card = {row.card_number: int(row.id) for row in rows}
    by_phone: dict[str, list[int]] = {}
    if phones:
        rows = await session.execute(
            select(Customer.phone, Customer.id).where(
                Customer.tenant_id == tenant_id,
                Customer.phone.in_(phones),
                Customer.customer_type != PARTNER_HOLDER,
            )
        )
        for row in rows:
            by_phone.setdefault(row.phone, []).append(int(row.id))
    keys = {holder_key(card, phone) for card, phone in identities if card or phone}
    holders = {
        row.holder_key: row
        for row in await session.execute(
            select(
                PartnerHolder.holder_key,
                PartnerHolder.id,
                PartnerHolder.customer_id,
                PartnerHolder.claimed_by_customer_id,
            ).where(PartnerHolder.tenant_id == tenant_id, PartnerHolder.holder_key.in_(keys))
        )
    }
    unknown: dict[str, tuple[str | None, str | None]] = {}
    for card, phone in identities:
        if not (card and card in by_card) and not by_phone.get(phone or ""):
            key = holder_key(card, phone)
            if key not in holders:
                unknown.setdefault(key, (card, phone))
    created: set[str] = set()
    # In key order: two imports opening the same new side accounts take their locks alike.
    for key in sorted(unknown):
        card, phone = unknown[key]
        holders[key], opened = await _side_account(
            session,
            tenant_id=tenant_id,
            key=key,
            card_number=card,
            phone=phone,
            partner_code=partner_code,
            first_tier=first_tier,
        )
        if opened:
            created.add(key)
    found: list[Target | RowProblem] = []
    for card, phone in identities:
        matches = by_phone.get(phone or "", [])
        if card and card in by_card:
            found.append(Target(by_card[card], None, True))
        elif len(matches) > 1:
            found.append(
                RowProblem(f"phone {phone} belongs to several customers: send the card number")
            )
        elif matches:
            found.append(Target(matches[0], None, True))
        else:
            key = holder_key(card, phone)
            found.append(_target_of(holders[key], key in created))
            created.discard(key)  # counted once, on its first row
    return found


def holder_key(card_number: str | None, phone: str | None) -> str:
    if card_number:
        return f"card:{card_number}"
    if phone:
        return f"phone:{phone}"
    raise RowProblem("no card number and no phone: cannot tell whose points these are")


async def _holder(session: AsyncSession, tenant_id: int, key: str) -> Any:
    return (
        await session.execute(
            select(
                PartnerHolder.id, PartnerHolder.customer_id, PartnerHolder.claimed_by_customer_id
            ).where(PartnerHolder.tenant_id == tenant_id, PartnerHolder.holder_key == key)
        )
    ).first()


async def _create_holder(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    card_number: str | None,
    phone: str | None,
    partner_code: str,
    first_tier: str | None,
) -> Any:
    # The placeholder carries neither card nor phone: the real customer must be free to
    # register with them, and lookups by card or phone must never find the placeholder.
    customer_id = await session.scalar(
        insert(Customer)
        .values(
            tenant_id=tenant_id,
            external_id=f"partner-holder:{uuid.uuid4().hex}",
            customer_type=PARTNER_HOLDER,
            # The first tier, so tier re-evaluation finds nothing to change or announce.
            tier_code=first_tier,
        )
        .returning(Customer.id)
    )
    await session.execute(
        insert(LedgerAccount).values(
            tenant_id=tenant_id, kind=PARTNER_HOLDER, customer_id=customer_id
        )
    )
    holder_id = await session.scalar(
        insert(PartnerHolder)
        .values(
            tenant_id=tenant_id,
            holder_key=key,
            card_number=card_number,
            phone=phone,
            customer_id=customer_id,
            first_partner=partner_code,
        )
        .returning(PartnerHolder.id)
    )
    return _HolderRow(int(holder_id or 0), int(customer_id or 0), None)


@dataclass(frozen=True, slots=True)
class _HolderRow:
    id: int
    customer_id: int
    claimed_by_customer_id: int | None


@dataclass(frozen=True, slots=True)
class ClaimResult:
    holders: int
    points: int


async def claim_partner_holdings(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    at: datetime,
    actor: str = "system:partner-claim",
) -> ClaimResult:
    """Move the side accounts matching the customer's card or phone onto their profile.

    Also sweeps side accounts this customer already claimed, in case an import credited one
    while the claim was being made. Accounts are locked in id order, the ledger's one order.
    """
    customer = (
        await session.execute(
            select(Customer.card_number, Customer.phone, Customer.customer_type).where(
                Customer.tenant_id == tenant_id, Customer.id == customer_id
            )
        )
    ).first()
    if customer is None or customer.customer_type == PARTNER_HOLDER:
        return ClaimResult(0, 0)
    matches = [PartnerHolder.claimed_by_customer_id == customer_id]
    if customer.card_number:
        matches.append(
            (PartnerHolder.card_number == customer.card_number) & PartnerHolder.claimed_at.is_(None)
        )
    if customer.phone:
        matches.append((PartnerHolder.phone == customer.phone) & PartnerHolder.claimed_at.is_(None))
    candidates = (
        await session.execute(
            select(PartnerHolder.id, PartnerHolder.customer_id).where(
                PartnerHolder.tenant_id == tenant_id, or_(*matches)
            )
        )
    ).all()
    if not candidates:
        return ClaimResult(0, 0)
    accounts = await lock_accounts(
        session, tenant_id, [customer_id, *(holder.customer_id for holder in candidates)]
    )
    mine = accounts[customer_id]
    # Re-read under the locks: a claim by someone else may have committed meanwhile.
    holders = (
        await session.execute(
            select(PartnerHolder.id, PartnerHolder.customer_id, PartnerHolder.claimed_at)
            .where(
                PartnerHolder.id.in_([holder.id for holder in candidates]),
                or_(
                    PartnerHolder.claimed_at.is_(None),
                    PartnerHolder.claimed_by_customer_id == customer_id,
                ),
            )
            .order_by(PartnerHolder.id)
        )
    ).all()
    moved_total = 0
    external_id = None
    for holder in holders:
        transfer = await move_live_lots(
            session,
            accounts[holder.customer_id],
            mine,
            at=at,
            actor=actor,
            reason="partner points moved from the side account on registration",
        )
        moved, entry_id = transfer.points, transfer.entry_id
        moved_total += moved
        if holder.claimed_at is None:
            await session.execute(
                update(PartnerHolder)
                .where(PartnerHolder.id == holder.id)
                .values(claimed_by_customer_id=customer_id, claimed_at=at, claim_entry_id=entry_id)
            )
    if moved_total:
        external_id = await session.scalar(
            select(Customer.external_id).where(Customer.id == customer_id)
        )
        await record_event(
            session,
            tenant_id=tenant_id,
            event_type="partner.holdings_claimed",
            subject=str(external_id),
            payload={"customer": external_id, "points": moved_total, "side_accounts": len(holders)},
            occurred_at=at,
        )
    return ClaimResult(len(holders), moved_total)
