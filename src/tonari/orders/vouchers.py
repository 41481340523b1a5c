"""Codes at checkout: the codes a buyer presents, and what a placed order hands out.

A presented code is redeemed only when an applied offer asked for its pool, so a code typed
in vain is not used up. Codes and referral points handed out by offers are written in the
order's transaction: a rolled-back order hands out nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes import service as codes_service
from tonari.ledger import reversals
from tonari.ledger import service as ledger
from tonari.models.ledger import PointLot
from tonari.orders.schemas import CartIn
from tonari.programs.schemas import Programme
from tonari.rules.cart import CartCalculation
from tonari.rules.lots import expires_at, pending_until
from tonari.rules.offers.conditions import PromoCode
from tonari.rules.offers.context import PresentedCode

REFERRAL = "referral"
REFERRAL_LINE = 0


async def present_codes(
    session: AsyncSession,
    *,
    tenant_id: int,
    body: CartIn,
    customer_id: int | None,
    at: datetime,
) -> list[PresentedCode]:
    if not body.promo_codes:
        return []
    return await codes_service.resolve_presented_codes(
        session, tenant_id=tenant_id, codes=body.promo_codes, customer_id=customer_id, at=at
    )


def code_owners(codes: list[PresentedCode], buyer_id: int | None) -> list[int]:
    """Other customers whose shared codes were presented: their accounts may be credited."""
    return sorted(
        {
            code.owner_customer_id
            for code in codes
            if code.valid and code.owner_customer_id not in (None, buyer_id)
        }  # type: ignore[misc]
    )


def redeemed_codes(
    programme: Programme, calculation: CartCalculation, codes: list[PresentedCode]
) -> list[PresentedCode]:
    """The presented codes an applied offer relied upon."""
    by_code = programme.offer_index().by_code
    pools: set[str] = set()
    for effects in calculation.offers.applied:
        for condition in by_code[effects.offer_code].conditions:
            if isinstance(condition, PromoCode):
                pools.update(condition.pools)
    return [code for code in codes if code.valid and code.pool in pools]


async def hand_out(
    session: AsyncSession,
    *,
    tenant_id: int,
    programme: Programme,
    calculation: CartCalculation,
    codes: list[PresentedCode],
    owner_accounts: dict[int, ledger.LockedAccount],
    order_id: int,
    order_external_id: str,
    customer_id: int | None,
    paid: bool,
    at: datetime,
    actor: str,
) -> list[dict[str, object]]:
    """Redeem the codes used, issue the codes offers hand out, credit referrers.

    Returns the issued codes, for the order's answer.
    """
    used = redeemed_codes(programme, calculation, codes)
    if used:
        await codes_service.redeem_codes(
            session,
            tenant_id=tenant_id,
            presented=used,
            customer_id=customer_id,
            order_external_id=order_external_id,
            at=at,
        )
    issued: list[dict[str, object]] = []
    if customer_id is not None:
        for item in calculation.issued:
            if item.kind != "code":
                continue
            for _ in range(item.quantity):
                code = await codes_service.issue_personal_code(
                    session,
                    tenant_id=tenant_id,
                    pool=item.name,
                    customer_id=customer_id,
                    at=at,
                    reason=f"offer {item.offer_code}, order {order_external_id}",
                )
                issued.append({"offer": item.offer_code, "pool": item.name, "code": code})
    for effects in calculation.offers.applied:
        owner = effects.code_owner_customer_id
        account = owner_accounts.get(owner) if owner is not None else None
        if account is None or not effects.code_owner_points:
            continue
        await ledger.earn_lots(
            session,
            account,
            [
                ledger.LotToEarn(
                    amount=effects.code_owner_points,
                    earned_at=at,
                    pending_until=pending_until(programme, at),
                    expires_at=expires_at(programme, at),
                    source=REFERRAL,
                    # Line 0 of the referred order: the reward follows that order's payment,
                    # cancel and full return like the order's own points.
                    order_id=order_id,
                    order_line_no=REFERRAL_LINE,
                )
            ],
            reason=f"referral: order {order_external_id} used their code",
            actor=actor,
            occurred_at=at,
            order_id=order_id,
            idempotency_key=f"referral:{order_id}:{effects.offer_code}",
            hold_pending=not paid,
        )
    return issued


async def take_back_referrals(
    session: AsyncSession,
    *,
    tenant_id: int,
    programme: Programme,
    order_id: int,
    actor: str,
    at: datetime,
    reason: str,
) -> int:
    """A cancelled (or fully returned) referred order takes back its referrer's reward."""
    lots = (
        await session.execute(
            select(PointLot.customer_id, PointLot.amount).where(
                PointLot.tenant_id == tenant_id,
                PointLot.order_id == order_id,
                PointLot.order_line_no == REFERRAL_LINE,
                PointLot.source == REFERRAL,
            )
        )
    ).all()
    taken = 0
    for owner_id, amount in sorted(lots):
        account = await ledger.lock_account(session, tenant_id=tenant_id, customer_id=owner_id)
        recovered, _ = await reversals.take_back_earned(
            session,
            account,
            order_id=order_id,
            line_no=REFERRAL_LINE,
            amount=amount,
            rule=programme.negative_balance,
            actor=actor,
            occurred_at=at,
            reason=reason,
        )
        taken += recovered
    return taken
