"""Helpers for the activity tests: rules as a programme would carry them, customers, reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.activities.outcomes import ActivityResult
from tonari.activities.schemas import ActivityRule, parse_activity_rules
from tonari.activities.service import report_activity
from tonari.customers.schemas import CustomerUpsert
from tonari.customers.service import customer_balances, upsert_customer
from tonari.ledger.verify import verify_ledger
from tonari.programs.service import programme_in_force

T0 = datetime.fromisoformat("2025-03-10T12:00:00+03:00")

# Panasonic: a review on the official site earns 500 points, once per product, at most 3 a day;
# profile sections earn what the welcome email promises; Lush: five empty jars, a free mask.
PANASONIC_RULES: list[dict[str, Any]] = [
    {
        "code": "review",
        "action": "review_written",
        "points": 500,
        "frequency": {"once": "subject", "at_most": 3, "per": "day"},
    },
    {
        "code": "profile",
        "action": "profile_section_completed",
        "sections": {"contacts": 100, "household": 300, "interests": 200},
    },
    {"code": "jars", "action": "jar_returned", "every": 5, "reward": {"voucher_pool": "free_mask"}},
]


def rules(documents: list[dict[str, Any]] | None = None) -> list[ActivityRule]:
    return parse_activity_rules(PANASONIC_RULES if documents is None else documents)


async def customer(
    session: AsyncSession, tenant_id: int, external_id: str = "c", **fields: Any
) -> int:
    created, _ = await upsert_customer(
        session,
        tenant_id=tenant_id,
        external_id=external_id,
        fields=CustomerUpsert(**fields),
        first_tier="silver",
        at=T0,
    )
    return created.id


async def report(
    session: AsyncSession,
    tenant_id: int,
    customer_id: int,
    action: str,
    activity_id: str,
    *,
    subject: str | None = None,
    at: datetime = T0,
    quantity: int = 1,
    rule_set: list[ActivityRule] | None = None,
) -> ActivityResult:
    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    return await report_activity(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        action=action,
        activity_id=activity_id,
        subject=subject,
        occurred_at=at,
        rules=rule_set if rule_set is not None else rules(),
        programme=programme,
        actor="test",
        quantity=quantity,
    )


async def available(session: AsyncSession, tenant_id: int, customer_id: int) -> int:
    balances = await customer_balances(session, tenant_id=tenant_id, customer_id=customer_id, at=T0)
    return balances.available


async def ledger_is_consistent(session: AsyncSession, tenant_id: int) -> None:
    verification = await verify_ledger(session, tenant_id=tenant_id)
    assert verification.problems == []
