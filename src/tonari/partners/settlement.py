"""Coalition settlement: what each partner issued and accepted in a period, and who owes whom.

A partner pays for the points it issued (its customers earned them at its tills or through
its card), and is paid for the points it accepted as payment. Both are valued at the
partner's settlement point value (default: the programme's ``point_value_minor``).

Figures come from the ledger by the time of each movement, so a return in March lowers
March's figures, not January's already-settled ones:
- orders with ``orders.partner``: points issued = what their entries took out of the
  ``points_issued`` account (earn less take-back); points redeemed = what they put into
  ``points_redeemed`` (spend / confirm less restored);
- bank-file accruals and activity rewards that name a partner: their points, by date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.ledger.service import system_account
from tonari.partners.schemas import Partner
from tonari.programs.schemas import Programme

ORDER_POINTS = """
SELECT o.partner AS partner,
       COALESCE(-SUM(p.amount) FILTER (WHERE p.account_id = :issued), 0) AS issued,
       COALESCE(SUM(p.amount) FILTER (WHERE p.account_id = :redeemed), 0) AS redeemed
FROM ledger_entries e
JOIN orders o ON o.id = e.order_id
JOIN ledger_postings p ON p.entry_id = e.id
WHERE e.tenant_id = :tenant_id AND o.tenant_id = :tenant_id AND o.partner IS NOT NULL
  AND e.occurred_at >= :start AND e.occurred_at < :end
  AND p.account_id IN (:issued, :redeemed)
GROUP BY o.partner
"""

ACCRUED_POINTS = """
SELECT partner_code AS partner, SUM(points) AS issued
FROM partner_accruals
WHERE tenant_id = :tenant_id AND purchased_at >= :start AND purchased_at < :end
GROUP BY partner_code
UNION ALL
SELECT partner_code AS partner, SUM(points) AS issued
FROM activity_rewards
WHERE tenant_id = :tenant_id AND partner_code IS NOT NULL
  AND occurred_at >= :start AND occurred_at < :end
GROUP BY partner_code
"""


@dataclass(slots=True)
class PartnerLine:
    partner: str
    name: str
    kind: str
    point_value_minor: int
    points_issued: int = 0
    points_redeemed: int = 0

    @property
    def partner_owes(self) -> int:
        return self.points_issued * self.point_value_minor

    @property
    def owed_to_partner(self) -> int:
        return self.points_redeemed * self.point_value_minor

    @property
    def net(self) -> int:
        """Positive: the partner pays the programme; negative: the programme pays the partner."""
        return self.partner_owes - self.owed_to_partner

    def as_dict(self) -> dict[str, Any]:
        return {
            "partner": self.partner,
            "name": self.name,
            "kind": self.kind,
            "point_value_minor": self.point_value_minor,
            "points_issued": self.points_issued,
            "points_redeemed": self.points_redeemed,
            "partner_owes": self.partner_owes,
            "owed_to_partner": self.owed_to_partner,
            "net": self.net,
            "net_direction": (
                "partner pays" if self.net > 0 else "programme pays" if self.net < 0 else "settled"
            ),
        }


def period_of_days(first: date, last: date, programme: Programme) -> tuple[datetime, datetime]:
    """From the start of ``first`` to the end of ``last`` (both included), in local time."""
    zone = programme.zone
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


async def partner_settlement(
    session: AsyncSession,
    *,
    tenant_id: int,
    partners: list[Partner],
    programme: Programme,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """Per partner: points issued and redeemed in ``[start, end)``, in points and money."""
    lines = {
        partner.code: PartnerLine(
            partner.code,
            partner.name,
            partner.kind,
            partner.settlement_point_value_minor or programme.point_value_minor,
        )
        for partner in partners
    }

    def line(code: str) -> PartnerLine:
        if code not in lines:
            # Data names a partner the programme no longer lists: still owed, still shown.
            lines[code] = PartnerLine(code, code, "unknown", programme.point_value_minor)
        return lines[code]

    params = {
        "tenant_id": tenant_id,
        "start": start,
        "end": end,
        "issued": await system_account(session, tenant_id, "points_issued"),
        "redeemed": await system_account(session, tenant_id, "points_redeemed"),
    }
    for row in (await session.execute(text(ORDER_POINTS), params)).all():
        line(row.partner).points_issued += int(row.issued)
        line(row.partner).points_redeemed += int(row.redeemed)
    for row in (await session.execute(text(ACCRUED_POINTS), params)).all():
        line(row.partner).points_issued += int(row.issued or 0)
    ordered = sorted(lines.values(), key=lambda item: item.partner)
    return {
        "from": start,
        "to": end,
        "currency": programme.currency,
        "partners": [item.as_dict() for item in ordered],
        "totals": {
            "points_issued": sum(item.points_issued for item in ordered),
            "points_redeemed": sum(item.points_redeemed for item in ordered),
            "partner_owes": sum(item.partner_owes for item in ordered),
            "owed_to_partner": sum(item.owed_to_partner for item in ordered),
            "net": sum(item.net for item in ordered),
        },
    }
