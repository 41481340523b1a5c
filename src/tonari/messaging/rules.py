"""The delivery decision, pure: consent, then frequency caps, then quiet hours.

Transactional messages bypass caps and quiet hours, never consent. No I/O: the caller passes
the counts already sent today/this week (in the customer's local calendar) and the instant.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Caps:
    per_day: int | None = None
    per_week: int | None = None
    channel_per_day: int | None = None
    channel_per_week: int | None = None


@dataclass(frozen=True)
class QuietHours:
    start: time = time(21, 0)
    end: time = time(9, 0)


@dataclass(frozen=True)
class SentCounts:
    day: int = 0
    week: int = 0
    channel_day: int = 0
    channel_week: int = 0


@dataclass(frozen=True)
class Decision:
    action: str  # send | skip | defer
    reason: str  # sent | no_consent | capped | quiet_hours_dropped | deferred
    defer_until: datetime | None = None


def local_day_start(at: datetime, zone: str) -> datetime:
    """Midnight of ``at``'s local day, as an aware datetime (for counting caps)."""
    local = at.astimezone(ZoneInfo(zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def local_week_start(at: datetime, zone: str) -> datetime:
    day = local_day_start(at, zone)
    return day - timedelta(days=day.weekday())


def _in_quiet(local_t: time, quiet: QuietHours) -> bool:
    if quiet.start <= quiet.end:
        return quiet.start <= local_t < quiet.end
    return local_t >= quiet.start or local_t < quiet.end


def next_allowed(at: datetime, zone: str, quiet: QuietHours) -> datetime:
    local = at.astimezone(ZoneInfo(zone))
    candidate = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(at.tzinfo)


def decide(
    *,
    consented: bool,
    transactional: bool,
    at: datetime,
    zone: str,
    caps: Caps,
    counts: SentCounts,
    quiet: QuietHours | None,
    quiet_policy: str = "defer",
) -> Decision:
    if not consented:
        return Decision("skip", "no_consent")
    if transactional:
        return Decision("send", "sent")
    limits = (
        (caps.per_day, counts.day),
        (caps.per_week, counts.week),
        (caps.channel_per_day, counts.channel_day),
        (caps.channel_per_week, counts.channel_week),
    )
    if any(limit is not None and sent >= limit for limit, sent in limits):
        return Decision("skip", "capped")
    if quiet is not None and _in_quiet(at.astimezone(ZoneInfo(zone)).time(), quiet):
        if quiet_policy == "drop":
            return Decision("skip", "quiet_hours_dropped")
        return Decision("defer", "deferred", next_allowed(at, zone, quiet))
    return Decision("send", "sent")


def holdout_group(customer_id: int, salt: str, holdout_bp: int) -> bool:
    """True when the customer is in the holdout: deterministic by hashing id and salt."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < holdout_bp
