"""Compiled templates are cached per process: an edited or re-created template still shows its
new text at once, and only the customer data a template reads is queried."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture
from tests.messaging.test_templates import _create, seed_customer
from tonari.customers.service import get_customer
from tonari.kit.clock import utcnow
from tonari.messaging.templates import render_message


async def _preview(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    r = await client.post(
        "/v1/messaging/templates/welcome/preview",
        json={"customer_id": "anna"},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_an_updated_template_is_rendered_with_its_new_text(
    client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    await seed_customer(client, tenant)
    assert (await _create(client, tenant)).status_code == 201
    assert (await _preview(client, tenant))["subject"] == "Anna, 2000 points are waiting"
    assert (await _preview(client, tenant))["subject"] == "Anna, 2000 points are waiting"
    r = await client.patch(
        "/v1/messaging/templates/welcome",
        json={"subject": "{{ first_name }}, your {{ tier.name }} points", "text": "Hi {{ name }}"},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    preview = await _preview(client, tenant)
    assert preview["subject"] == "Anna, your Silver points"
    assert preview["text"] == "Hi Anna Petrova"


async def test_a_template_deleted_and_created_again_shows_the_new_text(
    client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    await seed_customer(client, tenant)
    assert (await _create(client, tenant)).status_code == 201
    assert (await _preview(client, tenant))["text"] == "Hello Anna: 2000 points."
    r = await client.delete("/v1/messaging/templates/welcome", headers=tenant.headers)
    assert r.status_code == 204
    # Created again it is version 1 again, like the one that was deleted.
    r = await _create(client, tenant, text="Anna has {{ balance }} points", html=None)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    preview = await _preview(client, tenant)
    assert preview["text"] == "Anna has 2000 points"
    assert preview["html"] is None


@contextmanager
def _statements(session: AsyncSession) -> Iterator[list[str]]:
    """The SQL statements sent on the test's connection."""
    seen: list[str] = []
    connection = session.bind.sync_connection  # type: ignore[union-attr]

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


async def test_only_the_data_a_template_reads_is_queried(
    client: httpx.AsyncClient, session: AsyncSession, tenant: TenantFixture
) -> None:
    await seed_customer(client, tenant)
    r = await _create(
        client, tenant, key="short", subject="For {{ name }}", html=None, text="Hi {{ first_name }}"
    )
    assert r.status_code == 201, r.text
    assert (await _create(client, tenant)).status_code == 201
    customer = await get_customer(session, tenant_id=tenant.id, external_id="anna")
    render: dict[str, Any] = {
        "tenant_id": tenant.id,
        "customer_id": customer.id,
        "channel": "email",
        "context": {},
        "at": utcnow(),
    }
    with _statements(session) as short_statements:
        short = await render_message(session, template_key="short", **render)
    assert (short.subject, short.text) == ("For Anna Petrova", "Hi Anna")
    with _statements(session) as full_statements:
        full = await render_message(session, template_key="welcome", **render)
    # The welcome template shows the wishlist and the expiring points: those are read for it.
    assert "1500 points expire on" in (full.html or "")
    assert any("customer_events" in s for s in full_statements)
    assert any("point_lots" in s for s in full_statements)
    # The short one reads only names from the profile: no wishlist, expiring points, balances.
    assert not any("customer_events" in s or "point_lots" in s for s in short_statements)
    assert not any("ledger_accounts" in s for s in short_statements)
