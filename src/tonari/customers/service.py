"""Customers by the brand's external id (the unified profile is its own module)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import (
    Balances,
    CustomerOut,
    CustomerReference,
    CustomerUpsert,
    MembershipOut,
)
from tonari.identity.api_records import record_api_customer
from tonari.kit.errors import Conflict, InvalidState, NotFound, ValidationFailed
from tonari.models.customers import Customer
from tonari.models.ledger import LedgerAccount, PointLot
from tonari.models.offers import Membership, StampMovement
from tonari.models.partners import PARTNER_HOLDER
from tonari.programs.schemas import Programme
from tonari.reactions.queue import queue_reaction


async def upsert_customer(
    session: AsyncSession,
    *,
    tenant_id: int,
    external_id: str,
    fields: CustomerUpsert,
    first_tier: str | None,
    at: datetime,
) -> tuple[Customer, bool]:
    """Create or update by external id; returns the customer and whether it was created."""
    values = fields.model_dump(exclude_unset=True)
    if "customer_type" in values:
        values["customer_type"] = str(values["customer_type"])
    if values.get("card_number"):
        holder = await session.scalar(
            select(Customer.external_id).where(
                Customer.tenant_id == tenant_id,
                Customer.card_number == values["card_number"],
                Customer.external_id != external_id,
            )
        )
        if holder is not None:
            raise Conflict(
                "this card number belongs to another customer",
                field="card_number",
                code="card_taken",
            )
    statement: Any = (
        pg_insert(Customer)
        .values(
            tenant_id=tenant_id,
            external_id=external_id,
            tier_code=first_tier,
            tier_since=at if first_tier else None,
            **values,
        )
        .on_conflict_do_update(
            index_elements=[Customer.tenant_id, Customer.external_id],
            set_={**values, "updated_at": func.now()},
            where=Customer.erased_at.is_(None),
        )
        .returning(Customer.id, literal_column("(xmax = 0)").label("inserted"))
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise InvalidState(
            "this profile was erased at the person's request and takes no new data",
            field="external_id",
            code="profile_erased",
        )
    if row.inserted:
        await session.execute(
            pg_insert(LedgerAccount)
            .values(tenant_id=tenant_id, kind="customer", customer_id=row.id)
            .on_conflict_do_nothing()
        )
    if values.get("card_number") or values.get("phone"):
        # Partner points held in a side account for this card or phone move to the profile.
        from tonari.partners.holders import claim_partner_holdings

        await claim_partner_holdings(session, tenant_id=tenant_id, customer_id=row.id, at=at)
    await record_api_customer(session, tenant_id=tenant_id, customer_id=row.id, at=at)
    await queue_reaction(
        session,
        tenant_id=tenant_id,
        customer_id=row.id,
        kind="customer.registered" if row.inserted else "customer.updated",
        occurred_at=at,
        payload={"fields": sorted(values)},
    )
    customer = await session.get_one(Customer, row.id, populate_existing=True)
    return customer, bool(row.inserted)


async def ensure_customer(
    session: AsyncSession,
    *,
    tenant_id: int,
    external_id: str,
    first_tier: str | None,
    at: datetime,
) -> int:
    """The id of the customer with this external id, created bare if unknown (imports, POS)."""
    existing = await session.scalar(
        select(Customer.id).where(
            Customer.tenant_id == tenant_id, Customer.external_id == external_id
        )
    )
    if existing is not None:
        return int(existing)
    customer, _ = await upsert_customer(
        session,
        tenant_id=tenant_id,
        external_id=external_id,
        fields=CustomerUpsert(),
        first_tier=first_tier,
        at=at,
    )
    return customer.id


async def find_customer_row(
    session: AsyncSession,
    *,
    tenant_id: int,
    reference: CustomerReference,
    cart_ref: str | None = None,
) -> Any:
    """The buyer named by external id, card or phone, with tier and available points.

    ``spendable`` is the available balance less temporary points held for carts other than
    ``cart_ref``. One query, as it sits on the hot path of calculate, place and personal
    prices.
    """
    given = [
        (name, value)
        for name, value in (
            ("external_id", reference.external_id),
            ("card_number", reference.card_number),
            ("phone", reference.phone),
        )
        if value is not None
    ]
    if not given:
        raise ValidationFailed(
            "identify the customer by external_id, card_number or phone", field="customer"
        )
    name, value = given[0]
    rows = (
        await session.execute(
            _CUSTOMER_LOOKUP[name], {"tenant_id": tenant_id, "value": value, "cart_ref": cart_ref}
        )
    ).all()
    if not rows:
        raise NotFound(
            f"no customer with {name} {value!r}",
            field=f"customer.{name}",
            code="unknown_customer",
        )
    if len(rows) > 1:
        raise Conflict(
            f"several customers share {name} {value!r}; identify by external_id or card_number",
            field=f"customer.{name}",
            code="ambiguous_customer",
        )
    return rows[0]


def _customer_lookup(column: Any) -> Any:
    held_for_other_carts = (
        select(func.coalesce(func.sum(PointLot.remaining), 0))
        .where(
            PointLot.account_id == LedgerAccount.id,
            PointLot.state == "available",
            PointLot.remaining > 0,
            PointLot.reserved_for_order_ref.is_not(None),
            PointLot.reserved_for_order_ref.is_distinct_from(bindparam("cart_ref", type_=String)),
        )
        .scalar_subquery()
    )
    if column is Customer.external_id:
        # The shop keeps sending the id of a profile that was merged: it leads to the survivor.
        match: Any = Customer.id == (
            select(func.coalesce(Customer.merged_into_id, Customer.id))
            .where(Customer.tenant_id == bindparam("tenant_id"), column == bindparam("value"))
            .scalar_subquery()
        )
    else:
        match = (column == bindparam("value")) & Customer.merged_into_id.is_(None)
    return (
        select(
            Customer.id,
            Customer.external_id,
            Customer.customer_type,
            Customer.tier_code,
            Customer.birth_date,
            Customer.created_at,
            Customer.orders_count,
            Customer.lifetime_spend,
            LedgerAccount.available,
            (LedgerAccount.available - held_for_other_carts).label("spendable"),
        )
        .join(LedgerAccount, LedgerAccount.customer_id == Customer.id)
        .where(
            Customer.tenant_id == bindparam("tenant_id"),
            match,
            Customer.customer_type != PARTNER_HOLDER,
        )
        .limit(2)
    )


# Built once per way of naming a customer: the lookup sits on every priced cart.
_CUSTOMER_LOOKUP = {
    name: _customer_lookup(getattr(Customer, name))
    for name in ("external_id", "card_number", "phone")
}


async def find_customer_id(
    session: AsyncSession, *, tenant_id: int, reference: CustomerReference
) -> int:
    row = await find_customer_row(session, tenant_id=tenant_id, reference=reference)
    return int(row.id)


async def get_customer(session: AsyncSession, *, tenant_id: int, external_id: str) -> Customer:
    """The live profile for this id: an id whose profile was merged leads to the survivor."""
    customer = await session.scalar(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.external_id == external_id)
    )
    if customer is None:
        raise NotFound(f"no customer {external_id!r}", field="external_id", code="unknown_customer")
    if customer.merged_into_id is not None:
        return await session.get_one(Customer, customer.merged_into_id)
    return customer


async def list_customers(
    session: AsyncSession, *, tenant_id: int, limit: int = 50
) -> list[Customer]:
    """The newest live profiles (not merged into another, not erased), newest first."""
    rows = await session.scalars(
        select(Customer)
        .where(
            Customer.tenant_id == tenant_id,
            Customer.merged_into_id.is_(None),
            Customer.erased_at.is_(None),
        )
        .order_by(Customer.id.desc())
        .limit(limit)
    )
    return list(rows)


async def customer_balances(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    at: datetime,
    expiring_within_days: int = 30,
) -> Balances:
    account = (
        await session.execute(
            select(
                LedgerAccount.id,
                LedgerAccount.pending,
                LedgerAccount.available,
                LedgerAccount.reserved,
                LedgerAccount.debt,
            ).where(LedgerAccount.tenant_id == tenant_id, LedgerAccount.customer_id == customer_id)
        )
    ).one()
    horizon = at + timedelta(days=expiring_within_days)
    expiring = await session.scalar(
        select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
            PointLot.account_id == account.id,
            PointLot.state == "available",
            PointLot.remaining > 0,
            PointLot.expires_at <= horizon,
        )
    )
    return Balances(
        pending=account.pending,
        available=account.available,
        reserved=account.reserved,
        expiring_soon=int(expiring or 0),
        expiring_within_days=expiring_within_days,
        debt=account.debt,
    )


async def customer_profile(
    session: AsyncSession,
    *,
    tenant_id: int,
    external_id: str,
    programme: Programme | None,
    at: datetime,
    expiring_within_days: int = 30,
) -> CustomerOut:
    customer = await get_customer(session, tenant_id=tenant_id, external_id=external_id)
    balances = await customer_balances(
        session,
        tenant_id=tenant_id,
        customer_id=customer.id,
        at=at,
        expiring_within_days=expiring_within_days,
    )
    tier_name = (
        programme.tier(customer.tier_code).name if programme and customer.tier_code else None
    )
    return CustomerOut(
        external_id=customer.external_id,
        email=customer.email,
        phone=customer.phone,
        card_number=customer.card_number,
        first_name=customer.first_name,
        last_name=customer.last_name,
        birth_date=customer.birth_date,
        gender=customer.gender,
        city=customer.city,
        region=customer.region,
        time_zone=customer.time_zone,
        registration_source=customer.registration_source,
        customer_type=customer.customer_type,
        tier=customer.tier_code,
        tier_name=tier_name,
        tier_since=customer.tier_since,
        lifetime_spend=customer.lifetime_spend,
        orders_count=customer.orders_count,
        last_purchase_at=customer.last_purchase_at,
        balances=balances,
        memberships=await _memberships(session, tenant_id, customer.id, at),
        stamps=await _stamps(session, tenant_id, customer.id),
        created_at=customer.created_at,
    )


async def _memberships(
    session: AsyncSession, tenant_id: int, customer_id: int, at: datetime
) -> list[MembershipOut]:
    rows = await session.execute(
        select(Membership.code, Membership.starts_at, Membership.ends_at)
        .where(
            Membership.tenant_id == tenant_id,
            Membership.customer_id == customer_id,
            Membership.cancelled_at.is_(None),
            Membership.ends_at > at,
        )
        .order_by(Membership.code, Membership.starts_at)
    )
    return [MembershipOut(code=code, starts_at=start, ends_at=end) for code, start, end in rows]


async def _stamps(session: AsyncSession, tenant_id: int, customer_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(StampMovement.card, func.sum(StampMovement.delta))
        .where(StampMovement.tenant_id == tenant_id, StampMovement.customer_id == customer_id)
        .group_by(StampMovement.card)
        .order_by(StampMovement.card)
    )
    return {card: int(total) for card, total in rows}
