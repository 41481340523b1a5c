"""A worker process for the concurrent resolution test: import the seven files, resolve.

Run as ``python -m tests.identity.resolve_worker URL TENANT_ID FOLDER ROUNDS [import|resolve]``;
prints one JSON line with how many profiles its runs created.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from tests.identity.seven import TODAY, import_seven
from tonari.db import Database
from tonari.identity.resolve import resolve_identities


async def main(
    url: str, tenant_id: int, folder: Path, rounds: int, imports: bool
) -> dict[str, int]:
    db = Database(url, pool_size=1, max_overflow=1)
    created = 0
    try:
        for round_number in range(rounds):
            if imports:
                async with db.transaction() as session:
                    await import_seven(session, tenant_id, folder)
            async with db.transaction() as session:
                summary = await resolve_identities(
                    session, tenant_id=tenant_id, at=TODAY, incremental=round_number % 2 == 1
                )
                created += summary.new_profiles
    finally:
        await db.dispose()
    return {"created": created}


if __name__ == "__main__":
    url, tenant_id, folder, rounds, mode = sys.argv[1:6]
    report = asyncio.run(main(url, int(tenant_id), Path(folder), int(rounds), mode == "import"))
    print(json.dumps(report))
