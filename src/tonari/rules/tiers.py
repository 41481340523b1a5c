"""Tier qualification and downgrade, evaluated from spend aggregates at a given moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tonari.programs.schemas import DowngradeRule, Programme, QualificationBasis
from tonari.rules.calendar import months_between


@dataclass(frozen=True, slots=True)
class SpendSnapshot:
    """Net spend (after returns) in minor units, measured at one moment."""

    lifetime: int
    rolling: int
    previous_calendar_month: int
    last_purchase_at: datetime | None


@dataclass(frozen=True, slots=True)
class TierDecision:
    tier_code: str
    changed: bool
    reason: str


def qualifying_spend(programme: Programme, spend: SpendSnapshot) -> int:
    basis = programme.qualification.basis
    if basis is QualificationBasis.LIFETIME:
        return spend.lifetime
    if basis is QualificationBasis.ROLLING_MONTHS:
        return spend.rolling
    return spend.previous_calendar_month


def qualifying_tier_index(programme: Programme, amount: int) -> int:
    index = 0
    for position, tier in enumerate(programme.tiers):
        if amount >= tier.threshold:
            index = position
    return index


def evaluate_tier(
    programme: Programme, *, current_code: str | None, spend: SpendSnapshot, at: datetime
) -> TierDecision:
    """The tier a customer holds at ``at``.

    Rule ``none`` never lowers a tier; ``reevaluate`` sets the tier the spend qualifies for;
    ``after_inactivity`` keeps the higher of held and qualifying tier until the customer has
    not bought for ``inactive_months``, then drops one level per evaluation.
    """
    amount = qualifying_spend(programme, spend)
    earned_index = qualifying_tier_index(programme, amount)
    held_index = programme.tier_index(current_code) if current_code else 0
    rule = programme.downgrade.rule
    basis_text = programme.qualification.basis.value.replace("_", " ")
    if rule is DowngradeRule.REEVALUATE:
        new_index = earned_index
        reason = f"{basis_text} spend {amount} qualifies for {programme.tiers[new_index].name}"
    elif rule is DowngradeRule.AFTER_INACTIVITY:
        inactive_months = programme.downgrade.inactive_months or 0
        last = spend.last_purchase_at
        idle = last is None or months_between(last, at, programme.zone) >= inactive_months
        if earned_index >= held_index or not idle:
            new_index = max(earned_index, held_index)
            reason = f"{basis_text} spend {amount}; tier kept while active"
        else:
            new_index = max(earned_index, held_index - 1)
            reason = f"no purchase for {inactive_months} months: down one level"
    else:
        new_index = max(earned_index, held_index)
        reason = f"{basis_text} spend {amount} qualifies for {programme.tiers[earned_index].name}"
    new_code = programme.tiers[new_index].code
    return TierDecision(tier_code=new_code, changed=new_code != current_code, reason=reason)
