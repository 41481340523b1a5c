"""``/panel/customers``: search by email, phone, card or external id (or a name), and one
profile: balance, tier, recent events and orders, segments, messages sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from tonari.customers.service import customer_profile, get_customer, list_customers
from tonari.events.timeline import customer_timeline
from tonari.identity.profile_view import search_profiles
from tonari.kit.clock import utcnow
from tonari.kit.errors import NotFound
from tonari.messaging.history import customer_messages
from tonari.programs.service import programme_in_force
from tonari.segments.service import segments_of_customer
from tonari.web.auth import PanelSessionDep, PanelUserDep
from tonari.web.dashboard import currency_of
from tonari.web.rendering import render

router = APIRouter(prefix="/customers")
ExternalId = Annotated[str, Path(min_length=1, max_length=128)]
READ = "customers:read"
MAX_QUERY = 200


@router.get("", response_class=HTMLResponse, summary="Customers, searchable")
async def customers(request: Request, session: PanelSessionDep, user: PanelUserDep) -> HTMLResponse:
    user.principal.require(READ)
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    if query:
        hits = await search_profiles(session, tenant_id=user.tenant_id, query=query)
        rows = [
            {
                "external_id": hit.external_id,
                "name": " ".join(p for p in (hit.first_name, hit.last_name) if p),
                "email": hit.email,
                "phone": hit.phone,
                "city": hit.city,
                "matched_on": hit.matched_on,
            }
            for hit in hits
        ]
    else:
        rows = [
            {
                "external_id": c.external_id,
                "name": " ".join(p for p in (c.first_name, c.last_name) if p),
                "email": c.email,
                "phone": c.phone,
                "city": c.city,
                "matched_on": None,
            }
            for c in await list_customers(session, tenant_id=user.tenant_id, limit=50)
        ]
    return render(
        request,
        "customers.html",
        user=user,
        active="customers",
        title="Customers",
        query=query,
        rows=rows,
    )


@router.get("/{external_id}", response_class=HTMLResponse, summary="One customer's profile")
async def customer(
    external_id: ExternalId, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> HTMLResponse:
    user.principal.require(READ)
    at = utcnow()
    try:
        programme = (await programme_in_force(session, tenant_id=user.tenant_id, at=at))[1]
    except NotFound:
        programme = None
    profile = await customer_profile(
        session, tenant_id=user.tenant_id, external_id=external_id, programme=programme, at=at
    )
    row = await get_customer(session, tenant_id=user.tenant_id, external_id=external_id)
    timeline = await customer_timeline(
        session, tenant_id=user.tenant_id, external_id=external_id, limit=20
    )
    currency, minor_units = await currency_of(session, user.tenant_id)
    return render(
        request,
        "customer.html",
        user=user,
        active="customers",
        title=f"Customer {profile.external_id}",
        profile=profile,
        timeline=timeline.items,
        segments=await segments_of_customer(session, tenant_id=user.tenant_id, customer_id=row.id),
        messages=await customer_messages(
            session, tenant_id=user.tenant_id, customer_id=row.id, limit=20
        ),
        currency=currency,
        minor_units=minor_units,
    )
