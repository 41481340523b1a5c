"""Bulk generation: 100,000 unique human-friendly codes in one call; collisions are redrawn."""

from __future__ import annotations

import re
import time
from collections import Counter

from sqlalchemy import func, select

from tests.codes.support import T0, make_customer, make_pool
from tonari.codes import bulk, generator
from tonari.codes.generator import (
    ALPHABET,
    length_for,
    random_codes,
    unique_random_codes,
)
from tonari.codes.service import generate_codes, issue_personal_code
from tonari.models.codes import CodeBatch, PromoCode


def test_alphabet_has_no_lookalikes() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("0O1IL") & set(ALPHABET)


def test_random_codes_use_every_symbol_evenly() -> None:
    codes = random_codes(20_000, length=8, prefix="GIFT-")
    assert all(code.startswith("GIFT-") and len(code) == 13 for code in codes)
    symbols = Counter("".join(code[5:] for code in codes))
    assert set(symbols) == set(ALPHABET)
    expected = 20_000 * 8 / 31
    assert all(abs(count - expected) < expected * 0.1 for count in symbols.values())


def test_length_keeps_codes_one_in_a_million() -> None:
    assert length_for(1) == 8
    assert length_for(100_000) == 8  # 31**8 = 8.5e11 >= 1e11
    assert length_for(1_000_000) == 9
    assert length_for(10, 12) == 12
    assert len(set(unique_random_codes(5_000, length=6))) == 5_000


async def test_100_000_personal_codes_unique_and_readable(session, tenant) -> None:
    await make_pool(session, tenant.id, code="summer", kind="personal", prefix="sum-")
    started = time.perf_counter()
    result = await generate_codes(session, tenant_id=tenant.id, pool="summer", count=100_000, at=T0)
    seconds = time.perf_counter() - started
    assert result.generated == 100_000 and result.code_length == 8
    codes = list(
        await session.scalars(select(PromoCode.code).where(PromoCode.tenant_id == tenant.id))
    )
    assert len(codes) == len(set(codes)) == 100_000
    pattern = re.compile(rf"^SUM-[{ALPHABET}]{{8}}$")
    assert all(pattern.match(code) for code in codes)
    batch = await session.get_one(CodeBatch, result.batch_id)
    assert (batch.kind, batch.codes) == ("generate", 100_000)
    owned = await session.scalar(
        select(func.count()).where(
            PromoCode.tenant_id == tenant.id, PromoCode.owner_customer_id.is_not(None)
        )
    )
    assert owned == 0
    print(f"100,000 codes in {seconds:.2f} s")  # the figure is bench/bench_codes.py's job


async def test_taken_texts_are_drawn_again(session, tenant, monkeypatch) -> None:
    """Texts the tenant already has (in any pool) are skipped and their slots redrawn."""
    await make_pool(session, tenant.id, code="old", kind="public", public_code="TAKEN1")
    await make_pool(session, tenant.id, code="new", kind="personal")
    draws: list[list[str]] = []

    def rigged(count: int, *, length: int, prefix: str = "", avoid: set[str] | None = None):
        if not draws:
            fresh = ["TAKEN1", *unique_random_codes(count - 1, length=length, avoid=avoid)]
        else:
            fresh = unique_random_codes(count, length=length, prefix=prefix, avoid=avoid)
        draws.append(fresh)
        return fresh

    monkeypatch.setattr(bulk, "unique_random_codes", rigged)
    result = await generate_codes(session, tenant_id=tenant.id, pool="new", count=50, at=T0)
    assert result.generated == 50
    assert [len(draw) for draw in draws] == [50, 1], "one slot collided and was redrawn"
    new_codes = set(
        await session.scalars(
            select(PromoCode.code).where(
                PromoCode.tenant_id == tenant.id, PromoCode.batch_id == result.batch_id
            )
        )
    )
    assert len(new_codes) == 50 and "TAKEN1" not in new_codes


async def test_a_fuller_pool_gets_longer_codes_and_keeps_them(session, tenant, monkeypatch) -> None:
    monkeypatch.setattr(generator, "SPARSENESS", 10**12)  # as if the pool held 100,000×more
    pool = await make_pool(session, tenant.id, code="dense", kind="personal")
    result = await generate_codes(session, tenant_id=tenant.id, pool="dense", count=100, at=T0)
    assert result.code_length == 10
    await session.refresh(pool)
    assert pool.code_length == 10
    buyer = await make_customer(session, tenant.id, "buyer")
    code = await issue_personal_code(
        session, tenant_id=tenant.id, pool="dense", customer_id=buyer, at=T0, reason="offer"
    )
    assert len(code) == 10
