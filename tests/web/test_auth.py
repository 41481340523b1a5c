"""Signing in and out, the session cookie, re-authentication on every page, CSRF."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_tenant
from tests.web.support import CSRF, Panel, sign_in
from tonari.tenants.service import revoke_api_key
from tonari.web import panel_routes
from tonari.web.auth import SESSION_COOKIE


async def test_pages_redirect_to_sign_in_when_signed_out(client) -> None:
    for method, path in panel_routes():
        if path.startswith("/panel/sign-in") or path == "/panel":
            continue
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        response = await client.request(method, concrete)
        assert response.status_code == 303, (method, path, response.status_code)
        location = response.headers["location"]
        assert location.startswith("/panel/sign-in?reason=signed_out"), location
    follow = await client.get("/panel/segments?x=1", follow_redirects=True)
    assert follow.status_code == 200 and "Sign in to the Tonari panel" in follow.text
    assert 'name="next" value="/panel/segments?x=1"' in follow.text
    assert (await client.get("/panel")).headers["location"] == "/panel/"


async def test_sign_in_sets_a_signed_http_only_strict_cookie_without_the_key(
    client, tenant
) -> None:
    response = await sign_in(client, tenant.api_key)
    assert response.status_code == 303 and response.headers["location"] == "/panel/"
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and value.startswith(f"{SESSION_COOKIE}=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/panel" in cookie
    assert tenant.api_key not in cookie, "the secret never goes back to the browser"
    dashboard = await client.get("/panel/")
    assert dashboard.status_code == 200
    assert f"Brand {tenant.slug}" in dashboard.text
    assert dashboard.headers["content-security-policy"].startswith("default-src 'self'")
    assert dashboard.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("tnr_0000_unknown", "This API key is unknown or revoked: create one with"),
        ("hello", "That is not a Tonari API key: keys start with tnr_"),
        ("", "Paste an API key"),
    ],
)
async def test_a_wrong_key_says_how_to_get_one(client, key, says) -> None:
    response = await sign_in(client, key)
    assert response.status_code == 401
    assert says in response.text
    assert "tonari apikey create -t YOUR-TENANT" in response.text
    assert f"{SESSION_COOKIE}=" not in response.headers.get("set-cookie", "")
    assert (await client.get("/panel/")).status_code == 303


async def test_a_revoked_key_is_signed_out_at_the_next_page(client, session, tenant) -> None:
    panel = await Panel(client, tenant).open()
    assert (await panel.get("/panel/segments")).status_code == 200
    prefix = tenant.api_key.split("_")[1]
    await revoke_api_key(session, tenant_id=tenant.id, prefix=prefix)
    response = await panel.get("/panel/segments")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/panel/sign-in?reason=revoked")
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    page = await client.get(response.headers["location"])
    assert "has been revoked" in page.text
    # A fetch from the live editor gets JSON, not a redirect it cannot follow.
    preview = await panel.preview("field: city\nvalues: [x]")
    assert preview.status_code == 401


async def test_a_forged_or_tampered_cookie_is_no_session(client, tenant) -> None:
    await sign_in(client, tenant.api_key)
    good = client.cookies.get(SESSION_COOKIE)
    assert good
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, good[:-2] + ("AA" if not good.endswith("AA") else "BB"))
    response = await client.get("/panel/")
    assert response.status_code == 303
    assert "reason=expired" in response.headers["location"]


async def test_every_post_without_the_session_csrf_token_is_refused(
    client, session, tenant
) -> None:
    panel = await Panel(client, tenant).open()
    posts = [path for method, path in panel_routes() if method == "POST"]
    assert len(posts) >= 10
    for path in posts:
        concrete = re.sub(r"\{[^}]+\}", "x", path).replace("/x/x", "/x/start")
        if path == "/panel/segments/preview":
            wrong = await client.post(concrete, json={"definition": "{}"})
            assert wrong.status_code == 403, (path, wrong.text)
            continue
        for data in ({}, {"csrf_token": "not-the-token"}):
            response = await client.post(concrete, data=data)
            assert response.status_code == 403, (path, data, response.status_code)
            assert "CSRF token" in response.text or "token" in response.text
    # Still signed in, and nothing was created.
    assert (await panel.get("/panel/segments")).status_code == 200


async def test_a_token_from_another_session_is_refused(client, session, tenant) -> None:
    other = await make_tenant(session)
    first = await Panel(client, other).open()
    stolen = first.csrf
    second = await Panel(client, tenant).open()
    assert second.csrf != stolen
    response = await client.post(
        "/panel/segments/new",
        data={"csrf_token": stolen, "key": "x", "definition": "field: city\nvalues: [a]"},
    )
    assert response.status_code == 403


async def test_sign_in_needs_its_own_form_token(client, tenant) -> None:
    await client.get("/panel/sign-in")
    response = await client.post(
        "/panel/sign-in", data={"csrf_token": "forged", "api_key": tenant.api_key}
    )
    assert response.status_code == 403
    assert (await client.get("/panel/")).status_code == 303


async def test_sign_out_ends_the_session(client, tenant) -> None:
    panel = await Panel(client, tenant).open()
    response = await panel.post("/panel/sign-out")
    assert response.status_code == 303 and response.headers["location"].endswith("reason=bye")
    assert (await client.get("/panel/")).status_code == 303
    assert "You are signed out" in (await client.get("/panel/sign-in?reason=bye")).text


async def test_sign_in_returns_to_the_page_asked_for_and_never_elsewhere(client, tenant) -> None:
    page = await client.get("/panel/sign-in?next=/panel/customers")
    token = CSRF.search(page.text)
    assert token is not None
    response = await client.post(
        "/panel/sign-in",
        data={"csrf_token": token.group(1), "api_key": tenant.api_key, "next": "/panel/customers"},
    )
    assert response.headers["location"] == "/panel/customers"
    client.cookies.clear()
    page = await client.get("/panel/sign-in")
    token = CSRF.search(page.text)
    assert token is not None
    response = await client.post(
        "/panel/sign-in",
        data={"csrf_token": token.group(1), "api_key": tenant.api_key, "next": "//evil.example/"},
    )
    assert response.headers["location"] == "/panel/"


async def test_a_key_without_the_scope_sees_what_it_lacks(client, session) -> None:
    reader = await make_tenant(session, scopes=["customers:read"])
    panel = await Panel(client, reader).open()
    response = await panel.get("/panel/campaigns")
    assert response.status_code == 403
    assert "lacks the scope" in response.text and "tonari apikey create --scope" in response.text
    assert (await panel.get("/panel/customers")).status_code == 200
