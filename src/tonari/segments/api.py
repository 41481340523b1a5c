"""``/v1/segments``: define segments, preview them while editing, list and export members."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse

from tonari.kit.api import PrincipalDep, SessionDep, StreamSessionDep
from tonari.kit.clock import utcnow
from tonari.kit.csv_stream import csv_pages
from tonari.kit.errors import ValidationFailed
from tonari.models.segments import Segment
from tonari.segments.membership import parse_definition
from tonari.segments.schemas import (
    MemberOut,
    MembersPage,
    PreviewIn,
    PreviewOut,
    RebuildOut,
    SegmentCreate,
    SegmentOut,
    SegmentUpdate,
)
from tonari.segments.service import (
    EXPORT_COLUMNS,
    archive_segment,
    create_segment,
    export_rows,
    get_segment,
    list_segments,
    members_page,
    preview_size,
    rebuild_segment,
    sample_members,
    segment_size,
    sizes_of,
    update_segment,
)
from tonari.tenants.service import audit

router = APIRouter(prefix="/v1/segments", tags=["segments"])
SegmentKey = Annotated[str, Path(min_length=1, max_length=80, description="The segment's key")]
READ = "customers:read"
MANAGE = "programme:write"


def _view(segment: Segment, size: int) -> SegmentOut:
    return SegmentOut(
        key=segment.key,
        name=segment.name,
        definition=segment.definition,
        status=segment.status,
        size=size,
        rebuilt_at=segment.rebuilt_at,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )


@router.post("", status_code=201, response_model=SegmentOut, summary="Define a segment")
async def create(body: SegmentCreate, session: SessionDep, principal: PrincipalDep) -> SegmentOut:
    """The definition is validated (a wrong place is named in ``error.field``, e.g.
    ``definition.all.1.days``) and the segment filled at once, without entry events."""
    principal.require(MANAGE)
    segment = await create_segment(
        session,
        tenant_id=principal.tenant_id,
        key=body.key,
        name=body.name,
        definition=body.definition,
        at=utcnow(),
    )
    await audit(
        session, principal, action="segment.create", subject=segment.key, details=body.model_dump()
    )
    return _view(segment, await segment_size(session, segment=segment))


@router.get("", response_model=list[SegmentOut], summary="The tenant's segments with sizes")
async def list_all(session: SessionDep, principal: PrincipalDep) -> list[SegmentOut]:
    principal.require(READ)
    segments = await list_segments(session, tenant_id=principal.tenant_id)
    sizes = await sizes_of(session, segments=segments)
    return [_view(segment, sizes.get(segment.id, 0)) for segment in segments]


@router.post(
    "/preview",
    response_model=PreviewOut,
    summary="Size and a sample of a definition, for the live editor (nothing is stored)",
)
async def preview(body: PreviewIn, session: SessionDep, principal: PrincipalDep) -> PreviewOut:
    principal.require(READ)
    started = time.perf_counter()
    node = parse_definition(body.definition)
    at = utcnow()
    size = await preview_size(session, tenant_id=principal.tenant_id, definition=node, at=at)
    sample = await sample_members(
        session, tenant_id=principal.tenant_id, definition=node, at=at, limit=body.sample
    )
    return PreviewOut(
        size=size,
        sample=[MemberOut(**row) for row in sample],
        milliseconds=round((time.perf_counter() - started) * 1000, 2),
    )


@router.get("/{segment_key}", response_model=SegmentOut, summary="A segment and its size")
async def read(segment_key: SegmentKey, session: SessionDep, principal: PrincipalDep) -> SegmentOut:
    principal.require(READ)
    segment = await get_segment(session, tenant_id=principal.tenant_id, key=segment_key)
    return _view(segment, await segment_size(session, segment=segment))


@router.put(
    "/{segment_key}",
    response_model=SegmentOut,
    summary="Rename or redefine a segment (members moved in or out get entry/exit events)",
)
async def update(
    segment_key: SegmentKey, body: SegmentUpdate, session: SessionDep, principal: PrincipalDep
) -> SegmentOut:
    principal.require(MANAGE)
    segment = await update_segment(
        session,
        tenant_id=principal.tenant_id,
        key=segment_key,
        name=body.name,
        definition=body.definition,
        at=utcnow(),
    )
    await audit(
        session,
        principal,
        action="segment.update",
        subject=segment.key,
        details=body.model_dump(exclude_none=True),
    )
    return _view(segment, await segment_size(session, segment=segment))


@router.delete("/{segment_key}", status_code=204, summary="Archive a segment")
async def archive(
    segment_key: SegmentKey, session: SessionDep, principal: PrincipalDep
) -> Response:
    principal.require(MANAGE)
    await archive_segment(session, tenant_id=principal.tenant_id, key=segment_key, at=utcnow())
    await audit(session, principal, action="segment.archive", subject=segment_key, details={})
    return Response(status_code=204)


@router.get("/{segment_key}/members", response_model=MembersPage, summary="Members, paged")
async def members(
    segment_key: SegmentKey,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    after: Annotated[str | None, Query(max_length=40, description="next_after of a page")] = None,
) -> MembersPage:
    principal.require(READ)
    cursor: int | None = None
    if after is not None:
        if not after.isdigit():
            raise ValidationFailed("after must be the next_after of an earlier page", field="after")
        cursor = int(after)
    segment = await get_segment(session, tenant_id=principal.tenant_id, key=segment_key)
    page, next_after = await members_page(session, segment=segment, after=cursor, limit=limit)
    return MembersPage(
        items=[MemberOut(**row) for row in page],
        next_after=None if next_after is None else str(next_after),
    )


@router.get(
    "/{segment_key}/export.csv",
    summary="The members as CSV, streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export(
    segment_key: SegmentKey, session: StreamSessionDep, principal: PrincipalDep
) -> Any:
    principal.require(READ)
    segment = await get_segment(session, tenant_id=principal.tenant_id, key=segment_key)
    return StreamingResponse(
        csv_pages(EXPORT_COLUMNS, export_rows(session, segment=segment)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{segment.key}.csv"'},
    )


@router.post(
    "/{segment_key}/rebuild",
    response_model=RebuildOut,
    summary="Recompute every member from scratch (recovery); emits entry/exit events",
)
async def rebuild(
    segment_key: SegmentKey, session: SessionDep, principal: PrincipalDep
) -> RebuildOut:
    principal.require(MANAGE)
    segment = await get_segment(session, tenant_id=principal.tenant_id, key=segment_key)
    result = await rebuild_segment(session, segment=segment, at=utcnow())
    await audit(
        session,
        principal,
        action="segment.rebuild",
        subject=segment.key,
        details={"entered": result.entered, "exited": result.exited},
    )
    return RebuildOut(
        key=result.key,
        size=result.size,
        entered=result.entered,
        exited=result.exited,
        milliseconds=round(result.seconds * 1000, 2),
    )
