"""The sent recorder's window: never more than ``limit`` sends handed over and unrecorded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tonari.kit.clock import utcnow
from tonari.messaging.sent_records import RecordingFailed, SentRecorder, SentRow


def _row(n: int) -> SentRow:
    return SentRow(n, f"<m{n}>", utcnow(), 0.0)


async def test_a_send_waits_while_the_window_is_full_of_unrecorded_sends() -> None:
    release = asyncio.Event()
    written: list[list[int]] = []

    async def slow_write(rows: Sequence[SentRow]) -> None:
        await release.wait()
        written.append([row.send_id for row in rows])

    recorder = SentRecorder(slow_write, limit=2)
    for n in (1, 2):
        await recorder.reserve()
        recorder.sent(_row(n))
    third = asyncio.create_task(recorder.reserve())
    await asyncio.sleep(0.05)
    assert not third.done(), "two sends are unrecorded: a third must wait"

    release.set()
    await asyncio.wait_for(third, 1)
    recorder.sent(_row(3))
    await recorder.close()
    # The first write took what was pending; the rest went in one more statement.
    assert [n for rows in written for n in rows] == [1, 2, 3] and len(written) <= 3
    assert recorder.recorded == 3


async def test_a_failed_write_stops_further_sends() -> None:
    async def broken_write(rows: Sequence[SentRow]) -> None:
        raise ConnectionError("database gone")

    recorder = SentRecorder(broken_write, limit=4)
    await recorder.reserve()
    recorder.sent(_row(1))
    await asyncio.sleep(0.01)
    with pytest.raises(RecordingFailed):
        await recorder.reserve()
    with pytest.raises(RecordingFailed):
        await recorder.close()
