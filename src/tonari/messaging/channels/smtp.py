"""Email over SMTP (aiosmtplib): one connection per dispatch lane, reused for every message.

Each message carries a ``Message-ID`` made from the ledger row (the same on every retry, so
receiving systems can tell a resend), the ``List-Unsubscribe`` / ``List-Unsubscribe-Post``
headers the dispatcher adds for marketing, and a text part plus an HTML alternative.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate
from functools import lru_cache
from typing import Any, ClassVar

import aiosmtplib
from pydantic import Field

from tonari.messaging.channels.base import (
    Channel,
    ChannelSettings,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)


class SmtpSettings(ChannelSettings):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=1000)
    use_tls: bool = Field(default=False, description="Implicit TLS (port 465)")
    start_tls: bool | None = Field(
        default=None, description="STARTTLS: None upgrades when the server offers it"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    message_id_domain: str | None = Field(
        default=None, max_length=255, description="Right side of Message-ID; the sender's domain"
    )


class _HeaderCachingPolicy(EmailPolicy):
    """``email.policy.default``, remembering parsed header values that repeat.

    Parsing a header (``From``, ``MIME-Version``, the parts' ``Content-Type`` …) is most of the
    cost of building a message, and most headers are the same in every message of a mailing.
    Parsed headers are immutable, so sharing one between messages changes nothing in what is
    sent; values seen once (``To``, ``Date``, ``Message-ID``) just age out of the cache.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if type(value) is str:
            return _parsed_header(name, value)
        return super().header_store_parse(name, value)


_POLICY = _HeaderCachingPolicy()
_PARSE = EmailPolicy.header_store_parse


@lru_cache(maxsize=1024)
def _parsed_header(name: str, value: str) -> tuple[str, Any]:
    return _PARSE(_POLICY, name, value)  # type: ignore[no-any-return]


def message_id_for(message: OutgoingMessage, domain: str) -> str:
    return f"<tonari.{message.tenant_id}.{message.send_id}@{domain}>"


def build_email(message: OutgoingMessage, *, sender: str, domain: str) -> EmailMessage:
    email = EmailMessage(policy=_POLICY)
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject or ""
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = message_id_for(message, domain)
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


class SmtpChannel(Channel):
    adapter: ClassVar[str] = "smtp"
    channels: ClassVar[tuple[str, ...]] = ("email",)
    Settings: ClassVar[type[ChannelSettings]] = SmtpSettings
    secret_fields: ClassVar[frozenset[str]] = frozenset({"password"})
    settings: SmtpSettings

    def __init__(self, settings: SmtpSettings, *, sender: str | None = None) -> None:
        super().__init__(settings, sender=sender)
        self._client: aiosmtplib.SMTP | None = None

    @property
    def domain(self) -> str:
        if self.settings.message_id_domain:
            return self.settings.message_id_domain
        sender = self.sender or ""
        return sender.rsplit("@", 1)[-1].strip("> ") if "@" in sender else "tonari.local"

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            use_tls=settings.use_tls,
            start_tls=settings.start_tls,
            timeout=settings.timeout_seconds,
            username=settings.username,
            password=settings.password,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TemporaryFailure(
                f"cannot connect to {settings.host}:{settings.port}: {error}"
            ) from error
        self._client = client
        return client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def send(self, message: OutgoingMessage) -> SendResult:
        sender = message.sender or self.sender
        if not sender:
            raise PermanentFailure("the email channel has no sender address configured")
        email = build_email(message, sender=sender, domain=self.domain)
        client = await self._connected()
        try:
            await client.send_message(email)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            if all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {reason}") from error
            raise TemporaryFailure(f"recipient deferred: {reason}") from error
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= 500:
                raise PermanentFailure(f"{error.code} {error.message}") from error
            raise TemporaryFailure(f"{error.code} {error.message}") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            # A dropped connection: reconnect on the next message.
            self._client = None
            client.close()
            raise TemporaryFailure(f"SMTP connection failed: {error}") from error
        return SendResult(provider_message_id=str(email["Message-ID"]))
