"""Activity rules (part of the programme document) and the API bodies that report activities.

A rule says which action earns what (fixed points, points per profile section, or a product
voucher / entitlement every N actions), how often one customer may be rewarded, within which
window and budget. This module must not import ``tonari.programs``: the programme document
imports it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)

from tonari.kit.errors import ValidationFailed
from tonari.kit.limits import MAX_POINTS

KNOWN_ACTIONS = (
    "profile_section_completed",
    "review_written",
    "social_share",
    "survey_answered",
    "jar_returned",
)
ACTION_PATTERN = (
    r"^(profile_section_completed|review_written|social_share|survey_answered|jar_returned"
    r"|custom:[a-z0-9][a-z0-9_.\-]{0,59})$"
)
CODE_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,39}$"

ActionName = Annotated[str, Field(pattern=ACTION_PATTERN, max_length=67)]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ProductReward(_Strict):
    """What is handed out instead of points: a voucher from a code pool, or a named perk."""

    voucher_pool: Code | None = Field(
        default=None, description="The code pool a voucher is issued from, e.g. free_mask"
    )
    entitlement: str | None = Field(
        default=None, min_length=1, max_length=200, description="A perk in words, e.g. a mask"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> ProductReward:
        if (self.voucher_pool is None) == (self.entitlement is None):
            raise ValueError("a reward names exactly one of voucher_pool or entitlement")
        return self

    @property
    def label(self) -> str:
        return self.voucher_pool or self.entitlement or ""


class Frequency(_Strict):
    """How often one customer may be rewarded by one rule."""

    once: Literal["ever", "subject"] | None = Field(
        default=None,
        description="ever: one reward per customer; subject: one per subject (e.g. product)",
    )
    at_most: int | None = Field(default=None, ge=1, le=100_000)
    per: Literal["day", "week", "month"] | None = Field(
        default=None, description="Calendar periods in the programme's time zone"
    )

    @model_validator(mode="after")
    def _limit_has_period(self) -> Frequency:
        if (self.at_most is None) != (self.per is None):
            raise ValueError("frequency.at_most and frequency.per go together")
        return self


class ActivityRule(_Strict):
    """One activity rule of the programme; exactly one of points, sections or reward."""

    code: Code
    name: str | None = Field(default=None, max_length=120)
    action: ActionName
    points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    sections: dict[Code, Annotated[int, Field(ge=1, le=MAX_POINTS)]] | None = Field(
        default=None, description="Points per profile section; each section rewarded once"
    )
    reward: ProductReward | None = None
    every: int | None = Field(
        default=None, ge=1, le=10_000, description="Reward every N actions (5 jars → a mask)"
    )
    frequency: Frequency = Frequency()
    budget_points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    budget_rewards: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    points_expiry_days: int | None = Field(
        default=None, ge=1, le=3650, description="Default: the programme's expiry rule"
    )
    partner: Code | None = Field(
        default=None, description="A partner these points are issued at (settlement report)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ActivityRule:
        given = [name for name in ("points", "sections", "reward") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("an activity rule gives exactly one of points, sections or reward")
        if self.sections is not None:
            if not self.sections:
                raise ValueError("sections must name at least one section")
            if self.every is not None:
                raise ValueError("sections are rewarded one by one: every does not apply")
            if self.frequency.once == "ever":
                raise ValueError("sections are rewarded once per section: once cannot be ever")
        if self.reward is not None and self.budget_points is not None:
            raise ValueError("budget_points limits points: use budget_rewards for a reward")
        if self.reward is not None and self.points_expiry_days is not None:
            raise ValueError("points_expiry_days applies to points, not to a reward")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValueError("valid_from must be before valid_until")
        return self

    @property
    def once_per_subject(self) -> bool:
        return self.frequency.once == "subject" or self.sections is not None

    def points_for(self, subject: str | None) -> int:
        if self.sections is not None:
            return self.sections.get(subject or "", 0)
        return self.points or 0

    def in_force(self, at: datetime) -> bool:
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until


def parse_activity_rules(documents: list[dict[str, Any]]) -> list[ActivityRule]:
    """Validate rules given as plain data; an error names the field path, e.g. ``0.points``."""
    rules: list[ActivityRule] = []
    for index, document in enumerate(documents):
        try:
            rules.append(ActivityRule.model_validate_json(json.dumps(document, default=str)))
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(part) for part in (index, *first["loc"]))
            raise ValidationFailed(
                f"activity rule is invalid at {path}: {first['msg']}",
                field=f"activities.{path}",
                code="invalid_activity_rule",
            ) from None
    codes = [rule.code for rule in rules]
    if len(set(codes)) != len(codes):
        raise ValidationFailed("activity rule codes must be unique", field="activities")
    return rules


def activity_rules(programme: object) -> list[ActivityRule]:
    """The programme's activity rules (none until the programme document has the field)."""
    return list(getattr(programme, "activities", None) or [])


class ActivityIn(BaseModel):
    """One reported action of a customer."""

    model_config = ConfigDict(extra="forbid")

    action: ActionName
    activity_id: str = Field(
        min_length=1,
        max_length=128,
        description="The caller's id of this action: repeats count once",
    )
    subject: str | None = Field(
        default=None, min_length=1, max_length=200, description="What it is about: a product id"
    )
    occurred_at: AwareDatetime | None = Field(default=None, description="Default: now")
    quantity: StrictInt = Field(
        default=1, ge=1, le=1_000, description="Several actions at once (5 jars); every-N rules"
    )


class ActivityBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activities: list[ActivityIn] = Field(min_length=1, max_length=100)


class TemporaryPointsIn(BaseModel):
    """Points that burn after a while, optionally only for one cart (abandoned-cart offers)."""

    model_config = ConfigDict(extra="forbid")

    points: StrictInt = Field(gt=0, le=MAX_POINTS)
    expires_in_hours: StrictInt | None = Field(default=None, ge=1, le=24 * 366)
    expires_in_days: StrictInt | None = Field(default=None, ge=1, le=3650)
    only_for_cart: str | None = Field(
        default=None, min_length=1, max_length=128, description="The cart / order id they pay for"
    )
    reason: str = Field(min_length=3, max_length=500)
    idempotency_key: str = Field(min_length=1, max_length=160)

    @model_validator(mode="after")
    def _one_lifetime(self) -> TemporaryPointsIn:
        if (self.expires_in_hours is None) == (self.expires_in_days is None):
            raise ValueError("give exactly one of expires_in_hours or expires_in_days")
        return self
