"""A brand's identity settings: match thresholds and survivorship rules per attribute."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.golden import DEFAULT_RULES, GOLDEN_FIELDS, Rule
from tonari.models.identity import IdentitySettings


class IdentitySettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_merge_probability: float | None = Field(
        default=None, gt=0, lt=1, description="Pairs at or above it merge on their own"
    )
    review_probability: float | None = Field(
        default=None, gt=0, lt=1, description="Pairs between this and auto-merge wait for review"
    )
    survivorship: dict[str, Rule] = Field(
        default_factory=dict,
        description="Per attribute: trusted_source, most_recent, verified, most_common, non_empty",
    )

    @field_validator("survivorship")
    @classmethod
    def _known_fields(cls, value: dict[str, Rule]) -> dict[str, Rule]:
        unknown = sorted(set(value) - set(GOLDEN_FIELDS))
        if unknown:
            raise ValueError(f"unknown attribute(s) {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> IdentitySettingsIn:
        auto, review = self.auto_merge_probability, self.review_probability
        if auto is not None and review is not None and review >= auto:
            raise ValueError("review_probability must be below auto_merge_probability")
        return self


class IdentitySettingsOut(BaseModel):
    auto_merge_probability: float
    review_probability: float
    survivorship: dict[str, Rule]
    model_trained_at: datetime | None
    model_records: int | None


async def read_settings(session: AsyncSession, *, tenant_id: int) -> IdentitySettingsOut:
    from tonari.identity.evidence import thresholds
    from tonari.identity.golden import rules_for

    row = (
        await session.execute(
            select(
                IdentitySettings.survivorship,
                IdentitySettings.model_trained_at,
                IdentitySettings.model_records,
            ).where(IdentitySettings.tenant_id == tenant_id)
        )
    ).first()
    limits = await thresholds(session, tenant_id)
    return IdentitySettingsOut(
        auto_merge_probability=limits.auto_merge,
        review_probability=limits.review,
        survivorship=rules_for(row.survivorship if row else None),
        model_trained_at=row.model_trained_at if row else None,
        model_records=row.model_records if row else None,
    )


async def write_settings(
    session: AsyncSession, *, tenant_id: int, body: IdentitySettingsIn, at: datetime
) -> IdentitySettingsOut:
    current = await read_settings(session, tenant_id=tenant_id)
    auto = body.auto_merge_probability or current.auto_merge_probability
    review = body.review_probability or current.review_probability
    if review >= auto:
        from tonari.kit.errors import ValidationFailed

        raise ValidationFailed(
            f"review_probability ({review}) must be below auto_merge_probability ({auto})",
            field="review_probability",
        )
    rules = {
        name: str(rule)
        for name, rule in {**current.survivorship, **body.survivorship}.items()
        if DEFAULT_RULES.get(name) != rule
    }
    values = {
        "auto_merge_probability": auto,
        "review_probability": review,
        "survivorship": rules,
        "updated_at": at,
    }
    await session.execute(
        pg_insert(IdentitySettings)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_update(index_elements=[IdentitySettings.tenant_id], set_=values)
    )
    return await read_settings(session, tenant_id=tenant_id)
