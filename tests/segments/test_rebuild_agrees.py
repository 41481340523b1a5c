"""A full rebuild finds exactly the memberships that incremental maintenance arrived at.

Committed data through the real API (customers, paid orders, events), the reactions drained
by ``process_reactions`` as the worker does, then every segment rebuilt from scratch: the
rebuild must change nobody.
"""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
from sqlalchemy import select

from tests.factories import TenantFixture
from tonari.app import create_app
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.models.segments import Segment
from tonari.reactions.dispatcher import process_reactions
from tonari.segments.reactions import react_to_reactions
from tonari.segments.service import member_ids, rebuild_segment

SEGMENTS = {
    "moscow-women": {
        "all": [
            {"field": "city", "values": ["Moscow"]},
            {"field": "gender", "values": ["female"]},
        ]
    },
    "recent-buyers": {"field": "orders_count", "days": 30, "min": 2},
    "big-spenders": {"field": "spend", "days": 365, "min": 1_000_000},
    "kitchen-or-camera": {
        "any": [
            {"field": "bought", "categories": ["kitchen"]},
            {"field": "viewed", "days": 7, "products": ["camera-1", "camera-2"], "min": 2},
        ]
    },
    "wishlisted-not-buying": {
        "all": [
            {"field": "wishlist", "products": ["charger"]},
            {"not": {"field": "orders_count", "days": 30, "min": 2}},
        ]
    },
}


async def test_rebuild_equals_incremental(database_url: str, committed_tenant: TenantFixture):
    rng = random.Random(2026)
    database = Database(database_url, pool_size=2, max_overflow=2)
    app = create_app(database=database)
    h = committed_tenant.headers
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for key, definition in SEGMENTS.items():
                r = await client.post(
                    "/v1/segments",
                    json={"key": key, "name": key, "definition": definition},
                    headers=h,
                )
                assert r.status_code == 201, r.text
            customers = [f"r{n}" for n in range(40)]
            for ext in customers:
                r = await client.put(
                    f"/v1/customers/{ext}",
                    json={
                        "city": rng.choice(["Moscow", "Kazan"]),
                        "gender": rng.choice(["female", "male"]),
                    },
                    headers=h,
                )
                assert r.status_code == 201, r.text
            now = utcnow()
            events = []
            for n in range(150):
                ext = rng.choice(customers)
                kind = rng.choice(["product_viewed", "wishlist_added", "wishlist_removed"])
                product = rng.choice(["camera-1", "camera-2", "charger"])
                events.append(
                    {
                        "event_id": f"e{n}",
                        "event_type": kind,
                        "occurred_at": (now - timedelta(hours=rng.randrange(1, 200))).isoformat(),
                        "customer": {"external_id": ext},
                        "entity_id": product,
                    }
                )
            r = await client.post("/v1/events", json={"events": events}, headers=h)
            assert r.json()["stored"] == 150, r.text
            for n in range(60):
                category = rng.choice(["kitchen", "audio", "photo"])
                r = await client.post(
                    "/v1/orders",
                    json={
                        "order_id": f"o{n}",
                        "customer": {"external_id": rng.choice(customers)},
                        "paid": True,
                        "lines": [
                            {
                                "product_id": f"{category}-{n % 3}",
                                "category": category,
                                "unit_price": rng.randrange(10_000, 900_000),
                                "quantity": 1,
                            }
                        ],
                    },
                    headers=h,
                )
                assert r.status_code == 201, r.text
                if n % 7 == 0:  # some people move, which moves them between segments
                    await client.put(
                        f"/v1/customers/{rng.choice(customers)}",
                        json={"city": rng.choice(["Moscow", "Kazan"])},
                        headers=h,
                    )
        applied = await process_reactions(database, handlers=(react_to_reactions,))
        assert applied >= 40 + 150 + 60
        async with database.transaction() as session:
            segments = list(
                await session.scalars(
                    select(Segment).where(Segment.tenant_id == committed_tenant.id)
                )
            )
            incremental = {
                s.key: await member_ids(session, tenant_id=s.tenant_id, segment_id=s.id)
                for s in segments
            }
        assert all(incremental.values()), f"every segment should have members: {incremental}"
        async with database.transaction() as session:
            for segment in segments:
                segment = await session.merge(segment)
                result = await rebuild_segment(session, segment=segment, at=utcnow())
                assert (result.entered, result.exited) == (0, 0), segment.key
                assert (
                    await member_ids(session, tenant_id=segment.tenant_id, segment_id=segment.id)
                    == incremental[segment.key]
                )
    finally:
        await database.dispose()
