"""Signed links: open pixel, click redirect, and the signing every messaging link shares.

Every link Tonari puts in a message carries its meaning (tenant, customer, send, target URL)
inside an itsdangerous signature made with ``settings.messaging_secret``; nothing is looked up
to trust it, and a changed byte makes it worthless. A click only ever redirects to the URL that
was signed when the message was rendered, so the endpoint cannot be used as an open redirect.

Opens and clicks become customer events (``email_opened`` / ``email_clicked``) through the
events service, whose event-id idempotency makes the first open of a send count once however
often the pixel loads, and each link of a send count once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.config import get_settings
from tonari.events.schemas import EventCustomer, EventIn
from tonari.events.service import ingest_events
from tonari.kit.errors import NotFound, TonariError
from tonari.models.customers import Customer

# One salt per kind of link: a token made for one purpose never passes as another.
SALT_UNSUBSCRIBE = "tonari.unsubscribe"
SALT_OPEN = "tonari.open"
SALT_CLICK = "tonari.click"
SALT_MAGIC = "tonari.magic-link"
SALT_LOGIN = "tonari.site-login"

# A 1x1 transparent GIF.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


class BadLink(TonariError):
    """A link whose signature does not verify, or that has expired: 400, and nothing changes."""

    status_code = 400
    code = "bad_link"


def _serializer(salt: str, secret: str | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret or get_settings().messaging_secret, salt=salt)


def sign(payload: dict[str, Any], *, salt: str, secret: str | None = None) -> str:
    return _serializer(salt, secret).dumps(payload)


def unsign(
    token: str,
    *,
    salt: str,
    max_age_seconds: int | None = None,
    secret: str | None = None,
    field: str = "token",
) -> dict[str, Any]:
    """The signed payload; ``BadLink`` (400) for a tampered or expired token."""
    try:
        payload = _serializer(salt, secret).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise BadLink("this link has expired", field=field, code="link_expired") from None
    except BadSignature:
        raise BadLink("this link is not valid (bad signature)", field=field) from None
    if not isinstance(payload, dict):
        raise BadLink("this link is not valid", field=field)
    return payload


def open_pixel_url(*, base_url: str, tenant_id: int, customer_id: int, send_id: int) -> str:
    token = sign({"t": tenant_id, "c": customer_id, "s": send_id}, salt=SALT_OPEN)
    return f"{base_url.rstrip('/')}/t/o/{token}.gif"


def click_url(
    *, base_url: str, tenant_id: int, customer_id: int, send_id: int | None, url: str
) -> str:
    token = sign({"t": tenant_id, "c": customer_id, "s": send_id, "u": url}, salt=SALT_CLICK)
    return f"{base_url.rstrip('/')}/t/c/{token}"


_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)


def rewrite_links(
    html: str, *, base_url: str, tenant_id: int, customer_id: int, send_id: int | None
) -> str:
    """Point every http(s) anchor at the click redirect; mailto:, tel: and # links stay.

    Tonari's own links (unsubscribe, magic link) stay direct too: an unsubscribe is not
    engagement, and the one-click link must work without a detour.
    """
    own = base_url.rstrip("/") + "/"

    def replace(match: re.Match[str]) -> str:
        target = match.group(3).replace("&amp;", "&")
        if target.startswith(own):
            return match.group(0)
        tracked = click_url(
            base_url=base_url,
            tenant_id=tenant_id,
            customer_id=customer_id,
            send_id=send_id,
            url=target,
        )
        return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

    return _HREF.sub(replace, html)


def add_open_pixel(
    html: str, *, base_url: str, tenant_id: int, customer_id: int, send_id: int
) -> str:
    pixel = open_pixel_url(
        base_url=base_url, tenant_id=tenant_id, customer_id=customer_id, send_id=send_id
    )
    tag = f'<img src="{pixel}" width="1" height="1" alt="" style="display:none">'
    lowered = html.lower()
    position = lowered.rfind("</body>")
    if position == -1:
        return html + tag
    return html[:position] + tag + html[position:]


@dataclass(frozen=True)
class Tracked:
    tenant_id: int
    customer_id: int
    send_id: int | None
    url: str | None
    counted: bool


async def _external_id(session: AsyncSession, tenant_id: int, customer_id: int) -> str:
    external_id = await session.scalar(
        select(Customer.external_id).where(
            Customer.tenant_id == tenant_id, Customer.id == customer_id
        )
    )
    if external_id is None:
        raise NotFound("this link's customer no longer exists", field="token")
    return external_id


async def _record_engagement(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    event_type: str,
    event_id: str,
    entity_id: str | None,
    payload: dict[str, Any],
    at: datetime,
) -> bool:
    external_id = await _external_id(session, tenant_id, customer_id)
    # The event id makes a reloaded pixel or a second click on a link a no-op.
    report = await ingest_events(
        session,
        tenant_id=tenant_id,
        events=[
            EventIn(
                event_id=event_id,
                event_type=event_type,
                occurred_at=at,
                customer=EventCustomer(external_id=external_id),
                entity_id=entity_id,
                payload=payload,
            )
        ],
        received_at=at,
    )
    counted = report.stored == 1
    if counted:
        await _reward_engagement(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            action=event_type,
            activity_id=event_id,
            subject=entity_id,
            at=at,
        )
    return counted


async def _reward_engagement(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    action: str,
    activity_id: str,
    subject: str | None,
    at: datetime,
) -> None:
    """Points for an open or click when the programme has an activity rule for the action.

    The activity engine applies the rule's own limits (once per send, at most N a day...).
    """
    from tonari.activities.service import report_activity
    from tonari.programs.service import programme_in_force

    try:
        _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    except NotFound:
        return
    # Programmes name actions the activity schema allows: "custom:email_opened".
    named = f"custom:{action}"
    rules = [rule for rule in programme.activities if rule.action == named]
    if rules:
        await report_activity(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            action=named,
            activity_id=activity_id,
            occurred_at=at,
            rules=rules,
            programme=programme,
            actor="tracking",
            subject=subject,
        )


async def record_open(session: AsyncSession, *, token: str, at: datetime) -> Tracked:
    """Count the first open of a send as one ``email_opened`` event; later loads change nothing."""
    data = unsign(token, salt=SALT_OPEN)
    tenant_id, customer_id, send_id = int(data["t"]), int(data["c"]), int(data["s"])
    counted = await _record_engagement(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        event_type="email_opened",
        event_id=f"tonari:open:{send_id}",
        entity_id=str(send_id),
        payload={"send_id": send_id},
        at=at,
    )
    return Tracked(tenant_id, customer_id, send_id, None, counted)


async def record_click(session: AsyncSession, *, token: str, at: datetime) -> Tracked:
    """The signed target URL; the first click on each link of a send is one event."""
    data = unsign(token, salt=SALT_CLICK)
    url = data.get("u")
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise BadLink("this link has no valid target", field="token")
    tenant_id, customer_id = int(data["t"]), int(data["c"])
    send_id = int(data["s"]) if data.get("s") is not None else None
    link_hash = hashlib.sha256(url.encode()).hexdigest()[:16]
    counted = False
    if send_id is not None:
        counted = await _record_engagement(
            session,
            tenant_id=tenant_id,
            customer_id=customer_id,
            event_type="email_clicked",
            event_id=f"tonari:click:{send_id}:{link_hash}",
            entity_id=str(send_id),
            payload={"send_id": send_id, "url": url},
            at=at,
        )
    return Tracked(tenant_id, customer_id, send_id, url, counted)
