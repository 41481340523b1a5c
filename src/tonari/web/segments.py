"""``/panel/segments``: the list, the editor with its live size, members and the CSV export.

The editor takes YAML (or JSON, which is YAML too). While the marketer types, ``panel.js``
posts the text to ``/panel/segments/preview``, which runs the same parse, count and sample
as ``POST /v1/segments/preview`` and answers the size, a sample, or the compiler's error
with the place that is wrong (``definition.all.1.days``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Path, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from tonari.kit.api import SessionDep
from tonari.kit.clock import utcnow
from tonari.kit.csv_stream import csv_pages
from tonari.kit.errors import TonariError, ValidationFailed
from tonari.segments.membership import parse_definition
from tonari.segments.service import (
    EXPORT_COLUMNS,
    archive_segment,
    create_segment,
    export_rows,
    get_segment,
    list_segments,
    members_page,
    preview_size,
    sample_members,
    segment_size,
    sizes_of,
    update_segment,
)
from tonari.tenants.service import audit
from tonari.web.auth import (
    PanelSessionDep,
    PanelUser,
    PanelUserDep,
    check_csrf_header,
    checked_form,
)
from tonari.web.rendering import render

router = APIRouter(prefix="/segments")
SegmentKey = Annotated[str, Path(min_length=1, max_length=80)]
READ = "customers:read"
MANAGE = "programme:write"
SAMPLE = 10
MAX_DEFINITION_CHARS = 100_000
EXAMPLE = """all:
  - field: city
    values: [Moscow]
  - field: orders_count
    days: 365
    min: 1
"""


def definition_from_text(text: str) -> dict[str, Any]:
    """The definition in the editor's YAML/JSON; a syntax error names its line and column."""
    if len(text) > MAX_DEFINITION_CHARS:
        raise ValidationFailed("the definition is too long", field="definition")
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML or JSON"
        place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ValidationFailed(
            f"definition: {place}{problem}", field="definition", code="invalid_yaml"
        ) from None
    if not isinstance(loaded, dict):
        raise ValidationFailed(
            "definition: write a condition or a group, e.g. `field: city` and "
            "`values: [Moscow]` on two lines, or `all:` with a list of conditions",
            field="definition",
            code="invalid_segment",
        )
    return loaded


def definition_text(definition: dict[str, Any]) -> str:
    return str(
        yaml.safe_dump(definition, sort_keys=False, allow_unicode=True, default_flow_style=None)
    )


def _error_view(error: TonariError) -> dict[str, Any]:
    errors = error.details.get("errors") if error.details else None
    return {
        "code": error.code,
        "message": error.message,
        "field": error.field,
        "errors": errors or [{"field": error.field, "message": error.message}],
    }


@router.get("", response_class=HTMLResponse, summary="Segments")
async def segments(request: Request, session: PanelSessionDep, user: PanelUserDep) -> HTMLResponse:
    user.principal.require(READ)
    rows = await list_segments(session, tenant_id=user.tenant_id)
    sizes = await sizes_of(session, segments=rows)
    return render(
        request,
        "segments.html",
        user=user,
        active="segments",
        title="Segments",
        segments=[(segment, sizes.get(segment.id, 0)) for segment in rows],
    )


def _editor(
    request: Request,
    user: PanelUser,
    *,
    key: str,
    name: str,
    text: str,
    existing: bool,
    error: dict[str, Any] | None = None,
    size: int | None = None,
    members: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "segment_edit.html",
        user=user,
        active="segments",
        title=f"Segment {name or key}" if existing else "New segment",
        key=key,
        name=name,
        definition=text,
        existing=existing,
        error=error,
        size=size,
        members=members or [],
        status_code=status_code,
    )


@router.get("/new", response_class=HTMLResponse, summary="The editor for a new segment")
async def new_segment(request: Request, user: PanelUserDep) -> HTMLResponse:
    user.principal.require(MANAGE)
    return _editor(request, user, key="", name="", text=EXAMPLE, existing=False)


@router.post("/new", summary="Create a segment")
async def create(request: Request, session: PanelSessionDep, user: PanelUserDep) -> Response:
    user.principal.require(MANAGE)
    form = await checked_form(request, user)
    key, name = form.get("key", "").strip(), form.get("name", "").strip()
    text = form.get("definition", "")
    try:
        if not key:
            raise ValidationFailed("key: give the segment a key, e.g. vip-moscow", field="key")
        definition = definition_from_text(text)
        async with session.begin_nested():
            segment = await create_segment(
                session,
                tenant_id=user.tenant_id,
                key=key,
                name=name or key,
                definition=definition,
                at=utcnow(),
            )
            await audit(
                session,
                user.principal,
                action="segment.create",
                subject=segment.key,
                details={"key": key, "name": name or key, "definition": definition, "via": "panel"},
            )
    except TonariError as error:
        return _editor(
            request,
            user,
            key=key,
            name=name,
            text=text,
            existing=False,
            error=_error_view(error),
            status_code=error.status_code,
        )
    return RedirectResponse(f"/panel/segments/{segment.key}?notice=saved", status_code=303)


@router.post("/preview", summary="Live size and sample of the editor's definition (JSON)")
async def preview(request: Request, session: PanelSessionDep, user: PanelUserDep) -> JSONResponse:
    user.principal.require(READ)
    check_csrf_header(request, user)
    started = time.perf_counter()
    try:
        body = await request.json()
        text = body.get("definition", "") if isinstance(body, dict) else ""
        node = parse_definition(definition_from_text(str(text)))
        at = utcnow()
        size = await preview_size(session, tenant_id=user.tenant_id, definition=node, at=at)
        sample = await sample_members(
            session, tenant_id=user.tenant_id, definition=node, at=at, limit=SAMPLE
        )
    except TonariError as error:
        return JSONResponse(status_code=error.status_code, content={"error": _error_view(error)})
    except ValueError:
        return JSONResponse(
            status_code=400,
            content={"error": {"message": 'send JSON: {"definition": "..."}', "errors": []}},
        )
    return JSONResponse(
        {
            "size": size,
            "sample": [
                {k: row[k] for k in ("external_id", "email", "first_name", "city", "tier")}
                for row in sample
            ],
            "milliseconds": round((time.perf_counter() - started) * 1000, 2),
        }
    )


@router.get("/{segment_key}", response_class=HTMLResponse, summary="One segment")
async def segment(
    segment_key: SegmentKey, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> HTMLResponse:
    user.principal.require(READ)
    found = await get_segment(session, tenant_id=user.tenant_id, key=segment_key)
    members, _ = await members_page(session, segment=found, after=None, limit=SAMPLE)
    return _editor(
        request,
        user,
        key=found.key,
        name=found.name,
        text=definition_text(found.definition),
        existing=True,
        size=await segment_size(session, segment=found),
        members=members,
    )


@router.post("/{segment_key}", summary="Rename or redefine a segment")
async def update(
    segment_key: SegmentKey, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> Response:
    user.principal.require(MANAGE)
    form = await checked_form(request, user)
    found = await get_segment(session, tenant_id=user.tenant_id, key=segment_key)
    name, text = form.get("name", "").strip() or found.name, form.get("definition", "")
    try:
        definition = definition_from_text(text)
        async with session.begin_nested():
            await update_segment(
                session,
                tenant_id=user.tenant_id,
                key=segment_key,
                name=name,
                definition=definition,
                at=utcnow(),
            )
            await audit(
                session,
                user.principal,
                action="segment.update",
                subject=segment_key,
                details={"name": name, "definition": definition, "via": "panel"},
            )
    except TonariError as error:
        # The savepoint's rollback expired the loaded row: read it again.
        found = await get_segment(session, tenant_id=user.tenant_id, key=segment_key)
        members, _ = await members_page(session, segment=found, after=None, limit=SAMPLE)
        return _editor(
            request,
            user,
            key=segment_key,
            name=name,
            text=text,
            existing=True,
            error=_error_view(error),
            size=await segment_size(session, segment=found),
            members=members,
            status_code=error.status_code,
        )
    return RedirectResponse(f"/panel/segments/{segment_key}?notice=saved", status_code=303)


@router.post("/{segment_key}/archive", summary="Archive a segment")
async def archive(
    segment_key: SegmentKey, request: Request, session: PanelSessionDep, user: PanelUserDep
) -> Response:
    user.principal.require(MANAGE)
    await checked_form(request, user)
    await archive_segment(session, tenant_id=user.tenant_id, key=segment_key, at=utcnow())
    await audit(session, user.principal, action="segment.archive", subject=segment_key, details={})
    return RedirectResponse("/panel/segments?notice=archived", status_code=303)


@router.get("/{segment_key}/export.csv", summary="The members as CSV")
async def export(
    segment_key: SegmentKey, session: SessionDep, user: PanelUserDep
) -> StreamingResponse:
    user.principal.require(READ)
    found = await get_segment(session, tenant_id=user.tenant_id, key=segment_key)
    return StreamingResponse(
        csv_pages(EXPORT_COLUMNS, export_rows(session, segment=found)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{found.key}.csv"'},
    )
