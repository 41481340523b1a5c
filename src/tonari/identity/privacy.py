"""GDPR: everything Tonari holds about one person, and the erasure of what identifies them.

The person is a live profile plus every profile folded into it: a merge keeps the folded rows
(for an undo), and their records, events and points are the same person's.

Erasure anonymises instead of deleting. The ledger, orders and loyalty history stay whole, so
balances still equal the sum of their postings and the brand's aggregates (spend, liability,
redemptions) do not change; what goes is every value that names the person: names, contacts,
cards, the brand's own id for them, source rows, event payloads, cookie links. Source records
keep their record id and ``erased_at``, so importing the same source row again is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.sources import API_SOURCE
from tonari.kit.errors import NotFound
from tonari.kit.outbox import record_event
from tonari.ledger.transfers import lock_accounts
from tonari.models.activities import ActivityReport, ActivityReward
from tonari.models.base import table_of
from tonari.models.codes import CodeRedemption, PromoCode
from tonari.models.customers import Customer
from tonari.models.events import AnonymousLink, CustomerEvent
from tonari.models.identity import CustomerSource, IdentityMerge, SourceRecord
from tonari.models.ledger import LedgerAccount, LedgerEntry, LedgerPosting, PointLot
from tonari.models.offers import Membership, OfferApplication, StampMovement
from tonari.models.orders import Order, OrderLine, OrderReturn
from tonari.models.partners import PartnerAccrual, PartnerHolder

ERASED_PREFIX = "erased:"
# Merges flatten chains (a profile folded into a folded one is re-pointed to the survivor), so
# one hop is the rule; the bound only guards against a corrupt cycle.
MAX_MERGE_HOPS = 32
# Columns of a profile and of a source record that say who the person is.
PROFILE_PII = (
    "email",
    "phone",
    "card_number",
    "first_name",
    "last_name",
    "middle_name",
    "birth_date",
    "gender",
    "city",
    "address",
    "postcode",
    "region",
    "email_status",
    "phone_status",
)
RECORD_PII = (*PROFILE_PII, "email_key", "external_id", "anonymous_id")
ABOUT = {
    "profile": "the golden record Tonari keeps for you, and which source gave each value",
    "folded_profiles": "profiles found to be you and merged into the one above",
    "identifiers": "every e-mail, phone, card, customer id and device/cookie id linked to you",
    "source_records": "what each of the brand's customer databases said about you, as received "
    "(raw) and as cleaned, with the problems found in the values (flags)",
    "balances": "your points now: pending (not yet usable), available, reserved, debt",
    "ledger": "every movement of your points, with the postings on your accounts",
    "point_lots": "each batch of points earned, with when it became usable and when it expires",
    "orders": "your purchases with their lines and returns",
    "events": "what the shop, app or e-mails reported you doing",
    "loyalty": "memberships, stamps, offers applied, activity rewards, codes, partner points",
    "merges": "when and why profiles of yours were merged or separated",
}


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """How many rows were anonymised; ``already_erased``: the person had been erased before."""

    profiles: int
    records: int
    events: int
    links: int
    already_erased: bool


@dataclass(frozen=True, slots=True)
class _Person:
    live_id: int
    profile_ids: list[int]


async def _person(session: AsyncSession, tenant_id: int, customer_id: int) -> _Person:
    """The live profile behind ``customer_id`` and every profile folded into it."""
    current, hops = customer_id, 0
    while True:
        found = (
            await session.execute(
                select(Customer.id, Customer.merged_into_id).where(
                    Customer.tenant_id == tenant_id, Customer.id == current
                )
            )
        ).first()
        if found is None:
            raise NotFound(f"no profile {customer_id}", field="profile_id")
        if found.merged_into_id is None or hops >= MAX_MERGE_HOPS:
            break
        current, hops = int(found.merged_into_id), hops + 1
    folded = await session.scalars(
        text(
            "WITH RECURSIVE folded(id) AS ("
            " SELECT id FROM customers WHERE tenant_id = :tenant_id AND merged_into_id = :live"
            " UNION SELECT c.id FROM customers c JOIN folded f ON c.merged_into_id = f.id"
            " WHERE c.tenant_id = :tenant_id) SELECT id FROM folded ORDER BY id"
        ),
        {"tenant_id": tenant_id, "live": current},
    )
    return _Person(current, [current, *(int(i) for i in folded if i != current)])


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


async def _rows(
    session: AsyncSession,
    table: Table,
    *conditions: Any,
    order_by: Any = None,
    drop: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Every column of the matching rows but the tenant (and ``drop``), ready for JSON."""
    statement = select(table).where(*conditions)
    statement = statement.order_by(order_by if order_by is not None else table.c.id)
    hidden = {"tenant_id", *drop}
    return [
        {key: _jsonable(value) for key, value in row.items() if key not in hidden}
        for row in (await session.execute(statement)).mappings()
    ]


async def export_person(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> dict[str, Any]:
    """A JSON-ready copy of everything about the person (GDPR access and portability)."""
    person = await _person(session, tenant_id, customer_id)
    ids = person.profile_ids
    customers = table_of(Customer)
    profiles = await _rows(session, customers, customers.c.id.in_(ids))
    by_id = {profile["id"]: profile for profile in profiles}
    records = await _source_records(session, tenant_id, ids)
    accounts = table_of(LedgerAccount)
    balances = await _rows(
        session, accounts, accounts.c.tenant_id == tenant_id, accounts.c.customer_id.in_(ids)
    )
    account_ids = [account["id"] for account in balances]
    links = await _rows(
        session,
        table_of(AnonymousLink),
        AnonymousLink.tenant_id == tenant_id,
        AnonymousLink.customer_id.in_(ids),
        order_by=AnonymousLink.anonymous_id,
    )
    holders = await _rows(
        session,
        table_of(PartnerHolder),
        PartnerHolder.tenant_id == tenant_id,
        or_(PartnerHolder.claimed_by_customer_id.in_(ids), PartnerHolder.customer_id.in_(ids)),
    )
    generated_at = await session.scalar(select(func.now()))
    return {
        "generated_at": _jsonable(generated_at),
        "about": " ".join(f"{name}: {meaning}." for name, meaning in ABOUT.items()),
        "profile": by_id[person.live_id],
        "folded_profiles": [by_id[i] for i in ids if i != person.live_id],
        "identifiers": _identifiers(profiles, records, links, holders),
        "source_records": records,
        "balances": balances,
        "ledger": await _ledger(session, tenant_id, ids, account_ids),
        "point_lots": await _rows(
            session,
            table_of(PointLot),
            PointLot.tenant_id == tenant_id,
            PointLot.account_id.in_(account_ids),
        ),
        "orders": await _orders(session, tenant_id, ids),
        "events": await _events(session, tenant_id, ids),
        "loyalty": await _loyalty(session, tenant_id, ids, holders),
        "merges": await _rows(
            session,
            table_of(IdentityMerge),
            IdentityMerge.tenant_id == tenant_id,
            or_(IdentityMerge.survivor_id.in_(ids), IdentityMerge.merged_id.in_(ids)),
        ),
    }


def _identifiers(
    profiles: list[dict[str, Any]],
    records: list[dict[str, Any]],
    links: list[dict[str, Any]],
    holders: list[dict[str, Any]],
) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {
        name: set() for name in ("emails", "phones", "cards", "external_ids", "anonymous_ids")
    }
    sources = [
        *profiles,
        *(record["cleaned"] for record in records),
        *({"anonymous_id": link["anonymous_id"]} for link in links),
        *holders,
    ]
    for values in sources:
        for column, kind in (
            ("email", "emails"),
            ("phone", "phones"),
            ("card_number", "cards"),
            ("external_id", "external_ids"),
            ("anonymous_id", "anonymous_ids"),
        ):
            if values.get(column):
                found[kind].add(str(values[column]))
    return {kind: sorted(values) for kind, values in found.items()}


async def _source_records(
    session: AsyncSession, tenant_id: int, ids: list[int]
) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(SourceRecord, CustomerSource.name)
            .join(CustomerSource, CustomerSource.id == SourceRecord.source_id)
            .where(
                SourceRecord.tenant_id == tenant_id,
                or_(SourceRecord.profile_id.in_(ids), SourceRecord.home_profile_id.in_(ids)),
            )
            .order_by(CustomerSource.name, SourceRecord.record_id)
        )
    ).all()
    return [
        _jsonable(
            {
                "source": source_name,
                "record_id": record.record_id,
                "profile_id": record.profile_id,
                "raw": record.raw,
                "cleaned": {name: getattr(record, name) for name in RECORD_PII},
                "flags": record.flags,
                "match_score": record.match_score,
                "match_rule": record.match_rule,
                "source_updated_at": record.source_updated_at,
                "first_seen_at": record.first_seen_at,
                "last_seen_at": record.last_seen_at,
                "erased_at": record.erased_at,
            }
        )
        for record, source_name in rows
    ]


async def _ledger(
    session: AsyncSession, tenant_id: int, ids: list[int], account_ids: list[int]
) -> list[dict[str, Any]]:
    """Entries about them or touching their accounts; only the postings on their accounts."""
    touching = select(LedgerPosting.entry_id).where(LedgerPosting.account_id.in_(account_ids))
    entries = await _rows(
        session,
        table_of(LedgerEntry),
        LedgerEntry.tenant_id == tenant_id,
        or_(LedgerEntry.customer_id.in_(ids), LedgerEntry.id.in_(touching)),
        drop=("idempotency_key",),
    )
    postings = await _rows(
        session,
        table_of(LedgerPosting),
        LedgerPosting.tenant_id == tenant_id,
        LedgerPosting.account_id.in_(account_ids),
    )
    for entry in entries:
        entry["postings"] = [p for p in postings if p["entry_id"] == entry["id"]]
    return entries


async def _orders(session: AsyncSession, tenant_id: int, ids: list[int]) -> list[dict[str, Any]]:
    orders = await _rows(
        session,
        table_of(Order),
        Order.tenant_id == tenant_id,
        Order.customer_id.in_(ids),
        order_by=Order.placed_at,
        drop=("request_hash",),
    )
    order_ids = [order["id"] for order in orders]
    lines = await _rows(
        session,
        table_of(OrderLine),
        OrderLine.tenant_id == tenant_id,
        OrderLine.order_id.in_(order_ids),
    )
    returns = await _rows(
        session,
        table_of(OrderReturn),
        OrderReturn.tenant_id == tenant_id,
        OrderReturn.order_id.in_(order_ids),
        drop=("request_hash",),
    )
    for order in orders:
        order["lines"] = [line for line in lines if line["order_id"] == order["id"]]
        order["returns"] = [item for item in returns if item["order_id"] == order["id"]]
    return orders


async def _events(session: AsyncSession, tenant_id: int, ids: list[int]) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(
            CustomerEvent.event_id,
            CustomerEvent.event_type,
            CustomerEvent.occurred_at,
            CustomerEvent.entity_id,
            CustomerEvent.anonymous_id,
            CustomerEvent.payload,
            CustomerEvent.received_at,
        )
        .where(CustomerEvent.tenant_id == tenant_id, CustomerEvent.customer_id.in_(ids))
        .order_by(CustomerEvent.occurred_at, CustomerEvent.id)
    )
    return [_jsonable(dict(row)) for row in rows.mappings()]


async def _loyalty(
    session: AsyncSession, tenant_id: int, ids: list[int], holders: list[dict[str, Any]]
) -> dict[str, Any]:
    def of(model: Any, column: Any = None) -> tuple[Table, Any, Any]:
        owner = model.customer_id if column is None else column
        return table_of(model), model.tenant_id == tenant_id, owner.in_(ids)

    return {
        "memberships": await _rows(session, *of(Membership)),
        "stamps": await _rows(session, *of(StampMovement), drop=("idempotency_key",)),
        "offer_applications": await _rows(session, *of(OfferApplication)),
        "activity_reports": await _rows(session, *of(ActivityReport), drop=("request_hash",)),
        "activity_rewards": await _rows(session, *of(ActivityReward)),
        "codes_owned": await _rows(session, *of(PromoCode, PromoCode.owner_customer_id)),
        "codes_redeemed": await _rows(session, *of(CodeRedemption)),
        "partner_accruals": await _rows(
            session,
            table_of(PartnerAccrual),
            PartnerAccrual.tenant_id == tenant_id,
            or_(
                PartnerAccrual.customer_id.in_(ids),
                # Credited to a side account of theirs before they claimed it.
                PartnerAccrual.holder_id.in_([holder["id"] for holder in holders]),
            ),
        ),
        "partner_side_accounts": holders,
    }


def _pseudonym() -> str:
    return f"{ERASED_PREFIX}{secrets.token_hex(16)}"


async def erase_person(
    session: AsyncSession, *, tenant_id: int, customer_id: int, at: datetime, actor: str
) -> ErasureResult:
    """Anonymise the person (right to erasure); the ledger and the aggregates stay whole.

    Idempotent: every step only touches what is not anonymised yet, so a second call changes
    nothing and records no event. The ledger accounts and then the profiles are locked first,
    in the order merges and orders take them, so a merge, an order paid or a second erasure
    running at the same time waits for this one instead of deadlocking with it.
    """
    person = await _person(session, tenant_id, customer_id)
    ids = person.profile_ids
    await lock_accounts(session, tenant_id, ids)
    locked = (
        await session.execute(
            select(Customer.id, Customer.external_id, Customer.erased_at)
            .where(Customer.tenant_id == tenant_id, Customer.id.in_(ids))
            .order_by(Customer.id)
            .with_for_update()
        )
    ).all()
    pending = [row for row in locked if row.erased_at is None]
    pseudonyms = {row.id: _pseudonym() for row in pending}
    for row in pending:
        await session.execute(
            update(Customer)
            .where(Customer.id == row.id)
            .values(
                **dict.fromkeys(PROFILE_PII),
                provenance={},
                external_id=pseudonyms[row.id],
                erased_at=at,
                updated_at=at,
            )
        )
    live_name = pseudonyms.get(person.live_id) or next(
        str(row.external_id) for row in locked if row.id == person.live_id
    )
    params = {"tenant_id": tenant_id, "ids": ids}
    records = await _erase_records(session, tenant_id, ids, pseudonyms, at)
    links = list(
        await session.scalars(
            text(
                "DELETE FROM anonymous_links WHERE tenant_id = :tenant_id "
                "AND customer_id = ANY(:ids) RETURNING anonymous_id"
            ),
            params,
        )
    )
    # The anonymous id is a device or cookie identifier: it goes with the payload. Events the
    # visitor sent before logging in were attached to the profile when the link was made.
    events = await _count(
        session,
        "UPDATE customer_events SET payload = '{}'::jsonb, anonymous_id = NULL "
        "WHERE tenant_id = :tenant_id AND (customer_id = ANY(:ids) "
        "OR (customer_id IS NULL AND anonymous_id = ANY(:links))) "
        "AND (payload <> '{}'::jsonb OR anonymous_id IS NOT NULL) RETURNING 1",
        {**params, "links": links},
    )
    # A claimed side account keeps its points history; the card and phone that named the
    # holder go, and its key (made of them) is replaced so new partner rows with that card
    # no longer reach this person.
    holders = await _count(
        session,
        "UPDATE partner_holders SET card_number = NULL, phone = NULL, "
        f"holder_key = '{ERASED_PREFIX}' || md5(random()::text || id::text) "
        "WHERE tenant_id = :tenant_id AND (claimed_by_customer_id = ANY(:ids) "
        f"OR customer_id = ANY(:ids)) AND holder_key NOT LIKE '{ERASED_PREFIX}%' RETURNING 1",
        params,
    )
    # Rows credited to a side account before the person claimed it name them by card too.
    accruals = await _count(
        session,
        "UPDATE partner_accruals SET card_number = NULL, phone = NULL "
        "WHERE tenant_id = :tenant_id AND (customer_id = ANY(:ids) OR holder_id IN ("
        " SELECT id FROM partner_holders WHERE tenant_id = :tenant_id"
        " AND claimed_by_customer_id = ANY(:ids))) "
        "AND (card_number IS NOT NULL OR phone IS NOT NULL) RETURNING 1",
        params,
    )
    # An order's stored answer names the buyer by the brand's id, which may itself be PII.
    orders = await _count(
        session,
        "UPDATE orders SET result = jsonb_set(result, '{customer}', to_jsonb(CAST(:name AS text))) "
        "WHERE tenant_id = :tenant_id AND customer_id = ANY(:ids) "
        "AND result ? 'customer' AND result->>'customer' IS DISTINCT FROM :name RETURNING 1",
        {**params, "name": live_name},
    )
    counts = {
        "profiles": len(pending),
        "records": records,
        "events": events,
        "links": len(links),
        "partner_holders": holders,
        "partner_accruals": accruals,
        "orders": orders,
    }
    if any(counts.values()):
        await record_event(
            session,
            tenant_id=tenant_id,
            event_type="profile.erased",
            subject=live_name,
            payload={"profile_id": person.live_id, "actor": actor, **counts},
            occurred_at=at,
        )
    return ErasureResult(
        profiles=len(pending),
        records=records,
        events=events,
        links=len(links),
        already_erased=not pending,
    )


async def _count(session: AsyncSession, statement: str, params: dict[str, Any]) -> int:
    return len(list(await session.scalars(text(statement), params)))


async def _erase_records(
    session: AsyncSession,
    tenant_id: int,
    ids: list[int],
    pseudonyms: dict[int, str],
    at: datetime,
) -> int:
    """Empty the person's source records, keeping each one's source and record id.

    The kept record id is what makes a later import of the same source row a refusal rather
    than a new record. The ``api`` source's record id *is* the brand's id for the customer,
    so it takes the profile's new pseudonym instead (and a new customer registering under
    the old id later gets a record of their own).
    """
    api_source_id = await session.scalar(
        select(CustomerSource.id).where(
            CustomerSource.tenant_id == tenant_id, CustomerSource.name == API_SOURCE
        )
    )
    rows = (
        await session.execute(
            select(SourceRecord.id, SourceRecord.source_id, SourceRecord.profile_id).where(
                SourceRecord.tenant_id == tenant_id,
                or_(SourceRecord.profile_id.in_(ids), SourceRecord.home_profile_id.in_(ids)),
                SourceRecord.erased_at.is_(None),
            )
        )
    ).all()
    for row in rows:
        values: dict[str, Any] = {
            **dict.fromkeys(RECORD_PII),
            "raw": {},
            "flags": [],
            # A digest of the raw values would still confirm a guess of them.
            "content_hash": "erased",
            "needs_resolution": False,
            "erased_at": at,
            "changed_at": at,
        }
        if row.source_id == api_source_id:
            values["record_id"] = pseudonyms.get(row.profile_id) or _pseudonym()
        await session.execute(update(SourceRecord).where(SourceRecord.id == row.id).values(values))
    return len(rows)
