"""Signing in to the panel: an API key, a signed session cookie, CSRF tokens on every POST.

The marketer pastes an API key once. The panel checks it and keeps, in a signed, HttpOnly,
SameSite=Strict cookie, only the key's *hash* and a random CSRF token: the secret itself is
never stored in the browser, and a stolen cookie does not open the REST API. Every page
authenticates the hash again, so revoking the key (``tonari apikey revoke``) signs its panel
sessions out at their next click. Every POST carries the session's CSRF token (a hidden form
field, or the ``X-CSRF-Token`` header for the live preview) and is refused without it; the
sign-in form itself is protected by a token in a short-lived pre-session cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.config import get_settings
from tonari.kit.api import SessionDep
from tonari.kit.errors import Unauthorized
from tonari.models.tenants import Tenant
from tonari.tenants.service import Principal, authenticate_key_hash, hash_api_key

SESSION_COOKIE = "tonari_panel"
SIGN_IN_COOKIE = "tonari_panel_sign_in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SIGN_IN_SECONDS = 15 * 60
MAX_FORM_BYTES = 1_000_000
PREFIX = "/panel"


class SignInRequired(Exception):
    """No valid session: the handler redirects to the sign-in page (401 JSON for fetches)."""

    def __init__(self, *, next_path: str, reason: str = "signed_out") -> None:
        super().__init__(reason)
        self.next_path = next_path
        self.reason = reason


class CsrfRejected(Exception):
    """A POST without the session's CSRF token: refused with 403, nothing changed."""


@dataclass(frozen=True, slots=True)
class PanelUser:
    principal: Principal
    tenant_name: str
    tenant_slug: str
    csrf: str

    @property
    def tenant_id(self) -> int:
        return self.principal.tenant_id


def _serializer(salt: str) -> URLSafeTimedSerializer:
    settings = get_settings()
    return URLSafeTimedSerializer(settings.panel_secret or settings.messaging_secret, salt=salt)


def session_cookie_value(raw_key: str) -> tuple[str, str]:
    """The signed cookie for a checked key, and the new session's CSRF token."""
    csrf = secrets.token_urlsafe(24)
    value = _serializer("tonari.panel.session").dumps({"h": hash_api_key(raw_key), "c": csrf})
    return value, csrf


def read_session(request: Request) -> tuple[str, str] | None:
    """``(key hash, csrf token)`` of a valid, unexpired session cookie, else None."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    max_age = int(get_settings().panel_session_hours * 3600)
    try:
        data = _serializer("tonari.panel.session").loads(raw, max_age=max_age)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("h"), str):
        return None
    return str(data["h"]), str(data.get("c", ""))


def new_sign_in_token() -> tuple[str, str]:
    """A token for the sign-in form and its signed pre-session cookie."""
    token = secrets.token_urlsafe(24)
    return token, _serializer("tonari.panel.sign-in").dumps(token)


def sign_in_token_matches(request: Request, submitted: str) -> bool:
    raw = request.cookies.get(SIGN_IN_COOKIE)
    if not raw or not submitted:
        return False
    try:
        expected = _serializer("tonari.panel.sign-in").loads(raw, max_age=SIGN_IN_SECONDS)
    except BadSignature:
        return False
    return hmac.compare_digest(str(expected), submitted)


def cookie_options(request: Request) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": PREFIX,
    }


def safe_next(path: str | None) -> str:
    """Only a path inside the panel (no open redirect to another site)."""
    if path and path.startswith(PREFIX + "/") and not path.startswith("//") and "\\" not in path:
        return path
    return PREFIX + "/"


def sign_in_url(next_path: str, reason: str) -> str:
    return f"{PREFIX}/sign-in?reason={quote(reason)}&next={quote(safe_next(next_path))}"


async def _load_user(request: Request, session: AsyncSession) -> PanelUser:
    path = request.url.path
    if request.url.query and request.method == "GET":
        path = f"{path}?{request.url.query}"
    stored = read_session(request)
    if stored is None:
        reason = "expired" if request.cookies.get(SESSION_COOKIE) else "signed_out"
        raise SignInRequired(next_path=path, reason=reason)
    key_hash, csrf = stored
    try:
        principal = await authenticate_key_hash(session, key_hash)
    except Unauthorized:
        raise SignInRequired(next_path=path, reason="revoked") from None
    tenant = await session.get(Tenant, principal.tenant_id)
    assert tenant is not None, "an API key always belongs to a tenant"
    return PanelUser(
        principal=principal, tenant_name=tenant.name, tenant_slug=tenant.slug, csrf=csrf
    )


# The API's unit of work, ended before the response is sent: a redirect after a form never
# reaches the browser ahead of the commit it reports.
PanelSessionDep = SessionDep


async def panel_user(request: Request, session: PanelSessionDep) -> PanelUser:
    """The signed-in marketer, re-authenticated on every request."""
    return await _load_user(request, session)


PanelUserDep = Annotated[PanelUser, Depends(panel_user)]


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the panel's forms), last value wins."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfRejected("form too large")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in parsed.items()}


async def checked_form(request: Request, user: PanelUser) -> dict[str, str]:
    """The form of a POST whose CSRF token is the session's, or :class:`CsrfRejected`."""
    form = await read_form(request)
    if not user.csrf or not hmac.compare_digest(form.get(CSRF_FIELD, ""), user.csrf):
        raise CsrfRejected("the form's CSRF token is missing or is not this session's")
    return form


def check_csrf_header(request: Request, user: PanelUser) -> None:
    if not user.csrf or not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), user.csrf):
        raise CsrfRejected("the request's X-CSRF-Token header is missing or wrong")
