"""Channel adapters against real receivers, and their per-tenant configuration API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from tests.messaging.smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401
from tonari.messaging.channels import (
    FileChannel,
    OutgoingMessage,
    PermanentFailure,
    SmtpChannel,
    TemporaryFailure,
    WebhookChannel,
    build_channel,
)
from tonari.messaging.channels.file import FileSettings
from tonari.messaging.channels.smtp import SmtpSettings
from tonari.messaging.channels.webhook import WebhookSettings
from tonari.models.delivery import MessagingChannel

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _message(
    n: int = 1, *, to: str = "anna@mail.example", channel: str = "email"
) -> OutgoingMessage:
    return OutgoingMessage(
        send_id=n,
        tenant_id=7,
        customer_id=42,
        channel=channel,
        to=to,
        subject="Your points",
        text=f"You have 1500 points ({n})",
        html=f"<p>You have <b>1500</b> points ({n})</p>",
        headers={"List-Unsubscribe": "<https://club.example/u/x>"},
    )


async def test_smtp_channel_sends_many_messages_over_one_connection(smtp_sink: SmtpSink) -> None:
    channel = SmtpChannel(SmtpSettings(**smtp_sink.settings), sender="club@panasonic.example")
    async with channel:
        first = await channel.send(_message(1))
        connection = channel._client
        await channel.send(_message(2))
        assert channel._client is connection, "the connection is reused within a lane"
    smtp_sink.wait_for(2)
    assert first.provider_message_id == "<tonari.7.1@panasonic.example>"
    message = smtp_sink.messages[0]
    assert message["List-Unsubscribe"] == "<https://club.example/u/x>"
    assert message.get_body(("html",)).get_content().startswith("<p>You have <b>1500</b>")
    assert message.get_body(("plain",)).get_content().strip() == "You have 1500 points (1)"


async def test_smtp_refusals_are_permanent_deferrals_temporary(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse.add("gone@mail.example")
    smtp_sink.defer.add("busy@mail.example")
    channel = SmtpChannel(SmtpSettings(**smtp_sink.settings), sender="club@panasonic.example")
    async with channel:
        with pytest.raises(PermanentFailure, match="550"):
            await channel.send(_message(to="gone@mail.example"))
        with pytest.raises(TemporaryFailure, match="451"):
            await channel.send(_message(to="busy@mail.example"))
    down = SmtpChannel(SmtpSettings(host="127.0.0.1", port=1, timeout_seconds=2), sender="a@b.c")
    with pytest.raises(TemporaryFailure, match="cannot connect"):
        await down.send(_message())


async def test_file_channel_appends_one_json_line_per_message(tmp_path) -> None:
    path = tmp_path / "out" / "messages.jsonl"
    channel = build_channel("file", {"path": str(path)}, sender="club@panasonic.example")
    assert isinstance(channel, FileChannel)
    async with channel:
        await channel.send(_message(1, channel="sms", to="+79991234567"))
        await channel.send(_message(2, channel="sms", to="+79991234567"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["id"], line["to"], line["channel"]) for line in lines] == [
        (1, "+79991234567", "sms"),
        (2, "+79991234567", "sms"),
    ]
    assert FileSettings(path="x").path == "x"


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append((dict(self.headers.items()), body))
        self.send_response(type(self).status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "gw-123"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms", handler
    finally:
        server.shutdown()
        server.server_close()


async def test_webhook_channel_posts_signed_json_to_the_gateway(receiver) -> None:
    url, handler = receiver
    channel = WebhookChannel(WebhookSettings(url=url, secret=SECRET), sender="PANASONIC")
    async with channel:
        result = await channel.send(_message(5, channel="sms", to="+79991234567"))
    assert result.provider_message_id == "gw-123"
    [(headers, body)] = handler.received
    payload = Webhook(SECRET).verify(body, headers)  # raises when the signature is wrong
    assert payload["type"] == "message.sms" and payload["id"] == "msg_7_5"
    assert payload["data"]["to"] == "+79991234567" and payload["data"]["from"] == "PANASONIC"
    assert headers["webhook-id"] == "msg_7_5"


async def test_webhook_gateway_errors_map_to_retry_or_failure(receiver) -> None:
    url, handler = receiver
    channel = WebhookChannel(WebhookSettings(url=url, secret=SECRET))
    async with channel:
        handler.status = 503
        with pytest.raises(TemporaryFailure, match="503"):
            await channel.send(_message(channel="sms"))
        handler.status = 400
        with pytest.raises(PermanentFailure, match="400"):
            await channel.send(_message(channel="sms"))


async def test_channel_api_masks_secrets_and_keeps_them_on_update(client, session, tenant) -> None:
    h = tenant.headers
    body = {
        "adapter": "smtp",
        "settings": {"host": "smtp.example", "port": 587, "username": "club", "password": "s3cr3t"},
        "sender": "club@panasonic.example",
        "per_day": 2,
    }
    put = await client.put("/v1/messaging/channels/email", json=body, headers=h)
    assert put.status_code == 200, put.text
    assert put.json()["settings"]["password"] == "********"
    assert "s3cr3t" not in put.text
    got = await client.get("/v1/messaging/channels/email", headers=h)
    assert got.json()["settings"] == {**put.json()["settings"]} and "s3cr3t" not in got.text
    again = await client.put(
        "/v1/messaging/channels/email",
        json={**body, "settings": {**got.json()["settings"], "port": 2525}},
        headers=h,
    )
    assert again.status_code == 200 and again.json()["settings"]["port"] == 2525
    stored = await session.scalar(
        select(MessagingChannel.settings).where(MessagingChannel.tenant_id == tenant.id)
    )
    assert stored["password"] == "s3cr3t", "the mask sent back kept the stored password"


async def test_channel_api_rejects_bad_configuration_naming_the_place(client, tenant) -> None:
    h = tenant.headers
    cases = [
        ("email", {"adapter": "webhook", "settings": {}}, "adapter"),
        ("email", {"adapter": "smtp", "settings": {"port": 25}}, "settings.host"),
        ("email", {"adapter": "smtp", "settings": {"host": "x", "port": 0}}, "settings.port"),
        (
            "sms",
            {"adapter": "webhook", "settings": {"url": "ftp://x", "secret": SECRET}},
            "settings.url",
        ),
        ("fax", {"adapter": "file", "settings": {"path": "x"}}, "channel"),
    ]
    for channel, body, field in cases:
        response = await client.put(f"/v1/messaging/channels/{channel}", json=body, headers=h)
        assert response.status_code == 422, (channel, body, response.text)
        assert response.json()["error"]["field"] == field, response.text
    missing = await client.get("/v1/messaging/channels/sms", headers=h)
    assert missing.status_code == 404


async def test_policy_api_sets_caps_quiet_hours_and_holdout(client, tenant) -> None:
    h = tenant.headers
    assert (await client.get("/v1/messaging/policy", headers=h)).json()["per_day"] is None
    body = {
        "per_day": 2,
        "per_week": 5,
        "quiet_start": "21:00",
        "quiet_end": "09:00",
        "holdout_bp": 500,
    }
    put = await client.put("/v1/messaging/policy", json=body, headers=h)
    assert put.status_code == 200, put.text
    assert put.json() == {**body, "quiet_start": "21:00:00", "quiet_end": "09:00:00"}
    half = await client.put("/v1/messaging/policy", json={"quiet_start": "21:00"}, headers=h)
    assert half.status_code == 422 and half.json()["error"]["field"] == "quiet_end"
    assert (await client.get("/v1/messaging/policy", headers=h)).json()["holdout_bp"] == 500
