"""The channel interface: one outgoing message in, a provider message id out.

Adding a real provider (an SMS gateway, a push service) is one class: subclass ``Channel``,
give it a Pydantic ``Settings`` model (its secret fields listed in ``secret_fields``), and add
it to ``tonari.messaging.channels.ADAPTERS``. ``send`` raises ``TemporaryFailure`` when trying
again later may work (a timeout, a 5xx, a 4xx SMTP reply) and ``PermanentFailure`` when it
never will (a rejected address, a 4xx HTTP reply); the dispatcher retries the first with
backoff and records the second as failed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message for one address; ``send_id`` is the ledger row (stable on retries)."""

    send_id: int
    tenant_id: int
    customer_id: int
    channel: str
    to: str
    text: str
    subject: str | None = None
    html: str | None = None
    sender: str | None = None
    topic: str = "marketing"
    transactional: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class ChannelError(Exception):
    """A send that did not happen; ``str(error)`` is what the ledger records."""


class TemporaryFailure(ChannelError):
    """Worth trying again later (the dispatcher backs off and retries)."""


class PermanentFailure(ChannelError):
    """Will never work as it is (the message is recorded as failed)."""


class ChannelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Channel(ABC):
    """One adapter instance per dispatch run and lane: ``open`` once, ``send`` many, ``close``."""

    adapter: ClassVar[str]
    channels: ClassVar[tuple[str, ...]]  # which message channels this adapter can carry
    Settings: ClassVar[type[ChannelSettings]]
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, settings: Any, *, sender: str | None = None) -> None:
        self.settings = settings
        self.sender = sender

    async def open(self) -> None:
        """Connect (an SMTP session, an HTTP client); the default needs nothing."""
        return None

    async def close(self) -> None:
        """Release what ``open`` took; must not raise."""
        return None

    @abstractmethod
    async def send(self, message: OutgoingMessage) -> SendResult:
        """Hand one message to the provider; raise a ChannelError subclass when it refuses."""

    async def __aenter__(self) -> Channel:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
