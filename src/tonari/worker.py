"""The background worker: procrastinate over the same PostgreSQL, periodic Tonari work.

Every worker process (the one inside ``tonari serve`` and any number of ``tonari worker``)
registers the same periodic tasks; procrastinate defers each tick once for the whole cluster,
and the work itself is safe on many workers (``SKIP LOCKED`` everywhere), so adding workers
adds throughput and a worker killed at any moment loses nothing:

* ``tonari.webhooks.tick`` (every ``worker_tick_seconds``): relay the outbox and deliver due
  webhooks for up to one tick; when the backlog is larger than one worker's lanes it defers
  helper jobs (``tonari.webhooks.deliver``) that other workers pick up.
* ``tonari.ledger.tick`` (every minute): release pending points whose return window is over
  and expire points, batch by batch, then write ``points.expiring`` reminders.
* ``tonari.tiers.reevaluate`` (hourly, each tenant just after its local midnight): tier
  downgrades and rolling or previous-month qualification, which move without a purchase.
* ``tonari.codes.reissue`` (hourly): a new personal code for every buyer due one under a
  pool's ``reissue_every_days`` schedule.
* ``tonari.reactions.tick`` (every ``worker_tick_seconds``): queued customer reactions
  (events, orders, tier changes) applied to segment memberships, customer by customer.
* ``tonari.messaging.dispatch`` (every ``worker_tick_seconds``): due messages of the send
  ledger decided (holdout, consent, caps, quiet hours) and sent, for up to one tick.
* ``tonari.segments.boundaries`` (every minute): segment memberships that change with time
  alone, for the customers whose scheduled instant has come.
* ``tonari.jobs.cleanup`` (hourly): forget finished jobs older than a day and used magic-link
  login tokens past their expiry, and fail jobs left
  ``doing`` by workers that died (periodic work is re-deferred anyway, so nothing is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Status

from tonari.config import Settings, get_settings
from tonari.db import Database, libpq_dsn
from tonari.kit.clock import utcnow
from tonari.ledger.runner import (
    run_expiry_reminders,
    run_ledger_jobs,
    run_tier_reevaluation,
)
from tonari.webhooks.delivery import count_due_deliveries, deliver_due, process_webhooks

logger = logging.getLogger(__name__)

MAX_HELPER_LANES = 8
FINISHED_JOBS_KEPT_HOURS = 24
STALLED_AFTER_SECONDS = 300  # no heartbeat from the job's worker for this long


def _database(context: JobContext) -> Database:
    database: Database = context.additional_context["database"]
    return database


def _settings(context: JobContext) -> Settings:
    settings: Settings = context.additional_context["settings"]
    return settings


def create_worker_app(url: str, *, settings: Settings | None = None) -> procrastinate.App:
    """The procrastinate app with Tonari's tasks, connected to ``url``'s database."""
    settings = settings or get_settings()
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_dsn(url), min_size=1, max_size=max(4, settings.worker_concurrency + 2)
        )
    )
    tick = settings.worker_tick_seconds

    @app.task(name="tonari.webhooks.deliver", pass_context=True, queue="webhooks")
    async def deliver_webhooks(context: JobContext) -> dict[str, int]:
        """A helper lane for a large backlog: deliver for one tick, then stop."""
        result = await deliver_due(
            _database(context), settings=_settings(context), budget_seconds=tick
        )
        return {"attempts": result.attempts, "delivered": result.delivered}

    @app.periodic(cron=f"* * * * * */{tick}")
    @app.task(
        name="tonari.webhooks.tick",
        pass_context=True,
        queue="webhooks",
        queueing_lock="tonari.webhooks.tick",
    )
    async def webhooks_tick(context: JobContext, timestamp: int) -> dict[str, int]:
        db, job_settings = _database(context), _settings(context)
        await _defer_helper_lanes(db, job_settings)
        result = await process_webhooks(db, settings=job_settings, budget_seconds=tick)
        return {
            "relayed": result.relayed_events,
            "attempts": result.attempts,
            "delivered": result.delivered,
            "failed": result.failed,
        }

    async def _defer_helper_lanes(db: Database, job_settings: Settings) -> None:
        due = await count_due_deliveries(db, now=utcnow())
        lanes = min(due // max(job_settings.webhook_concurrency * 4, 1), MAX_HELPER_LANES)
        for lane in range(lanes):
            with contextlib.suppress(AlreadyEnqueued):
                await deliver_webhooks.configure(
                    queueing_lock=f"tonari.webhooks.deliver.{lane}"
                ).defer_async()

    @app.periodic(cron="* * * * *")
    @app.task(
        name="tonari.ledger.tick",
        pass_context=True,
        queue="ledger",
        queueing_lock="tonari.ledger.tick",
    )
    async def ledger_tick(context: JobContext, timestamp: int) -> dict[str, int]:
        db = _database(context)
        released, expired = await run_ledger_jobs(db.url, database=db)
        reminded = await run_expiry_reminders(db.url, database=db)
        return {
            "released_lots": released.lots,
            "expired_lots": expired.lots,
            "expiry_reminders": reminded,
        }

    @app.periodic(cron="5 * * * *")
    @app.task(
        name="tonari.tiers.reevaluate",
        pass_context=True,
        queue="ledger",
        queueing_lock="tonari.tiers.reevaluate",
    )
    async def reevaluate_tiers(context: JobContext, timestamp: int) -> dict[str, int]:
        """Each tenant once a day, just after its local midnight: downgrades, monthly tiers."""
        db = _database(context)
        changed = await run_tier_reevaluation(db.url, database=db, only_local_hour=0)
        return {"tiers_changed": changed}

    @app.periodic(cron="23 * * * *")
    @app.task(
        name="tonari.codes.reissue",
        pass_context=True,
        queue="codes",
        queueing_lock="tonari.codes.reissue",
    )
    async def reissue_codes(context: JobContext, timestamp: int) -> dict[str, int]:
        """Every pool with reissue_every_days: a new code for each buyer who is due."""
        from tonari.codes.jobs import run_scheduled_issues

        db = _database(context)
        return {"codes_issued": await run_scheduled_issues(db.url, database=db)}

    @app.periodic(cron="* * * * *")
    @app.task(
        name="tonari.identity.resolve",
        pass_context=True,
        queue="identity",
        queueing_lock="tonari.identity.resolve",
    )
    async def resolve_identities_tick(context: JobContext, timestamp: int) -> dict[str, int]:
        """New and changed source records (imports, the API) joined to their people."""
        from tonari.identity.jobs import run_incremental_resolution

        return await run_incremental_resolution(_database(context))

    @app.periodic(cron=f"* * * * * */{tick}")
    @app.task(
        name="tonari.reactions.tick",
        pass_context=True,
        queue="reactions",
        queueing_lock="tonari.reactions.tick",
    )
    async def reactions_tick(context: JobContext, timestamp: int) -> dict[str, int]:
        """Segments (and later journeys) react to what happened to customers."""
        from tonari.reactions.dispatcher import process_reactions

        applied = await process_reactions(_database(context), budget_seconds=tick)
        return {"reactions": applied}

    @app.periodic(cron=f"* * * * * */{tick}")
    @app.task(
        name="tonari.messaging.dispatch",
        pass_context=True,
        queue="messaging",
        queueing_lock="tonari.messaging.dispatch",
    )
    async def messaging_dispatch(context: JobContext, timestamp: int) -> dict[str, int]:
        """Scheduled campaigns started, then due messages decided and sent for one tick
        (SKIP LOCKED + leases: any number of workers)."""
        from tonari.messaging.campaigns import start_due_campaigns
        from tonari.messaging.dispatcher import dispatch_due_messages

        db = _database(context)
        async with db.transaction() as session:
            started = await start_due_campaigns(session, at=utcnow())
        report = await dispatch_due_messages(db, budget_seconds=tick)
        return {"campaigns_started": started, "sent": report.sent, "claimed": report.claimed}

    @app.periodic(cron="* * * * *")
    @app.task(
        name="tonari.segments.boundaries",
        pass_context=True,
        queue="reactions",
        queueing_lock="tonari.segments.boundaries",
    )
    async def segment_boundaries(context: JobContext, timestamp: int) -> dict[str, int]:
        """Customers whose segment membership changes with time alone (birthday in N days,
        points expiring, no purchase for N days), re-evaluated when their instant comes."""
        from tonari.segments.boundaries import process_due_boundaries

        applied = await process_due_boundaries(_database(context), budget_seconds=50)
        return {"boundaries": applied}

    @app.periodic(cron="31 2 * * *")
    @app.task(
        name="tonari.segments.nightly",
        pass_context=True,
        queue="maintenance",
        queueing_lock="tonari.segments.nightly",
    )
    async def segments_nightly(context: JobContext, timestamp: int) -> dict[str, object]:
        """Segments ranking customers against each other (RFM) rebuilt, moves emitted."""
        from tonari.segments.nightly import rebuild_relative_segments

        report = await rebuild_relative_segments(_database(context))
        return {"rebuilt": report.rebuilt, "entered": report.entered, "exited": report.exited}

    @app.periodic(cron=f"* * * * * */{tick}")
    @app.task(
        name="tonari.journeys.tick",
        pass_context=True,
        queue="journeys",
        queueing_lock="tonari.journeys.tick",
    )
    async def journeys_tick(context: JobContext, timestamp: int) -> dict[str, int]:
        """Journey instances whose wait is over move on (timeouts, delays, date entries)."""
        from tonari.journeys.runner import process_due_instances

        advanced = await process_due_instances(_database(context), budget_seconds=tick)
        return {"instances": advanced}

    @app.periodic(cron="2 * * * *")
    @app.task(
        name="tonari.journeys.dates",
        pass_context=True,
        queue="journeys",
        queueing_lock="tonari.journeys.dates",
    )
    async def journeys_dates(context: JobContext, timestamp: int) -> dict[str, int]:
        """Birthdays, anniversaries and points expiry dates entered N local days ahead."""
        from tonari.journeys.runner import schedule_date_entries

        return {"entered": await schedule_date_entries(_database(context))}

    @app.periodic(cron="41 3 * * *")
    @app.task(
        name="tonari.events.partitions",
        pass_context=True,
        queue="maintenance",
        queueing_lock="tonari.events.partitions",
    )
    async def event_partitions(context: JobContext, timestamp: int) -> dict[str, list[str]]:
        """This month's and the next two months' partitions of customer_events."""
        from tonari.events.partitions import ensure_partitions_ahead

        async with _database(context).transaction() as session:
            created = await ensure_partitions_ahead(session, today=utcnow().date())
        return {"created": created}

    @app.periodic(cron="17 * * * *")
    @app.task(
        name="tonari.jobs.cleanup",
        pass_context=True,
        queue="maintenance",
        queueing_lock="tonari.jobs.cleanup",
    )
    async def cleanup_jobs(context: JobContext, timestamp: int) -> None:
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
            if job.id is not None and job.id != context.job.id:
                await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
        await manager.delete_old_jobs(
            nb_hours=FINISHED_JOBS_KEPT_HOURS,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )
        from tonari.messaging.magic_links import forget_expired_login_tokens

        async with _database(context).transaction() as session:
            await forget_expired_login_tokens(session, at=utcnow())

    return app


def _worker_options(
    database: Database, settings: Settings, *, install_signal_handlers: bool
) -> dict[str, Any]:
    return {
        "concurrency": settings.worker_concurrency,
        "additional_context": {"database": database, "settings": settings},
        "install_signal_handlers": install_signal_handlers,
        "shutdown_graceful_timeout": settings.webhook_timeout_seconds + 5,
        "name": "tonari-worker",
        # A tick every few seconds would pile up rows; failures are kept for a day.
        "delete_jobs": "successful",
    }


@dataclass
class BackgroundWorker:
    """A worker running inside this event loop; ``await stop()`` ends it gracefully."""

    app: procrastinate.App
    database: Database
    task: asyncio.Task[None]

    async def stop(self) -> None:
        if not self.task.done():
            self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("the background worker stopped with an error")
        finally:
            await self.app.close_async()
            await self.database.dispose()


async def start_background_worker(
    url: str, *, settings: Settings | None = None
) -> BackgroundWorker:
    """Start a worker in this event loop (``tonari serve`` runs one next to the API)."""
    settings = settings or get_settings()
    app = create_worker_app(url, settings=settings)
    database = Database(url, pool_size=2, max_overflow=settings.webhook_concurrency + 2)
    await app.open_async()
    options = _worker_options(database, settings, install_signal_handlers=False)
    task = asyncio.create_task(app.run_worker_async(**options), name="tonari background worker")
    return BackgroundWorker(app=app, database=database, task=task)


async def run_worker_async(url: str, *, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    app = create_worker_app(url, settings=settings)
    database = Database(url, pool_size=2, max_overflow=settings.webhook_concurrency + 2)
    try:
        async with app.open_async():
            await app.run_worker_async(
                **_worker_options(database, settings, install_signal_handlers=True)
            )
    finally:
        await database.dispose()


def run_worker(url: str, *, settings: Settings | None = None) -> None:
    """Run a worker until SIGINT/SIGTERM (``tonari worker``); blocks."""
    asyncio.run(run_worker_async(url, settings=settings))
