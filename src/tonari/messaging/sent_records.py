"""Recording ``sent`` in the ledger soon after each send, a few rows per statement.

Each send takes a slot before it reaches the provider and gives it back only once its
``sent`` (or its failure) is committed, so at any instant at most ``limit`` messages of a
dispatch run have been handed to providers without being recorded: that is the duplicate
window of a crash (``tonari.messaging.dispatcher``). While one UPDATE is on its way, the
sends that finish meanwhile wait in the next one, so under load one statement records
several messages, and an idle run records each message on its own, at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SentRow:
    send_id: int
    provider_message_id: str
    sent_at: datetime
    started: float  # perf_counter() at its decision, for the latency of the whole path


WriteSent = Callable[[Sequence[SentRow]], Awaitable[None]]


class RecordingFailed(RuntimeError):
    """The ledger could not record sends: the run stops before sending more."""


class SentRecorder:
    def __init__(self, write: WriteSent, *, limit: int) -> None:
        self._write = write
        self._slots = asyncio.Semaphore(limit)
        self._pending: list[SentRow] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._closing = False
        self.latencies: list[float] = []
        self.recorded = 0

    async def reserve(self) -> None:
        """Wait for room in the window before handing a message to a provider."""
        self._raise_if_failed()
        await self._slots.acquire()
        self._raise_if_failed()

    def release(self) -> None:
        """The reserved send did not happen or was recorded another way (a failure)."""
        self._slots.release()

    def sent(self, row: SentRow) -> None:
        """The provider accepted the message: record it (its slot is freed once committed)."""
        self._pending.append(row)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Record everything still pending (waiting for a write on its way), then stop."""
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            await task
        self._raise_if_failed()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._pending:
                rows, self._pending = self._pending, []
                try:
                    await self._write(rows)
                except Exception as error:
                    # Nothing more is sent by this run (waiting lanes wake up and stop); the
                    # rows keep their lease and are sent again once it runs out, inside the
                    # documented window.
                    logger.exception("recording %d sent messages failed", len(rows))
                    self._failure = error
                    for _ in rows:
                        self._slots.release()
                    return
                finished = time.perf_counter()
                self.latencies.extend(finished - row.started for row in rows)
                self.recorded += len(rows)
                for _ in rows:
                    self._slots.release()
                if self._pending:
                    self._wake.set()
            if self._closing and not self._pending:
                return

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise RecordingFailed("recording sent messages failed") from self._failure
