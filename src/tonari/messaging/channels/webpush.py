"""Web push (pywebpush, VAPID): the customer's push address is the browser's subscription JSON.

pywebpush is synchronous (requests), so each push runs in a thread. A 404 or 410 from the push
service means the subscription is gone: permanent. 429 and 5xx are retried.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from pydantic import Field
from pywebpush import WebPushException, webpush

from tonari.messaging.channels.base import (
    Channel,
    ChannelSettings,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)


class WebPushSettings(ChannelSettings):
    vapid_private_key: str = Field(min_length=20, max_length=4000)
    vapid_public_key: str | None = Field(default=None, max_length=4000)
    vapid_subject: str = Field(
        min_length=8, max_length=320, pattern=r"^(mailto:|https://)", description="VAPID 'sub'"
    )
    ttl_seconds: int = Field(default=86_400, ge=0, le=2_419_200)


class WebPushChannel(Channel):
    adapter: ClassVar[str] = "webpush"
    channels: ClassVar[tuple[str, ...]] = ("web_push",)
    Settings: ClassVar[type[ChannelSettings]] = WebPushSettings
    secret_fields: ClassVar[frozenset[str]] = frozenset({"vapid_private_key"})
    settings: WebPushSettings

    async def send(self, message: OutgoingMessage) -> SendResult:
        try:
            subscription: Any = json.loads(message.to)
        except ValueError as error:
            raise PermanentFailure("the web push subscription is not JSON") from error
        if not isinstance(subscription, dict) or "endpoint" not in subscription:
            raise PermanentFailure("the web push subscription has no endpoint")
        data = json.dumps(
            {"title": message.subject or "", "body": message.text, "id": message.send_id}
        )
        try:
            response = await asyncio.to_thread(
                webpush,
                subscription_info=subscription,
                data=data,
                vapid_private_key=self.settings.vapid_private_key,
                vapid_claims={"sub": self.settings.vapid_subject},
                ttl=self.settings.ttl_seconds,
            )
        except WebPushException as error:
            status = getattr(error.response, "status_code", None)
            if status in (404, 410) or (
                status is not None and 400 <= status < 500 and status != 429
            ):
                raise PermanentFailure(f"push service refused ({status}): {error}") from error
            raise TemporaryFailure(f"push service failed ({status}): {error}") from error
        except (OSError, ValueError) as error:
            raise TemporaryFailure(f"web push failed: {error}") from error
        location = getattr(response, "headers", {}).get("location") if response else None
        return SendResult(provider_message_id=str(location or f"webpush:{message.send_id}")[:200])
