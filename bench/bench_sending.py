"""Sending: messages/s to a local SMTP sink through the whole pipeline vs a bare aiosmtplib loop.

1. **Pipeline.** N marketing emails queued in the send ledger (``queue_message``, one
   transaction), then ``dispatch_due_messages``: claim, consent, caps, quiet hours, holdout,
   the template rendered with each customer's live data (balance, tier, points to the next
   tier), the ``List-Unsubscribe`` headers signed, SMTP, and ``sent`` recorded, message by
   message, on ``messaging_concurrency`` lanes (one SMTP connection each).
2. **Baseline.** The very N messages the pipeline sent (kept by its SMTP channel: same
   headers, tracking links and signed unsubscribe URLs), built beforehand, sent with a bare
   aiosmtplib ``send_message`` loop over one connection, no database at all.

The sink is aiosmtpd's ``Sink`` handler in a subprocess on 127.0.0.1 (so it does not share the
benchmark's GIL). Messages/s of both, the ratio (target ≥ 0.7; listmonk's default rate is 100
messages/s) and per-message p50/p95 (pipeline: decide → render → SMTP → recorded; baseline:
one SMTP transaction). ``python -m bench.bench_sending [--quick] [--messages N]`` runs it
alone on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from typing import Any, ClassVar

import aiosmtplib
from sqlalchemy import text

from bench.report import Result, percentile
from tonari.db import Database
from tonari.kit.clock import utcnow
from tonari.messaging.channels import Channel, OutgoingMessage, SendResult
from tonari.messaging.channels.smtp import SmtpChannel, SmtpSettings, build_email
from tonari.messaging.delivery import configure_channel
from tonari.messaging.dispatcher import dispatch_due_messages
from tonari.messaging.queue import queue_message
from tonari.messaging.templates import create_template
from tonari.programs.service import apply_programme, load_programme_file
from tonari.tenants.service import create_tenant

RATIO_TARGET = 0.7
SENDER = "Panasonic Club <club@panasonic.example>"
SUBJECT = "{{ first_name }}, {{ points.available }} points are waiting"
HTML = (
    "<p>Hello {{ first_name }},</p><p>you have <b>{{ points.available }}</b> points."
    "{% if next_tier %} {{ next_tier.amount_left_text }} more to {{ next_tier.name }}.{% endif %}"
    '</p><p><a href="https://panasonic.example/sale">Kitchen sale</a></p>'
)
TEXT = "Hello {{ first_name }}, you have {{ points.available }} points."


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the SMTP sink did not start")


async def _setup(db: Database, messages: int, port: int) -> int:
    at = utcnow()
    async with db.transaction() as session:
        tenant = await create_tenant(
            session, slug=f"bench-send-{uuid.uuid4().hex[:8]}", name="Sending bench"
        )
        await apply_programme(
            session,
            tenant_id=tenant.id,
            document=load_programme_file(
                __import__("pathlib").Path(__file__).resolve().parent.parent
                / "examples"
                / "programmes"
                / "panasonic.yaml"
            ),
            applied_by="bench",
            effective_from=at.replace(year=2020),
        )
        # Customers, their (empty) points accounts and their consent, in bulk (not measured).
        await session.execute(
            text(
                "INSERT INTO customers (tenant_id, external_id, email, first_name, city) "
                "SELECT :t, 'b' || g, 'b' || g || '@mail.example', 'Anna', 'Moscow' "
                "FROM generate_series(1, :n) AS g"
            ),
            {"t": tenant.id, "n": messages},
        )
        await session.execute(
            text(
                # Empty accounts: a cached balance without postings would fail ledger verify.
                "INSERT INTO ledger_accounts (tenant_id, kind, customer_id) "
                "SELECT :t, 'customer', id FROM customers WHERE tenant_id = :t"
            ),
            {"t": tenant.id},
        )
        await session.execute(
            text(
                "INSERT INTO consents (tenant_id, customer_id, channel, topic, granted, source, "
                "changed_at) SELECT :t, id, 'email', 'marketing', true, 'bench', :at "
                "FROM customers WHERE tenant_id = :t"
            ),
            {"t": tenant.id, "at": at},
        )
        await create_template(
            session,
            tenant_id=tenant.id,
            key="digest",
            channel="email",
            topic="marketing",
            transactional=False,
            subject=SUBJECT,
            html=HTML,
            text=TEXT,
            at=at,
        )
        await configure_channel(
            session,
            tenant_id=tenant.id,
            channel="email",
            adapter="smtp",
            settings={"host": "127.0.0.1", "port": port, "start_tls": False},
            sender=SENDER,
            at=at,
        )
        return int(tenant.id)


async def _queue_all(db: Database, tenant_id: int) -> float:
    started = time.perf_counter()
    at = utcnow()
    async with db.transaction() as session:
        ids = list(
            await session.scalars(
                text("SELECT id FROM customers WHERE tenant_id = :t ORDER BY id"),
                {"t": tenant_id},
            )
        )
        for customer_id in ids:
            await queue_message(
                session,
                tenant_id=tenant_id,
                customer_id=customer_id,
                channel="email",
                template_key="digest",
                at=at,
                idempotency_key=f"digest-{customer_id}",
            )
    return time.perf_counter() - started


class _CapturingSmtp(SmtpChannel):
    """The pipeline's own SMTP channel, keeping what it sent for the baseline to send again."""

    sent: ClassVar[list[tuple[OutgoingMessage, str]]] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        result = await super().send(message)
        self.sent.append((message, message.sender or self.sender or SENDER))
        return result


def _capturing_factory(adapter: str, settings: dict[str, Any], sender: str | None) -> Channel:
    return _CapturingSmtp(SmtpSettings.model_validate(settings), sender=sender)


async def _bare_loop(
    port: int, messages: list[tuple[OutgoingMessage, str]]
) -> tuple[float, list[float]]:
    """The very messages the pipeline sent, built beforehand, over one aiosmtplib connection."""
    prepared = [
        build_email(message, sender=sender, domain="panasonic.example")
        for message, sender in messages
    ]
    latencies: list[float] = []
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    started = time.perf_counter()
    for email in prepared:
        one = time.perf_counter()
        await client.send_message(email)
        latencies.append(time.perf_counter() - one)
    elapsed = time.perf_counter() - started
    await client.quit()
    return elapsed, latencies


_CHILD = """
import asyncio, json, sys, time
from tonari.db import Database
from tonari.messaging.dispatcher import dispatch_due_messages

async def main(url, start_at):
    db = Database(url, pool_size=2, max_overflow=10)
    await asyncio.sleep(max(start_at - time.time(), 0))
    began = time.time()
    report = await dispatch_due_messages(db, batch=100, base_url="https://club.example")
    ended = time.time()
    await db.dispose()
    print(json.dumps({"began": began, "ended": ended, "sent": report.sent,
                      "latencies": report.latencies}))

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


async def _dispatch_in_processes(url: str, processes: int) -> tuple[float, list[float], int]:
    """Several dispatcher processes at once (the way several ``tonari worker`` scale out);
    wall time from the first start to the last finish, measured inside the processes."""
    start_at = time.time() + 3.0  # every child has imported Tonari by then
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, url, str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    outcomes = []
    for child in children:
        out, _ = child.communicate(timeout=1800)
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(o["ended"] for o in outcomes) - min(o["began"] for o in outcomes)
    latencies = [value for o in outcomes for value in o["latencies"]]
    return wall, latencies, sum(int(o["sent"]) for o in outcomes)


async def bench_sending(url: str, *, messages: int = 5_000, processes: int = 4) -> dict[str, Any]:
    port = _free_port()
    sink = start_sink(port)
    db = Database(url, pool_size=4, max_overflow=16)
    try:
        tenant_id = await _setup(db, messages, port)
        queue_seconds = await _queue_all(db, tenant_id)
        started = time.perf_counter()
        _CapturingSmtp.sent.clear()
        report = await dispatch_due_messages(
            db, batch=500, base_url="https://club.example", channel_factory=_capturing_factory
        )
        pipeline_seconds = time.perf_counter() - started
        async with db.transaction() as session:
            sent = await session.scalar(
                text("SELECT count(*) FROM message_sends WHERE tenant_id = :t AND status = 'sent'"),
                {"t": tenant_id},
            )
        scaled: dict[str, Any] = {}
        if processes > 1:
            tenant_two = await _setup(db, messages, port)
            await _queue_all(db, tenant_two)
            wall, scaled_latencies, scaled_sent = await _dispatch_in_processes(url, processes)
            ordered = sorted(scaled_latencies)
            scaled = {
                "processes": processes,
                "scaled_per_s": round(messages / wall, 1),
                "scaled_sent": scaled_sent,
                "scaled_p50_ms": round(percentile(ordered, 50) * 1000, 2),
                "scaled_p95_ms": round(percentile(ordered, 95) * 1000, 2),
            }
        bare_seconds, bare_latencies = await _bare_loop(port, list(_CapturingSmtp.sent))
    finally:
        await db.dispose()
        sink.terminate()
        sink.wait(timeout=10)
    latencies = sorted(report.latencies)
    bare = sorted(bare_latencies)
    return {
        "messages": messages,
        "sent": int(sent or 0),
        "pipeline_per_s": round(messages / pipeline_seconds, 1),
        "pipeline_seconds": round(pipeline_seconds, 2),
        "queue_seconds": round(queue_seconds, 2),
        "with_queue_per_s": round(messages / (pipeline_seconds + queue_seconds), 1),
        "pipeline_p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "pipeline_p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "bare_per_s": round(messages / bare_seconds, 1),
        "bare_p50_ms": round(percentile(bare, 50) * 1000, 2),
        "bare_p95_ms": round(percentile(bare, 95) * 1000, 2),
        "lanes": report.lanes,
        "report": report.as_dict(),
        **scaled,
    }


def sending_results(outcome: dict[str, Any]) -> list[Result]:
    result = Result(
        name=f"sending, {outcome['messages']:,} emails to an SMTP sink (whole pipeline)",
        result=outcome["pipeline_per_s"],
        unit="messages/s",
        baseline=outcome["bare_per_s"],
        baseline_label="bare aiosmtplib loop, pre-rendered, one connection",
        higher_is_better=True,
        p50_ms=outcome["pipeline_p50_ms"],
        p95_ms=outcome["pipeline_p95_ms"],
        target=f"ratio ≥ {RATIO_TARGET:g} (listmonk default 100/s)",
        notes=[
            f"{outcome['sent']:,} recorded sent on {outcome['lanes']} lanes; queueing took "
            f"{outcome['queue_seconds']} s ({outcome['with_queue_per_s']}/s queue included); "
            f"bare p50/p95 {outcome['bare_p50_ms']}/{outcome['bare_p95_ms']} ms"
        ],
        details=outcome,
    )
    result.target_met = result.ratio is not None and result.ratio >= RATIO_TARGET
    results = [result]
    if outcome.get("processes"):
        scaled = Result(
            name=f"sending, same, {outcome['processes']} dispatcher processes",
            result=outcome["scaled_per_s"],
            unit="messages/s",
            baseline=outcome["bare_per_s"],
            baseline_label="bare aiosmtplib loop, pre-rendered, one connection",
            higher_is_better=True,
            p50_ms=outcome["scaled_p50_ms"],
            p95_ms=outcome["scaled_p95_ms"],
            target=f"ratio ≥ {RATIO_TARGET:g}",
            notes=[f"{outcome['scaled_sent']:,} sent; workers share the ledger (SKIP LOCKED)"],
            details=outcome,
        )
        scaled.target_met = scaled.ratio is not None and scaled.ratio >= RATIO_TARGET
        results.append(scaled)
    return results


def main() -> None:
    from bench.infra import provision_database

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--processes", type=int, default=4, help="scale-out run (1 = skip)")
    args = parser.parse_args()
    messages = args.messages or (200 if args.quick else 5_000)

    with provision_database() as database:
        outcome = asyncio.run(
            bench_sending(database.url, messages=messages, processes=args.processes)
        )
    for key, value in outcome.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
