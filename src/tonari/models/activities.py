"""Activity reports, what each rule decided about them, and the rules' budgets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tonari.models.base import Base, TenantScoped, created_at_column


class ActivityReport(TenantScoped, Base):
    """One action a customer did, as reported once under the caller's activity id."""

    __tablename__ = "activity_reports"
    __table_args__ = (
        UniqueConstraint("tenant_id", "activity_id"),
        Index("ix_activity_reports_customer", "tenant_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    activity_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(server_default="1")
    occurred_at: Mapped[datetime]
    request_hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()


class ActivityReward(TenantScoped, Base):
    """What one rule decided about one report: rewarded, counted towards N, or why not.

    ``once_key`` is set on decisions that took effect for a once-ever or once-per-subject
    rule; the unique index makes a second one impossible even if a lock were forgotten.
    """

    __tablename__ = "activity_rewards"
    __table_args__ = (
        Index(
            "uq_activity_rewards_once",
            "tenant_id",
            "customer_id",
            "rule_code",
            "once_key",
            unique=True,
            postgresql_where=text("once_key IS NOT NULL"),
        ),
        Index(
            "ix_activity_rewards_customer_rule",
            "tenant_id",
            "customer_id",
            "rule_code",
            "occurred_at",
        ),
        Index("ix_activity_rewards_report", "report_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("activity_reports.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    rule_code: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(300))
    counted_actions: Mapped[int] = mapped_column(server_default="0")
    rewards: Mapped[int] = mapped_column(server_default="0")
    points: Mapped[int] = mapped_column(server_default="0")
    voucher_pool: Mapped[str | None] = mapped_column(String(40))
    entitlement: Mapped[str | None] = mapped_column(String(200))
    partner_code: Mapped[str | None] = mapped_column(String(40))
    once_key: Mapped[str | None] = mapped_column(String(220))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("point_lots.id"))
    created_at: Mapped[datetime] = created_at_column()


class ActivityBudget(TenantScoped, Base):
    """What a rule has given so far; its row lock serialises rewards against the budget."""

    __tablename__ = "activity_budgets"
    __table_args__ = (UniqueConstraint("tenant_id", "rule_code"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    rule_code: Mapped[str] = mapped_column(String(40))
    points_given: Mapped[int] = mapped_column(server_default="0")
    rewards_given: Mapped[int] = mapped_column(server_default="0")
    updated_at: Mapped[datetime] = created_at_column()
