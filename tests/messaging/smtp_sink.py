"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives.

Use it from any test module::

    from tests.messaging.smtp_sink import smtp_sink_fixture  # noqa: F401  (the fixture)

    async def test_x(smtp_sink): ...
        smtp_sink.settings  # -> channel settings for configure_channel(adapter="smtp")
        smtp_sink.messages  # -> parsed email.message.Message objects, headers included

Addresses in ``refuse`` get a permanent ``550`` at RCPT, those in ``defer`` a ``451``.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from collections.abc import Iterator
from email.message import Message
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Collector:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.sink.refuse:
            return "550 5.1.1 no such mailbox"
        if address in self.sink.defer:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # a slow provider: crash tests kill mid-way
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        parsed = email.message_from_bytes(raw, policy=default_policy)
        with self.sink.lock:
            self.sink.messages.append(parsed)
            self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.sink.received_at.append(time.monotonic())
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str | None, list[str]]] = []
        self.received_at: list[float] = []  # time.monotonic() of each message's arrival
        self.refuse: set[str] = set()
        self.defer: set[str] = set()
        self.delay = 0.0
        self.lock = threading.Lock()
        self._controller = Controller(_Collector(self), hostname=self.host, port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def settings(self) -> dict[str, Any]:
        """Settings for ``configure_channel(channel="email", adapter="smtp", ...)``."""
        return {"host": self.host, "port": self.port, "start_tls": False, "timeout_seconds": 10}

    def recipients(self) -> list[str]:
        with self.lock:
            return [str(message["To"]) for message in self.messages]

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [message for message in self.messages if message["To"] == address]

    def wait_for(self, count: int, *, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


# Import either name: ``smtp_sink_fixture`` keeps ruff from seeing the test argument
# ``smtp_sink`` as a redefinition of the import.
smtp_sink = smtp_sink_fixture


# --- setting a tenant up to send to the sink ------------------------------------------------


async def send_email_to(sink: SmtpSink, session: Any, *, tenant_id: int, at: Any) -> None:
    """Configure the tenant's email channel to deliver to ``sink``."""
    from tonari.messaging.delivery import configure_channel

    await configure_channel(
        session,
        tenant_id=tenant_id,
        channel="email",
        adapter="smtp",
        settings=sink.settings,
        sender="Panasonic Club <club@panasonic.example>",
        at=at,
    )


async def make_subscriber(
    session: Any,
    *,
    tenant_id: int,
    external_id: str,
    at: Any,
    email_address: str | None = None,
    time_zone: str | None = None,
    consent: bool | None = True,
    channel: str = "email",
    first_name: str | None = "Anna",
    city: str | None = None,
) -> int:
    """A customer with an address and (unless ``consent`` is None) a marketing consent row."""
    from tonari.customers.schemas import CustomerUpsert
    from tonari.customers.service import upsert_customer
    from tonari.messaging.consents import set_consent
    from tonari.programs.service import programme_in_force

    _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    customer, _ = await upsert_customer(
        session,
        tenant_id=tenant_id,
        external_id=external_id,
        fields=CustomerUpsert(
            email=email_address or f"{external_id}@mail.example",
            phone="+79990000000",
            first_name=first_name,
            time_zone=time_zone,
            city=city,
        ),
        first_tier=programme.tiers[0].code,
        at=at,
    )
    if consent is not None:
        await set_consent(
            session,
            tenant_id=tenant_id,
            customer_id=customer.id,
            channel=channel,
            topic="marketing",
            granted=consent,
            source="tests",
            at=at,
        )
    return int(customer.id)


async def make_email_template(
    session: Any,
    *,
    tenant_id: int,
    key: str = "news",
    transactional: bool = False,
    at: Any,
    channel: str = "email",
    topic: str | None = None,
) -> None:
    from tonari.messaging.templates import create_template

    await create_template(
        session,
        tenant_id=tenant_id,
        key=key,
        channel=channel,
        topic=topic or ("orders" if transactional else "marketing"),
        transactional=transactional,
        subject="Hello {{ first_name }}" if channel in ("email", "web_push") else None,
        html="<p>Hi {{ first_name }}, you have {{ points.available }} points</p>"
        if channel == "email"
        else None,
        text="Hi {{ first_name }}, you have {{ points.available }} points",
        at=at,
    )
