"""Consent per customer, channel and topic; who may be contacted, where, and unsubscribing.

The rules (docs/messaging.md, "Consents and unsubscribe"):

* Marketing is **opt-in**: with no consent row a customer gets no marketing on that channel.
  A grant for the topic, or for ``ALL_MARKETING`` ("marketing") on the channel, allows it.
* A withdrawal of the topic always wins for that topic. A withdrawal of ``ALL_MARKETING``
  (what the one-click unsubscribe of a general mailing records) stops every topic on the
  channel, except a topic the customer granted again *after* that withdrawal.
* Transactional messages (order confirmation, password) ignore consent: they need only a
  reachable address. Nothing here ever blocks them because of an unsubscribe.
* An address marked unreachable (bounce, complaint: tonari.identity.reachability) is no
  address at all for every message, transactional included.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.reachability import UNREACHABLE
from tonari.kit.errors import NotFound, ValidationFailed
from tonari.messaging.queue import CHANNELS
from tonari.messaging.tracking import SALT_UNSUBSCRIBE, BadLink, sign, unsign
from tonari.models.consents import ALL_MARKETING, Consent
from tonari.models.customers import Customer
from tonari.reactions.queue import queue_reaction

# Where a device's push address lives: the app / site stores it as a customer attribute.
PUSH_TOKEN_ATTRIBUTE = "push_token"
WEB_PUSH_ATTRIBUTE = "web_push_subscription"
TOPIC = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValidationFailed(
            f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}", field="channel"
        )
    return channel


def check_topic(topic: str) -> str:
    if not TOPIC.match(topic):
        raise ValidationFailed(
            "a topic is 1-64 lowercase letters, digits, '_', '-' or '.'", field="topic"
        )
    return topic


@dataclass(frozen=True)
class ConsentState:
    channel: str
    topic: str
    granted: bool
    source: str
    changed_at: datetime


async def set_consent(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    channel: str,
    topic: str,
    granted: bool,
    source: str,
    at: datetime,
) -> ConsentState:
    """Record a grant or a withdrawal; the latest change wins, with where and when it came."""
    check_channel(channel)
    check_topic(topic)
    if not source or len(source) > 64:
        raise ValidationFailed("source is 1-64 characters", field="source")
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "customer_id": customer_id,
        "channel": channel,
        "topic": topic,
        "granted": granted,
        "source": source,
        "changed_at": at,
    }
    await session.execute(
        insert(Consent)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["tenant_id", "customer_id", "channel", "topic"],
            set_={"granted": granted, "source": source, "changed_at": at},
        )
    )
    # Consent segments (and journeys filtering on them) follow the change.
    await queue_reaction(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        kind="consent.changed",
        occurred_at=at,
        payload={"channel": channel, "topic": topic, "granted": granted},
    )
    return ConsentState(channel, topic, granted, source, at)


async def withdraw_consent(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    channel: str,
    topic: str,
    source: str,
    at: datetime,
) -> ConsentState:
    return await set_consent(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        channel=channel,
        topic=topic,
        granted=False,
        source=source,
        at=at,
    )


async def list_consents(
    session: AsyncSession, *, tenant_id: int, customer_id: int
) -> list[ConsentState]:
    rows = await session.scalars(
        select(Consent)
        .where(Consent.tenant_id == tenant_id, Consent.customer_id == customer_id)
        .order_by(Consent.channel, Consent.topic)
    )
    return [ConsentState(r.channel, r.topic, r.granted, r.source, r.changed_at) for r in rows]


def marketing_allowed(rows: dict[str, tuple[bool, datetime]], topic: str) -> bool:
    """The consent rule on one channel's rows ``{topic: (granted, changed_at)}``."""
    own = rows.get(topic)
    general = rows.get(ALL_MARKETING)
    if own is not None and not own[0]:
        return False
    if general is not None and not general[0]:
        # Unsubscribed from everything: only a topic granted again since then still counts.
        return own is not None and own[0] and own[1] > general[1]
    return (own is not None and own[0]) or (general is not None and general[0])


async def contact_address(
    session: AsyncSession, *, tenant_id: int, customer_id: int, channel: str
) -> str | None:
    """Where to send on this channel, or ``None`` when there is no usable address.

    Email and SMS use the profile's email / phone unless its status is ``unreachable``; push
    uses the ``push_token`` attribute, web push the ``web_push_subscription`` attribute (the
    subscription JSON the browser gave). Erased and merged-away profiles have no address.
    """
    check_channel(channel)
    customer = await session.scalar(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
    )
    return address_of(customer, channel)


def address_of(customer: Customer | None, channel: str) -> str | None:
    """``contact_address`` for a profile already read (``None``: no such customer)."""
    if customer is None or customer.erased_at is not None or customer.merged_into_id is not None:
        return None
    if channel == "email":
        return None if customer.email_status == UNREACHABLE else customer.email or None
    if channel == "sms":
        return None if customer.phone_status == UNREACHABLE else customer.phone or None
    attribute = PUSH_TOKEN_ATTRIBUTE if channel == "push" else WEB_PUSH_ATTRIBUTE
    value = (customer.attributes or {}).get(attribute)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value) if value else None


async def may_contact(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    channel: str,
    topic: str,
    transactional: bool,
) -> bool:
    """Whether this message may go to this customer on this channel now (consent + address)."""
    address = await contact_address(
        session, tenant_id=tenant_id, customer_id=customer_id, channel=channel
    )
    if address is None:
        return False
    if transactional:
        return True
    rows = await session.execute(
        select(Consent.topic, Consent.granted, Consent.changed_at).where(
            Consent.tenant_id == tenant_id,
            Consent.customer_id == customer_id,
            Consent.channel == channel,
            Consent.topic.in_({topic, ALL_MARKETING}),
        )
    )
    return marketing_allowed({t: (g, c) for t, g, c in rows}, topic)


def unsubscribe_token(
    *, tenant_id: int, customer_id: int, channel: str, topic: str, secret: str | None = None
) -> str:
    """Never expires: an unsubscribe link must work however old the message is."""
    return sign(
        {"t": tenant_id, "c": customer_id, "ch": channel, "tp": topic},
        salt=SALT_UNSUBSCRIBE,
        secret=secret,
    )


def unsubscribe_url(
    *, tenant_id: int, customer_id: int, channel: str, topic: str, base_url: str, secret: str
) -> str:
    token = unsubscribe_token(
        tenant_id=tenant_id, customer_id=customer_id, channel=channel, topic=topic, secret=secret
    )
    return f"{base_url.rstrip('/')}/v1/unsubscribe/{token}"


def unsubscribe_headers(
    *,
    tenant_id: int,
    customer_id: int,
    channel: str,
    topic: str,
    base_url: str,
    secret: str,
    mailto: str | None = None,
) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe headers (a signed POST-able URL, optionally a mailto)."""
    url = unsubscribe_url(
        tenant_id=tenant_id,
        customer_id=customer_id,
        channel=channel,
        topic=topic,
        base_url=base_url,
        secret=secret,
    )
    targets = [f"<{url}>"]
    if mailto:
        targets.append(f"<mailto:{mailto}?subject={quote('unsubscribe ' + topic)}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


@dataclass(frozen=True)
class Unsubscribed:
    tenant_id: int
    customer_id: int
    channel: str
    topic: str


def read_unsubscribe_token(token: str) -> Unsubscribed:
    data = unsign(token, salt=SALT_UNSUBSCRIBE)
    try:
        return Unsubscribed(int(data["t"]), int(data["c"]), str(data["ch"]), str(data["tp"]))
    except (KeyError, TypeError, ValueError):
        raise BadLink("this link is not valid", field="token") from None


async def unsubscribe(session: AsyncSession, *, token: str, at: datetime) -> Unsubscribed:
    """Withdraw the token's channel + topic; idempotent, marketing only (never transactional)."""
    target = read_unsubscribe_token(token)
    exists = await session.scalar(
        select(Customer.id).where(
            Customer.tenant_id == target.tenant_id, Customer.id == target.customer_id
        )
    )
    if exists is None:
        raise NotFound("this link's customer no longer exists", field="token")
    await withdraw_consent(
        session,
        tenant_id=target.tenant_id,
        customer_id=target.customer_id,
        channel=target.channel,
        topic=target.topic,
        source="unsubscribe_link",
        at=at,
    )
    return target
