"""Factories: build tenants, programmes, customers and orders through the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.programs.service import apply_programme, load_programme_file
from tonari.tenants.service import SCOPES, create_api_key, create_tenant

PANASONIC = Path(__file__).resolve().parent.parent / "examples" / "programmes" / "panasonic.yaml"
EPOCH = datetime.fromisoformat("2020-01-01T00:00:00+00:00")


def panasonic_document(**overrides: Any) -> dict[str, Any]:
    document = load_programme_file(PANASONIC)
    document.update(overrides)
    return document


@dataclass(frozen=True)
class TenantFixture:
    id: int
    slug: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def make_tenant(
    session: AsyncSession,
    *,
    programme: dict[str, Any] | None = None,
    scopes: list[str] | None = None,
) -> TenantFixture:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    tenant = await create_tenant(session, slug=slug, name=f"Brand {slug}")
    await apply_programme(
        session,
        tenant_id=tenant.id,
        document=programme or panasonic_document(),
        applied_by="tests",
        effective_from=EPOCH,
    )
    _, raw_key = await create_api_key(
        session, tenant_id=tenant.id, name="tests", scopes=scopes or sorted(SCOPES)
    )
    return TenantFixture(id=tenant.id, slug=slug, api_key=raw_key)
