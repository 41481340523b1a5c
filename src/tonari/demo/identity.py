"""The demo's other customer databases: a cooking club and a camera club, resolved.

Some members are the shop's customers written another way (a dotted or typo'd Gmail, a phone in
local format, the full name in one field, family name first), some are new people. Resolution
folds them into profiles, so the demo's profile API, review queue and quality report have
something to show.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.customers.schemas import CustomerUpsert
from tonari.identity.importer import ImportSummary, import_rows
from tonari.identity.readers import SourceRow
from tonari.identity.resolve import ResolveSummary, resolve_identities
from tonari.identity.sources import DateOrder, SourceDefinition, put_source, source_definition

CLUB_MEMBERS = 60
NEW_PEOPLE_SHARE = 0.35
COOKING = SourceDefinition(
    name="cooking_club",
    title="Cooking club",
    trust=40,
    region="RU",
    columns={"member": "record_id", "fio": "full_name", "mail": "email", "tel": "phone"},
)
CAMERA = SourceDefinition(
    name="camera_club",
    title="Camera club",
    trust=50,
    region="RU",
    date_order=DateOrder.DMY,
    columns={"id": "record_id", "name": "first_name", "surname": "last_name", "dob": "birth_date"},
)
_TYPO_DOMAINS = {"gmail.com": "gmial.com", "mail.ru": "mial.ru", "yandex.ru": "yandx.ru"}


def _local_phone(e164: str | None) -> str | None:
    if not e164:
        return None
    digits = e164[2:]
    return f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def _typo(email: str | None, rng: random.Random) -> str | None:
    if not email:
        return None
    local, _, domain = email.partition("@")
    if rng.random() < 0.5 and domain in _TYPO_DOMAINS:
        return f"{local}@{_TYPO_DOMAINS[domain]}"
    return f"{local.upper()}@{domain}"


def cooking_rows(
    rng: random.Random, people: list[CustomerUpsert], new_people: list[CustomerUpsert]
) -> list[dict[str, str | None]]:
    rows = []
    for number, person in enumerate([*people, *new_people], start=1):
        rows.append(
            {
                "member": f"CC{number:04d}",
                "fio": f"{person.last_name} {person.first_name}",
                "mail": _typo(person.email, rng),
                # Someone without an email gives the club a phone: a name alone finds nobody.
                "tel": _local_phone(person.phone)
                if rng.random() < 0.6 or not person.email
                else None,
            }
        )
    return rows


def camera_rows(people: list[CustomerUpsert]) -> list[dict[str, str | None]]:
    return [
        {
            "id": f"PH-{number}",
            "name": person.first_name,
            "surname": person.last_name,
            "dob": person.birth_date.strftime("%d.%m.%Y") if person.birth_date else None,
            "city": person.city,
        }
        for number, person in enumerate(people, start=1)
    ]


async def _import(
    session: AsyncSession,
    tenant_id: int,
    definition: SourceDefinition,
    rows: list[Any],
    at: datetime,
) -> ImportSummary:
    source = await put_source(session, tenant_id=tenant_id, definition=definition)
    header = sorted({key for row in rows for key in row})
    return await import_rows(
        session,
        tenant_id=tenant_id,
        source=source,
        definition=source_definition(source),
        header=header,
        rows=[SourceRow(index + 2, row) for index, row in enumerate(rows)],
        summary=ImportSummary(definition.name, "demo", None),
        today=at.date(),
    )


async def load_club_members(
    session: AsyncSession,
    *,
    tenant_id: int,
    customers: list[CustomerUpsert],
    strangers: list[CustomerUpsert],
    first_tier: str | None,
    at: datetime,
    seed: int,
) -> ResolveSummary:
    """Import both clubs (members drawn from ``customers`` and ``strangers``) and resolve."""
    rng = random.Random(seed)
    members = rng.sample(customers, min(CLUB_MEMBERS, len(customers)))
    new_count = int(CLUB_MEMBERS * NEW_PEOPLE_SHARE)
    await _import(
        session, tenant_id, COOKING, cooking_rows(rng, members[:40], strangers[:new_count]), at
    )
    # Camera club members carry no email or phone: only the model can find them.
    await _import(session, tenant_id, CAMERA, camera_rows(members[20:]), at)
    return await resolve_identities(session, tenant_id=tenant_id, at=at, first_tier=first_tier)
