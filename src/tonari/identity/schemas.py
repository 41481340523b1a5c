"""What the identity API sends and receives."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tonari.customers.schemas import CustomerOut
from tonari.events.schemas import Timeline


class SourceOut(BaseModel):
    name: str
    title: str
    trust: int
    region: str | None
    date_order: str
    encoding: str | None
    format: str | None
    record_ids_are_people: bool
    columns: dict[str, str]
    records: int = 0


class RecordBatch(BaseModel):
    """Records of one source sent live (a shop's sign-up, a POS registration)."""

    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, str | int | float | bool | None]] = Field(min_length=1, max_length=1000)


class RowIssueOut(BaseModel):
    line: int
    record_id: str | None
    severity: str
    field: str | None
    code: str
    reason: str
    value: str | None = None


class RecordBatchResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int
    issues: list[RowIssueOut]


class AttributeOut(BaseModel):
    value: Any
    source: str | None = None
    record: str | None = None
    rule: str | None = None
    seen_at: str | None = None
    status: str | None = None
    agreeing_records: int | None = None
    records_with_value: int | None = None


class SourceRecordOut(BaseModel):
    source: str
    record_id: str
    match_rule: str | None
    match_score: float | None
    first_name: str | None
    last_name: str | None
    birth_date: date | None
    email: str | None
    email_status: str | None
    phone: str | None
    phone_status: str | None
    city: str | None
    card_number: str | None
    flags: list[dict[str, Any]]
    first_seen_at: datetime
    changed_at: datetime


class MergeOut(BaseModel):
    merge_id: int
    survivor: str
    merged: str
    reason: str
    merged_at: datetime
    undone_at: datetime | None
    points_moved: int | None = None


class ProfileOut(BaseModel):
    profile_id: int
    external_id: str
    customer: CustomerOut
    attributes: dict[str, AttributeOut]
    identifiers: dict[str, list[str]]
    records: list[SourceRecordOut]
    merges: list[MergeOut]
    segments: list[str] = Field(
        default_factory=list, description="Segments the profile is in (none are defined yet)"
    )
    timeline: Timeline


class ProfileHit(BaseModel):
    profile_id: int
    external_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    city: str | None
    matched_on: str


class PairSide(BaseModel):
    record_key: int
    source: str
    record_id: str
    profile: str | None
    first_name: str | None
    last_name: str | None
    birth_date: date | None
    email: str | None
    phone: str | None
    city: str | None


class PairOut(BaseModel):
    pair_id: int
    status: str
    probability: float | None
    weight: float | None
    levels: dict[str, str] = Field(description="Per comparison, the level that decided it")
    left: PairSide
    right: PairSide


class PairDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirm", "reject"]


class ManualMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profiles: list[str] = Field(min_length=2, max_length=20, description="External ids")


class ResolveOut(BaseModel):
    mode: str
    records: int
    profiles: int
    new_profiles: int
    merges: int
    revived: int
    deferred: list[str]
    exact_edges: int
    fuzzy_auto: int
    fuzzy_review: int
    blocked: int
    model: str


class ErasureOut(BaseModel):
    profiles: int = Field(description="Profiles anonymised (the person's and any merged into it)")
    records: int
    events: int
    links: int
    already_erased: bool


class UnreachableIn(BaseModel):
    """An address that bounced or complained (from the email/SMS provider's webhooks)."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    reason: Literal["bounce", "complaint", "unsubscribed_everywhere", "invalid"]


class UnreachableOut(BaseModel):
    profiles: int
