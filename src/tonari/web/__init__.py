"""The merchant panel: server-rendered pages under ``/panel`` over the same services as the API.

Pages are Jinja2 templates, charts inline SVG drawn in Python (:mod:`tonari.web.charts`),
and one small script (``static/panel.js``) for the live segment size. Nothing is fetched
from elsewhere: the CSS and the script are served from the package at ``/panel/static``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

PANEL_PREFIX = "/panel"


def _page_routers() -> list[APIRouter]:
    from tonari.web import campaigns, customers, dashboard, journeys, segments, signin

    return [m.router for m in (signin, dashboard, segments, journeys, campaigns, customers)]


def panel_router() -> APIRouter:
    router = APIRouter(prefix=PANEL_PREFIX, include_in_schema=False)
    for page_router in _page_routers():
        router.include_router(page_router)
    return router


def panel_routes() -> list[tuple[str, str]]:
    """Every panel page as ``(METHOD, path)``: what the isolation and CSRF tests walk."""
    from fastapi.routing import APIRoute

    found = [(PANEL_PREFIX, "GET")]
    for page_router in _page_routers():
        for route in page_router.routes:
            if isinstance(route, APIRoute):
                found.extend((PANEL_PREFIX + route.path, method) for method in route.methods or ())
    return sorted((method, path) for path, method in found)


def install_panel(app: FastAPI) -> None:
    """Mount the panel's pages, its static files and its redirect / CSRF handlers."""
    from tonari.web.auth import CsrfRejected, SignInRequired
    from tonari.web.rendering import STATIC, csrf_rejected, sign_in_required

    app.include_router(panel_router())
    app.mount(f"{PANEL_PREFIX}/static", StaticFiles(directory=STATIC), name="panel-static")
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(CsrfRejected, csrf_rejected)

    @app.get(PANEL_PREFIX, include_in_schema=False)
    async def panel_root() -> RedirectResponse:
        return RedirectResponse(f"{PANEL_PREFIX}/", status_code=307)
