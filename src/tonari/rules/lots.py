"""When earned points become spendable and when they expire."""

from __future__ import annotations

from datetime import datetime, timedelta

from tonari.programs.schemas import ExpiryMode, Programme
from tonari.rules.calendar import end_of_month_after


def pending_until(programme: Programme, earned_at: datetime) -> datetime:
    return earned_at + timedelta(days=programme.pending_days)


def expires_at(programme: Programme, earned_at: datetime) -> datetime | None:
    """Expiry counts from the purchase, so the pending period is part of a lot's life."""
    expiry = programme.expiry
    if expiry.mode is ExpiryMode.NEVER:
        return None
    if expiry.mode is ExpiryMode.AFTER_DAYS:
        return earned_at + timedelta(days=expiry.days or 0)
    return end_of_month_after(earned_at, expiry.months or 0, programme.zone)
