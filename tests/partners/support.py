"""Helpers for the partner tests: the co-branded bank, its files, customers and balances."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.imports.support import savepoints
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import upsert_customer
from tonari.ledger.verify import verify_ledger
from tonari.models.ledger import LedgerAccount, LedgerPosting, PointLot
from tonari.partners.accruals import AccrualReport, import_partner_accruals
from tonari.partners.schemas import Partner
from tonari.programs.service import programme_in_force

T0 = datetime.fromisoformat("2025-03-10T12:00:00+03:00")
HEADER = "transaction_id,card_number,phone,amount,purchase_type,date\n"

# Rosselkhozbank's JCB card for Panasonic: 5% of any purchase, plus 20% on the brand's site.
RSHB: dict[str, Any] = {
    "code": "rshb",
    "name": "Rosselkhozbank",
    "kind": "bank",
    "anywhere_rate_bp": 500,
    "brand_site_rate_bp": 2000,
}


def bank(**overrides: Any) -> Partner:
    return Partner.model_validate({**RSHB, **overrides})


def bank_file(tmp_path: Path, rows: list[str], name: str = "rshb-2025-03-10.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


async def run_import(
    session: AsyncSession,
    tenant_id: int,
    path: Path,
    partner: Partner | None = None,
    now: datetime = T0,
) -> AccrualReport:
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=now)
    return await import_partner_accruals(
        savepoints(session),
        tenant_id=tenant_id,
        partner=partner or bank(),
        programme=programme,
        path=path,
        actor="test",
        now=now,
        chunk_rows=2,
    )


async def customer(
    session: AsyncSession,
    tenant_id: int,
    external_id: str,
    *,
    at: datetime = T0,
    tier: str = "silver",
    **fields: Any,
) -> int:
    created, _ = await upsert_customer(
        session,
        tenant_id=tenant_id,
        external_id=external_id,
        fields=CustomerUpsert(**fields),
        first_tier=tier,
        at=at,
    )
    return created.id


async def points(session: AsyncSession, customer_id: int, source: str | None = None) -> int:
    """All live points of a customer (pending and available), optionally of one source."""
    query = select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
        PointLot.customer_id == customer_id, PointLot.state.in_(("pending", "available"))
    )
    if source is not None:
        query = query.where(PointLot.source == source)
    return int(await session.scalar(query) or 0)


async def balance_from_postings(session: AsyncSession, customer_id: int) -> tuple[int, int]:
    """(cached available, sum of the account's available postings): they must agree."""
    account = (
        await session.execute(
            select(LedgerAccount.id, LedgerAccount.available).where(
                LedgerAccount.customer_id == customer_id
            )
        )
    ).one()
    posted = await session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(
            LedgerPosting.account_id == account.id, LedgerPosting.bucket == "available"
        )
    )
    return account.available, int(posted or 0)


async def ledger_is_consistent(session: AsyncSession, tenant_id: int) -> None:
    report = await verify_ledger(session, tenant_id=tenant_id)
    assert report.problems == []
