"""Programme versions: apply a document, find the version in force at a moment."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.cache import database_key
from tonari.kit.clock import ensure_aware, utcnow
from tonari.kit.errors import NotFound, ValidationFailed
from tonari.models.programs import ProgrammeRecord
from tonari.programs.schemas import Programme

# Parsed documents by (database, row id): a row never changes once written, and ids come from
# a sequence, so a rolled-back apply can never leave a stale entry behind.
_parsed: dict[tuple[str, int], Programme] = {}


def parse_programme(document: dict[str, Any]) -> Programme:
    """Validate a programme document; errors name the field path, e.g. ``tiers.1.earn_rate_bp``."""
    try:
        # JSON mode: strict integers (no floats for money) while enums accept their names.
        return Programme.model_validate_json(json.dumps(document, default=str))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(part) for part in first["loc"]) or "document"
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        raise ValidationFailed(
            f"programme is invalid at {path}: {first['msg']}",
            field=path,
            code="invalid_programme",
            details={"errors": problems},
        ) from None


def load_programme_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(f"cannot read {path}: {exc.strerror}", field="file") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{path} is not valid YAML/JSON: {exc}", field="file") from None
    if not isinstance(document, dict):
        raise ValidationFailed(f"{path} must hold a mapping at the top level", field="file")
    return document


async def apply_programme(
    session: AsyncSession,
    *,
    tenant_id: int,
    document: dict[str, Any],
    applied_by: str,
    effective_from: datetime | None = None,
) -> ProgrammeRecord:
    programme = parse_programme(document)
    effective = ensure_aware(effective_from, "effective_from") if effective_from else utcnow()
    # A per-tenant advisory lock makes concurrent applies take consecutive versions.
    await session.execute(select(func.pg_advisory_xact_lock(7_001, tenant_id)))
    latest = await session.scalar(
        select(func.max(ProgrammeRecord.version)).where(ProgrammeRecord.tenant_id == tenant_id)
    )
    record = ProgrammeRecord(
        tenant_id=tenant_id,
        version=(latest or 0) + 1,
        document=programme.model_dump(mode="json"),
        effective_from=effective,
        applied_by=applied_by,
    )
    session.add(record)
    await session.flush()
    return record


# Built once: every priced cart asks for the programme in force.
_IN_FORCE = (
    select(ProgrammeRecord.id, ProgrammeRecord.version)
    .where(
        ProgrammeRecord.tenant_id == bindparam("tenant_id"),
        ProgrammeRecord.effective_from <= bindparam("at"),
    )
    .order_by(ProgrammeRecord.effective_from.desc(), ProgrammeRecord.version.desc())
    .limit(1)
)


async def programme_in_force(
    session: AsyncSession, *, tenant_id: int, at: datetime
) -> tuple[int, Programme]:
    row = (await session.execute(_IN_FORCE, {"tenant_id": tenant_id, "at": at})).first()
    if row is None:
        raise NotFound(
            "this tenant has no programme in force yet: apply one with "
            "'tonari program apply FILE' or POST /v1/programmes",
            code="no_programme",
        )
    version = int(row.version)
    key = (database_key(session), int(row.id))
    cached = _parsed.get(key)
    if cached is None:
        document = await session.scalar(
            select(ProgrammeRecord.document).where(ProgrammeRecord.id == row.id)
        )
        cached = Programme.model_validate_json(json.dumps(document))
        _parsed[key] = cached
    return version, cached


async def list_versions(session: AsyncSession, *, tenant_id: int) -> list[ProgrammeRecord]:
    rows = await session.scalars(
        select(ProgrammeRecord)
        .where(ProgrammeRecord.tenant_id == tenant_id)
        .order_by(ProgrammeRecord.version)
    )
    return list(rows)
