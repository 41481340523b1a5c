"""Customers by the brand's external id (the unified profile is its own module)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import Balances, CustomerOut, CustomerReference, CustomerUpsert
from tonari.kit.errors import Conflict, NotFound, ValidationFailed
from tonari.models.customers import Customer
from tonari.models.ledger import LedgerAccount, PointLot
from tonari.programs.schemas import Programme


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
        )
        .returning(Customer.id, literal_column("(xmax = 0)").label("inserted"))
    )
    row = (await session.execute(statement)).one()
    if row.inserted:
        await session.execute(
            pg_insert(LedgerAccount)
            .values(tenant_id=tenant_id, kind="customer", customer_id=row.id)
            .on_conflict_do_nothing()
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
    session: AsyncSession, *, tenant_id: int, reference: CustomerReference
) -> Any:
    """The buyer named by external id, card or phone, with tier and available points.

    One query, as it sits on the hot path of calculate, place and personal prices.
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
    column = getattr(Customer, name)
    rows = (
        await session.execute(
            select(
                Customer.id,
                Customer.external_id,
                Customer.customer_type,
                Customer.tier_code,
                LedgerAccount.available,
            )
            .join(LedgerAccount, LedgerAccount.customer_id == Customer.id)
            .where(Customer.tenant_id == tenant_id, column == value)
            .limit(2)
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


async def find_customer_id(
    session: AsyncSession, *, tenant_id: int, reference: CustomerReference
) -> int:
    row = await find_customer_row(session, tenant_id=tenant_id, reference=reference)
    return int(row.id)


async def get_customer(session: AsyncSession, *, tenant_id: int, external_id: str) -> Customer:
    customer = await session.scalar(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.external_id == external_id)
    )
    if customer is None:
        raise NotFound(f"no customer {external_id!r}", field="external_id", code="unknown_customer")
    return customer


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
        customer_type=customer.customer_type,
        tier=customer.tier_code,
        tier_name=tier_name,
        tier_since=customer.tier_since,
        lifetime_spend=customer.lifetime_spend,
        orders_count=customer.orders_count,
        last_purchase_at=customer.last_purchase_at,
        balances=balances,
        created_at=customer.created_at,
    )
