"""A worker process for the code concurrency tests: redeems the same codes as its siblings.

Run as ``python -m tests.codes.redeem_worker URL TENANT_ID MODE SEED START POOL CODE...``.
It redeems the n-th code at ``START + n × 50 ms`` (epoch seconds), so that the four processes
fire at each code together, each redemption in its own transaction as an order's would be,
and prints one JSON line with what it saw. Every process presents each code as valid, as tills
do that all checked it before anyone used it, so the race is decided where it must be: in
``redeem_codes``. ``MODE`` is ``orders`` (each process its own order ids: competing buyers) or
``retries`` (every process the same order ids: one order retried by four tills).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from tonari.codes.service import redeem_codes, resolve_presented_codes
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.kit.errors import Conflict
from tonari.rules.offers.context import PresentedCode

SLOT_SECONDS = 0.05


async def main() -> None:
    url, tenant_id, mode, seed, start, pool, *codes = sys.argv[1:]
    db = Database(url, pool_size=1, max_overflow=0)
    redeemed = replayed = used_up = 0
    try:
        async with db.transaction() as session:  # connect before the start line
            await resolve_presented_codes(
                session, tenant_id=int(tenant_id), codes=codes[:1], customer_id=None, at=utcnow()
            )
        for slot, code in enumerate(codes):
            # Every process fires at this code in the same instant, not one after another.
            await asyncio.sleep(max(float(start) + slot * SLOT_SECONDS - time.time(), 0))
            order = f"order-{code}" if mode == "retries" else f"order-{seed}-{code}"
            try:
                async with db.transaction() as session:
                    [result] = await redeem_codes(
                        session,
                        tenant_id=int(tenant_id),
                        presented=[PresentedCode(code=code, pool=pool)],
                        customer_id=None,
                        order_external_id=order,
                        at=utcnow(),
                    )
                replayed += int(result.replayed)
                redeemed += int(not result.replayed)
            except Conflict as exc:
                assert exc.code == "promo_code_used_up", exc.code
                used_up += 1
    finally:
        await db.dispose()
    print(json.dumps({"redeemed": redeemed, "replayed": replayed, "used_up": used_up}))


if __name__ == "__main__":
    asyncio.run(main())
