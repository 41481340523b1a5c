"""Delivery channels: the adapter registry (adapter name → class, no dotted-path loading)."""

from __future__ import annotations

from typing import Any

from tonari.messaging.channels.base import (
    Channel,
    ChannelError,
    ChannelSettings,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from tonari.messaging.channels.file import FileChannel
from tonari.messaging.channels.smtp import SmtpChannel
from tonari.messaging.channels.webhook import WebhookChannel
from tonari.messaging.channels.webpush import WebPushChannel

ADAPTERS: dict[str, type[Channel]] = {
    klass.adapter: klass for klass in (SmtpChannel, WebhookChannel, FileChannel, WebPushChannel)
}


def build_channel(adapter: str, settings: dict[str, Any], *, sender: str | None) -> Channel:
    """An adapter instance from stored (already validated) settings."""
    klass = ADAPTERS[adapter]
    return klass(klass.Settings.model_validate(settings), sender=sender)


__all__ = [
    "ADAPTERS",
    "Channel",
    "ChannelError",
    "ChannelSettings",
    "FileChannel",
    "OutgoingMessage",
    "PermanentFailure",
    "SendResult",
    "SmtpChannel",
    "TemporaryFailure",
    "WebPushChannel",
    "WebhookChannel",
    "build_channel",
]
