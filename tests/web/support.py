"""Signing in to the panel from a test, and reading what its pages say."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import TenantFixture

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def csrf_of(html: str) -> str:
    found = META.search(html) or CSRF.search(html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, api_key: str) -> httpx.Response:
    page = await client.get("/panel/sign-in")
    assert page.status_code == 200, page.text
    token = CSRF.search(page.text)
    assert token is not None
    return await client.post(
        "/panel/sign-in",
        data={"csrf_token": token.group(1), "api_key": api_key, "next": "/panel/"},
    )


class Panel:
    """A signed-in marketer: GET pages, POST forms with the session's CSRF token."""

    def __init__(self, client: httpx.AsyncClient, tenant: TenantFixture) -> None:
        self.client = client
        self.tenant = tenant
        self.csrf = ""

    async def open(self) -> Panel:
        response = await sign_in(self.client, self.tenant.api_key)
        assert response.status_code == 303, response.text
        dashboard = await self.client.get("/panel/")
        assert dashboard.status_code == 200, dashboard.text
        self.csrf = csrf_of(dashboard.text)
        return self

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)

    async def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(path, data={"csrf_token": self.csrf, **(data or {})})

    async def preview(self, definition: str) -> httpx.Response:
        return await self.client.post(
            "/panel/segments/preview",
            json={"definition": definition},
            headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"},
        )


def data_values(svg_or_html: str, kind: str = "bar") -> list[float]:
    """The ``data-value`` of every bar (or point) in the order drawn."""
    pattern = re.compile(rf'<(?:rect|circle) class="{kind}"[^>]*?data-value="([^"]+)"')
    return [float(v) for v in pattern.findall(svg_or_html)]


def section(html: str, element_id: str) -> str:
    """The HTML from the element with this id to the end of its section."""
    start = html.index(f'id="{element_id}"')
    end = html.find("</section>", start)
    return html[start : end if end != -1 else len(html)]
