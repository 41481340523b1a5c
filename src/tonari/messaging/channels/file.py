"""Development / log channel: every message appended to a JSON-lines file, nothing sent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from tonari.messaging.channels.base import (
    Channel,
    ChannelSettings,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
)


class FileSettings(ChannelSettings):
    path: str = Field(min_length=1, max_length=1000, description="The JSON-lines file to append")


class FileChannel(Channel):
    adapter: ClassVar[str] = "file"
    channels: ClassVar[tuple[str, ...]] = ("email", "sms", "push", "web_push")
    Settings: ClassVar[type[ChannelSettings]] = FileSettings
    settings: FileSettings

    async def send(self, message: OutgoingMessage) -> SendResult:
        line = json.dumps(
            {
                "id": message.send_id,
                "tenant_id": message.tenant_id,
                "customer_id": message.customer_id,
                "channel": message.channel,
                "to": message.to,
                "from": message.sender or self.sender,
                "subject": message.subject,
                "text": message.text,
                "html": message.html,
                "topic": message.topic,
                "transactional": message.transactional,
                "headers": message.headers,
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        try:
            await asyncio.to_thread(self._append, line)
        except OSError as error:
            raise PermanentFailure(f"cannot write {self.settings.path}: {error}") from error
        return SendResult(provider_message_id=f"file:{message.send_id}")

    def _append(self, line: str) -> None:
        path = Path(self.settings.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
