"""Promo codes and vouchers: what a buyer presents, redeeming, releasing, bonus voucher credits.

Redemption is safe under concurrency without any lock held between calls:

* a capped code is taken with ``UPDATE codes SET uses = uses + 1 WHERE uses < max_uses``: the
  row lock makes concurrent orders queue, and the re-checked condition lets exactly as many
  through as the cap allows (a single-use code: one, ever; a check constraint backs it up);
* the redemption row is unique per (tenant, code, order): a retried order waits for the first
  attempt's transaction and then finds its row, so it never takes a second use;
* a per-customer limit is counted under a transaction-scoped advisory lock on (pool,
  customer), so two tills cannot both see "not used yet".

Unlimited public codes keep no counter: every order using SKIDKA30 would otherwise queue on
that one row. Their uses are counted from the redemptions when someone asks.

Handing codes out lives in :mod:`tonari.codes.issuing`; its functions are re-exported here so
callers need one import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes.generator import normalise_code
from tonari.codes.issuing import (
    GenerateResult,
    IssueResult,
    generate_codes,
    issue_codes,
    issue_personal_code,
)
from tonari.codes.schemas import PoolKind, PoolStatus
from tonari.customers.service import get_customer
from tonari.kit.errors import Conflict, NotFound, ValidationFailed
from tonari.ledger import service as ledger
from tonari.ledger.adjustments import AdjustmentIn, adjust_points
from tonari.models.codes import CodePool, CodeRedemption, PromoCode
from tonari.rules.offers.context import PresentedCode
from tonari.tenants.service import Principal

__all__ = [
    "MAX_PRESENTED",
    "GenerateResult",
    "IssueResult",
    "RedeemedCode",
    "generate_codes",
    "issue_codes",
    "issue_personal_code",
    "redeem_bonus_voucher",
    "redeem_codes",
    "release_codes",
    "resolve_presented_codes",
]

MAX_PRESENTED = 20

_COLUMNS = (
    PromoCode.id,
    PromoCode.code,
    PromoCode.pool_id,
    PromoCode.owner_customer_id,
    PromoCode.expires_at,
    PromoCode.uses,
    PromoCode.max_uses,
    CodePool.code.label("pool"),
    CodePool.kind,
    CodePool.status,
    CodePool.valid_from,
    CodePool.valid_until,
    CodePool.per_customer_limit,
    CodePool.shareable,
    CodePool.value_points,
    CodePool.value_minor,
)


async def _load(session: AsyncSession, tenant_id: int, texts: Sequence[str]) -> dict[str, Any]:
    rows = await session.execute(
        select(*_COLUMNS)
        .join(CodePool, CodePool.id == PromoCode.pool_id)
        .where(PromoCode.tenant_id == tenant_id, PromoCode.code.in_(list(texts)))
    )
    return {row.code: row for row in rows}


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _problem(
    row: Any,
    *,
    customer_id: int | None,
    at: datetime,
    used_by_customer: int | None,
    at_order: bool,
    count_uses: bool = True,
) -> str | None:
    """Why the code may not be used now by this customer, in words; ``None`` when it may.

    ``count_uses`` is off when redeeming: there the guarded ``UPDATE`` decides, so the loser of
    a race always gets ``promo_code_used_up``.
    """
    if row.status != PoolStatus.ACTIVE:
        return "the campaign is paused"
    if row.valid_from is not None and at < row.valid_from:
        return f"not valid yet: valid from {_when(row.valid_from)}"
    ends = [end for end in (row.expires_at, row.valid_until) if end is not None]
    if ends and at >= min(ends):
        return f"expired on {_when(min(ends))}"
    if count_uses and row.max_uses is not None and row.uses >= row.max_uses:
        return "already used" if row.max_uses == 1 else f"used up: all {row.max_uses} uses taken"
    if row.owner_customer_id is not None and not row.shareable:
        if customer_id is None:
            return "a personal code: identify its owner to use it"
        if row.owner_customer_id != customer_id:
            return "a personal code of another customer"
    if row.per_customer_limit is not None:
        if customer_id is None:
            return "limited per customer: identify the customer to use it"
        if used_by_customer is not None and used_by_customer >= row.per_customer_limit:
            return f"already used by this customer (limit {row.per_customer_limit} per customer)"
    if at_order and row.kind == PoolKind.BONUS:
        return "a bonus voucher: it is credited to the customer's account, not used at an order"
    return None


async def _customer_uses(
    session: AsyncSession, *, tenant_id: int, customer_id: int, pool_ids: Sequence[int]
) -> dict[int, int]:
    rows = await session.execute(
        select(CodeRedemption.pool_id, func.count().label("used"))
        .where(
            CodeRedemption.tenant_id == tenant_id,
            CodeRedemption.pool_id.in_(list(pool_ids)),
            CodeRedemption.customer_id == customer_id,
            CodeRedemption.released_at.is_(None),
        )
        .group_by(CodeRedemption.pool_id)
    )
    return {row.pool_id: row.used for row in rows}


async def resolve_presented_codes(
    session: AsyncSession,
    *,
    tenant_id: int,
    codes: list[str],
    customer_id: int | None,
    at: datetime,
) -> list[PresentedCode]:
    """The codes a buyer typed, as the offers engine reads them, in the order given.

    A code that exists but may not be used now comes back ``valid=False`` with the reason; an
    unknown code is an error (``unknown_promo_code`` on ``promo_codes``), so a typo is told to
    the buyer rather than silently ignored.
    """
    texts = list(dict.fromkeys(normalise_code(code) for code in codes if code and code.strip()))
    if len(texts) > MAX_PRESENTED:
        raise ValidationFailed(
            f"at most {MAX_PRESENTED} promo codes per order", field="promo_codes"
        )
    if not texts:
        return []
    rows = await _load(session, tenant_id, texts)
    unknown = [code for code in texts if code not in rows]
    if unknown:
        raise ValidationFailed(
            f"unknown promo code {unknown[0]!r}",
            field="promo_codes",
            code="unknown_promo_code",
            details={"unknown": unknown},
        )
    limited = {row.pool_id for row in rows.values() if row.per_customer_limit is not None}
    used: dict[int, int] = {}
    if limited and customer_id is not None:
        used = await _customer_uses(
            session, tenant_id=tenant_id, customer_id=customer_id, pool_ids=sorted(limited)
        )
    presented = []
    for code in texts:
        row = rows[code]
        problem = _problem(
            row,
            customer_id=customer_id,
            at=at,
            used_by_customer=used.get(row.pool_id, 0),
            at_order=True,
        )
        presented.append(
            PresentedCode(
                code=code,
                pool=row.pool,
                valid=problem is None,
                reason=problem or "",
                owner_customer_id=row.owner_customer_id if row.shareable else None,
                value_minor=(row.value_minor or 0) if row.kind == PoolKind.GIFT else 0,
            )
        )
    return presented


# --- redeem and release ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedeemedCode:
    code: str
    pool: str
    replayed: bool
    """The order (or voucher credit) had already redeemed this code: no use was taken now."""


async def _take_use(
    session: AsyncSession,
    row: Any,
    *,
    tenant_id: int,
    customer_id: int | None,
    order_external_id: str | None,
    at: datetime,
) -> bool:
    """Record one use of the code; ``True`` when this order (or credit) already had it."""
    limit = row.per_customer_limit if customer_id is not None else None
    if limit is not None:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"tonari.codes:{row.pool_id}:{customer_id}"},
        )
    key = (
        CodeRedemption.order_external_id.is_(None) & (CodeRedemption.customer_id == customer_id)
        if order_external_id is None
        else CodeRedemption.order_external_id == order_external_id
    )
    insert = pg_insert(CodeRedemption).values(
        tenant_id=tenant_id,
        code_id=row.id,
        pool_id=row.pool_id,
        customer_id=customer_id,
        order_external_id=order_external_id,
        redeemed_at=at,
    )
    if order_external_id is None:
        insert = insert.on_conflict_do_nothing(
            index_elements=["tenant_id", "code_id", "customer_id"],
            index_where=text("order_external_id IS NULL"),
        )
    else:
        insert = insert.on_conflict_do_nothing(
            index_elements=["tenant_id", "code_id", "order_external_id"]
        )
    redemption_id = await session.scalar(insert.returning(CodeRedemption.id))
    reactivated = False
    if redemption_id is None:
        existing = (
            await session.execute(
                select(CodeRedemption.id, CodeRedemption.released_at).where(
                    CodeRedemption.tenant_id == tenant_id, CodeRedemption.code_id == row.id, key
                )
            )
        ).one()
        if existing.released_at is None:
            return True
        redemption_id, reactivated = existing.id, True  # the order was cancelled, now placed again
    if limit is not None:
        used = await session.scalar(
            select(func.count()).where(
                CodeRedemption.tenant_id == tenant_id,
                CodeRedemption.pool_id == row.pool_id,
                CodeRedemption.customer_id == customer_id,
                CodeRedemption.released_at.is_(None),
                CodeRedemption.id != redemption_id,
            )
        )
        if (used or 0) >= limit:
            raise Conflict(
                f"promo code {row.code}: already used by this customer "
                f"(limit {limit} per customer)",
                field="promo_codes",
                code="promo_code_limit_reached",
            )
    if row.max_uses is not None:
        taken = await session.scalar(
            update(PromoCode)
            .where(
                PromoCode.tenant_id == tenant_id,
                PromoCode.id == row.id,
                PromoCode.uses < PromoCode.max_uses,
            )
            .values(uses=PromoCode.uses + 1)
            .returning(PromoCode.id)
            .execution_options(synchronize_session=False)
        )
        if taken is None:
            raise Conflict(
                f"promo code {row.code} is used up: another order took its last use",
                field="promo_codes",
                code="promo_code_used_up",
            )
    if reactivated:
        await session.execute(
            update(CodeRedemption)
            .where(CodeRedemption.tenant_id == tenant_id, CodeRedemption.id == redemption_id)
            .values(released_at=None, redeemed_at=at, customer_id=customer_id)
            .execution_options(synchronize_session=False)
        )
    return False


async def redeem_codes(
    session: AsyncSession,
    *,
    tenant_id: int,
    presented: list[PresentedCode],
    customer_id: int | None,
    order_external_id: str,
    at: datetime,
) -> list[RedeemedCode]:
    """Use the presented codes for an order: all of them or, on any error, none.

    Pass the codes the applied offers used; codes presented as invalid are skipped. A retry of
    the same order redeems nothing twice. Raises :class:`Conflict` ``promo_code_used_up`` when
    another order took the last use, ``promo_code_limit_reached`` for the per-customer limit,
    and :class:`ValidationFailed` ``promo_code_not_valid`` when a code stopped being valid.
    """
    # One fixed order, so two orders presenting the same codes never wait on each other in a
    # circle.
    texts = sorted({normalise_code(code.code) for code in presented if code.valid})
    if not texts:
        return []
    redeemed: list[RedeemedCode] = []
    async with session.begin_nested():
        rows = await _load(session, tenant_id, texts)
        for code in texts:
            row = rows.get(code)
            if row is None:
                raise ValidationFailed(
                    f"unknown promo code {code!r}", field="promo_codes", code="unknown_promo_code"
                )
            problem = _problem(
                row,
                customer_id=customer_id,
                at=at,
                used_by_customer=None,
                at_order=True,
                count_uses=False,
            )
            if problem is not None:
                raise ValidationFailed(
                    f"promo code {code}: {problem}",
                    field="promo_codes",
                    code="promo_code_not_valid",
                )
            replayed = await _take_use(
                session,
                row,
                tenant_id=tenant_id,
                customer_id=customer_id,
                order_external_id=order_external_id,
                at=at,
            )
            redeemed.append(RedeemedCode(code=code, pool=row.pool, replayed=replayed))
    return redeemed


async def release_codes(
    session: AsyncSession,
    *,
    tenant_id: int,
    order_external_id: str,
    at: datetime | None = None,
) -> int:
    """Give back the uses a cancelled order took; returns how many. A second call releases 0."""
    released = list(
        await session.scalars(
            update(CodeRedemption)
            .where(
                CodeRedemption.tenant_id == tenant_id,
                CodeRedemption.order_external_id == order_external_id,
                CodeRedemption.released_at.is_(None),
            )
            .values(released_at=at if at is not None else func.now())
            .returning(CodeRedemption.code_id)
            .execution_options(synchronize_session=False)
        )
    )
    if released:
        await session.execute(
            update(PromoCode)
            .where(
                PromoCode.tenant_id == tenant_id,
                PromoCode.id.in_(released),
                PromoCode.max_uses.is_not(None),
            )
            .values(uses=PromoCode.uses - 1)
            .execution_options(synchronize_session=False)
        )
    return len(released)


async def redeem_bonus_voucher(
    session: AsyncSession,
    *,
    principal: Principal,
    code: str,
    customer: str,
    at: datetime,
) -> dict[str, Any]:
    """Credit a bonus voucher's points to a customer through the ledger, once.

    The same customer redeeming the same voucher again gets the first answer (``replayed``);
    anyone else finds it used up.
    """
    tenant_id = principal.tenant_id
    text_ = normalise_code(code)
    try:
        buyer = await get_customer(session, tenant_id=tenant_id, external_id=customer)
    except NotFound as exc:
        raise NotFound(exc.message, field="customer", code=exc.code) from None
    # The account first, then the code: the order in which an order placement takes them.
    await ledger.lock_account(session, tenant_id=tenant_id, customer_id=buyer.id)
    row = (await _load(session, tenant_id, [text_])).get(text_)
    if row is None:
        raise NotFound(f"no promo code {text_!r}", field="code", code="unknown_promo_code")
    if row.kind != PoolKind.BONUS or row.value_points is None:
        raise ValidationFailed(
            f"{text_} is a {row.kind} code, not a bonus voucher: it is used at an order",
            field="code",
            code="not_a_bonus_voucher",
        )
    problem = _problem(
        row, customer_id=buyer.id, at=at, used_by_customer=None, at_order=False, count_uses=False
    )
    if problem is not None:
        raise ValidationFailed(
            f"voucher {text_}: {problem}", field="code", code="promo_code_not_valid"
        )
    async with session.begin_nested():
        replayed = await _take_use(
            session, row, tenant_id=tenant_id, customer_id=buyer.id, order_external_id=None, at=at
        )
    grant = await adjust_points(
        session,
        principal,
        external_id=customer,
        body=AdjustmentIn(
            direction="grant",
            points=row.value_points,
            reason=f"bonus voucher {text_}",
            idempotency_key=f"voucher:{row.id}:{buyer.id}",
        ),
        at=at,
    )
    return {
        "code": text_,
        "pool": row.pool,
        "customer": customer,
        "points": row.value_points,
        "replayed": replayed,
        "balance": grant["balance"],
    }
