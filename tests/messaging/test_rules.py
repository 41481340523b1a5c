from __future__ import annotations

from datetime import UTC, datetime

from tonari.messaging.rules import Caps, QuietHours, SentCounts, decide, holdout_group

AT = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)  # 22:00 Moscow, 14:00 New York


def test_no_consent_even_transactional() -> None:
    d = decide(
        consented=False,
        transactional=True,
        at=AT,
        zone="UTC",
        caps=Caps(),
        counts=SentCounts(),
        quiet=None,
    )
    assert d.reason == "no_consent"


def test_third_in_a_day_capped_transactional_bypasses() -> None:
    kw = dict(
        at=AT,
        zone="America/New_York",
        caps=Caps(per_day=2),
        counts=SentCounts(day=2),
        quiet=None,
        consented=True,
    )
    assert decide(transactional=False, **kw).reason == "capped"  # type: ignore[arg-type]
    assert decide(transactional=True, **kw).reason == "sent"  # type: ignore[arg-type]


def test_quiet_hours_differ_by_zone_defer_and_drop() -> None:
    q = QuietHours()
    ny = decide(
        consented=True,
        transactional=False,
        at=AT,
        zone="America/New_York",
        caps=Caps(),
        counts=SentCounts(),
        quiet=q,
    )
    assert ny.reason == "sent"
    msk = decide(
        consented=True,
        transactional=False,
        at=AT,
        zone="Europe/Moscow",
        caps=Caps(),
        counts=SentCounts(),
        quiet=q,
    )
    assert msk.reason == "deferred"
    assert msk.defer_until == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)  # 09:00 Moscow
    dropped = decide(
        consented=True,
        transactional=False,
        at=AT,
        zone="Europe/Moscow",
        caps=Caps(),
        counts=SentCounts(),
        quiet=q,
        quiet_policy="drop",
    )
    assert dropped.reason == "quiet_hours_dropped"


def test_holdout_deterministic() -> None:
    assert holdout_group(1, "s", 10_000) and not holdout_group(1, "s", 0)
    assert holdout_group(42, "x", 5000) == holdout_group(42, "x", 5000)
