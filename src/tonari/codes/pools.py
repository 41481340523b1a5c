"""Code pools: define, read, pause; what a code's status is; a pool's codes page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes.generator import PREFIX_PATTERN, PUBLIC_CODE_PATTERN, normalise_code
from tonari.codes.schemas import CodePoolCreate, PoolKind, PoolStatus
from tonari.kit.errors import Conflict, NotFound, ValidationFailed
from tonari.models.codes import CodePool, CodeRedemption, PromoCode
from tonari.models.customers import Customer

_KIND_ONLY_FIELDS: dict[str, set[PoolKind]] = {
    "public_code": {PoolKind.PUBLIC},
    "value_minor": {PoolKind.GIFT},
    "currency": {PoolKind.GIFT},
    "value_points": {PoolKind.BONUS},
    "shareable": {PoolKind.PERSONAL},
    "valid_days": {PoolKind.PERSONAL, PoolKind.GIFT, PoolKind.BONUS},
    "reissue_every_days": {PoolKind.PERSONAL, PoolKind.GIFT, PoolKind.BONUS},
    "prefix": {PoolKind.PERSONAL, PoolKind.GIFT, PoolKind.BONUS},
}
_REQUIRED: dict[PoolKind, tuple[str, ...]] = {
    PoolKind.PUBLIC: ("public_code",),
    PoolKind.GIFT: ("value_minor", "currency"),
    PoolKind.BONUS: ("value_points",),
    PoolKind.PERSONAL: (),
}


def check_pool_definition(definition: CodePoolCreate) -> CodePoolCreate:
    """Cross-field rules the schema alone cannot say; returns the definition normalised."""
    kind = definition.kind
    values = definition.model_dump()
    for field, kinds in _KIND_ONLY_FIELDS.items():
        if kind not in kinds and values[field] not in (None, False, ""):
            allowed = ", ".join(sorted(k.value for k in kinds))
            raise ValidationFailed(
                f"{field} is only for {allowed} pools, not {kind.value}", field=field
            )
    for field in _REQUIRED[kind]:
        if values[field] is None:
            raise ValidationFailed(f"a {kind.value} pool needs {field}", field=field)
    updates: dict[str, Any] = {}
    if "max_uses_per_code" not in definition.model_fields_set:
        updates["max_uses_per_code"] = None if kind is PoolKind.PUBLIC else 1
    elif kind is PoolKind.BONUS and definition.max_uses_per_code != 1:
        raise ValidationFailed(
            "a bonus voucher credits its points once: max_uses_per_code must be 1",
            field="max_uses_per_code",
        )
    if (
        definition.valid_from is not None
        and definition.valid_until is not None
        and definition.valid_until <= definition.valid_from
    ):
        raise ValidationFailed("valid_until must be after valid_from", field="valid_until")
    prefix = definition.prefix.upper()
    if prefix and not PREFIX_PATTERN.match(prefix):
        raise ValidationFailed(
            "prefix may hold only Latin letters A-Z, digits and '-' (up to 16), starting "
            "with a letter or digit",
            field="prefix",
        )
    updates["prefix"] = prefix
    if definition.public_code is not None:
        public_code = normalise_code(definition.public_code)
        if not PUBLIC_CODE_PATTERN.match(public_code):
            raise ValidationFailed(
                "public_code may hold only Latin letters A-Z, digits, '-' and '_' (3-64)",
                field="public_code",
            )
        updates["public_code"] = public_code
    return definition.model_copy(update=updates)


async def create_pool(
    session: AsyncSession, *, tenant_id: int, definition: CodePoolCreate, at: datetime
) -> tuple[CodePool, str | None]:
    """A new pool (and, for a public pool, its one code). Returns the pool and that code."""
    definition = check_pool_definition(definition)
    exists = await session.scalar(
        select(CodePool.id).where(CodePool.tenant_id == tenant_id, CodePool.code == definition.code)
    )
    if exists is not None:
        raise Conflict(
            f"a code pool {definition.code!r} already exists", field="code", code="code_pool_exists"
        )
    values = definition.model_dump(exclude={"public_code"})
    pool = CodePool(tenant_id=tenant_id, status=PoolStatus.ACTIVE.value, **values)
    pool.kind = definition.kind.value
    session.add(pool)
    await session.flush()
    if definition.public_code is not None:
        taken = await session.scalar(
            select(PromoCode.id).where(
                PromoCode.tenant_id == tenant_id, PromoCode.code == definition.public_code
            )
        )
        if taken is not None:
            raise Conflict(
                f"the code {definition.public_code!r} already exists in another pool",
                field="public_code",
                code="promo_code_exists",
            )
        session.add(
            PromoCode(
                tenant_id=tenant_id,
                pool_id=pool.id,
                code=definition.public_code,
                source="public",
                issued_at=at,
                expires_at=definition.valid_until,
                max_uses=definition.max_uses_per_code,
            )
        )
        await session.flush()
    await session.refresh(pool)
    return pool, definition.public_code


async def get_pool(
    session: AsyncSession, *, tenant_id: int, pool: str, for_update: bool = False
) -> CodePool:
    query = select(CodePool).where(CodePool.tenant_id == tenant_id, CodePool.code == pool)
    if for_update:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFound(f"no code pool {pool!r}", field="pool", code="unknown_code_pool")
    return found


async def list_pools(session: AsyncSession, *, tenant_id: int) -> list[CodePool]:
    return list(
        await session.scalars(
            select(CodePool).where(CodePool.tenant_id == tenant_id).order_by(CodePool.id)
        )
    )


async def public_code_of(session: AsyncSession, pool: CodePool) -> str | None:
    if pool.kind != PoolKind.PUBLIC:
        return None
    return await session.scalar(
        select(PromoCode.code)
        .where(PromoCode.tenant_id == pool.tenant_id, PromoCode.pool_id == pool.id)
        .order_by(PromoCode.id)
        .limit(1)
    )


async def pool_stats(session: AsyncSession, pool: CodePool) -> dict[str, int]:
    codes = (
        await session.execute(
            select(
                func.count(),
                func.count(PromoCode.owner_customer_id),
            ).where(PromoCode.tenant_id == pool.tenant_id, PromoCode.pool_id == pool.id)
        )
    ).one()
    redemptions = await session.scalar(
        select(func.count()).where(
            CodeRedemption.tenant_id == pool.tenant_id,
            CodeRedemption.pool_id == pool.id,
            CodeRedemption.released_at.is_(None),
        )
    )
    return {"codes": codes[0], "issued": codes[1], "redemptions": redemptions or 0}


async def set_pool_status(
    session: AsyncSession, *, tenant_id: int, pool: str, status: PoolStatus, at: datetime
) -> CodePool:
    """Pause (codes are refused at once, nothing is lost) or resume a pool."""
    found = await get_pool(session, tenant_id=tenant_id, pool=pool)
    await session.execute(
        update(CodePool)
        .where(CodePool.tenant_id == tenant_id, CodePool.id == found.id)
        .values(status=status.value, updated_at=at)
    )
    await session.refresh(found)
    return found


# --- a code's state --------------------------------------------------------------------------


def expiry_for(pool: Any, issued_at: datetime) -> datetime | None:
    """When a code handed out at ``issued_at`` lapses: ``valid_days`` later, never after
    the pool's ``valid_until``."""
    ends = [pool.valid_until] if pool.valid_until is not None else []
    if pool.valid_days is not None:
        ends.append(issued_at + timedelta(days=pool.valid_days))
    return min(ends) if ends else None


def code_status(pool: Any, code: Any, *, uses: int, at: datetime) -> str:
    """``active``, ``paused``, ``not_yet_valid``, ``expired`` or ``used_up`` at ``at``."""
    if pool.status != PoolStatus.ACTIVE:
        return "paused"
    if pool.valid_from is not None and at < pool.valid_from:
        return "not_yet_valid"
    expires = code.expires_at
    if (expires is not None and at >= expires) or (
        pool.valid_until is not None and at >= pool.valid_until
    ):
        return "expired"
    if code.max_uses is not None and uses >= code.max_uses:
        return "used_up"
    return "active"


async def active_redemptions(session: AsyncSession, *, tenant_id: int, code_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                CodeRedemption.tenant_id == tenant_id,
                CodeRedemption.code_id == code_id,
                CodeRedemption.released_at.is_(None),
            )
        )
        or 0
    )


async def describe_code(
    session: AsyncSession, *, tenant_id: int, code: str, at: datetime
) -> dict[str, Any]:
    """What a till or the back office sees about one code."""
    text = normalise_code(code)
    row = (
        await session.execute(
            select(PromoCode, CodePool, Customer.external_id)
            .join(CodePool, CodePool.id == PromoCode.pool_id)
            .outerjoin(Customer, Customer.id == PromoCode.owner_customer_id)
            .where(PromoCode.tenant_id == tenant_id, PromoCode.code == text)
        )
    ).first()
    if row is None:
        raise NotFound(f"no promo code {text!r}", field="code", code="unknown_promo_code")
    found, pool, owner = row
    uses = (
        found.uses
        if found.max_uses is not None
        else await active_redemptions(session, tenant_id=tenant_id, code_id=found.id)
    )
    return {
        "code": found.code,
        "pool": pool.code,
        "kind": pool.kind,
        "status": code_status(pool, found, uses=uses, at=at),
        "uses": uses,
        "max_uses": found.max_uses,
        "owner": owner,
        "shareable": pool.shareable,
        "issued_at": found.issued_at,
        "expires_at": found.expires_at,
        "valid_from": pool.valid_from,
        "value_minor": pool.value_minor,
        "currency": pool.currency,
        "value_points": pool.value_points,
    }


# --- export ----------------------------------------------------------------------------------

EXPORT_COLUMNS = ("code", "status", "owner", "issued_at", "expires_at", "uses", "max_uses")


@dataclass(frozen=True, slots=True)
class _CodeState:
    expires_at: datetime | None
    max_uses: int | None


async def export_rows(
    session: AsyncSession, *, tenant_id: int, pool: str, at: datetime, page: int = 5000
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The pool's codes in pages of ``page`` rows, oldest first (keyset, not OFFSET)."""
    found = await get_pool(session, tenant_id=tenant_id, pool=pool)
    after = 0
    while True:
        rows = (
            await session.execute(
                select(
                    PromoCode.id,
                    PromoCode.code,
                    Customer.external_id,
                    PromoCode.issued_at,
                    PromoCode.expires_at,
                    PromoCode.uses,
                    PromoCode.max_uses,
                )
                .outerjoin(Customer, Customer.id == PromoCode.owner_customer_id)
                .where(
                    PromoCode.tenant_id == tenant_id,
                    PromoCode.pool_id == found.id,
                    PromoCode.id > after,
                )
                .order_by(PromoCode.id)
                .limit(page)
            )
        ).all()
        if not rows:
            return
        yield [
            (
                row.code,
                code_status(found, _CodeState(row.expires_at, row.max_uses), uses=row.uses, at=at),
                row.external_id or "",
                row.issued_at.isoformat() if row.issued_at else "",
                row.expires_at.isoformat() if row.expires_at else "",
                row.uses if row.max_uses is not None else "",
                row.max_uses if row.max_uses is not None else "",
            )
            for row in rows
        ]
        after = rows[-1].id
        if len(rows) < page:
            return
