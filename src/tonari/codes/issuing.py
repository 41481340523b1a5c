"""Hand out codes: generate stock in bulk, issue to chosen customers, one code for an offer.

Bulk work goes through :mod:`tonari.codes.bulk` (``COPY``); every issue to customers writes a
``code.issued`` or ``voucher.issued`` event per code in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.codes.bulk import IssueEvent, NewCodes, insert_codes
from tonari.codes.generator import length_for, unique_random_codes
from tonari.codes.pools import expiry_for, get_pool
from tonari.codes.schemas import (
    MAX_CODES_PER_CUSTOMER,
    MAX_GENERATE,
    MAX_ISSUE_CUSTOMERS,
    PoolKind,
    PoolStatus,
)
from tonari.kit.errors import Conflict, InvalidState, ValidationFailed
from tonari.kit.hashing import canonical_hash
from tonari.kit.outbox import record_event
from tonari.models.codes import CodeBatch, CodePool, PromoCode
from tonari.models.customers import Customer

GENERATE_CHUNK = 50_000
CODES_IN_ANSWER = 1_000
Progress = Callable[[int, int], None]


def _event_type(pool: CodePool) -> str:
    return "voucher.issued" if pool.kind in (PoolKind.GIFT, PoolKind.BONUS) else "code.issued"


def _issuable(pool: CodePool) -> None:
    if pool.kind == PoolKind.PUBLIC:
        raise ValidationFailed(
            f"{pool.code!r} is a public pool: it has one code for everybody, nothing to "
            "generate or issue",
            field="pool",
            code="public_code_pool",
        )


async def _new_batch(
    session: AsyncSession,
    pool: CodePool,
    *,
    kind: str,
    issue_key: str | None = None,
    request_hash: str | None = None,
    reason: str | None = None,
) -> int | None:
    """A batch row; ``None`` when a batch with this ``issue_key`` already exists."""
    statement = pg_insert(CodeBatch).values(
        tenant_id=pool.tenant_id,
        pool_id=pool.id,
        kind=kind,
        issue_key=issue_key,
        request_hash=request_hash,
        reason=reason,
    )
    if issue_key is not None:
        statement = statement.on_conflict_do_nothing(
            index_elements=["tenant_id", "pool_id", "issue_key"],
            index_where=text("issue_key IS NOT NULL"),
        )
    return await session.scalar(statement.returning(CodeBatch.id))


async def _code_length(session: AsyncSession, pool: CodePool, adding: int) -> int:
    """The random part's length once ``adding`` more codes are in the pool.

    A longer length is kept on the pool, so that single codes issued later (an offer's effect,
    on the order's hot path) need no count to stay as hard to guess.
    """
    existing = await session.scalar(
        select(func.count()).where(
            PromoCode.tenant_id == pool.tenant_id, PromoCode.pool_id == pool.id
        )
    )
    length = length_for((existing or 0) + adding, pool.code_length)
    if length > pool.code_length:
        await session.execute(
            update(CodePool).where(CodePool.id == pool.id).values(code_length=length)
        )
    return length


# --- generate and issue ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenerateResult:
    pool: str
    generated: int
    code_length: int
    batch_id: int
    seconds: float


async def generate_codes(
    session: AsyncSession,
    *,
    tenant_id: int,
    pool: str,
    count: int,
    at: datetime,
    progress: Progress | None = None,
) -> GenerateResult:
    """``count`` new unique codes nobody owns yet (to print, export or hand out), one batch.

    Their ``valid_days`` count from now: once exported they are in people's hands.
    """
    if not 1 <= count <= MAX_GENERATE:
        raise ValidationFailed(f"count must be 1 to {MAX_GENERATE:,}", field="count")
    started = time.perf_counter()
    found = await get_pool(session, tenant_id=tenant_id, pool=pool)
    _issuable(found)
    length = await _code_length(session, found, count)
    batch_id = await _new_batch(session, found, kind="generate")
    assert batch_id is not None
    spec = NewCodes(
        tenant_id=tenant_id,
        pool_id=found.id,
        batch_id=batch_id,
        source="generated",
        issued_at=None,
        expires_at=expiry_for(found, at),
        max_uses=found.max_uses_per_code,
        length=length,
        prefix=found.prefix,
    )
    done = 0
    while done < count:
        size = min(GENERATE_CHUNK, count - done)
        await insert_codes(session, spec, [None] * size)
        done += size
        if progress is not None:
            progress(done, count)
    await _finish_batch(session, batch_id, customers=0, codes=count)
    return GenerateResult(
        pool=found.code,
        generated=count,
        code_length=length,
        batch_id=batch_id,
        seconds=round(time.perf_counter() - started, 3),
    )


async def _finish_batch(
    session: AsyncSession, batch_id: int, *, customers: int, codes: int
) -> None:
    await session.execute(
        update(CodeBatch).where(CodeBatch.id == batch_id).values(customers=customers, codes=codes)
    )


@dataclass(frozen=True, slots=True)
class IssueResult:
    pool: str
    batch_id: int
    customers: int
    issued: int
    replayed: bool
    codes: list[dict[str, Any]] | None
    """Each customer's codes when there are at most :data:`CODES_IN_ANSWER`; else export them."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "batch_id": self.batch_id,
            "customers": self.customers,
            "issued": self.issued,
            "replayed": self.replayed,
            "codes": self.codes,
        }


async def _customer_ids(
    session: AsyncSession, *, tenant_id: int, external_ids: Sequence[str]
) -> dict[str, int]:
    wanted = list(dict.fromkeys(external_ids))
    rows = await session.execute(
        select(Customer.external_id, Customer.id).where(
            Customer.tenant_id == tenant_id, Customer.external_id.in_(wanted)
        )
    )
    found = {row.external_id: row.id for row in rows}
    missing = [external_id for external_id in wanted if external_id not in found]
    if missing:
        raise ValidationFailed(
            f"{len(missing)} unknown customers, e.g. {missing[:5]}",
            field="customers",
            code="unknown_customer",
            details={"unknown": missing[:100]},
        )
    return found


async def issue_codes(
    session: AsyncSession,
    *,
    tenant_id: int,
    pool: str,
    customers: Sequence[str],
    per_customer: int,
    issue_key: str,
    at: datetime,
    reason: str | None = None,
) -> IssueResult:
    """Give ``per_customer`` new codes (or vouchers) to each customer named by external id.

    The same ``issue_key`` again hands out nothing and answers with the first issue; the same
    key with other customers or counts is refused.
    """
    if not 1 <= per_customer <= MAX_CODES_PER_CUSTOMER:
        raise ValidationFailed(
            f"per_customer must be 1 to {MAX_CODES_PER_CUSTOMER}", field="per_customer"
        )
    if not 1 <= len(customers) <= MAX_ISSUE_CUSTOMERS:
        raise ValidationFailed(f"name 1 to {MAX_ISSUE_CUSTOMERS:,} customers", field="customers")
    found = await get_pool(session, tenant_id=tenant_id, pool=pool)
    _issuable(found)
    request_hash = canonical_hash(
        {"customers": list(customers), "per_customer": per_customer, "reason": reason}
    )
    replay = await _replayed_issue(session, found, issue_key, request_hash)
    if replay is not None:
        return replay
    if found.status != PoolStatus.ACTIVE:
        raise InvalidState(
            f"code pool {found.code!r} is paused", field="pool", code="code_pool_paused"
        )
    ids = await _customer_ids(session, tenant_id=tenant_id, external_ids=customers)
    batch_id = await _new_batch(
        session,
        found,
        kind="issue",
        issue_key=issue_key,
        request_hash=request_hash,
        reason=reason,
    )
    if batch_id is None:  # the same key committed by a concurrent request meanwhile
        replay = await _replayed_issue(session, found, issue_key, request_hash)
        assert replay is not None
        return replay
    external_ids = list(ids)
    owners = [ids[external_id] for external_id in external_ids for _ in range(per_customer)]
    spec = NewCodes(
        tenant_id=tenant_id,
        pool_id=found.id,
        batch_id=batch_id,
        source="issued",
        issued_at=at,
        expires_at=expiry_for(found, at),
        max_uses=found.max_uses_per_code,
        length=await _code_length(session, found, len(owners)),
        prefix=found.prefix,
    )
    texts = await insert_codes(session, spec, owners, event=_issue_event(found, reason))
    await _finish_batch(session, batch_id, customers=len(ids), codes=len(owners))
    listed = None
    if len(owners) <= CODES_IN_ANSWER:
        by_id = {customer_id: external_id for external_id, customer_id in ids.items()}
        listed = [
            {"customer": by_id[owner], "code": code, "expires_at": spec.expires_at}
            for owner, code in zip(owners, texts, strict=True)
            if owner is not None
        ]
    return IssueResult(
        pool=found.code,
        batch_id=batch_id,
        customers=len(ids),
        issued=len(owners),
        replayed=False,
        codes=listed,
    )


def _issue_event(pool: CodePool, reason: str | None) -> IssueEvent:
    return IssueEvent(
        event_type=_event_type(pool),
        pool=pool.code,
        kind=pool.kind,
        value_minor=pool.value_minor,
        currency=pool.currency,
        value_points=pool.value_points,
        reason=reason,
    )


async def _replayed_issue(
    session: AsyncSession, pool: CodePool, issue_key: str, request_hash: str
) -> IssueResult | None:
    batch = (
        await session.execute(
            select(
                CodeBatch.id, CodeBatch.request_hash, CodeBatch.customers, CodeBatch.codes
            ).where(
                CodeBatch.tenant_id == pool.tenant_id,
                CodeBatch.pool_id == pool.id,
                CodeBatch.issue_key == issue_key,
            )
        )
    ).first()
    if batch is None:
        return None
    if batch.request_hash != request_hash:
        raise Conflict(
            "issue_key was used for another issue; use a new key",
            field="issue_key",
            code="idempotency_key_reused",
        )
    listed = None
    if batch.codes <= CODES_IN_ANSWER:
        rows = await session.execute(
            select(Customer.external_id, PromoCode.code, PromoCode.expires_at)
            .join(Customer, Customer.id == PromoCode.owner_customer_id)
            .where(
                PromoCode.tenant_id == pool.tenant_id,
                PromoCode.pool_id == pool.id,
                PromoCode.batch_id == batch.id,
            )
            .order_by(PromoCode.id)
        )
        listed = [
            {"customer": row.external_id, "code": row.code, "expires_at": row.expires_at}
            for row in rows
        ]
    return IssueResult(
        pool=pool.code,
        batch_id=batch.id,
        customers=batch.customers,
        issued=batch.codes,
        replayed=True,
        codes=listed,
    )


async def issue_personal_code(
    session: AsyncSession,
    *,
    tenant_id: int,
    pool: str,
    customer_id: int,
    at: datetime,
    reason: str,
    issue_key: str | None = None,
) -> str:
    """One new code of ``pool`` for a customer (an offer's "issue a voucher" effect).

    With ``issue_key`` a second call returns the first call's code instead of a new one.
    A paused pool raises :class:`InvalidState` (``code_pool_paused``).
    """
    found = await get_pool(session, tenant_id=tenant_id, pool=pool)
    _issuable(found)
    if found.status != PoolStatus.ACTIVE:
        raise InvalidState(
            f"code pool {found.code!r} is paused", field="pool", code="code_pool_paused"
        )
    batch_id = None
    if issue_key is not None:
        batch_id = await _new_batch(
            session, found, kind="offer", issue_key=issue_key, reason=reason[:500]
        )
        if batch_id is None:
            earlier = await session.scalar(
                select(PromoCode.code)
                .join(CodeBatch, CodeBatch.id == PromoCode.batch_id)
                .where(
                    CodeBatch.tenant_id == tenant_id,
                    CodeBatch.pool_id == found.id,
                    CodeBatch.issue_key == issue_key,
                    PromoCode.owner_customer_id == customer_id,
                )
            )
            if earlier is None:
                raise Conflict(
                    "issue_key was used for another customer",
                    field="issue_key",
                    code="idempotency_key_reused",
                )
            return earlier
    external_id = await session.scalar(
        select(Customer.external_id).where(
            Customer.tenant_id == tenant_id, Customer.id == customer_id
        )
    )
    if external_id is None:
        raise ValidationFailed(
            f"no customer {customer_id}", field="customer_id", code="unknown_customer"
        )
    expires_at = expiry_for(found, at)
    length = length_for(1, found.code_length)
    while True:  # a collision is one in a million; just draw again
        [candidate] = unique_random_codes(1, length=length, prefix=found.prefix)
        code = await session.scalar(
            pg_insert(PromoCode)
            .values(
                tenant_id=tenant_id,
                pool_id=found.id,
                batch_id=batch_id,
                code=candidate,
                source="offer",
                owner_customer_id=customer_id,
                issued_at=at,
                expires_at=expires_at,
                max_uses=found.max_uses_per_code,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "code"])
            .returning(PromoCode.code)
        )
        if code is not None:
            break
    if batch_id is not None:
        await _finish_batch(session, batch_id, customers=1, codes=1)
    await record_event(
        session,
        tenant_id=tenant_id,
        event_type=_event_type(found),
        subject=external_id,
        payload={
            "code": code,
            "pool": found.code,
            "kind": found.kind,
            "customer": external_id,
            "issued_at": at.isoformat(),
            "expires_at": expires_at.isoformat() if expires_at else None,
            "value_minor": found.value_minor,
            "currency": found.currency,
            "value_points": found.value_points,
            "reason": reason,
        },
        occurred_at=at,
    )
    return code
