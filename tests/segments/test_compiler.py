"""A segment definition compiled to one SQL query gives exactly the customers it describes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_tenant
from tonari.models.customers import Customer
from tonari.segments.compiler import compile_segment
from tonari.segments.schemas import Node

AT = datetime(2026, 6, 1, tzinfo=UTC)
ADAPTER: TypeAdapter[Node] = TypeAdapter(Node)


async def _members(session: AsyncSession, tenant_id: int, definition: dict[str, Any]) -> set[str]:
    query = compile_segment(ADAPTER.validate_python(definition), tenant_id=tenant_id, at=AT)
    ids = set((await session.execute(query)).scalars())
    rows = await session.execute(
        Customer.__table__.select().where(Customer.id.in_(ids))  # type: ignore[attr-defined]
    )
    return {r.external_id for r in rows}


async def test_conditions_and_groups(session: AsyncSession) -> None:
    t = await make_tenant(session)
    other = await make_tenant(session)
    for ext, city, gender, spend in [
        ("a", "Tokyo", "f", 500),
        ("b", "Osaka", "m", 100),
        ("c", "Tokyo", "m", 0),
    ]:
        session.add(
            Customer(
                tenant_id=t.id, external_id=ext, city=city, gender=gender, lifetime_spend=spend
            )
        )
    session.add(Customer(tenant_id=other.id, external_id="x", city="Tokyo"))
    await session.flush()
    assert await _members(session, t.id, {"field": "city", "values": ["Tokyo"]}) == {"a", "c"}
    assert await _members(
        session,
        t.id,
        {
            "all": [
                {"field": "city", "values": ["Tokyo"]},
                {"not": {"field": "gender", "values": ["f"]}},
            ]
        },
    ) == {"c"}
    assert await _members(
        session,
        t.id,
        {"any": [{"field": "lifetime_spend", "min": 100}, {"field": "gender", "values": ["m"]}]},
    ) == {"a", "b", "c"}


def test_bad_definition_names_the_place() -> None:
    with pytest.raises(ValidationError) as err:
        ADAPTER.validate_python(
            {
                "all": [
                    {"field": "city", "values": ["x"]},
                    {"field": "orders_count", "days": 0, "min": 1},
                ]
            }
        )
    locs = [".".join(str(p) for p in e["loc"]) for e in err.value.errors()]
    assert any("all.1" in loc and loc.endswith("days") for loc in locs), locs
