"""Magic links: a link in a message that logs the customer in on the brand's site.

Two signed tokens, two lifetimes. The *magic link* (``/t/m/{token}``, in the message) lives
``MAGIC_LINK_DAYS``; following it redirects to the brand's site with a *login token* that lives
``LOGIN_TOKEN_SECONDS`` and that the site's backend exchanges once, with its API key, at
``POST /v1/magic-links/exchange`` for the customer's id. Single use holds because the token id
is claimed by primary key in ``used_login_tokens``: two exchanges racing, one wins.
Expiry is checked against the request's own instant (``at``), carried inside the signed data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import Conflict, NotFound, ValidationFailed
from tonari.messaging.tracking import SALT_LOGIN, SALT_MAGIC, BadLink, sign, unsign
from tonari.models.customers import Customer
from tonari.models.messaging_content import MessagingSite, UsedLoginToken

MAGIC_LINK_DAYS = 7
LOGIN_TOKEN_SECONDS = 300


def _expired(payload: dict[str, object], at: datetime, field: str) -> None:
    expires = payload.get("x")
    if not isinstance(expires, int | float) or at.timestamp() >= expires:
        raise BadLink("this link has expired", field=field, code="link_expired")


def magic_link_token(
    *, tenant_id: int, customer_id: int, at: datetime, valid_for: timedelta | None = None
) -> str:
    expires = at + (valid_for or timedelta(days=MAGIC_LINK_DAYS))
    return sign({"t": tenant_id, "c": customer_id, "x": int(expires.timestamp())}, salt=SALT_MAGIC)


def magic_link_url(
    *,
    tenant_id: int,
    customer_id: int,
    base_url: str,
    at: datetime,
    valid_for: timedelta | None = None,
) -> str:
    token = magic_link_token(
        tenant_id=tenant_id, customer_id=customer_id, at=at, valid_for=valid_for
    )
    return f"{base_url.rstrip('/')}/t/m/{token}"


def check_site_url(url: str) -> str:
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed("site_url must be an absolute https URL", field="site_url")
    if parts.scheme == "http" and not local:
        raise ValidationFailed(
            "site_url must use https (http only for localhost)", field="site_url"
        )
    if parts.fragment:
        raise ValidationFailed("site_url must not have a #fragment", field="site_url")
    return url


async def set_site(
    session: AsyncSession,
    *,
    tenant_id: int,
    site_url: str,
    login_parameter: str,
    at: datetime,
) -> MessagingSite:
    check_site_url(site_url)
    if not login_parameter.replace("_", "").isalnum() or len(login_parameter) > 40:
        raise ValidationFailed(
            "login_parameter is up to 40 letters, digits or '_'", field="login_parameter"
        )
    values = {"site_url": site_url, "login_parameter": login_parameter, "updated_at": at}
    await session.execute(
        insert(MessagingSite)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_update(index_elements=["tenant_id"], set_=values)
    )
    site = await session.get_one(MessagingSite, tenant_id, populate_existing=True)
    return site


async def get_site(session: AsyncSession, *, tenant_id: int) -> MessagingSite:
    site = await session.get(MessagingSite, tenant_id)
    if site is None:
        raise NotFound(
            "no site configured for magic links: PUT /v1/messaging/site first", field="site_url"
        )
    return site


async def follow_magic_link(session: AsyncSession, *, token: str, at: datetime) -> str:
    """The site URL to redirect to, carrying a fresh single-use login token."""
    data = unsign(token, salt=SALT_MAGIC)
    _expired(data, at, "token")
    tenant_id, customer_id = int(data["t"]), int(data["c"])  # type: ignore[call-overload]
    site = await get_site(session, tenant_id=tenant_id)
    login = sign(
        {
            "t": tenant_id,
            "c": customer_id,
            "j": uuid.uuid4().hex,
            "x": int((at + timedelta(seconds=LOGIN_TOKEN_SECONDS)).timestamp()),
        },
        salt=SALT_LOGIN,
    )
    parts = urlsplit(site.site_url)
    query = (parts.query + "&" if parts.query else "") + urlencode({site.login_parameter: login})
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


@dataclass(frozen=True)
class LoggedIn:
    customer_id: int
    external_id: str


async def exchange_login_token(
    session: AsyncSession, *, tenant_id: int, token: str, at: datetime
) -> LoggedIn:
    """Trade a login token for the customer, once; another tenant's token is unknown here."""
    data = unsign(token, salt=SALT_LOGIN)
    if data.get("t") != tenant_id:
        raise NotFound("no such login token", field="token")
    _expired(data, at, "token")
    customer_id = int(data["c"])
    customer = await session.scalar(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
    )
    if customer is None or customer.erased_at is not None:
        raise NotFound("this login token's customer no longer exists", field="token")
    if customer.merged_into_id is not None:
        customer = await session.get_one(Customer, customer.merged_into_id)
    claimed = await session.scalar(
        insert(UsedLoginToken)
        .values(
            tenant_id=tenant_id,
            token_id=str(data["j"]),
            customer_id=customer.id,
            used_at=at,
            expires_at=datetime.fromtimestamp(float(data["x"]), tz=at.tzinfo),
        )
        .on_conflict_do_nothing()
        .returning(UsedLoginToken.token_id)
    )
    if claimed is None:
        raise Conflict("this login token was already used", field="token", code="token_used")
    return LoggedIn(customer_id=customer.id, external_id=customer.external_id)


async def forget_expired_login_tokens(session: AsyncSession, *, at: datetime) -> int:
    """Housekeeping: a used token past its expiry would be refused anyway."""
    result = await session.execute(delete(UsedLoginToken).where(UsedLoginToken.expires_at < at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
