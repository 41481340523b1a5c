"""What a template sees: the customer's data as it is at send time, plus the queued context.

Read at render time, never copied when the message is queued, so a reminder queued on Monday
and sent on Tuesday shows Tuesday's balance. Amounts are integer minor units; ``*_text``
variants are formatted for display ("20 000,00 RUB" style is the brand's job: we give a plain
``20000.00 RUB``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import Balances, CustomerReference
from tonari.kit.errors import NotFound
from tonari.models.catalog import Product
from tonari.models.customers import Customer
from tonari.models.events import CustomerEvent
from tonari.models.ledger import LedgerAccount, PointLot
from tonari.prices.service import PricedProductIn, PricesIn, personal_prices
from tonari.programs.schemas import CURRENCY_MINOR_UNITS, Programme
from tonari.programs.service import programme_in_force

MAX_WISHLIST_ITEMS = 20

# The names the customer part of the context always provides.
CUSTOMER_VARIABLES = frozenset(
    {
        "customer",
        "first_name",
        "name",
        "email",
        "balance",
        "points",
        "tier",
        "next_tier",
        "expiring",
        "wishlist",
        "currency",
        "programme",
        "now",
    }
)
# Names a journey, campaign or test send may put in the queued context; absent ones are None
# so that ``{% if promo_code %}`` works in a template used from several places.
QUEUED_VARIABLES = frozenset(
    {
        "context",
        "cart",
        "order",
        "promo_code",
        "code",
        "offer",
        "temporary_points",
        "product",
        "products",
        "campaign",
        "journey",
        "segment",
        "link",
        "links",
        "unsubscribe_url",
        "magic_link",
        "site_url",
        "send_id",
        "message",
        "data",
    }
)
KNOWN_VARIABLES = CUSTOMER_VARIABLES | QUEUED_VARIABLES


def money_text(amount: int, currency: str) -> str:
    digits = CURRENCY_MINOR_UNITS.get(currency, 2)
    if digits == 0:
        return f"{amount} {currency}"
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d} {currency}"


def next_tier_of(programme: Programme, customer: Customer) -> dict[str, Any] | None:
    """The next tier up and the qualifying spend still missing (lifetime spend basis).

    For rolling or calendar-month bases the distance is measured against lifetime spend too;
    it is a display hint, the tier evaluation itself stays in tonari.rules.tiers.
    """
    index = programme.tier_index(customer.tier_code)
    if index + 1 >= len(programme.tiers):
        return None
    upcoming = programme.tiers[index + 1]
    left = max(upcoming.threshold - customer.lifetime_spend, 0)
    return {
        "code": upcoming.code,
        "name": upcoming.name,
        "threshold": upcoming.threshold,
        "amount_left": left,
        "amount_left_text": money_text(left, programme.currency),
        "earn_rate_bp": upcoming.earn_rate_bp,
    }


async def soonest_expiry(
    session: AsyncSession, *, tenant_id: int, customer_id: int, at: datetime
) -> dict[str, Any] | None:
    """The points that expire first, and when: every available lot sharing that expiry date."""
    account_id = await session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.tenant_id == tenant_id, LedgerAccount.customer_id == customer_id
        )
    )
    if account_id is None:
        return None
    first = await session.scalar(
        select(func.min(PointLot.expires_at)).where(
            PointLot.account_id == account_id,
            PointLot.state == "available",
            PointLot.remaining > 0,
            PointLot.expires_at > at,
        )
    )
    if first is None:
        return None
    amount = await session.scalar(
        select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
            PointLot.account_id == account_id,
            PointLot.state == "available",
            PointLot.remaining > 0,
            PointLot.expires_at == first,
        )
    )
    return {
        "points": int(amount or 0),
        "at": first,
        "date": first.date().isoformat(),
        "days_left": max((first - at) // timedelta(days=1), 0),
    }


async def wishlist_products(
    session: AsyncSession, *, tenant_id: int, customer: Customer, at: datetime
) -> list[dict[str, Any]]:
    """Products whose latest wishlist event is an addition, newest first, with own prices."""
    latest = (
        select(
            CustomerEvent.entity_id,
            CustomerEvent.event_type,
            CustomerEvent.occurred_at,
            func.row_number()
            .over(partition_by=CustomerEvent.entity_id, order_by=CustomerEvent.occurred_at.desc())
            .label("position"),
        )
        .where(
            CustomerEvent.tenant_id == tenant_id,
            CustomerEvent.customer_id == customer.id,
            CustomerEvent.event_type.in_(("wishlist_added", "wishlist_removed")),
            CustomerEvent.entity_id.is_not(None),
            CustomerEvent.occurred_at <= at,
        )
        .subquery()
    )
    rows = (
        await session.execute(
            select(Product.product_id, Product.name, Product.category, Product.price)
            .join(latest, latest.c.entity_id == Product.product_id)
            .where(
                Product.tenant_id == tenant_id,
                latest.c.position == 1,
                latest.c.event_type == "wishlist_added",
            )
            .order_by(latest.c.occurred_at.desc())
            .limit(MAX_WISHLIST_ITEMS)
        )
    ).all()
    if not rows:
        return []
    priced = await personal_prices(
        session,
        tenant_id=tenant_id,
        body=PricesIn(
            customer=CustomerReference(external_id=customer.external_id),
            products=[
                PricedProductIn(product_id=r.product_id, price=r.price, category=r.category)
                for r in rows
            ],
        ),
        at=at,
    )
    by_id = {item["product_id"]: item for item in priced["products"]}
    currency = priced["currency"]
    items = []
    for row in rows:
        price = by_id[row.product_id]
        personal = price.get("personal_price")
        items.append(
            {
                "product_id": row.product_id,
                "name": row.name,
                "category": row.category,
                "regular_price": row.price,
                "regular_price_text": money_text(row.price, currency),
                "personal_price": personal,
                "personal_price_text": None if personal is None else money_text(personal, currency),
                "points_to_spend": price.get("points_to_spend", 0),
                "points_to_earn": price.get("points_to_earn", 0),
            }
        )
    return items


# The customer variables that need the points account.
_BALANCE_VARIABLES = frozenset({"balance", "points"})
EXPIRING_WITHIN_DAYS = 30


_NO_POINTS = Balances(
    pending=0,
    available=0,
    reserved=0,
    expiring_soon=0,
    expiring_within_days=EXPIRING_WITHIN_DAYS,
    debt=0,
)


async def _balances(
    session: AsyncSession, *, tenant_id: int, customer_ids: Collection[int], at: datetime
) -> dict[int, Balances]:
    """``customer_balances`` of many customers in one statement (accounts, points expiring soon).

    A profile made outside the customer API (an import, identity) may have no account yet: it
    simply has no points.
    """
    expiring = (
        select(func.coalesce(func.sum(PointLot.remaining), 0))
        .where(
            PointLot.account_id == LedgerAccount.id,
            PointLot.state == "available",
            PointLot.remaining > 0,
            PointLot.expires_at <= at + timedelta(days=EXPIRING_WITHIN_DAYS),
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            LedgerAccount.customer_id,
            LedgerAccount.pending,
            LedgerAccount.available,
            LedgerAccount.reserved,
            LedgerAccount.debt,
            expiring.label("expiring"),
        ).where(
            LedgerAccount.tenant_id == tenant_id, LedgerAccount.customer_id.in_(list(customer_ids))
        )
    )
    found = {
        row.customer_id: Balances(
            pending=row.pending,
            available=row.available,
            reserved=row.reserved,
            expiring_soon=int(row.expiring or 0),
            expiring_within_days=EXPIRING_WITHIN_DAYS,
            debt=row.debt,
        )
        for row in rows
    }
    return {customer_id: found.get(customer_id, _NO_POINTS) for customer_id in customer_ids}


def _profile_values(customer: Customer, programme: Programme, at: datetime) -> dict[str, Any]:
    tier = programme.tier(customer.tier_code)
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    return {
        "customer": {
            "id": customer.id,
            "external_id": customer.external_id,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "name": name or None,
            "email": customer.email,
            "phone": customer.phone,
            "city": customer.city,
            "gender": customer.gender,
            "birth_date": customer.birth_date,
            "lifetime_spend": customer.lifetime_spend,
            "orders_count": customer.orders_count,
            "attributes": dict(customer.attributes or {}),
        },
        "first_name": customer.first_name,
        "name": name or None,
        "email": customer.email,
        "tier": {"code": tier.code, "name": tier.name, "earn_rate_bp": tier.earn_rate_bp},
        "next_tier": next_tier_of(programme, customer),
        "currency": programme.currency,
        "programme": {"name": programme.name, "point_value_minor": programme.point_value_minor},
        "now": at,
    }


def _points_values(balances: Balances) -> dict[str, Any]:
    return {
        "balance": max(balances.available, 0),
        "points": {
            "available": max(balances.available, 0),
            "pending": balances.pending,
            "reserved": balances.reserved,
            "expiring_30_days": balances.expiring_soon,
        },
    }


async def customer_contexts(
    session: AsyncSession,
    *,
    tenant_id: int,
    customers: Sequence[Customer],
    at: datetime,
    only: Collection[str] | None = None,
) -> dict[int, dict[str, Any]]:
    """The customer variables of every template (see ``CUSTOMER_VARIABLES``), per customer id.

    ``only``: the names a template reads (``jinja2.meta.find_undeclared_variables``); the
    variables that need their own queries (balances, expiring points, the wishlist with its
    personal prices) are left out, queries and all, when it does not read them. The programme
    in force is always read, so a missing programme fails the same way whatever the template.
    Balances of all the customers are read in one statement (a mailing renders many).
    """
    wanted = CUSTOMER_VARIABLES if only is None else CUSTOMER_VARIABLES.intersection(only)
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    contexts = {customer.id: _profile_values(customer, programme, at) for customer in customers}
    if not _BALANCE_VARIABLES.isdisjoint(wanted) and contexts:
        balances = await _balances(session, tenant_id=tenant_id, customer_ids=list(contexts), at=at)
        for customer_id, values in contexts.items():
            values.update(_points_values(balances[customer_id]))
    for customer in customers:
        values = contexts[customer.id]
        if "expiring" in wanted:
            values["expiring"] = await soonest_expiry(
                session, tenant_id=tenant_id, customer_id=customer.id, at=at
            )
        if "wishlist" in wanted:
            values["wishlist"] = await wishlist_products(
                session, tenant_id=tenant_id, customer=customer, at=at
            )
    return contexts


async def customer_context(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    at: datetime,
    only: Collection[str] | None = None,
    customer: Customer | None = None,
) -> dict[str, Any]:
    """One customer's variables (``customer_contexts``); ``customer``: the profile, when the
    caller has just read it in this transaction. A missing customer is ``NotFound``."""
    if customer is None or customer.tenant_id != tenant_id or customer.id != customer_id:
        customer = await session.scalar(
            select(Customer).where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
        )
    if customer is None:
        raise NotFound(f"no customer {customer_id}", field="customer_id", code="unknown_customer")
    contexts = await customer_contexts(
        session, tenant_id=tenant_id, customers=[customer], at=at, only=only
    )
    return contexts[customer.id]
