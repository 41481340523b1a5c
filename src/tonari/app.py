"""create_app(): routers, error handlers, the server-side timing header, lifespan."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tonari import __version__
from tonari.db import Database
from tonari.kit.errors import TonariError


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _panel_page(request: Request) -> bool:
    """A request for a panel page, answered with an HTML error page instead of JSON."""
    from tonari.web.rendering import is_panel, wants_json

    return is_panel(request) and not wants_json(request)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TonariError)
    async def domain_error(request: Request, exc: TonariError) -> Response:
        if _panel_page(request):
            from tonari.web.rendering import error_page

            return error_page(
                request, status_code=exc.status_code, message=exc.message, field=exc.field
            )
        return JSONResponse(status_code=exc.status_code, content={"error": exc.to_dict()})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _field_path(err["loc"]), "message": err["msg"], "type": err["type"]}
            for err in exc.errors()
        ]
        first = errors[0]
        if _panel_page(request):
            from tonari.web.rendering import error_page

            in_path = exc.errors()[0]["loc"][:1] == ("path",)
            return error_page(
                request,
                status_code=404 if in_path else 422,  # a bad address is a page that is not there
                message=f"{first['field']}: {first['message']}",
                field=first["field"],
            )
        return JSONResponse(
            status_code=422,
            content={
                "error": {
                    "code": "invalid_request",
                    "message": f"{first['field']}: {first['message']}",
                    "field": first["field"],
                    "details": {"errors": errors},
                }
            },
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _panel_page(request):
            from tonari.web.rendering import error_page

            message = {
                404: "There is no such page in the panel: use the navigation above.",
                405: "This address does not take that kind of request.",
            }.get(exc.status_code, str(exc.detail))
            return error_page(request, status_code=exc.status_code, message=message)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": {"code": code, "message": str(exc.detail)}},
        )


class ServerTimingMiddleware:
    """Adds ``Server-Timing: app;dur=<ms>`` to every response (what the benchmarks read).

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs more than this whole
    header is worth on a 2 ms request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={elapsed_ms:.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_timing)


def create_app(
    *, database: Database | None = None, database_url: str | None = None, start_worker: bool = False
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = None
        if getattr(app.state, "database", None) is None:
            from tonari.config import get_settings
            from tonari.db import resolve_database_url

            settings = get_settings()
            owned = Database(
                database_url or resolve_database_url(settings),
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
            )
            app.state.database = owned
        # Everything loaded at start-up lives as long as the process: keep it out of the
        # garbage collector's generations, which shortens collection pauses on requests.
        gc.collect()
        gc.freeze()
        worker = None
        if start_worker:
            from tonari.worker import start_background_worker

            worker = await start_background_worker(app.state.database.url)
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            if owned is not None:
                await owned.dispose()

    app = FastAPI(
        title="Tonari API",
        version=__version__,
        description="Loyalty programme and customer data API. Authenticate with "
        "`Authorization: Bearer <API key>`. Money is in integer minor units, points are "
        "integers, rates are basis points.",
        lifespan=lifespan,
    )
    app.state.database = database
    install_error_handlers(app)

    app.add_middleware(ServerTimingMiddleware)

    from tonari.activities.api import router as activities_router
    from tonari.catalog.api import router as catalog_router
    from tonari.codes.api import router as codes_router
    from tonari.customers.api import router as customers_router
    from tonari.events.api import router as events_router
    from tonari.identity.api import router as identity_router
    from tonari.journeys.api import router as journeys_router
    from tonari.messaging.api_campaigns import router as campaigns_router
    from tonari.messaging.api_consents import router as consents_router
    from tonari.messaging.api_delivery import router as delivery_router
    from tonari.messaging.api_onsite import router as onsite_router
    from tonari.messaging.api_templates import router as message_templates_router
    from tonari.messaging.api_tracking import router as tracking_router
    from tonari.orders.api import router as orders_router
    from tonari.partners.api import router as partners_router
    from tonari.prices.api import router as prices_router
    from tonari.programs.api import router as programmes_router
    from tonari.segments.api import router as segments_router
    from tonari.simulator.api import router as simulator_router
    from tonari.webhooks.api import router as webhooks_router

    for router in (
        programmes_router,
        customers_router,
        orders_router,
        prices_router,
        catalog_router,
        webhooks_router,
        activities_router,
        partners_router,
        codes_router,
        simulator_router,
        events_router,
        identity_router,
        consents_router,
        message_templates_router,
        tracking_router,
        onsite_router,
        delivery_router,
        campaigns_router,
        segments_router,
        journeys_router,
    ):
        app.include_router(router)

    from tonari.web import install_panel

    install_panel(app)

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
