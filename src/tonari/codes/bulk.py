"""Write many new codes at once: ``COPY`` into a staging table, then one ``INSERT``.

Random texts can collide with codes the tenant already has (rarely, see
:data:`tonari.codes.generator.SPARSENESS`), and ``COPY`` has no ``ON CONFLICT``. So the
candidates go to a temporary table by ``COPY`` and move to ``codes`` with ``INSERT ... ON
CONFLICT DO NOTHING``; the slots whose text was taken get new texts and go again, until every
slot has a code. The staging table keeps each slot's final text, which is what the issue
events are written from.

A concurrent writer of the same text is handled by PostgreSQL: our ``INSERT`` waits for its
transaction and skips the text only if that one commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes.generator import unique_random_codes
from tonari.kit.driver import driver_in_transaction

STAGING = "tonari_code_slots"
MAX_ROUNDS = 20

CREATE_STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGING} (
    slot integer NOT NULL, code text NOT NULL, owner_customer_id bigint
) ON COMMIT DROP
"""

INSERT_CODES = f"""
INSERT INTO codes (tenant_id, pool_id, batch_id, code, source, owner_customer_id, issued_at,
                   expires_at, max_uses)
SELECT $1::bigint, $2::bigint, $3::bigint, s.code, $4::text, s.owner_customer_id,
       $5::timestamptz, $6::timestamptz, $7::bigint
FROM {STAGING} s
WHERE $8::integer[] IS NULL OR s.slot = ANY($8::integer[])
ON CONFLICT (tenant_id, code) DO NOTHING
"""

TAKEN_SLOTS = f"""
SELECT s.slot FROM {STAGING} s
JOIN codes c ON c.tenant_id = $1 AND c.code = s.code
WHERE c.batch_id IS DISTINCT FROM $2 AND ($3::integer[] IS NULL OR s.slot = ANY($3::integer[]))
"""

RETEXT_SLOTS = f"""
UPDATE {STAGING} AS s SET code = u.code
FROM unnest($1::integer[], $2::text[]) AS u(slot, code)
WHERE s.slot = u.slot
"""

ISSUE_EVENTS = f"""
INSERT INTO outbox_events (tenant_id, event_id, event_type, subject, payload, occurred_at)
SELECT $1::bigint, 'evt_' || replace(gen_random_uuid()::text, '-', ''), $2::text,
       c.external_id,
       jsonb_build_object(
           'code', s.code, 'pool', $3::text, 'kind', $4::text, 'customer', c.external_id,
           'issued_at', $5::timestamptz, 'expires_at', $6::timestamptz,
           'value_minor', $7::bigint, 'currency', $8::text, 'value_points', $9::bigint,
           'reason', $10::text),
       $5::timestamptz
FROM {STAGING} s JOIN customers c ON c.id = s.owner_customer_id
WHERE c.tenant_id = $1
ORDER BY s.slot
"""


@dataclass(frozen=True, slots=True)
class NewCodes:
    """What every new code of one call shares; only the owner differs from slot to slot."""

    tenant_id: int
    pool_id: int
    batch_id: int
    source: str
    issued_at: datetime | None
    expires_at: datetime | None
    max_uses: int | None
    length: int
    prefix: str


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """The ``code.issued`` / ``voucher.issued`` event written for every owned new code."""

    event_type: str
    pool: str
    kind: str
    value_minor: int | None
    currency: str | None
    value_points: int | None
    reason: str | None


CodeMaker = Callable[..., list[str]]


def _inserted(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def insert_codes(
    session: AsyncSession,
    spec: NewCodes,
    owners: Sequence[int | None],
    *,
    event: IssueEvent | None = None,
    make_codes: CodeMaker | None = None,
) -> list[str]:
    """One new code per entry of ``owners`` (a customer id, or ``None`` for a bearer code).

    Returns the texts in the order of ``owners``. Writes ``event`` for every owned code.
    """
    if not owners:
        return []
    make_codes = make_codes or unique_random_codes
    driver = await driver_in_transaction(session)
    await driver.execute(CREATE_STAGING)
    await driver.execute(f"TRUNCATE {STAGING}")
    seen: set[str] = set()
    texts = make_codes(len(owners), length=spec.length, prefix=spec.prefix, avoid=seen)
    await driver.copy_records_to_table(
        STAGING,
        records=[(slot, texts[slot], owner) for slot, owner in enumerate(owners)],
        columns=("slot", "code", "owner_customer_id"),
    )
    constants = (
        spec.tenant_id,
        spec.pool_id,
        spec.batch_id,
        spec.source,
        spec.issued_at,
        spec.expires_at,
        spec.max_uses,
    )
    pending: list[int] | None = None  # None: every slot
    for _ in range(MAX_ROUNDS):
        wanted = len(owners) if pending is None else len(pending)
        status = await driver.execute(INSERT_CODES, *constants, pending)
        if _inserted(status) == wanted:
            break
        taken = [
            row["slot"]
            for row in await driver.fetch(TAKEN_SLOTS, spec.tenant_id, spec.batch_id, pending)
        ]
        fresh = make_codes(len(taken), length=spec.length, prefix=spec.prefix, avoid=seen)
        for slot, text in zip(taken, fresh, strict=True):
            texts[slot] = text
        await driver.execute(RETEXT_SLOTS, taken, fresh)
        pending = taken
    else:  # pragma: no cover - needs a pool nearly as full as its code space
        raise RuntimeError(f"could not find free code texts in {MAX_ROUNDS} rounds")
    if event is not None and any(owner is not None for owner in owners):
        await driver.execute(
            ISSUE_EVENTS,
            spec.tenant_id,
            event.event_type,
            event.pool,
            event.kind,
            spec.issued_at,
            spec.expires_at,
            event.value_minor,
            event.currency,
            event.value_points,
            event.reason,
        )
    return texts
