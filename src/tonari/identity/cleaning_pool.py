"""Cleaning rows on every core: a file's rows go to worker processes in chunks, in order.

Phone and email parsing is pure Python and takes most of an import's time; the main process
only reads the file and copies the cleaned rows into PostgreSQL, so the two overlap. Small
batches (API calls, small files) are cleaned in place: starting a process costs more.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import date
from itertools import islice
from multiprocessing import get_context

from tonari.identity.readers import BrokenRow, SourceRow
from tonari.identity.records import CleanRecord, clean_row
from tonari.identity.sources import SourceDefinition

CHUNK_ROWS = 2_000
# Below this many rows in the first chunks, cleaning stays in this process.
PARALLEL_FROM_ROWS = 2 * CHUNK_ROWS

Cleaned = tuple[int, CleanRecord | str | BrokenRow]


def clean_chunk(
    rows: list[SourceRow | BrokenRow],
    mapping: dict[str, str],
    definition: SourceDefinition,
    today: date,
) -> list[Cleaned]:
    """(line, the cleaned record, or why the row is refused, or the unreadable row)."""
    cleaned: list[Cleaned] = []
    for row in rows:
        if isinstance(row, BrokenRow):
            cleaned.append((row.line, row))
        else:
            cleaned.append((row.line, clean_row(row.values, mapping, definition, today=today)))
    return cleaned


def _chunks(rows: Iterable[SourceRow | BrokenRow]) -> Iterator[list[SourceRow | BrokenRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK_ROWS)):
        yield chunk


def worker_count() -> int:
    configured = os.environ.get("TONARI_IMPORT_WORKERS")
    return max(1, int(configured)) if configured else max(1, os.cpu_count() or 1)


async def cleaned_chunks(
    rows: Iterable[SourceRow | BrokenRow],
    mapping: dict[str, str],
    definition: SourceDefinition,
    today: date,
) -> AsyncIterator[list[Cleaned]]:
    """Chunks of cleaned rows in file order, cleaned by a process pool when the file is big."""
    chunks = _chunks(rows)
    head = list(islice(chunks, 2))
    workers = worker_count()
    if workers == 1 or sum(len(chunk) for chunk in head) < PARALLEL_FROM_ROWS:
        for chunk in [*head, *chunks]:
            yield clean_chunk(chunk, mapping, definition, today)
        return
    loop = asyncio.get_running_loop()
    # Not "fork": that would copy this process's open connections and event loop; and not
    # "spawn", which runs the main script again in each worker.
    pool: Executor = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("forkserver"))
    try:
        in_flight: deque[asyncio.Future[list[Cleaned]]] = deque()
        for chunk in [*head, *chunks]:
            in_flight.append(
                loop.run_in_executor(pool, clean_chunk, chunk, mapping, definition, today)
            )
            if len(in_flight) >= 2 * workers:
                yield await in_flight.popleft()
        while in_flight:
            yield await in_flight.popleft()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
