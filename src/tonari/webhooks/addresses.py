"""Webhooks only go to the public internet (unless the operator allows private addresses).

A tenant registers the URL, but the worker sends the request from inside the operator's
network: without this check a tenant could make Tonari call its database, its metadata service
(169.254.169.254) or another tenant's internal hooks. The URL is checked when registered
(literal addresses, ``localhost``) and the host is resolved again before each delivery, so a
name that later points inside (DNS rebinding) is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from tonari.kit.errors import ValidationFailed

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def refusal_for_url(url: str) -> str | None:
    """Why the URL may not receive webhooks, judged without DNS; ``None`` if it may."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return "the URL has no host"
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return f"{host} is this machine"
    literal = _literal_address(host)
    if literal is not None and not is_public_address(literal):
        return f"{literal} is a private, loopback or reserved address"
    return None


def check_endpoint_url(url: str, *, allow_private: bool) -> None:
    if allow_private:
        return
    refusal = refusal_for_url(url)
    if refusal is not None:
        raise ValidationFailed(
            f"webhooks go to public addresses only: {refusal} (an operator can allow private "
            "addresses with TONARI_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true)",
            field="url",
            code="webhook_url_not_public",
        )


async def refusal_at_delivery(url: str, *, allow_private: bool) -> str | None:
    """Resolve the host now; refuse if any of its addresses is not public."""
    if allow_private:
        return None
    refusal = refusal_for_url(url)
    if refusal is not None:
        return refusal
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    private = sorted({str(info[4][0]) for info in found if not is_public_address(str(info[4][0]))})
    if private:
        return f"{host} resolves to {', '.join(private)}, which is not a public address"
    return None
