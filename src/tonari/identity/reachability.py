"""Bounces and complaints: an address that cannot (or must not) be reached is marked so.

The mark is set on every record holding the address, with the reason as a flag, and the
golden record is recomputed: another working address of the person takes over, or the profile
keeps the address with status ``unreachable`` so no channel sends to it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.golden import rules_for
from tonari.identity.profiles import refresh_golden_records
from tonari.kit.driver import driver_in_transaction
from tonari.kit.errors import ValidationFailed
from tonari.models.identity import IdentitySettings
from tonari.profiles.cleaning import clean_email, clean_phone

UNREACHABLE = "unreachable"
Reason = Literal["bounce", "complaint", "unsubscribed_everywhere", "invalid"]


async def mark_unreachable(
    session: AsyncSession,
    *,
    tenant_id: int,
    email: str | None,
    phone: str | None,
    reason: Reason,
    at: datetime,
) -> int:
    """Mark the address on every record and profile holding it; returns the profiles touched."""
    if (email is None) == (phone is None):
        raise ValidationFailed("give either an email or a phone", field="email")
    if email is not None:
        cleaned = clean_email(email)
        if cleaned.value is None:
            raise ValidationFailed("not a valid email address", field="email")
        field, column, value = "email", "email", cleaned.value
    else:
        number = clean_phone(phone, default_region="RU")
        if number.value is None:
            raise ValidationFailed("not a valid phone number", field="phone")
        field, column, value = "phone", "phone", number.value
    flag = json.dumps(
        [
            {
                "field": field,
                "code": UNREACHABLE,
                "reason": f"Marked unreachable ({reason.replace('_', ' ')}) on {at.date()}.",
                "value": None,
            }
        ]
    )
    driver = await driver_in_transaction(session)
    rows = await driver.fetch(
        f"UPDATE source_records SET {field}_status = $3, flags = flags || $4::jsonb "
        f"WHERE tenant_id = $1 AND lower({column}) = lower($2) AND {field}_status "
        f"IS DISTINCT FROM $3 RETURNING profile_id",
        tenant_id,
        value,
        UNREACHABLE,
        flag,
    )
    await driver.execute(
        f"UPDATE customers SET {field}_status = $3 WHERE tenant_id = $1 "
        f"AND lower({column}) = lower($2)",
        tenant_id,
        value,
        UNREACHABLE,
    )
    profiles = sorted({int(row["profile_id"]) for row in rows if row["profile_id"]})
    if profiles:
        overrides = await session.get(IdentitySettings, tenant_id)
        rules = rules_for(overrides.survivorship if overrides else None)
        await refresh_golden_records(session, tenant_id, profiles, rules, at)
    return len(profiles)
