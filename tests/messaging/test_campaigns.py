"""Mass mailings: the audience queued once, the throttle, pause/resume that never resends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.messaging.smtp_sink import (
    make_email_template,
    make_subscriber,
    send_email_to,
    smtp_sink_fixture,  # noqa: F401  (the smtp_sink fixture)
)
from tonari.kit.clock import utcnow
from tonari.kit.errors import InvalidState
from tonari.messaging.campaigns import (
    CampaignCreate,
    campaign_progress,
    create_campaign,
    get_campaign,
    materialise_audience,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from tonari.messaging.dispatcher import SessionTransactions, dispatch_due_messages
from tonari.models.messaging import MessageSend

MOSCOW = {"field": "city", "values": ["Moscow"]}


async def _audience(session, tenant_id: int, at, moscow: int = 6, elsewhere: int = 2) -> None:
    """``moscow`` customers m0… in Moscow (the segment), then ``elsewhere`` in Kazan."""
    for n in range(moscow + elsewhere):
        await make_subscriber(
            session,
            tenant_id=tenant_id,
            external_id=f"m{n}",
            at=at,
            city="Moscow" if n < moscow else "Kazan",
        )


async def test_throttled_campaign_pauses_and_resumes_without_sending_anyone_twice(
    session, tenant, smtp_sink
) -> None:
    start = utcnow().replace(microsecond=0)
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=start)
    await make_email_template(session, tenant_id=tenant.id, key="kitchen-sale", at=start)
    await _audience(session, tenant.id, start)
    data = CampaignCreate(
        key="kitchen",
        name="Kitchen sale",
        definition=MOSCOW,
        template_key="kitchen-sale",
        send_rate_per_minute=60,
    )
    await create_campaign(session, tenant_id=tenant.id, data=data, at=start)
    db = SessionTransactions(session)

    campaign = await start_campaign(session, tenant_id=tenant.id, key="kitchen", at=start)
    assert (campaign.status, campaign.audience_size) == ("running", 6)
    first = await dispatch_due_messages(db, at=start + timedelta(seconds=2.5))
    assert first.sent == 3, "60 a minute: members 0, 1 and 2 are due after 2.5 s"

    await pause_campaign(
        session, tenant_id=tenant.id, key="kitchen", at=start + timedelta(seconds=3)
    )
    while_paused = await dispatch_due_messages(db, at=start + timedelta(minutes=5))
    assert while_paused.claimed == 0

    resumed_at = start + timedelta(minutes=10)
    await resume_campaign(session, tenant_id=tenant.id, key="kitchen", at=resumed_at)
    just_after = await dispatch_due_messages(db, at=resumed_at + timedelta(seconds=0.5))
    assert just_after.sent == 1, "the rest goes out at the rate again, no burst after a pause"
    # Starting the audience again (a retried start, a crash half-way) queues nobody twice.
    again = await materialise_audience(session, campaign=campaign, definition=MOSCOW, at=resumed_at)
    assert again == 6
    rest = await dispatch_due_messages(db, at=resumed_at + timedelta(minutes=1))
    assert rest.sent == 2

    campaign = await get_campaign(session, tenant_id=tenant.id, key="kitchen")
    progress = await campaign_progress(session, campaign=campaign)
    assert (progress.sent, progress.queued, progress.done, progress.percent) == (6, 0, 6, 100.0)
    assert campaign.status == "finished"
    rows = await session.scalar(select(func.count()).where(MessageSend.campaign_id == campaign.id))
    assert rows == 6
    smtp_sink.wait_for(6)
    recipients = smtp_sink.recipients()
    assert sorted(recipients) == sorted(f"m{n}@mail.example" for n in range(6))
    with pytest.raises(InvalidState):
        await start_campaign(session, tenant_id=tenant.id, key="kitchen", at=resumed_at)


async def test_campaign_api_create_start_progress_and_errors(client, session, tenant) -> None:
    at = utcnow()
    await make_email_template(session, tenant_id=tenant.id, key="photo", at=at)
    await _audience(session, tenant.id, at, moscow=3, elsewhere=1)
    h = tenant.headers
    body = {"key": "photo", "name": "Photo gear", "definition": MOSCOW, "template_key": "photo"}

    bad = await client.post(
        "/v1/campaigns", json={**body, "definition": {"field": "city", "values": 5}}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"].startswith("definition.")
    missing = await client.post(
        "/v1/campaigns", json={**body, "definition": None, "segment_key": "nope"}, headers=h
    )
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "segment_key"
    created = await client.post("/v1/campaigns", json=body, headers=h)
    assert created.status_code == 201 and created.json()["status"] == "draft"
    duplicate = await client.post("/v1/campaigns", json=body, headers=h)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["field"] == "key"
    no_template = await client.post(
        "/v1/campaigns", json={**body, "key": "x", "template_key": "ghost"}, headers=h
    )
    assert no_template.status_code == 201
    refused = await client.post("/v1/campaigns/x/start", headers=h)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "template_key"

    started = await client.post("/v1/campaigns/photo/start", headers=h)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running"
    assert started.json()["progress"]["audience"] == 3 and started.json()["progress"]["queued"] == 3
    paused = await client.post("/v1/campaigns/photo/pause", headers=h)
    assert paused.json()["status"] == "paused"
    not_paused = await client.post("/v1/campaigns/photo/pause", headers=h)
    assert not_paused.status_code == 409
    cancelled = await client.post("/v1/campaigns/photo/cancel", headers=h)
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["progress"]["skipped_by_reason"] == {"cancelled": 3}
    listed = await client.get("/v1/campaigns", headers=h)
    assert [c["key"] for c in listed.json()] == ["photo", "x"]


def test_operator_runs_a_campaign_from_the_cli(database_url: str, committed_tenant) -> None:
    import asyncio

    from tests.cli.test_cli import tonari
    from tests.messaging.smtp_sink import SmtpSink
    from tonari.db import Database

    sink = SmtpSink().start()

    async def prepare() -> None:
        db = Database(database_url, pool_size=1, max_overflow=0)
        at = utcnow()
        try:
            async with db.transaction() as session:
                await send_email_to(sink, session, tenant_id=committed_tenant.id, at=at)
                await make_email_template(session, tenant_id=committed_tenant.id, key="tv", at=at)
                for n in range(3):
                    await make_subscriber(
                        session,
                        tenant_id=committed_tenant.id,
                        external_id=f"tv{n}",
                        at=at,
                        city="Omsk",
                    )
        finally:
            await db.dispose()

    slug = committed_tenant.slug
    try:
        asyncio.run(prepare())
        definition = '{"field": "city", "values": ["Omsk"]}'
        created = tonari(
            database_url, "campaign", "create", "-t", slug, "tv", "--template", "tv",
            "--definition", definition, "--rate", "6000",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        started = tonari(database_url, "campaign", "start", "-t", slug, "tv")
        assert started.returncode == 0 and "running (audience 3)" in started.stdout
        dispatched = tonari(database_url, "messages", "dispatch")
        assert dispatched.returncode == 0, dispatched.stderr
        progress = tonari(database_url, "campaign", "progress", "-t", slug, "tv")
        assert progress.returncode == 0 and "3/3" in progress.stdout, progress.stdout
        report = tonari(database_url, "campaign", "report", "-t", slug, "tv")
        assert report.returncode == 0 and "treated" in report.stdout, report.stderr
        sink.wait_for(3)
        assert sorted(sink.recipients()) == [f"tv{n}@mail.example" for n in range(3)]
    finally:
        sink.stop()
        import psycopg

        from tonari.db import libpq_dsn

        with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
            conn.execute(
                "DELETE FROM customer_reactions WHERE tenant_id = %s", (committed_tenant.id,)
            )
