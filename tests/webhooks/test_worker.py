"""The procrastinate worker delivers webhooks by itself, in this process and in another."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO_ROOT
from tests.webhooks.conftest import place_order, register_endpoint, webhook_settings
from tests.webhooks.receiver import Receiver
from tonari.worker import start_background_worker


async def _wait_for(receiver: Receiver, route: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.for_route(route)) < count:
        assert time.monotonic() < deadline, f"only {len(receiver.for_route(route))} deliveries"
        await asyncio.sleep(0.1)


async def test_background_worker_delivers_webhooks(
    live_client, live_tenant, database_url, receiver: Receiver
) -> None:
    endpoint = await register_endpoint(live_client, live_tenant, receiver.url("bg"))
    receiver.route("bg").secret = endpoint["secret"]
    worker = await start_background_worker(
        database_url, settings=webhook_settings(worker_tick_seconds=1)
    )
    try:
        await place_order(live_client, live_tenant, "bg-1")
        await _wait_for(receiver, "bg", 1)
        await place_order(live_client, live_tenant, "bg-2")
        await _wait_for(receiver, "bg", 2)
    finally:
        await worker.stop()
    assert all(hit.verified for hit in receiver.for_route("bg"))
    assert {hit.body["data"]["order_id"] for hit in receiver.for_route("bg")} == {"bg-1", "bg-2"}


async def test_worker_process_delivers_and_stops_on_sigterm(
    live_client, live_tenant, database_url, receiver: Receiver
) -> None:
    endpoint = await register_endpoint(live_client, live_tenant, receiver.url("proc"))
    receiver.route("proc").secret = endpoint["secret"]
    env = {**os.environ, "TONARI_WORKER_TICK_SECONDS": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tonari.worker import run_worker; run_worker(sys.argv[1])",
            database_url,
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await place_order(live_client, live_tenant, "proc-1")
        await _wait_for(receiver, "proc", 1)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 0, err[-3000:]
    assert receiver.for_route("proc")[0].verified
