"""Activity rewards: a customer reviewed a product, filled in a profile section, brought a jar.

Every report is stored once under the caller's ``activity_id``; every rule for its action
records a decision (rewarded, counted towards "every N", or why not) so a repeat gets the
same answer and a marketer can see why nothing was given.

Locking: the customer's ledger account is taken ``FOR UPDATE`` first, so the counts a rule
depends on (once per subject, N per day, progress towards every N) cannot change under a
decision; then the rules' budget rows, in code order, so parallel reports for different
customers never give more than a budget holds. Account before budget is the one order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.activities.outcomes import (
    COUNTED,
    NOT_REWARDED,
    REWARDED,
    Activity,
    ActivityResult,
    Decision,
    stored_decision,
)
from tonari.activities.schemas import ActivityRule
from tonari.codes.service import issue_personal_code
from tonari.kit.clock import ensure_aware
from tonari.kit.errors import Conflict, ValidationFailed
from tonari.kit.hashing import canonical_hash
from tonari.kit.outbox import record_event
from tonari.ledger import service as ledger
from tonari.models.activities import ActivityBudget, ActivityReport, ActivityReward
from tonari.models.customers import Customer
from tonari.programs.schemas import Programme
from tonari.rules.calendar import add_months
from tonari.rules.lots import expires_at

ACTIVITY_SOURCE = "activity"
PERIOD_WORDS = {"day": "daily", "week": "weekly", "month": "monthly"}


@dataclass(slots=True)
class _Budget:
    id: int
    points_given: int
    rewards_given: int


def period_bounds(moment: datetime, per: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The calendar day, ISO week (from Monday) or month holding ``moment``, in ``zone``."""
    local_day = moment.astimezone(zone).date()
    if per == "day":
        start, end = local_day, local_day + timedelta(days=1)
    elif per == "week":
        start = local_day - timedelta(days=local_day.weekday())
        end = start + timedelta(days=7)
    else:
        start = local_day.replace(day=1)
        end = add_months(start, 1)
    return datetime.combine(start, time(0), tzinfo=zone), datetime.combine(
        end, time(0), tzinfo=zone
    )


def rules_for(
    activity: Activity, rules: Sequence[ActivityRule], where: str = ""
) -> list[ActivityRule]:
    """The rules that judge ``activity``; a report no rule can judge is refused (422)."""
    matching = [rule for rule in rules if rule.action == activity.action]
    if not matching:
        raise ValidationFailed(
            f"no activity rule rewards the action {activity.action!r}",
            field=f"{where}action",
            code="unknown_action",
        )
    if activity.quantity > 1 and any(rule.every is None for rule in matching):
        raise ValidationFailed(
            "quantity above 1 is only for rules that reward every N actions",
            field=f"{where}quantity",
        )
    for rule in matching:
        if rule.once_per_subject and not activity.subject:
            raise ValidationFailed(
                f"rule {rule.code!r} rewards once per subject: say what the action is about",
                field=f"{where}subject",
                code="subject_required",
            )
        if rule.sections is not None and activity.subject not in rule.sections:
            known = ", ".join(sorted(rule.sections))
            raise ValidationFailed(
                f"{activity.subject!r} is not a profile section of rule {rule.code!r} ({known})",
                field=f"{where}subject",
                code="unknown_section",
            )
    return matching


async def report_activity(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    action: str,
    activity_id: str,
    occurred_at: datetime,
    rules: Sequence[ActivityRule],
    programme: Programme,
    actor: str,
    subject: str | None = None,
    quantity: int = 1,
) -> ActivityResult:
    """Judge one reported action by every rule for it, rewarding at most what they allow."""
    activity = Activity(action, activity_id, occurred_at, subject, quantity)
    [result] = await report_activities(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        activities=[activity],
        rules=rules,
        programme=programme,
        actor=actor,
    )
    return result


async def report_activities(
    session: AsyncSession,
    *,
    tenant_id: int,
    customer_id: int,
    activities: Sequence[Activity],
    rules: Sequence[ActivityRule],
    programme: Programme,
    actor: str,
    field_prefix: str = "",
) -> list[ActivityResult]:
    """Several actions of one customer in one transaction (the batch form)."""
    many = len(activities) > 1
    checked = []
    for index, activity in enumerate(activities):
        where = f"{field_prefix}{index}." if many else field_prefix
        at = ensure_aware(activity.occurred_at, f"{where}occurred_at")
        activity = Activity(
            activity.action, activity.activity_id, at, activity.subject, activity.quantity
        )
        checked.append((activity, rules_for(activity, rules, where)))
    account = await ledger.lock_account(session, tenant_id=tenant_id, customer_id=customer_id)
    external_id = str(
        await session.scalar(select(Customer.external_id).where(Customer.id == customer_id))
    )
    budgeted = sorted(
        {rule.code for _, matching in checked for rule in matching if _has_budget(rule)}
    )
    budgets = await _lock_budgets(session, tenant_id, budgeted)
    judge = _Judge(session, account, external_id, programme, budgets, actor)
    return [await judge.report(activity, matching) for activity, matching in checked]


def _has_budget(rule: ActivityRule) -> bool:
    return rule.budget_points is not None or rule.budget_rewards is not None


async def _lock_budgets(
    session: AsyncSession, tenant_id: int, codes: list[str]
) -> dict[str, _Budget]:
    if not codes:
        return {}
    await session.execute(
        pg_insert(ActivityBudget)
        .values([{"tenant_id": tenant_id, "rule_code": code} for code in codes])
        .on_conflict_do_nothing(index_elements=["tenant_id", "rule_code"])
    )
    rows = (
        await session.execute(
            select(
                ActivityBudget.id,
                ActivityBudget.rule_code,
                ActivityBudget.points_given,
                ActivityBudget.rewards_given,
            )
            .where(ActivityBudget.tenant_id == tenant_id, ActivityBudget.rule_code.in_(codes))
            .order_by(ActivityBudget.rule_code)
            .with_for_update()
        )
    ).all()
    return {row.rule_code: _Budget(row.id, row.points_given, row.rewards_given) for row in rows}


class _Judge:
    """Decides reports of one locked customer account, writing each decision as it goes."""

    def __init__(
        self,
        session: AsyncSession,
        account: ledger.LockedAccount,
        external_id: str,
        programme: Programme,
        budgets: dict[str, _Budget],
        actor: str,
    ) -> None:
        self.session = session
        self.account = account
        self.tenant_id = account.tenant_id
        self.customer_id = account.customer_id
        self.external_id = external_id
        self.programme = programme
        self.budgets = budgets
        self.actor = actor

    async def report(self, activity: Activity, matching: list[ActivityRule]) -> ActivityResult:
        # The time is left out: a retry stamped a moment later is still the same action.
        request_hash = canonical_hash(
            {
                "customer": self.customer_id,
                "action": activity.action,
                "subject": activity.subject,
                "quantity": activity.quantity,
            }
        )
        report_id = await self.session.scalar(
            pg_insert(ActivityReport)
            .values(
                tenant_id=self.tenant_id,
                customer_id=self.customer_id,
                activity_id=activity.activity_id,
                action=activity.action,
                subject=activity.subject,
                quantity=activity.quantity,
                occurred_at=activity.occurred_at,
                request_hash=request_hash,
                actor=self.actor,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "activity_id"])
            .returning(ActivityReport.id)
        )
        if report_id is None:
            return await self._replay(activity, request_hash)
        result = ActivityResult(
            activity.activity_id, activity.action, activity.subject, activity.occurred_at, False
        )
        for rule in matching:
            result.decisions.append(await self._decide(int(report_id), activity, rule))
        return result

    async def _replay(self, activity: Activity, request_hash: str) -> ActivityResult:
        earlier = (
            await self.session.execute(
                select(
                    ActivityReport.id, ActivityReport.request_hash, ActivityReport.occurred_at
                ).where(
                    ActivityReport.tenant_id == self.tenant_id,
                    ActivityReport.activity_id == activity.activity_id,
                )
            )
        ).one()
        if earlier.request_hash != request_hash:
            raise Conflict(
                f"activity_id {activity.activity_id!r} was already reported with other details",
                field="activity_id",
                code="activity_id_reused",
            )
        rows = await self.session.scalars(
            select(ActivityReward)
            .where(ActivityReward.report_id == earlier.id)
            .order_by(ActivityReward.id)
        )
        return ActivityResult(
            activity.activity_id,
            activity.action,
            activity.subject,
            earlier.occurred_at,
            True,
            [stored_decision(row) for row in rows],
        )

    async def _decide(self, report_id: int, activity: Activity, rule: ActivityRule) -> Decision:
        at = activity.occurred_at
        record = _Record(report_id, activity, rule)
        if not rule.in_force(at):
            window = f"{_when(rule.valid_from)} – {_when(rule.valid_until)}"
            return await self._write(
                record, NOT_REWARDED, "not_in_force", f"rule in force {window}"
            )
        once_key = _once_key(rule, activity.subject)
        if once_key is not None and await self._taken(rule, once_key):
            if rule.frequency.once == "ever":
                return await self._write(
                    record, NOT_REWARDED, "already_rewarded", "already rewarded: once per customer"
                )
            verb = "counted" if rule.every else "rewarded"
            return await self._write(
                record,
                NOT_REWARDED,
                "already_rewarded",
                f"already {verb} for {activity.subject!r}",
            )
        record.once_key = once_key
        due, progress = 1, ""
        if rule.every is not None:
            before = await self._sum(rule, ActivityReward.counted_actions)
            total = before + activity.quantity
            due = total // rule.every - before // rule.every
            record.counted = activity.quantity
            progress = f"{total % rule.every} of {rule.every} toward the next"
            if due == 0:
                return await self._write(
                    record, COUNTED, "counted", f"{progress} {_reward_label(rule)}"
                )
        limit_note = ""
        if rule.frequency.at_most is not None and rule.frequency.per is not None:
            start, end = period_bounds(at, rule.frequency.per, self.programme.zone)
            used = await self._sum(rule, ActivityReward.rewards, start, end)
            allowed = rule.frequency.at_most - used
            word = PERIOD_WORDS[rule.frequency.per]
            if allowed <= 0:
                return await self._write(
                    record,
                    NOT_REWARDED,
                    "limit_reached",
                    f"{word} limit of {rule.frequency.at_most} reached",
                )
            if allowed < due:
                due, limit_note = allowed, f" ({word} limit of {rule.frequency.at_most})"
        each = rule.points_for(activity.subject)
        budget = self.budgets.get(rule.code)
        granted = due
        if budget is not None:
            granted = min(granted, _budget_room(rule, budget, each))
            if granted <= 0:
                return await self._write(
                    record, NOT_REWARDED, "budget_exhausted", _budget_words(rule, budget)
                )
            if granted < due:
                limit_note = " (the rest is over the rule's budget)"
        return await self._grant(record, granted, each, limit_note)

    async def _grant(self, record: _Record, granted: int, each: int, note: str) -> Decision:
        rule, activity = record.rule, record.activity
        points = each * granted
        if points:
            at = activity.occurred_at
            [record.lot_id] = await ledger.earn_lots(
                self.session,
                self.account,
                [
                    ledger.LotToEarn(
                        amount=points,
                        earned_at=at,
                        pending_until=at,
                        expires_at=(
                            at + timedelta(days=rule.points_expiry_days)
                            if rule.points_expiry_days
                            else expires_at(self.programme, at)
                        ),
                        source=ACTIVITY_SOURCE,
                    )
                ],
                reason=f"activity {activity.action} ({rule.code})",
                actor=self.actor,
                occurred_at=at,
                idempotency_key=f"activity:{activity.activity_id}:{rule.code}",
            )
            reason = f"rewarded {points} points{note}"
        else:
            reason = f"rewarded {granted} × {_reward_label(rule)}{note}"
            vouchers = await self._issue_vouchers(record, granted)
            if vouchers:
                reason += f": voucher {', '.join(vouchers)}"
        if not rule.every:
            record.counted = 1
        budget = self.budgets.get(rule.code)
        if budget is not None:
            budget.points_given += points
            budget.rewards_given += granted
            await self.session.execute(
                update(ActivityBudget)
                .where(ActivityBudget.id == budget.id)
                .values(
                    points_given=budget.points_given,
                    rewards_given=budget.rewards_given,
                    updated_at=func.now(),
                )
            )
        decision = await self._write(record, REWARDED, "rewarded", reason, granted, points)
        await record_event(
            self.session,
            tenant_id=self.tenant_id,
            event_type="activity.rewarded",
            subject=self.external_id,
            payload={
                "customer": self.external_id,
                "activity_id": activity.activity_id,
                "action": activity.action,
                "subject": activity.subject,
                **decision.as_dict(),
            },
            occurred_at=activity.occurred_at,
        )
        return decision

    async def _issue_vouchers(self, record: _Record, granted: int) -> list[str]:
        """The reward's vouchers from its code pool, keyed by the report so a retry issues
        nothing twice."""
        pool = record.rule.reward.voucher_pool if record.rule.reward else None
        if pool is None:
            return []
        activity = record.activity
        return [
            await issue_personal_code(
                self.session,
                tenant_id=self.tenant_id,
                pool=pool,
                customer_id=self.customer_id,
                at=activity.occurred_at,
                reason=f"activity {activity.action} ({record.rule.code})",
                issue_key=f"activity:{activity.activity_id}:{record.rule.code}:{number}",
            )
            for number in range(granted)
        ]

    async def _write(
        self,
        record: _Record,
        outcome: str,
        reason_code: str,
        reason: str,
        rewards: int = 0,
        points: int = 0,
    ) -> Decision:
        rule, activity = record.rule, record.activity
        product = rule.reward if rewards else None
        decision = Decision(
            rule=rule.code,
            outcome=outcome,
            reason_code=reason_code,
            reason=reason[:300],
            points=points,
            rewards=rewards,
            voucher_pool=product.voucher_pool if product else None,
            entitlement=product.entitlement if product else None,
        )
        # Once per subject holds what was counted (a jar counts once); once ever holds rewards.
        took_effect = outcome == REWARDED or (
            rule.every is not None and record.counted > 0 and rule.frequency.once != "ever"
        )
        self.session.add(
            ActivityReward(
                tenant_id=self.tenant_id,
                report_id=record.report_id,
                customer_id=self.customer_id,
                rule_code=rule.code,
                action=activity.action,
                subject=activity.subject,
                occurred_at=activity.occurred_at,
                outcome=outcome,
                reason_code=reason_code,
                reason=decision.reason,
                counted_actions=record.counted,
                rewards=rewards,
                points=points,
                voucher_pool=decision.voucher_pool,
                entitlement=decision.entitlement,
                partner_code=rule.partner if points else None,
                once_key=record.once_key if took_effect else None,
                lot_id=record.lot_id,
            )
        )
        await self.session.flush()
        return decision

    async def _taken(self, rule: ActivityRule, once_key: str) -> bool:
        found = await self.session.scalar(
            select(ActivityReward.id)
            .where(
                ActivityReward.tenant_id == self.tenant_id,
                ActivityReward.customer_id == self.customer_id,
                ActivityReward.rule_code == rule.code,
                ActivityReward.once_key == once_key,
            )
            .limit(1)
        )
        return found is not None

    async def _sum(
        self,
        rule: ActivityRule,
        column: Any,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> int:
        query = select(func.coalesce(func.sum(column), 0)).where(
            ActivityReward.tenant_id == self.tenant_id,
            ActivityReward.customer_id == self.customer_id,
            ActivityReward.rule_code == rule.code,
        )
        if start is not None and end is not None:
            query = query.where(
                ActivityReward.occurred_at >= start, ActivityReward.occurred_at < end
            )
        return int(await self.session.scalar(query) or 0)


@dataclass(slots=True)
class _Record:
    report_id: int
    activity: Activity
    rule: ActivityRule
    counted: int = 0
    once_key: str | None = None
    lot_id: int | None = None


def _once_key(rule: ActivityRule, subject: str | None) -> str | None:
    if rule.frequency.once == "ever":
        return "ever"
    if rule.once_per_subject:
        return f"subject:{subject}"
    return None


def _budget_room(rule: ActivityRule, budget: _Budget, each: int) -> int:
    """How many more rewards fit the rule's budgets; a reward is never given in part."""
    room = 10**18
    if rule.budget_points is not None and each > 0:
        room = min(room, (rule.budget_points - budget.points_given) // each)
    if rule.budget_rewards is not None:
        room = min(room, rule.budget_rewards - budget.rewards_given)
    return room


def _budget_words(rule: ActivityRule, budget: _Budget) -> str:
    if rule.budget_points is not None:
        return f"budget exhausted: {budget.points_given} of {rule.budget_points} points given"
    return f"budget exhausted: {budget.rewards_given} of {rule.budget_rewards} rewards given"


def _reward_label(rule: ActivityRule) -> str:
    if rule.reward is not None:
        return rule.reward.label
    return f"{rule.points} points"


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "…"
