"""What a report of an activity came to: the decisions, as answered and as listed later."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.models.activities import ActivityReport, ActivityReward

REWARDED = "rewarded"
COUNTED = "counted"
NOT_REWARDED = "not_rewarded"


@dataclass(frozen=True, slots=True)
class Activity:
    """One action as reported: ``activity_id`` is the caller's id, repeats count once."""

    action: str
    activity_id: str
    occurred_at: datetime
    subject: str | None = None
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class Decision:
    rule: str
    outcome: str
    reason_code: str
    reason: str
    points: int = 0
    rewards: int = 0
    voucher_pool: str | None = None
    entitlement: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "points": self.points,
            "rewards": self.rewards,
            "voucher_pool": self.voucher_pool,
            "entitlement": self.entitlement,
        }


@dataclass(slots=True)
class ActivityResult:
    activity_id: str
    action: str
    subject: str | None
    occurred_at: datetime
    replayed: bool
    decisions: list[Decision] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(decision.points for decision in self.decisions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "activity_id": self.activity_id,
            "action": self.action,
            "subject": self.subject,
            "occurred_at": self.occurred_at,
            "replayed": self.replayed,
            "rewarded": any(d.outcome == REWARDED for d in self.decisions),
            "points": self.points,
            "decisions": [decision.as_dict() for decision in self.decisions],
        }


def stored_decision(row: ActivityReward) -> Decision:
    return Decision(
        rule=row.rule_code,
        outcome=row.outcome,
        reason_code=row.reason_code,
        reason=row.reason,
        points=row.points,
        rewards=row.rewards,
        voucher_pool=row.voucher_pool,
        entitlement=row.entitlement,
    )


async def list_activity_rewards(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    limit: int = 50,
    before_id: int | None = None,
    only_rewarded: bool = False,
) -> list[dict[str, Any]]:
    """A customer's activity decisions, newest first."""
    query = (
        select(ActivityReward, ActivityReport.activity_id)
        .join(ActivityReport, ActivityReport.id == ActivityReward.report_id)
        .where(ActivityReward.tenant_id == tenant_id, ActivityReward.customer_id == customer_id)
        .order_by(ActivityReward.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(ActivityReward.id < before_id)
    if only_rewarded:
        query = query.where(ActivityReward.outcome == REWARDED)
    rows = (await session.execute(query)).all()
    return [
        {
            "id": reward.id,
            "activity_id": activity_id,
            "action": reward.action,
            "subject": reward.subject,
            "occurred_at": reward.occurred_at,
            **stored_decision(reward).as_dict(),
        }
        for reward, activity_id in rows
    ]
