"""Templates, formatting filters, security headers and the panel's error pages."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from tonari.web.auth import (
    SESSION_COOKIE,
    PanelUser,
    SignInRequired,
    cookie_options,
    sign_in_url,
)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

NAVIGATION = (
    ("dashboard", "Dashboard", "/panel/"),
    ("segments", "Segments", "/panel/segments"),
    ("journeys", "Journeys", "/panel/journeys"),
    ("campaigns", "Campaigns", "/panel/campaigns"),
    ("customers", "Customers", "/panel/customers"),
)
# What ?notice= may say after a form: only these texts, never the query's own words.
NOTICES = {
    "saved": "Saved.",
    "archived": "The segment is archived.",
    "enabled": "The journey is enabled.",
    "paused": "Paused.",
    "resumed": "Resumed.",
    "created": "Created as a draft: press Start to send it.",
    "start": "Started: messages go out at the campaign's rate.",
    "pause": "Paused: nothing more is sent until you resume.",
    "resume": "Resumed.",
    "cancel": "Cancelled: messages still queued will not be sent.",
}
# Inline SVG needs no 'unsafe-inline': charts use presentation attributes, not style="".
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def money(minor: Any, minor_units: int = 2, currency: str = "") -> str:
    """Integer minor units as major units for reading: ``123456`` → ``1,234.56 RUB``."""
    if minor is None:
        return "—"
    if minor_units == 0:
        text = f"{int(minor):,}"
    else:
        text = f"{int(minor) / 10**minor_units:,.{minor_units}f}"
    return f"{text} {currency}".strip()


def when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def percent(rate: Any) -> str:
    return "—" if rate is None else f"{float(rate) * 100:.1f}%"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, money=money, when=when, percent=percent)
    env.globals["navigation"] = NAVIGATION
    return env


ENVIRONMENT = _environment()


def svg(markup: str) -> Markup:
    """A chart from :mod:`tonari.web.charts` (escaped there, value by value)."""
    return Markup(markup)


def render(
    request: Request,
    template: str,
    *,
    user: PanelUser | None,
    active: str = "",
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = ENVIRONMENT.get_template(template).render(
        request=request,
        user=user,
        active=active,
        csrf=user.csrf if user else "",
        notice=NOTICES.get(request.query_params.get("notice", "")),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(
    request: Request, *, status_code: int, message: str, field: str | None = None
) -> HTMLResponse:
    titles = {
        400: "Bad request",
        401: "Not signed in",
        403: "Not allowed",
        404: "Not found",
        405: "Not allowed here",
        409: "Not possible now",
        422: "Something in the input is wrong",
    }
    return render(
        request,
        "error.html",
        user=None,
        status_code=status_code,
        title=titles.get(status_code, "Error"),
        message=message,
        field=field,
    )


def is_panel(request: Request) -> bool:
    return request.url.path == "/panel" or request.url.path.startswith("/panel/")


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if wants_json(request):
        response: Response = JSONResponse(
            status_code=401,
            content={"error": {"code": exc.reason, "message": "sign in to the panel again"}},
        )
    else:
        response = RedirectResponse(sign_in_url(exc.next_path, exc.reason), status_code=303)
    if exc.reason != "signed_out":
        response.delete_cookie(SESSION_COOKIE, **cookie_options(request))  # type: ignore[arg-type]
    return response


async def csrf_rejected(request: Request, exc: Exception) -> Response:
    message = (
        "This form has expired or did not come from this panel (its CSRF token does not match "
        "your session). Reload the page and submit it again."
    )
    if wants_json(request):
        return JSONResponse(
            status_code=403, content={"error": {"code": "csrf", "message": message}}
        )
    return error_page(request, status_code=403, message=message)
