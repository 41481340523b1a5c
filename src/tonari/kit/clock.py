"""Time helpers. Storage is UTC; business rules get the timestamp passed in, never "now"."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_aware(moment: datetime, field: str = "timestamp") -> datetime:
    from tonari.kit.errors import ValidationFailed

    if moment.tzinfo is None:
        raise ValidationFailed(
            f"{field} must carry a time zone offset, e.g. 2026-01-31T12:00:00+03:00",
            field=field,
        )
    return moment.astimezone(UTC)
