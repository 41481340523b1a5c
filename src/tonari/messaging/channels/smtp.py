"""Email over SMTP (aiosmtplib): one connection per dispatch lane, reused for every message.

Each message carries a ``Message-ID`` made from the ledger row (the same on every retry, so
receiving systems can tell a resend), the ``List-Unsubscribe`` / ``List-Unsubscribe-Post``
headers the dispatcher adds for marketing, and a text part plus an HTML alternative.
"""

from __future__ import annotations

import io
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import ClassVar

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


# ASCII bodies go quoted-printable (readable in the raw message, as filters prefer); others
# base64, which is a third of quoted-printable's size for Cyrillic or Persian text.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
_UTF8 = Charset("utf-8")


def _set_header(email: Message, name: str, value: str) -> None:
    """ASCII stays as it is; anything else becomes RFC 2047 encoded words."""
    if value.isascii():
        email[name] = value
    else:
        # The stdlib takes a Header here (and folds it knowing the name); typeshed says str.
        email[name] = Header(value, _UTF8, header_name=name)  # type: ignore[assignment]


def _sender(value: str) -> str:
    name, address = parseaddr(value)
    if not address:
        return value
    return formataddr((name, address), charset=_UTF8) if name else address


def _part(subtype: str, body: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, charset=_UTF8_QP if body.isascii() else _UTF8)
    return part


# Lines up to RFC 5322's limit before folding: a long unbreakable value (a signed
# List-Unsubscribe URL) stays on its header's line instead of moving to a continuation.
_WIRE_POLICY = compat32.clone(linesep="\r\n", max_line_length=998)


def flatten_email(email: Message) -> bytes:
    """The message as it goes on the wire (CRLF line ends)."""
    with io.BytesIO() as buffer:
        BytesGenerator(buffer, policy=_WIRE_POLICY).flatten(email)
        return buffer.getvalue()


def message_id_for(message: OutgoingMessage, domain: str) -> str:
    return f"<tonari.{message.tenant_id}.{message.send_id}@{domain}>"


def build_email(message: OutgoingMessage, *, sender: str, domain: str) -> Message:
    """The MIME message: a text part, plus an HTML alternative when there is one.

    Built on the standard library's compat32 classes, which serialise a message several times
    faster than ``EmailMessage`` with its parsed header objects (a mailing's cost is mostly
    this); non-ASCII headers are encoded explicitly (RFC 2047) as that policy expects.
    """
    email: Message
    if message.html:
        email = MIMEMultipart("alternative")
        email.attach(_part("plain", message.text))
        email.attach(_part("html", message.html))
    else:
        email = _part("plain", message.text)
    email["From"] = _sender(sender)
    email["To"] = message.to
    _set_header(email, "Subject", message.subject or "")
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = message_id_for(message, domain)
    for name, value in message.headers.items():
        _set_header(email, name, value)
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
        envelope_sender = parseaddr(sender)[1] or sender
        client = await self._connected()
        try:
            if envelope_sender.isascii() and message.to.isascii():
                await client.sendmail(envelope_sender, [message.to], flatten_email(email))
            else:  # an internationalised address: aiosmtplib negotiates SMTPUTF8
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
