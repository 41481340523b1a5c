"""Tenants (brands), their API keys and the audit log."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.clock import utcnow
from tonari.kit.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from tonari.models.ledger import LedgerAccount
from tonari.models.tenants import ApiKey, AuditLog, Tenant

SYSTEM_ACCOUNT_KINDS = ("points_issued", "points_redeemed", "points_expired", "adjustments")

SCOPES = {
    "admin": "everything, including programmes, keys and webhooks",
    "orders:write": "calculate, place, pay, cancel and return orders",
    "orders:read": "read orders",
    "customers:write": "create and update customers",
    "customers:read": "read customers, balances and personal prices",
    "points:adjust": "grant or deduct points by hand",
    "programme:write": "apply programme versions",
    "catalog:write": "upsert products",
    "webhooks:manage": "register webhook endpoints and read deliveries",
}

KEY_PREFIX = "tnr"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant's API key with its scopes (or an operator on the CLI)."""

    tenant_id: int
    actor: str
    scopes: frozenset[str]
    api_key_id: int | None = None

    def require(self, scope: str) -> None:
        if "admin" in self.scopes or scope in self.scopes:
            return
        raise Forbidden(
            f"this API key lacks the scope {scope!r}; create a key with it "
            f"(tonari apikey create --scope {scope})",
            code="missing_scope",
        )


def hash_api_key(raw_key: str) -> str:
    # API keys are 32 random bytes, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


async def create_tenant(session: AsyncSession, *, slug: str, name: str) -> Tenant:
    if not _SLUG.match(slug):
        raise ValidationFailed(
            "slug must be 3-63 lowercase letters, digits or dashes", field="slug"
        )
    existing = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if existing is not None:
        raise Conflict(f"tenant {slug!r} already exists", field="slug", code="tenant_exists")
    tenant = Tenant(slug=slug, name=name)
    session.add(tenant)
    await session.flush()
    await session.execute(
        insert(LedgerAccount),
        [{"tenant_id": tenant.id, "kind": kind} for kind in SYSTEM_ACCOUNT_KINDS],
    )
    return tenant


async def get_tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(f"no tenant {slug!r} (tonari tenant list shows them)", field="tenant")
    return tenant


async def create_api_key(
    session: AsyncSession, *, tenant_id: int, name: str, scopes: list[str]
) -> tuple[ApiKey, str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationFailed(f"unknown scopes {unknown}; known: {sorted(SCOPES)}", field="scopes")
    if not scopes:
        raise ValidationFailed("give at least one scope", field="scopes")
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        key_hash=hash_api_key(raw_key),
        scopes=sorted(set(scopes)),
    )
    session.add(key)
    await session.flush()
    return key, raw_key


async def revoke_api_key(session: AsyncSession, *, tenant_id: int, prefix: str) -> None:
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no active key with prefix {prefix!r}", field="prefix")


# Built once: every request authenticates, and building a select costs more than running it.
_KEY_LOOKUP = select(ApiKey.id, ApiKey.tenant_id, ApiKey.scopes, ApiKey.name).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
)


async def authenticate(session: AsyncSession, raw_key: str | None) -> Principal:
    if not raw_key:
        raise Unauthorized(
            "send your API key as 'Authorization: Bearer tnr_...' "
            "(create one with: tonari apikey create)",
            code="missing_api_key",
        )
    return await authenticate_key_hash(session, hash_api_key(raw_key))


async def authenticate_key_hash(session: AsyncSession, key_hash: str) -> Principal:
    """The principal of a live key known by its hash (the panel's session keeps only that)."""
    row = (await session.execute(_KEY_LOOKUP, {"key_hash": key_hash})).first()
    if row is None:
        raise Unauthorized("this API key is unknown or revoked", code="invalid_api_key")
    return Principal(
        tenant_id=row.tenant_id,
        actor=f"api_key:{row.name}",
        scopes=frozenset(row.scopes),
        api_key_id=row.id,
    )


async def audit(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str,
    subject: str,
    details: dict[str, Any],
) -> None:
    await session.execute(
        insert(AuditLog).values(
            tenant_id=principal.tenant_id,
            actor=principal.actor,
            api_key_id=principal.api_key_id,
            action=action,
            subject=subject,
            details=details,
        )
    )
