"""Sources, live records, profiles, the review queue, merges and resolution: thin handlers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from sqlalchemy import func, select

from tonari.customers.service import get_customer
from tonari.identity.decisions import decide_pair, list_pairs, merge_manually, undo_merge
from tonari.identity.importer import ImportSummary, RowIssue, import_rows
from tonari.identity.privacy import erase_person, export_person
from tonari.identity.profile_view import profile_view, search_profiles
from tonari.identity.quality import QualityReport, quality_report
from tonari.identity.reachability import mark_unreachable
from tonari.identity.readers import SourceRow
from tonari.identity.resolve import ResolveSummary, first_tier_in_force, resolve_identities
from tonari.identity.schemas import (
    ErasureOut,
    ManualMerge,
    PairDecision,
    PairOut,
    ProfileHit,
    ProfileOut,
    RecordBatch,
    RecordBatchResult,
    ResolveOut,
    RowIssueOut,
    SourceOut,
    UnreachableIn,
    UnreachableOut,
)
from tonari.identity.settings import (
    IdentitySettingsIn,
    IdentitySettingsOut,
    read_settings,
    write_settings,
)
from tonari.identity.sources import (
    SourceDefinition,
    get_source,
    list_sources,
    put_source,
    source_definition,
)
from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.clock import utcnow
from tonari.kit.errors import NotFound, ValidationFailed
from tonari.models.identity import CustomerSource, SourceRecord
from tonari.programs.schemas import Programme
from tonari.programs.service import programme_in_force
from tonari.tenants.service import audit

router = APIRouter(tags=["profiles"])
ExternalId = Annotated[str, Path(min_length=1, max_length=128)]
SourceName = Annotated[str, Path(min_length=1, max_length=64)]


async def _programme(session: SessionDep, tenant_id: int) -> Programme | None:
    try:
        return (await programme_in_force(session, tenant_id=tenant_id, at=utcnow()))[1]
    except NotFound:
        return None


def _source_out(source: CustomerSource, records: int = 0) -> SourceOut:
    definition = source_definition(source)
    return SourceOut(
        name=source.name,
        title=source.title,
        trust=source.trust,
        region=source.region,
        date_order=source.date_order,
        encoding=source.encoding,
        format=str(definition.format) if definition.format else None,
        record_ids_are_people=source.record_ids_are_people,
        columns=dict(source.columns),
        records=records,
    )


def _resolve_out(summary: ResolveSummary) -> ResolveOut:
    return ResolveOut.model_validate(summary, from_attributes=True)


@router.get("/v1/sources", response_model=list[SourceOut], summary="The brand's sources")
async def read_sources(session: SessionDep, principal: PrincipalDep) -> list[SourceOut]:
    principal.require("customers:read")
    counts = dict(
        (
            await session.execute(
                select(SourceRecord.source_id, func.count())
                .where(SourceRecord.tenant_id == principal.tenant_id)
                .group_by(SourceRecord.source_id)
            )
        ).all()
    )
    return [
        _source_out(source, counts.get(source.id, 0))
        for source in await list_sources(session, tenant_id=principal.tenant_id)
    ]


@router.put("/v1/sources/{name}", response_model=SourceOut, summary="Declare or update a source")
async def write_source(
    name: SourceName, body: SourceDefinition, session: SessionDep, principal: PrincipalDep
) -> SourceOut:
    principal.require("customers:write")
    if body.name != name:
        raise ValidationFailed("the body's name must match the URL's", field="name")
    source = await put_source(session, tenant_id=principal.tenant_id, definition=body)
    return _source_out(source)


@router.post(
    "/v1/sources/{name}/records",
    response_model=RecordBatchResult,
    summary="Send up to 1,000 records of a source (live sign-ups, changes)",
    description=(
        "Each record is cleaned and stored like a row of an imported file, under the "
        "source's column mapping; a record identical to the stored one changes nothing. "
        "Resolution picks the new and changed records up (the worker runs it every minute, "
        "or POST /v1/identity/resolve)."
    ),
)
async def post_records(
    name: SourceName, body: RecordBatch, session: SessionDep, principal: PrincipalDep
) -> RecordBatchResult:
    principal.require("customers:write")
    source = await get_source(session, tenant_id=principal.tenant_id, name=name)
    header = sorted({key for record in body.records for key in record})
    rows = [
        SourceRow(
            index + 1,
            {key: None if value is None else str(value) for key, value in record.items()},
        )
        for index, record in enumerate(body.records)
    ]
    issues: list[RowIssue] = []
    summary = await import_rows(
        session,
        tenant_id=principal.tenant_id,
        source=source,
        definition=source_definition(source),
        header=header,
        rows=rows,
        summary=ImportSummary(source.name, "api", None),
        today=utcnow().date(),
        on_issue=issues.append,
    )
    return RecordBatchResult(
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
        rejected=summary.rejected,
        issues=[RowIssueOut.model_validate(issue, from_attributes=True) for issue in issues],
    )


@router.post(
    "/v1/identity/resolve",
    response_model=ResolveOut,
    summary="Resolve identities now (incremental by default)",
)
async def run_resolution(
    session: SessionDep,
    principal: PrincipalDep,
    mode: Annotated[Literal["incremental", "batch"], Query()] = "incremental",
) -> ResolveOut:
    principal.require("customers:write")
    summary = await resolve_identities(
        session,
        tenant_id=principal.tenant_id,
        at=utcnow(),
        incremental=mode == "incremental",
        first_tier=await first_tier_in_force(session, principal.tenant_id),
    )
    return _resolve_out(summary)


@router.get(
    "/v1/identity/pairs",
    response_model=list[PairOut],
    summary="Candidate matches: the review queue, with why the model scored them",
)
async def read_pairs(
    session: SessionDep,
    principal: PrincipalDep,
    status: Annotated[Literal["review", "auto", "confirmed", "rejected"], Query()] = "review",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[int | None, Query(ge=0, description="The last pair_id of the page")] = None,
) -> list[PairOut]:
    principal.require("customers:read")
    return await list_pairs(
        session, tenant_id=principal.tenant_id, status=status, limit=limit, after=after
    )


@router.post(
    "/v1/identity/pairs/{pair_id}/decision",
    response_model=ResolveOut,
    summary="Confirm or reject a candidate match; the profiles follow at once",
)
async def decide(
    pair_id: Annotated[int, Path(ge=1)],
    body: PairDecision,
    session: SessionDep,
    principal: PrincipalDep,
) -> ResolveOut:
    principal.require("customers:write")
    summary = await decide_pair(
        session,
        tenant_id=principal.tenant_id,
        pair_id=pair_id,
        confirm=body.decision == "confirm",
        actor=principal.actor,
        at=utcnow(),
        first_tier=await first_tier_in_force(session, principal.tenant_id),
    )
    return _resolve_out(summary)


@router.post(
    "/v1/identity/merges",
    response_model=ResolveOut,
    status_code=201,
    summary="Merge profiles a person knows are one",
)
async def merge(body: ManualMerge, session: SessionDep, principal: PrincipalDep) -> ResolveOut:
    principal.require("customers:write")
    summary = await merge_manually(
        session,
        tenant_id=principal.tenant_id,
        external_ids=body.profiles,
        actor=principal.actor,
        at=utcnow(),
        first_tier=await first_tier_in_force(session, principal.tenant_id),
    )
    return _resolve_out(summary)


@router.post(
    "/v1/identity/merges/{merge_id}/undo",
    response_model=ResolveOut,
    summary="Undo a merge: the profile, its points, orders and events come back",
)
async def unmerge(
    merge_id: Annotated[int, Path(ge=1)], session: SessionDep, principal: PrincipalDep
) -> ResolveOut:
    principal.require("customers:write")
    summary = await undo_merge(
        session,
        tenant_id=principal.tenant_id,
        merge_id=merge_id,
        actor=principal.actor,
        at=utcnow(),
        first_tier=await first_tier_in_force(session, principal.tenant_id),
    )
    return _resolve_out(summary)


@router.get(
    "/v1/profiles",
    response_model=list[ProfileHit],
    summary="Find profiles by email, phone, card, any id or name",
)
async def find_profiles(
    session: SessionDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=2, max_length=320)],
) -> list[ProfileHit]:
    principal.require("customers:read")
    return await search_profiles(session, tenant_id=principal.tenant_id, query=q)


@router.get(
    "/v1/profiles/{external_id}",
    response_model=ProfileOut,
    summary="One profile: attributes with provenance, identifiers, records, balances, timeline",
)
async def read_profile(
    external_id: ExternalId, session: SessionDep, principal: PrincipalDep
) -> ProfileOut:
    principal.require("customers:read")
    return await profile_view(
        session,
        tenant_id=principal.tenant_id,
        external_id=external_id,
        programme=await _programme(session, principal.tenant_id),
        at=utcnow(),
    )


@router.get(
    "/v1/profiles/{external_id}/export",
    summary="Everything Tonari holds about one person (GDPR access), as JSON",
)
async def export_profile(
    external_id: ExternalId, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("customers:read")
    customer = await get_customer(session, tenant_id=principal.tenant_id, external_id=external_id)
    await audit(session, principal, action="profile.exported", subject=external_id, details={})
    return await export_person(session, tenant_id=principal.tenant_id, customer_id=customer.id)


@router.post(
    "/v1/profiles/{external_id}/erase",
    response_model=ErasureOut,
    summary="Erase one person (GDPR): personal data anonymised, ledger and totals kept",
)
async def erase_profile(
    external_id: ExternalId, session: SessionDep, principal: PrincipalDep
) -> ErasureOut:
    principal.require("customers:write")
    customer = await get_customer(session, tenant_id=principal.tenant_id, external_id=external_id)
    result = await erase_person(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer.id,
        at=utcnow(),
        actor=principal.actor,
    )
    # The audit names the profile by its number: the external id may itself be personal.
    await audit(
        session,
        principal,
        action="profile.erased",
        subject=f"profile {customer.id}",
        details={"records": result.records, "events": result.events},
    )
    return ErasureOut.model_validate(result, from_attributes=True)


@router.get(
    "/v1/reports/quality",
    response_model=QualityReport,
    summary="Data quality: records, people, duplicates per source pair, problems, completeness",
)
async def read_quality(session: SessionDep, principal: PrincipalDep) -> QualityReport:
    principal.require("customers:read")
    return await quality_report(session, tenant_id=principal.tenant_id)


@router.get(
    "/v1/identity/settings",
    response_model=IdentitySettingsOut,
    summary="Match thresholds, survivorship rules and the model's training date",
)
async def read_identity_settings(
    session: SessionDep, principal: PrincipalDep
) -> IdentitySettingsOut:
    principal.require("customers:read")
    return await read_settings(session, tenant_id=principal.tenant_id)


@router.put(
    "/v1/identity/settings",
    response_model=IdentitySettingsOut,
    summary="Change thresholds or survivorship rules (applied on the next resolution)",
)
async def write_identity_settings(
    body: IdentitySettingsIn, session: SessionDep, principal: PrincipalDep
) -> IdentitySettingsOut:
    principal.require("customers:write")
    return await write_settings(session, tenant_id=principal.tenant_id, body=body, at=utcnow())


@router.post(
    "/v1/identity/unreachable",
    response_model=UnreachableOut,
    summary="Mark an email or phone unreachable (bounce, complaint)",
)
async def unreachable(
    body: UnreachableIn, session: SessionDep, principal: PrincipalDep
) -> UnreachableOut:
    principal.require("customers:write")
    touched = await mark_unreachable(
        session,
        tenant_id=principal.tenant_id,
        email=body.email,
        phone=body.phone,
        reason=body.reason,
        at=utcnow(),
    )
    return UnreachableOut(profiles=touched)
