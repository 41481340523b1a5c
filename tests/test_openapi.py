"""The API documents itself: every operation has a summary and its errors a shape."""

from __future__ import annotations


async def test_openapi_lists_every_operation_with_a_summary(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]
    assert len(operations) >= 15
    assert [f"{m} {p}" for m, p, op in operations if not op.get("summary")] == []
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_unknown_route_is_a_json_404(client, tenant) -> None:
    response = await client.get("/v1/nothing-here", headers=tenant.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
