"""One profile as the API shows it, and finding profiles by any identifier or name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.service import customer_profile, get_customer
from tonari.events.timeline import customer_timeline
from tonari.identity.golden import GOLDEN_FIELDS
from tonari.identity.schemas import (
    AttributeOut,
    MergeOut,
    ProfileHit,
    ProfileOut,
    SourceRecordOut,
)
from tonari.models.customers import Customer
from tonari.models.events import AnonymousLink
from tonari.models.identity import CustomerSource, IdentityMerge, SourceRecord
from tonari.profiles.cleaning import clean_email, clean_phone
from tonari.programs.schemas import Programme

TIMELINE_PAGE = 20
SEARCH_LIMIT = 20


async def profile_view(
    session: AsyncSession,
    *,
    tenant_id: int,
    external_id: str,
    programme: Programme | None,
    at: datetime,
) -> ProfileOut:
    customer = await get_customer(session, tenant_id=tenant_id, external_id=external_id)
    summary = await customer_profile(
        session,
        tenant_id=tenant_id,
        external_id=customer.external_id,
        programme=programme,
        at=at,
    )
    records = (
        await session.execute(
            select(SourceRecord, CustomerSource.name)
            .join(CustomerSource, CustomerSource.id == SourceRecord.source_id)
            .where(
                SourceRecord.tenant_id == tenant_id,
                SourceRecord.profile_id == customer.id,
                SourceRecord.erased_at.is_(None),
            )
            .order_by(CustomerSource.name, SourceRecord.record_id)
        )
    ).all()
    provenance = customer.provenance or {}
    attributes = {
        name: AttributeOut(value=getattr(customer, name), **_known(provenance.get(name, {})))
        for name in GOLDEN_FIELDS
    }
    links = list(
        await session.scalars(
            select(AnonymousLink.anonymous_id).where(
                AnonymousLink.tenant_id == tenant_id, AnonymousLink.customer_id == customer.id
            )
        )
    )
    folded = list(
        await session.scalars(
            select(Customer.external_id).where(
                Customer.tenant_id == tenant_id, Customer.merged_into_id == customer.id
            )
        )
    )
    identifiers = _identifiers([record for record, _ in records], links)
    identifiers["external_id"] = sorted({customer.external_id, *folded})
    return ProfileOut(
        profile_id=customer.id,
        external_id=customer.external_id,
        customer=summary,
        attributes=attributes,
        identifiers=identifiers,
        records=[_record_out(record, source) for record, source in records],
        merges=await _merges(session, tenant_id, customer.id),
        timeline=await customer_timeline(
            session, tenant_id=tenant_id, external_id=customer.external_id, limit=TIMELINE_PAGE
        ),
    )


def _known(provenance: dict[str, Any]) -> dict[str, Any]:
    fields = set(AttributeOut.model_fields) - {"value"}
    return {key: value for key, value in provenance.items() if key in fields}


def _identifiers(records: list[SourceRecord], links: list[str]) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {"email": set(), "phone": set(), "card_number": set()}
    found["anonymous_id"] = set(links)
    for record in records:
        for name in ("email", "phone", "card_number", "anonymous_id"):
            value = getattr(record, name)
            if value:
                found[name].add(value)
    return {name: sorted(values) for name, values in found.items()}


def _record_out(record: SourceRecord, source: str) -> SourceRecordOut:
    return SourceRecordOut(
        source=source,
        record_id=record.record_id,
        match_rule=record.match_rule,
        match_score=record.match_score,
        first_name=record.first_name,
        last_name=record.last_name,
        birth_date=record.birth_date,
        email=record.email,
        email_status=record.email_status,
        phone=record.phone,
        phone_status=record.phone_status,
        city=record.city,
        card_number=record.card_number,
        flags=list(record.flags or []),
        first_seen_at=record.first_seen_at,
        changed_at=record.changed_at,
    )


async def _merges(session: AsyncSession, tenant_id: int, customer_id: int) -> list[MergeOut]:
    survivor = Customer.__table__.alias("survivor")
    merged = Customer.__table__.alias("merged")
    rows = (
        await session.execute(
            select(
                IdentityMerge.id,
                IdentityMerge.reason,
                IdentityMerge.merged_at,
                IdentityMerge.undone_at,
                survivor.c.external_id.label("survivor"),
                merged.c.external_id.label("merged"),
            )
            .join(survivor, survivor.c.id == IdentityMerge.survivor_id)
            .join(merged, merged.c.id == IdentityMerge.merged_id)
            .where(
                IdentityMerge.tenant_id == tenant_id,
                or_(
                    IdentityMerge.survivor_id == customer_id,
                    IdentityMerge.merged_id == customer_id,
                    merged.c.merged_into_id == customer_id,
                ),
            )
            .order_by(IdentityMerge.id)
        )
    ).all()
    return [
        MergeOut(
            merge_id=row.id,
            survivor=row.survivor,
            merged=row.merged,
            reason=row.reason,
            merged_at=row.merged_at,
            undone_at=row.undone_at,
        )
        for row in rows
    ]


async def search_profiles(
    session: AsyncSession, *, tenant_id: int, query: str, limit: int = SEARCH_LIMIT
) -> list[ProfileHit]:
    """Live profiles matching an email, phone, card, external or anonymous id, or a name.

    Identifiers are looked up in the records too, so an old address still finds the person;
    a name matches the start of a first or last name, or "first last" in either order.
    """
    text = query.strip()
    matches: dict[int, str] = {}
    email = clean_email(text) if "@" in text else None
    phone = clean_phone(text, default_region="RU") if any(c.isdigit() for c in text) else None
    record_terms: list[tuple[str, Any]] = [
        ("card_number", SourceRecord.card_number == text.replace(" ", "")),
        ("external_id", SourceRecord.external_id == text),
        ("record_id", SourceRecord.record_id == text),
        ("anonymous_id", SourceRecord.anonymous_id == text),
    ]
    if email is not None and email.matching_key:
        record_terms.append(("email", SourceRecord.email_key == email.matching_key))
    if phone is not None and phone.value:
        record_terms.append(("phone", SourceRecord.phone == phone.value))
    for label, term in record_terms:
        for profile_id in await session.scalars(
            select(SourceRecord.profile_id)
            .where(SourceRecord.tenant_id == tenant_id, term, SourceRecord.profile_id.is_not(None))
            .limit(limit)
        ):
            matches.setdefault(int(profile_id or 0), label)
    for profile_id in await session.scalars(
        select(func.coalesce(Customer.merged_into_id, Customer.id)).where(
            Customer.tenant_id == tenant_id, Customer.external_id == text
        )
    ):
        matches.setdefault(int(profile_id), "external_id")
    words = text.lower().split()
    if words and not matches and all(word.isalpha() for word in words):
        first, last = func.lower(Customer.first_name), func.lower(Customer.last_name)
        condition: Any
        if len(words) == 1:
            condition = or_(first.startswith(words[0]), last.startswith(words[0]))
        else:
            a, b = words[0], words[-1]
            condition = or_((first == a) & last.startswith(b), (first == b) & last.startswith(a))
        for profile_id in await session.scalars(
            select(Customer.id)
            .where(Customer.tenant_id == tenant_id, Customer.merged_into_id.is_(None), condition)
            .order_by(Customer.id)
            .limit(limit)
        ):
            matches.setdefault(int(profile_id), "name")
    if not matches:
        return []
    rows = (
        await session.execute(
            select(Customer).where(
                Customer.id.in_(list(matches)[:limit]), Customer.erased_at.is_(None)
            )
        )
    ).scalars()
    return [
        ProfileHit(
            profile_id=row.id,
            external_id=row.external_id,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
            city=row.city,
            matched_on=matches[row.id],
        )
        for row in sorted(rows, key=lambda customer: customer.id)
    ]
