"""The dispatcher end to end: ledger → rules → render → real SMTP (aiosmtpd) → ledger."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from tests.messaging.smtp_sink import (
    make_email_template,
    make_subscriber,
    send_email_to,
    smtp_sink_fixture,  # noqa: F401  (the smtp_sink fixture)
)
from tonari.messaging.delivery import set_policy
from tonari.messaging.dispatcher import SessionTransactions, dispatch_due_messages
from tonari.messaging.queue import queue_message
from tonari.messaging.rules import holdout_group
from tonari.models.messaging import MessageSend

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


async def _ledger(session, tenant_id: int) -> dict[int, MessageSend]:
    rows = await session.scalars(
        select(MessageSend)
        .where(MessageSend.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}


async def _queue(session, tenant_id: int, customer_id: int, key: str, **extra) -> int:
    send_id = await queue_message(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        channel="email",
        template_key=extra.pop("template_key", "news"),
        at=extra.pop("at", T0),
        idempotency_key=key,
        **extra,
    )
    assert send_id is not None
    return send_id


async def test_an_email_reaches_smtp_once_with_one_click_unsubscribe(
    session, tenant, smtp_sink
) -> None:
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, at=T0)
    anna = await make_subscriber(session, tenant_id=tenant.id, external_id="anna", at=T0)
    send_id = await _queue(session, tenant.id, anna, "welcome-anna")

    report = await dispatch_due_messages(
        SessionTransactions(session), at=T0, base_url="https://club.example"
    )
    again = await dispatch_due_messages(SessionTransactions(session), at=T0 + timedelta(hours=1))

    assert (report.sent, again.claimed) == (1, 0)
    smtp_sink.wait_for(1)
    [message] = smtp_sink.messages
    assert message["To"] == "anna@mail.example"
    assert message["Subject"] == "Hello Anna"
    assert message["From"] == "Panasonic Club <club@panasonic.example>"
    assert message["List-Unsubscribe"].startswith("<https://club.example/v1/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == f"<tonari.{tenant.id}.{send_id}@panasonic.example>"
    assert "Hi Anna, you have 0 points" in message.get_body(("plain",)).get_content()
    row = (await _ledger(session, tenant.id))[send_id]
    assert (row.status, row.control_group, row.attempts) == ("sent", "treated", 1)
    assert row.provider_message_id == message["Message-ID"] and row.sent_at == T0


async def test_unsubscribed_customer_still_gets_transactional_mail_but_no_marketing(
    session, tenant, smtp_sink
) -> None:
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, key="order", transactional=True, at=T0)
    boris = await make_subscriber(
        session, tenant_id=tenant.id, external_id="boris", at=T0, consent=False
    )
    marketing = await _queue(session, tenant.id, boris, "sale")
    receipt = await _queue(
        session, tenant.id, boris, "order-1", template_key="order", transactional=True
    )

    await dispatch_due_messages(SessionTransactions(session), at=T0)

    smtp_sink.wait_for(1)
    [message] = smtp_sink.messages
    assert message["List-Unsubscribe"] is None, "transactional mail has no unsubscribe"
    ledger = await _ledger(session, tenant.id)
    assert (ledger[receipt].status, ledger[marketing].status) == ("sent", "skipped")
    assert ledger[marketing].reason == "no_consent"


async def test_daily_cap_counts_in_each_customers_own_calendar(session, tenant, smtp_sink) -> None:
    """16:30 UTC is already tomorrow in Tokyo (01:30) but still today in Moscow (19:30)."""
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, at=T0)
    await set_policy(session, tenant_id=tenant.id, per_day=1, at=T0)
    tokyo = await make_subscriber(
        session, tenant_id=tenant.id, external_id="yuki", time_zone="Asia/Tokyo", at=T0
    )
    moscow = await make_subscriber(
        session, tenant_id=tenant.id, external_id="olga", time_zone="Europe/Moscow", at=T0
    )
    first_at = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # Tokyo 23:00, Moscow 17:00
    for customer in (tokyo, moscow):
        await _queue(session, tenant.id, customer, f"first-{customer}", at=first_at)
    first = await dispatch_due_messages(SessionTransactions(session), at=first_at)
    second_at = datetime(2026, 3, 10, 16, 30, tzinfo=UTC)
    tokyo_second = await _queue(session, tenant.id, tokyo, "second-tokyo", at=second_at)
    moscow_second = await _queue(session, tenant.id, moscow, "second-moscow", at=second_at)

    second = await dispatch_due_messages(SessionTransactions(session), at=second_at)

    assert first.sent == 2 and second.sent == 1 and second.skipped == {"capped": 1}
    ledger = await _ledger(session, tenant.id)
    assert ledger[tokyo_second].status == "sent"
    assert (ledger[moscow_second].status, ledger[moscow_second].reason) == ("skipped", "capped")
    smtp_sink.wait_for(3)
    assert sorted(smtp_sink.recipients()) == ["olga@mail.example"] + ["yuki@mail.example"] * 2


async def test_quiet_hours_defer_or_drop_in_each_customers_zone(session, tenant, smtp_sink) -> None:
    """13:00 UTC: 22:00 in Tokyo (quiet, 21:00-09:00), 16:00 in Moscow (fine)."""
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, at=T0)
    await set_policy(session, tenant_id=tenant.id, quiet_start=time(21), quiet_end=time(9), at=T0)
    tokyo = await make_subscriber(
        session, tenant_id=tenant.id, external_id="yuki", time_zone="Asia/Tokyo", at=T0
    )
    moscow = await make_subscriber(
        session, tenant_id=tenant.id, external_id="olga", time_zone="Europe/Moscow", at=T0
    )
    at = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    deferred = await _queue(session, tenant.id, tokyo, "digest-tokyo", at=at)
    dropped = await _queue(session, tenant.id, tokyo, "flash-tokyo", at=at, quiet_hours="drop")
    sent = await _queue(session, tenant.id, moscow, "digest-moscow", at=at)

    report = await dispatch_due_messages(SessionTransactions(session), at=at)

    assert (report.sent, report.deferred, report.skipped) == (1, 1, {"quiet_hours_dropped": 1})
    ledger = await _ledger(session, tenant.id)
    assert ledger[sent].status == "sent"
    assert (ledger[dropped].status, ledger[dropped].reason) == ("skipped", "quiet_hours_dropped")
    tokyo_morning = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert (ledger[deferred].status, ledger[deferred].not_before) == ("queued", tokyo_morning)
    early = await dispatch_due_messages(
        SessionTransactions(session), at=tokyo_morning - timedelta(minutes=1)
    )
    morning = await dispatch_due_messages(SessionTransactions(session), at=tokyo_morning)
    assert (early.claimed, morning.sent) == (0, 1)
    smtp_sink.wait_for(2)
    assert sorted(smtp_sink.recipients()) == ["olga@mail.example", "yuki@mail.example"]


async def test_transactional_mail_ignores_caps_and_quiet_hours(session, tenant, smtp_sink) -> None:
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, key="order", transactional=True, at=T0)
    await set_policy(
        session, tenant_id=tenant.id, per_day=0, quiet_start=time(0), quiet_end=time(23, 59), at=T0
    )
    anna = await make_subscriber(session, tenant_id=tenant.id, external_id="anna", at=T0)
    for n in range(3):
        await _queue(session, tenant.id, anna, f"o{n}", template_key="order", transactional=True)
    report = await dispatch_due_messages(SessionTransactions(session), at=T0)
    assert report.sent == 3


async def test_holdout_customers_get_nothing_and_are_recorded(session, tenant, smtp_sink) -> None:
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, at=T0)
    customers = [
        await make_subscriber(session, tenant_id=tenant.id, external_id=f"c{n}", at=T0)
        for n in range(40)
    ]
    for customer in customers:
        await _queue(session, tenant.id, customer, f"j-{customer}", holdout_bp=2_500, journey_id=7)

    report = await dispatch_due_messages(SessionTransactions(session), at=T0)

    held = {c for c in customers if holdout_group(c, "journey:7", 2_500)}
    assert 0 < len(held) < len(customers)
    assert report.skipped == {"holdout": len(held)} and report.sent == len(customers) - len(held)
    ledger = await _ledger(session, tenant.id)
    for row in ledger.values():
        expected = ("skipped", "holdout") if row.customer_id in held else ("sent", "treated")
        assert (row.status, row.control_group) == expected
        assert row.decided_at == T0
    smtp_sink.wait_for(report.sent)
    held_addresses = {f"c{customers.index(c)}@mail.example" for c in held}
    assert held_addresses.isdisjoint(smtp_sink.recipients())


async def test_global_holdout_applies_to_every_marketing_message(
    session, tenant, smtp_sink
) -> None:
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, at=T0)
    await set_policy(session, tenant_id=tenant.id, holdout_bp=10_000, at=T0)
    anna = await make_subscriber(session, tenant_id=tenant.id, external_id="anna", at=T0)
    await _queue(session, tenant.id, anna, "a")
    report = await dispatch_due_messages(SessionTransactions(session), at=T0)
    assert report.skipped == {"holdout": 1} and smtp_sink.messages == []


async def test_when_caps_leave_room_for_one_the_higher_priority_wins(
    session, tenant, smtp_sink
) -> None:
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, key="cart", at=T0)
    await set_policy(session, tenant_id=tenant.id, per_day=1, at=T0)
    anna = await make_subscriber(session, tenant_id=tenant.id, external_id="anna", at=T0)
    digest = await _queue(session, tenant.id, anna, "digest", priority=1)
    cart = await _queue(session, tenant.id, anna, "cart", template_key="cart", priority=5)

    await dispatch_due_messages(SessionTransactions(session), at=T0)

    ledger = await _ledger(session, tenant.id)
    assert ledger[cart].status == "sent"
    assert (ledger[digest].status, ledger[digest].reason) == ("skipped", "capped")


async def test_refused_address_fails_and_a_deferral_is_retried_later(
    session, tenant, smtp_sink
) -> None:
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    await make_email_template(session, tenant_id=tenant.id, at=T0)
    gone = await make_subscriber(session, tenant_id=tenant.id, external_id="gone", at=T0)
    busy = await make_subscriber(session, tenant_id=tenant.id, external_id="busy", at=T0)
    smtp_sink.refuse.add("gone@mail.example")
    smtp_sink.defer.add("busy@mail.example")
    refused = await _queue(session, tenant.id, gone, "g")
    deferred = await _queue(session, tenant.id, busy, "b")

    report = await dispatch_due_messages(SessionTransactions(session), at=T0)

    assert (report.failed, report.retried) == (1, 1)
    ledger = await _ledger(session, tenant.id)
    assert ledger[refused].status == "failed" and "550" in (ledger[refused].error or "")
    retry = ledger[deferred]
    assert (retry.status, retry.attempts, retry.not_before) == (
        "queued",
        1,
        T0 + timedelta(seconds=60),
    )
    smtp_sink.defer.clear()
    later = await dispatch_due_messages(SessionTransactions(session), at=T0 + timedelta(minutes=1))
    assert later.sent == 1
    assert (await _ledger(session, tenant.id))[deferred].attempts == 2


async def test_a_missing_template_fails_the_message_naming_the_template(
    session, tenant, smtp_sink
) -> None:
    await send_email_to(smtp_sink, session, tenant_id=tenant.id, at=T0)
    anna = await make_subscriber(session, tenant_id=tenant.id, external_id="anna", at=T0)
    send_id = await _queue(session, tenant.id, anna, "x", template_key="nope")
    report = await dispatch_due_messages(SessionTransactions(session), at=T0)
    row = (await _ledger(session, tenant.id))[send_id]
    assert report.failed == 1 and (row.status, row.reason) == ("failed", "render_error")
    assert (row.error or "").startswith("template_key")
