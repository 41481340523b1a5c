"""Load the demo brand through the real services, so every balance, lot and tier is genuine.

Customers, orders, returns and cancellations are generated from a fixed seed and replayed in
time order; the ledger jobs (release of pending points, expiry) run as the simulated clock
passes, exactly as the worker would have run them. Only the timestamps move with ``now``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import CustomerReference, CustomerUpsert, normalise_phone
from tonari.customers.service import upsert_customer
from tonari.demo.data import (
    CATALOGUE,
    CITIES,
    CUSTOMER_COUNT,
    DEMO_SEED,
    DEMO_TENANT_NAME,
    DEMO_TENANT_SLUG,
    EMAIL_DOMAINS,
    FEMALE_FIRST,
    HISTORY_DAYS,
    INTERESTS,
    MALE_FIRST,
    MOBILE_PREFIXES,
    SURNAMES,
    DemoProduct,
    DemoSummary,
    ProgressCallback,
    programme_document,
    transliterate,
)
from tonari.demo.identity import load_club_members
from tonari.demo.messaging import set_up_demo_messaging
from tonari.ledger.jobs import expire_batch, release_pending_batch
from tonari.models.catalog import Product
from tonari.models.customers import Customer
from tonari.models.ledger import LedgerAccount
from tonari.models.orders import Order
from tonari.models.tenants import Tenant
from tonari.orders.changes import cancel_order, return_order_lines
from tonari.orders.schemas import CartIn, OrderLineIn, OrderPlace, OrderReturnIn, ReturnLineIn
from tonari.orders.service import calculate_order, place_order
from tonari.programs.schemas import CustomerType
from tonari.programs.service import apply_programme
from tonari.tenants.service import SCOPES, create_api_key, create_tenant

ACTOR = "demo"
JOBS_EVERY = timedelta(days=7)


@dataclass(slots=True)
class _Person:
    external_id: str
    fields: CustomerUpsert
    interest: str
    joined_at: datetime
    orders: int


@dataclass(order=True, slots=True)
class _Event:
    at: datetime
    seq: int
    kind: str = field(compare=False)  # "order", "return", "cancel"
    payload: Any = field(compare=False)


def _people(rng: random.Random, now: datetime) -> list[_Person]:
    people: list[_Person] = []
    phones: set[str] = set()
    cards: set[str] = set()
    city_names = [name for name, _ in CITIES]
    city_weights = [weight for _, weight in CITIES]
    for number in range(1, CUSTOMER_COUNT + 1):
        female = rng.random() < 0.52
        first = rng.choice(FEMALE_FIRST if female else MALE_FIRST)
        last = rng.choice(SURNAMES)[1 if female else 0]
        roll = rng.random()
        customer_type = (
            CustomerType.LEGAL_ENTITY
            if roll < 0.05
            else CustomerType.EMPLOYEE
            if roll < 0.08
            else CustomerType.PERSON
        )
        email = None
        if rng.random() < 0.92:
            local = f"{transliterate(first)}.{transliterate(last)}{rng.randint(1, 999)}"
            email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        phone = None
        if rng.random() < 0.9:
            while True:
                candidate = f"+7{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 9_999_999):07d}"
                try:
                    candidate = normalise_phone(candidate)
                except ValueError:
                    continue
                if candidate not in phones:
                    phones.add(candidate)
                    phone = candidate
                    break
        card = None
        if rng.random() < 0.7:
            while card is None or card in cards:
                card = f"2700{rng.randint(0, 999_999_999):09d}"
            cards.add(card)
        fields = CustomerUpsert(
            email=email,
            phone=phone,
            card_number=card,
            first_name=first,
            last_name=last,
            birth_date=date(rng.randint(1955, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            gender="female" if female else "male",
            city=rng.choices(city_names, city_weights)[0],
            customer_type=customer_type,
        )
        # The 80/20 of the seeds: a few loyal customers buy often, most buy a few times.
        orders = rng.choices([1, 2, 3, 4, 5, 6, 8, 11, 15], [24, 20, 15, 11, 9, 7, 6, 5, 3])[0]
        joined_at = (
            now
            - timedelta(days=HISTORY_DAYS)
            + timedelta(seconds=rng.randint(0, (HISTORY_DAYS - 60) * 86_400))
        )
        interest = rng.choices(INTERESTS, [45, 25, 30])[0]
        people.append(_Person(f"C{number:05d}", fields, interest, joined_at, orders))
    return people


def _basket(
    rng: random.Random, interest: str, by_category: dict[str, list[DemoProduct]]
) -> list[OrderLineIn]:
    category = interest if rng.random() < 0.7 else rng.choice(INTERESTS)
    products = by_category[category]
    # Cheaper things sell more often: a kettle a week, a full-frame camera now and then.
    main = rng.choices(products, [1 / product.price**1.5 for product in products])[0]
    chosen: list[tuple[DemoProduct, int]] = [(main, 1)]
    if rng.random() < (0.6 if category == "photo" else 0.3):
        chosen.append((rng.choice(by_category["accessories"]), rng.choice([1, 1, 2, 3])))
    if rng.random() < 0.12:
        chosen.append((rng.choice(by_category["promo"]), 1))
    merged: dict[str, tuple[DemoProduct, int]] = {}
    for product, quantity in chosen:
        held = merged.get(product.product_id)
        merged[product.product_id] = (product, quantity + (held[1] if held else 0))
    return [
        OrderLineIn(
            product_id=product.product_id,
            category=product.category,
            unit_price=product.price,
            quantity=quantity,
        )
        for product, quantity in merged.values()
    ]


def _timeline(rng: random.Random, people: list[_Person], now: datetime) -> list[_Event]:
    by_category: dict[str, list[DemoProduct]] = {}
    for product in CATALOGUE:
        by_category.setdefault(product.category, []).append(product)
    events: list[_Event] = []
    seq = 0
    order_number = 100_000
    for person in people:
        span = (now - timedelta(hours=2) - person.joined_at).total_seconds()
        moments = sorted(
            person.joined_at + timedelta(seconds=rng.uniform(0, span)) for _ in range(person.orders)
        )
        for placed_at in moments:
            order_number += 1
            lines = _basket(rng, person.interest, by_category)
            pos = person.fields.card_number is not None and rng.random() < 0.3
            reference = (
                CustomerReference(card_number=person.fields.card_number)
                if pos
                else CustomerReference(external_id=person.external_id)
            )
            recent = now - placed_at < timedelta(days=3)
            order = {
                "order_id": f"{'POS' if pos else 'WEB'}-{order_number}",
                "customer": reference,
                "lines": lines,
                "placed_at": placed_at,
                "channel": "pos" if pos else "online",
                "paid": not (recent and rng.random() < 0.5),
                "spend": person.fields.customer_type is CustomerType.PERSON and rng.random() < 0.5,
            }
            seq += 1
            events.append(_Event(placed_at, seq, "order", order))
            if not order["paid"]:
                continue
            roll = rng.random()
            if roll < 0.02:
                at = placed_at + timedelta(hours=rng.randint(1, 48))
                if at < now:
                    seq += 1
                    events.append(_Event(at, seq, "cancel", order["order_id"]))
            elif roll < 0.07:
                at = placed_at + timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 23))
                if at < now:
                    line_no = rng.randint(1, len(lines))
                    quantity = rng.randint(1, lines[line_no - 1].quantity)
                    seq += 1
                    events.append(_Event(at, seq, "return", (order["order_id"], line_no, quantity)))
    events.sort()
    return events


async def _run_ledger_jobs(session: AsyncSession, *, tenant_id: int, now: datetime) -> None:
    for job in (release_pending_batch, expire_batch):
        while (await job(session, now=now, limit=500, tenant_id=tenant_id)).accounts:
            pass


async def _place(
    session: AsyncSession, rng: random.Random, *, tenant_id: int, order: dict[str, Any]
) -> None:
    points = 0
    if order["spend"]:
        cart = CartIn(
            customer=order["customer"],
            lines=order["lines"],
            points_to_spend=10**9,
            at=order["placed_at"],
        )
        quote = await calculate_order(
            session, tenant_id=tenant_id, body=cart, now=order["placed_at"]
        )
        most = int(quote["max_points_spendable"])
        if most > 0:
            points = most if rng.random() < 0.6 else rng.randint(most // 2 or 1, most)
    body = OrderPlace(
        order_id=order["order_id"],
        customer=order["customer"],
        lines=order["lines"],
        points_to_spend=points,
        placed_at=order["placed_at"],
        paid=order["paid"],
        channel=order["channel"],
    )
    await place_order(session, tenant_id=tenant_id, body=body, actor=ACTOR, now=order["placed_at"])


async def _create_brand(
    session: AsyncSession, *, now: datetime, progress: ProgressCallback | None
) -> tuple[int, str]:
    rng = random.Random(DEMO_SEED)
    tenant = await create_tenant(session, slug=DEMO_TENANT_SLUG, name=DEMO_TENANT_NAME)
    history_start = now - timedelta(days=HISTORY_DAYS + 30)
    await apply_programme(
        session,
        tenant_id=tenant.id,
        document=programme_document(),
        applied_by=ACTOR,
        effective_from=history_start,
    )
    _, api_key = await create_api_key(
        session, tenant_id=tenant.id, name="demo admin", scopes=sorted(SCOPES)
    )
    await session.execute(
        pg_insert(Product).values(
            [
                {
                    "tenant_id": tenant.id,
                    "product_id": p.product_id,
                    "name": p.name,
                    "category": p.category,
                    "price": p.price,
                }
                for p in CATALOGUE
            ]
        )
    )
    if progress:
        progress("catalogue", len(CATALOGUE), len(CATALOGUE))
    people = _people(rng, now)
    first_tier = str(programme_document()["tiers"][0]["code"])
    for done, person in enumerate(people, start=1):
        await upsert_customer(
            session,
            tenant_id=tenant.id,
            external_id=person.external_id,
            fields=person.fields,
            first_tier=first_tier,
            at=person.joined_at,
        )
        if progress and (done % 50 == 0 or done == len(people)):
            progress("customers", done, len(people))
    events = _timeline(rng, people, now)
    jobs_ran_at = history_start
    for done, event in enumerate(events, start=1):
        if event.at - jobs_ran_at >= JOBS_EVERY:
            await _run_ledger_jobs(session, tenant_id=tenant.id, now=event.at)
            jobs_ran_at = event.at
        if event.kind == "order":
            await _place(session, rng, tenant_id=tenant.id, order=event.payload)
        elif event.kind == "cancel":
            await cancel_order(
                session, tenant_id=tenant.id, order_id=event.payload, actor=ACTOR, at=event.at
            )
        else:
            order_id, line_no, quantity = event.payload
            await return_order_lines(
                session,
                tenant_id=tenant.id,
                order_id=order_id,
                body=OrderReturnIn(
                    return_id=f"R-{order_id}",
                    lines=[ReturnLineIn(line_no=line_no, quantity=quantity)],
                    returned_at=event.at,
                ),
                actor=ACTOR,
                now=event.at,
            )
        if progress and (done % 25 == 0 or done == len(events)):
            progress("history", done, len(events))
    await _run_ledger_jobs(session, tenant_id=tenant.id, now=now)
    if progress:
        progress("ledger jobs", 1, 1)
    strangers = [person.fields for person in _people(random.Random(DEMO_SEED + 1), now)]
    resolved = await load_club_members(
        session,
        tenant_id=tenant.id,
        customers=[person.fields for person in people if person.fields.customer_type == "person"],
        strangers=strangers,
        first_tier=first_tier,
        at=now,
        seed=DEMO_SEED,
    )
    if progress:
        progress("club members resolved", resolved.records, resolved.records)
    return tenant.id, api_key


async def demo_summary(
    session: AsyncSession, *, tenant_id: int, created: bool = False, api_key: str | None = None
) -> DemoSummary:
    """Counts a user would look at first, and a good customer to try the API with."""

    async def count(model: Any) -> int:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
            )
            or 0
        )

    tiers = {
        str(row.tier_code): int(row.n)
        for row in await session.execute(
            select(Customer.tier_code, func.count().label("n"))
            .where(Customer.tenant_id == tenant_id)
            .group_by(Customer.tier_code)
            .order_by(Customer.tier_code)
        )
    }
    points = (
        await session.execute(
            select(
                func.count().filter(LedgerAccount.available > 0),
                func.coalesce(func.sum(LedgerAccount.available), 0),
                func.coalesce(func.sum(LedgerAccount.pending), 0),
            ).where(LedgerAccount.tenant_id == tenant_id, LedgerAccount.customer_id.is_not(None))
        )
    ).one()
    sample = (
        await session.execute(
            select(Customer.external_id, Customer.card_number)
            .join(LedgerAccount, LedgerAccount.customer_id == Customer.id)
            .where(
                Customer.tenant_id == tenant_id,
                Customer.customer_type == CustomerType.PERSON.value,
                Customer.tier_code == "gold",
                Customer.card_number.is_not(None),
                LedgerAccount.available > 0,
            )
            .order_by(Customer.external_id)
            .limit(1)
        )
    ).first()
    slug = await session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))
    return DemoSummary(
        tenant_slug=str(slug),
        tenant_id=tenant_id,
        created=created,
        api_key=api_key,
        products=await count(Product),
        customers=await count(Customer),
        orders=await count(Order),
        tiers=tiers,
        customers_with_points=int(points[0]),
        points_available=int(points[1]),
        points_pending=int(points[2]),
        sample_customer=sample.external_id if sample else None,
        sample_card=sample.card_number if sample else None,
        sample_products=["DC-G100KEE", "NN-ST34HMZPE", "EAH-AZ80E-K", "PROMO-BQ-CC55"],
    )


async def load_demo(
    session: AsyncSession,
    *,
    now: datetime,
    progress: ProgressCallback | None = None,
    outbox_dir: Path | None = None,
) -> DemoSummary:
    """Create the demo brand ``panasonic-demo`` unless it exists; return what it holds.

    Runs in the caller's transaction (it never commits). With ``outbox_dir`` the brand's
    e-mail goes to a JSON-lines file there. The raw admin API key is in the
    summary only when this call created the brand: keys are stored hashed.
    """
    existing = await session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_TENANT_SLUG))
    if existing is not None:
        return await demo_summary(session, tenant_id=int(existing))
    tenant_id, api_key = await _create_brand(session, now=now, progress=progress)
    marketing = await set_up_demo_messaging(
        session, tenant_id=tenant_id, at=now, outbox_dir=outbox_dir
    )
    if progress:
        progress("segments and triggers", marketing.journeys, marketing.journeys)
    return await demo_summary(session, tenant_id=tenant_id, created=True, api_key=api_key)
