"""SMS and mobile push through an HTTP webhook: the brand's gateway receives signed JSON.

The request is signed like Tonari's own webhooks (Standard Webhooks: ``webhook-id``,
``webhook-timestamp``, ``webhook-signature`` over the body with the channel's ``whsec_``
secret), and ``webhook-id`` is the ledger row, the same on every retry, so the gateway can
drop a duplicate. A 2xx is sent (the JSON reply's ``id``, if any, becomes the provider message
id); 408, 429 and 5xx are retried; any other 4xx is permanent.
"""

from __future__ import annotations

import json
from typing import ClassVar

import httpx
from pydantic import Field
from standardwebhooks import Webhook

from tonari import __version__
from tonari.kit.clock import utcnow
from tonari.messaging.channels.base import (
    Channel,
    ChannelSettings,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)

RETRIED_STATUSES = frozenset({408, 425, 429})


class WebhookSettings(ChannelSettings):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    secret: str = Field(min_length=10, max_length=200, pattern=r"^whsec_")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


def webhook_payload(message: OutgoingMessage, sender: str | None) -> dict[str, object]:
    return {
        "type": f"message.{message.channel}",
        "id": f"msg_{message.tenant_id}_{message.send_id}",
        "timestamp": utcnow().isoformat(),
        "data": {
            "to": message.to,
            "from": message.sender or sender,
            "subject": message.subject,
            "text": message.text,
            "topic": message.topic,
            "transactional": message.transactional,
            "customer_id": message.customer_id,
        },
    }


class WebhookChannel(Channel):
    adapter: ClassVar[str] = "webhook"
    channels: ClassVar[tuple[str, ...]] = ("sms", "push")
    Settings: ClassVar[type[ChannelSettings]] = WebhookSettings
    secret_fields: ClassVar[frozenset[str]] = frozenset({"secret"})
    settings: WebhookSettings

    def __init__(self, settings: WebhookSettings, *, sender: str | None = None) -> None:
        super().__init__(settings, sender=sender)
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.settings.timeout_seconds,
            headers={"user-agent": f"Tonari-Messaging/{__version__}"},
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, message: OutgoingMessage) -> SendResult:
        if self._client is None:
            await self.open()
        assert self._client is not None
        payload = webhook_payload(message, self.sender)
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        at = utcnow()
        message_id = str(payload["id"])
        signature = Webhook(self.settings.secret).sign(msg_id=message_id, timestamp=at, data=body)
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
            "content-type": "application/json",
        }
        try:
            response = await self._client.post(self.settings.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from error
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(provider_message_id=_reply_id(response) or message_id)
        detail = f"HTTP {status}: {response.text[:500]}"
        if status >= 500 or status in RETRIED_STATUSES:
            raise TemporaryFailure(detail)
        raise PermanentFailure(detail)


def _reply_id(response: httpx.Response) -> str | None:
    try:
        reply = response.json()
    except ValueError:
        return None
    if isinstance(reply, dict) and reply.get("id") is not None:
        return str(reply["id"])[:200]
    return None
