"""Requests over real HTTP (httpx → uvicorn on 127.0.0.1): sequential latency and concurrent
throughput. Server-side time comes from the ``Server-Timing: app;dur=<ms>`` header.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.dataset import BenchData, place_body

MAX_ERROR_SAMPLES = 3


@dataclass
class HttpRun:
    server_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.client_ms)

    def record_error(self, response: httpx.Response) -> None:
        self.errors[str(response.status_code)] += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(f"{response.status_code}: {response.text[:300]}")


def server_timing_ms(response: httpx.Response) -> float | None:
    header = response.headers.get("server-timing", "")
    for metric in header.split(","):
        for part in metric.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "dur":
                return float(value)
    return None


def _client(base_url: str, data: BenchData) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=data.headers,
        timeout=30,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


async def sequential(
    base_url: str,
    data: BenchData,
    *,
    path: str,
    make_body: Callable[[random.Random], Any],
    requests: int,
    warmup: int,
    time_limit: float,
    seed: int,
) -> HttpRun:
    """One client, one keep-alive connection, one request at a time: latency, not load."""
    rng = random.Random(seed)
    run = HttpRun()
    deadline = time.monotonic() + time_limit
    started_all = time.perf_counter()
    async with _client(base_url, data) as client:
        for index in range(warmup + requests):
            if time.monotonic() > deadline:
                break
            body = make_body(rng)
            started = time.perf_counter()
            response = await client.post(path, json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if index < warmup:
                continue
            if response.status_code >= 300:
                run.record_error(response)
                continue
            run.client_ms.append(elapsed)
            server = server_timing_ms(response)
            if server is not None:
                run.server_ms.append(server)
    run.seconds = time.perf_counter() - started_all
    return run


async def concurrent_place(
    base_url: str,
    data: BenchData,
    *,
    clients: int,
    seconds: float,
    run_id: str,
    warmup_per_client: int = 5,
) -> HttpRun:
    """``clients`` asyncio clients, each on its own connection, placing paid orders that spend
    points for random customers until the time is up. Counts orders answered 201."""
    run = HttpRun()
    ready = asyncio.Event()
    warm = asyncio.Event()
    warmed = 0
    deadline = float("inf")  # set when every client is warm; the clients read it late

    async def one_client(number: int) -> None:
        rng = random.Random(1_000 + number)
        async with _client(base_url, data) as client:
            for index in range(warmup_per_client):
                await client.post(
                    "/v1/orders", json=place_body(data, rng, f"{run_id}-w{number}-{index}")
                )
            nonlocal warmed
            warmed += 1
            if warmed == clients:
                warm.set()
            await ready.wait()
            index = 0
            while time.monotonic() < deadline:
                body = place_body(data, rng, f"{run_id}-{number}-{index}")
                index += 1
                started = time.perf_counter()
                response = await client.post("/v1/orders", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 201:
                    run.record_error(response)
                    continue
                run.client_ms.append(elapsed)
                server = server_timing_ms(response)
                if server is not None:
                    run.server_ms.append(server)

    tasks = [asyncio.create_task(one_client(number)) for number in range(clients)]
    try:
        await asyncio.wait_for(warm.wait(), timeout=60)
    except TimeoutError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    started = time.perf_counter()
    deadline = time.monotonic() + seconds
    ready.set()
    await asyncio.gather(*tasks)
    run.seconds = time.perf_counter() - started
    return run
