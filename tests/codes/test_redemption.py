"""What a buyer presents, and using it: once per order, released on cancel, within limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.codes.support import T0, code_row, make_customer, make_pool
from tonari.codes.service import (
    issue_personal_code,
    redeem_codes,
    release_codes,
    resolve_presented_codes,
)
from tonari.kit.errors import Conflict, ValidationFailed


async def _present(session, tenant, codes, customer_id, at=T0):
    return await resolve_presented_codes(
        session, tenant_id=tenant.id, codes=codes, customer_id=customer_id, at=at
    )


async def _redeem(session, tenant, presented, customer_id, order, at=T0):
    return await redeem_codes(
        session,
        tenant_id=tenant.id,
        presented=presented,
        customer_id=customer_id,
        order_external_id=order,
        at=at,
    )


async def _personal(session, tenant, owner_id, **pool):
    await make_pool(session, tenant.id, code="personal", kind="personal", **pool)
    return await issue_personal_code(
        session, tenant_id=tenant.id, pool="personal", customer_id=owner_id, at=T0, reason="test"
    )


async def test_public_code_is_found_in_any_case_and_applies(session, tenant) -> None:
    await make_pool(session, tenant.id, code="skidka", kind="public", public_code="skidka30")
    [code] = await _present(session, tenant, ["  Skidka30 "], None)
    assert (code.code, code.pool, code.valid, code.reason) == ("SKIDKA30", "skidka", True, "")
    assert code.owner_customer_id is None


async def test_unknown_code_is_an_error_on_promo_codes(session, tenant) -> None:
    await make_pool(session, tenant.id, code="skidka", kind="public", public_code="SKIDKA30")
    with pytest.raises(ValidationFailed) as caught:
        await _present(session, tenant, ["SKIDKA30", "NOPE"], None)
    assert caught.value.code == "unknown_promo_code"
    assert caught.value.field == "promo_codes"
    assert caught.value.details == {"unknown": ["NOPE"]}


async def test_single_use_code_retried_order_is_not_a_second_use(session, tenant) -> None:
    buyer = await make_customer(session, tenant.id, "buyer")
    text = await _personal(session, tenant, buyer)
    presented = await _present(session, tenant, [text], buyer)
    [first] = await _redeem(session, tenant, presented, buyer, "o-1")
    [again] = await _redeem(session, tenant, presented, buyer, "o-1")
    assert (first.replayed, again.replayed) == (False, True)
    assert (await code_row(session, tenant.id, text)).uses == 1
    [after] = await _present(session, tenant, [text], buyer)
    assert not after.valid and after.reason == "already used"
    with pytest.raises(Conflict) as caught:
        await _redeem(session, tenant, presented, buyer, "o-2")
    assert caught.value.code == "promo_code_used_up" and caught.value.status_code == 409
    assert (await code_row(session, tenant.id, text)).uses == 1


async def test_cancel_releases_the_use_once(session, tenant) -> None:
    buyer = await make_customer(session, tenant.id, "buyer")
    text = await _personal(session, tenant, buyer)
    presented = await _present(session, tenant, [text], buyer)
    await _redeem(session, tenant, presented, buyer, "o-1")
    assert await release_codes(session, tenant_id=tenant.id, order_external_id="o-1") == 1
    assert await release_codes(session, tenant_id=tenant.id, order_external_id="o-1") == 0
    assert (await code_row(session, tenant.id, text)).uses == 0
    [fresh] = await _present(session, tenant, [text], buyer)
    assert fresh.valid
    [used] = await _redeem(session, tenant, presented, buyer, "o-2")
    assert not used.replayed
    assert (await code_row(session, tenant.id, text)).uses == 1
    # The cancelled order placed again with its old id finds the code taken by o-2.
    with pytest.raises(Conflict):
        await _redeem(session, tenant, presented, buyer, "o-1")


async def test_a_cancelled_order_placed_again_takes_the_code_back(session, tenant) -> None:
    buyer = await make_customer(session, tenant.id, "buyer")
    text = await _personal(session, tenant, buyer)
    presented = await _present(session, tenant, [text], buyer)
    await _redeem(session, tenant, presented, buyer, "o-1")
    await release_codes(session, tenant_id=tenant.id, order_external_id="o-1")
    [again] = await _redeem(session, tenant, presented, buyer, "o-1")
    assert not again.replayed
    assert (await code_row(session, tenant.id, text)).uses == 1


async def test_per_customer_limit_on_a_public_code(session, tenant) -> None:
    await make_pool(
        session,
        tenant.id,
        code="skidka",
        kind="public",
        public_code="SKIDKA30",
        per_customer_limit=1,
    )
    anna = await make_customer(session, tenant.id, "anna")
    boris = await make_customer(session, tenant.id, "boris")
    presented = await _present(session, tenant, ["SKIDKA30"], anna)
    await _redeem(session, tenant, presented, anna, "o-1")
    [again] = await _present(session, tenant, ["skidka30"], anna)
    assert not again.valid
    assert again.reason == "already used by this customer (limit 1 per customer)"
    with pytest.raises(Conflict) as caught:
        await _redeem(session, tenant, presented, anna, "o-2")
    assert caught.value.code == "promo_code_limit_reached"
    # The retry of the first order is still fine, and another customer is unaffected.
    [replay] = await _redeem(session, tenant, presented, anna, "o-1")
    assert replay.replayed
    [other] = await _present(session, tenant, ["SKIDKA30"], boris)
    assert other.valid
    await _redeem(session, tenant, [other], boris, "o-3")
    [anonymous] = await _present(session, tenant, ["SKIDKA30"], None)
    assert not anonymous.valid and "identify the customer" in anonymous.reason
    # An unlimited public code keeps no counter (no hot row); uses come from redemptions.
    assert (await code_row(session, tenant.id, "SKIDKA30")).uses == 0


async def test_capped_public_code_runs_out(session, tenant) -> None:
    await make_pool(
        session, tenant.id, code="first", kind="public", public_code="FIRST2", max_uses_per_code=2
    )
    [code] = await _present(session, tenant, ["FIRST2"], None)
    await _redeem(session, tenant, [code], None, "o-1")
    await _redeem(session, tenant, [code], None, "o-2")
    with pytest.raises(Conflict):
        await _redeem(session, tenant, [code], None, "o-3")
    [spent] = await _present(session, tenant, ["FIRST2"], None)
    assert spent.reason == "used up: all 2 uses taken"


async def test_validity_window_of_a_public_code(session, tenant) -> None:
    await make_pool(
        session,
        tenant.id,
        code="spring",
        kind="public",
        public_code="SPRING",
        valid_from=T0,
        valid_until=T0 + timedelta(days=30),
    )
    [early] = await _present(session, tenant, ["SPRING"], None, at=T0 - timedelta(seconds=1))
    assert not early.valid and early.reason == "not valid yet: valid from 2026-03-01 10:00 UTC"
    [inside] = await _present(session, tenant, ["SPRING"], None, at=T0 + timedelta(days=29))
    assert inside.valid
    [late] = await _present(session, tenant, ["SPRING"], None, at=T0 + timedelta(days=30))
    assert not late.valid and late.reason == "expired on 2026-03-31 10:00 UTC"
    with pytest.raises(ValidationFailed) as caught:
        await _redeem(session, tenant, [inside], None, "o-1", at=T0 + timedelta(days=31))
    assert caught.value.code == "promo_code_not_valid"


async def test_personal_code_lives_75_days_two_and_a_half_months(session, tenant) -> None:
    buyer = await make_customer(session, tenant.id, "buyer")
    text = await _personal(session, tenant, buyer, valid_days=75)
    row = await code_row(session, tenant.id, text)
    assert row.issued_at == T0 and row.expires_at == T0 + timedelta(days=75)
    [day_74] = await _present(session, tenant, [text], buyer, at=T0 + timedelta(days=74))
    assert day_74.valid
    [day_75] = await _present(session, tenant, [text], buyer, at=T0 + timedelta(days=75))
    assert not day_75.valid and day_75.reason.startswith("expired on 2026-05-15")


async def test_valid_days_never_outlive_the_pool(session, tenant) -> None:
    buyer = await make_customer(session, tenant.id, "buyer")
    text = await _personal(
        session, tenant, buyer, valid_days=75, valid_until=T0 + timedelta(days=10)
    )
    assert (await code_row(session, tenant.id, text)).expires_at == T0 + timedelta(days=10)


async def test_personal_code_belongs_to_its_owner(session, tenant) -> None:
    owner = await make_customer(session, tenant.id, "owner")
    stranger = await make_customer(session, tenant.id, "stranger")
    text = await _personal(session, tenant, owner)
    [mine] = await _present(session, tenant, [text], owner)
    assert mine.valid and mine.owner_customer_id is None
    [theirs] = await _present(session, tenant, [text], stranger)
    assert not theirs.valid and theirs.reason == "a personal code of another customer"
    [nobody] = await _present(session, tenant, [text], None)
    assert not nobody.valid and "identify its owner" in nobody.reason
    with pytest.raises(ValidationFailed):
        await _redeem(session, tenant, [mine], stranger, "o-1")


async def test_shareable_code_is_for_friends_and_names_its_owner(session, tenant) -> None:
    owner = await make_customer(session, tenant.id, "owner")
    friend = await make_customer(session, tenant.id, "friend")
    text = await _personal(session, tenant, owner, shareable=True, max_uses_per_code=5)
    [shared] = await _present(session, tenant, [text], friend)
    assert shared.valid and shared.owner_customer_id == owner
    await _redeem(session, tenant, [shared], friend, "o-1")


async def test_paused_pool_refuses_its_codes(client, session, tenant) -> None:
    await make_pool(session, tenant.id, code="skidka", kind="public", public_code="SKIDKA30")
    paused = await client.post("/v1/code-pools/skidka/pause", headers=tenant.headers)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    [code] = await _present(session, tenant, ["SKIDKA30"], None)
    assert not code.valid and code.reason == "the campaign is paused"
    resumed = await client.post("/v1/code-pools/skidka/resume", headers=tenant.headers)
    assert resumed.json()["status"] == "active"
    [code] = await _present(session, tenant, ["SKIDKA30"], None)
    assert code.valid


async def test_invalid_presented_codes_are_skipped_by_redeem(session, tenant) -> None:
    owner = await make_customer(session, tenant.id, "owner")
    text = await _personal(session, tenant, owner)
    presented = await _present(session, tenant, [text], None)
    assert not presented[0].valid
    assert await _redeem(session, tenant, presented, None, "o-1") == []
    assert (await code_row(session, tenant.id, text)).uses == 0


async def test_a_failed_redeem_leaves_no_trace(session, tenant) -> None:
    buyer = await make_customer(session, tenant.id, "buyer")
    await make_pool(session, tenant.id, code="skidka", kind="public", public_code="SKIDKA30")
    text = await _personal(session, tenant, buyer)
    both = await _present(session, tenant, ["SKIDKA30", text], buyer)
    await _redeem(session, tenant, [both[1]], buyer, "o-0")
    with pytest.raises(Conflict):
        await _redeem(session, tenant, both, buyer, "o-1")
    # SKIDKA30 sorts before the used-up personal code and was redeemed first: rolled back.
    assert await release_codes(session, tenant_id=tenant.id, order_external_id="o-1") == 0
