"""The ``Idempotency-Key`` header for writes that have no business key of their own.

The key row is inserted first, in the request's transaction: a concurrent duplicate waits on
the unique index until the first commits, then replays its answer. The same key with another
body is a conflict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import Conflict
from tonari.kit.hashing import canonical_hash
from tonari.models.idempotency import IdempotencyRecord


async def run_once(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str | None,
    operation: str,
    payload: Any,
    work: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[dict[str, Any], bool]:
    """Run ``work`` once per key; returns (answer, first time)."""
    if key is None:
        return await work(), True
    request_hash = canonical_hash({"operation": operation, "payload": payload})
    inserted = await session.scalar(
        pg_insert(IdempotencyRecord)
        .values(tenant_id=tenant_id, key=key, operation=operation, request_hash=request_hash)
        .on_conflict_do_nothing(index_elements=[IdempotencyRecord.tenant_id, IdempotencyRecord.key])
        .returning(IdempotencyRecord.id)
    )
    if inserted is None:
        row = (
            await session.execute(
                select(IdempotencyRecord.request_hash, IdempotencyRecord.response).where(
                    IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
                )
            )
        ).one()
        if row.request_hash != request_hash:
            raise Conflict(
                "this Idempotency-Key was used with another request; use a new key",
                field="Idempotency-Key",
                code="idempotency_key_reused",
            )
        return dict(row.response or {}), False
    answer = await work()
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == inserted)
        .values(response=_jsonable(answer), status_code=200)
    )
    return answer, True


def _jsonable(answer: dict[str, Any]) -> dict[str, Any]:
    # The same encoder the API's responses go through, so a replay is byte-identical.
    return dict(to_jsonable_python(answer))
