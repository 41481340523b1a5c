"""What a shop, app or e-mail service sends as events, and what ingest answers per event."""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from tonari.customers.schemas import normalise_phone

MAX_BATCH = 1_000
MAX_PAYLOAD_BYTES = 16_384


class EventType(StrEnum):
    PRODUCT_VIEWED = "product_viewed"
    CART_UPDATED = "cart_updated"
    ADDED_TO_CART = "added_to_cart"
    REMOVED_FROM_CART = "removed_from_cart"
    WISHLIST_ADDED = "wishlist_added"
    WISHLIST_REMOVED = "wishlist_removed"
    REVIEW_WRITTEN = "review_written"
    REGISTRATION = "registration"
    LOGIN = "login"
    EMAIL_OPENED = "email_opened"
    EMAIL_CLICKED = "email_clicked"
    STORE_VISIT = "store_visit"


KNOWN_TYPES = frozenset(t.value for t in EventType)
# The events that prove who an anonymous visitor is, and so link their history.
STITCHING_TYPES = frozenset({EventType.LOGIN.value, EventType.REGISTRATION.value})
_CUSTOM = re.compile(r"^custom:[a-z0-9][a-z0-9_.\-]{0,62}$")


class EventCustomer(BaseModel):
    """Who did it, by exactly one of the brand's ways of naming a customer."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    card_number: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> EventCustomer:
        if len(self.given()) != 1:
            raise ValueError(
                "name the customer by exactly one of external_id, email, phone, card_number"
            )
        return self

    def named_by(self) -> tuple[str, str]:
        """The one (way of naming, value) given; cheap, as ingest asks per event."""
        if self.external_id is not None:
            return "external_id", self.external_id
        if self.email is not None:
            return "email", self.email
        if self.phone is not None:
            return "phone", self.phone
        assert self.card_number is not None
        return "card_number", self.card_number

    def given(self) -> list[tuple[str, str]]:
        return [
            (name, value)
            for name in ("external_id", "email", "phone", "card_number")
            if (value := getattr(self, name)) is not None
        ]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=128, description="the sender's id: unique")
    event_type: str = Field(
        description="one of the known types or custom:<name> (lowercase, digits, _ . -)"
    )
    occurred_at: AwareDatetime
    customer: EventCustomer | None = None
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=128)
    entity_id: str | None = Field(default=None, min_length=1, max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value in KNOWN_TYPES or _CUSTOM.match(value):
            return value
        raise ValueError(f"unknown event type; use one of {sorted(KNOWN_TYPES)} or custom:<name>")

    @field_validator("payload")
    @classmethod
    def _small_payload(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, ensure_ascii=False, default=str)) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload is larger than {MAX_PAYLOAD_BYTES} bytes as JSON")
        return value

    @model_validator(mode="after")
    def _someone(self) -> EventIn:
        if self.customer is None and self.anonymous_id is None:
            raise ValueError("identify who did it: customer, anonymous_id or both")
        return self


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


EventStatus = Literal["stored", "duplicate", "rejected"]


class EventResult(BaseModel):
    index: int
    event_id: str
    status: EventStatus
    code: str | None = None
    reason: str | None = None
    customer: str | None = Field(default=None, description="external id the event is filed under")


class IngestReport(BaseModel):
    received_at: datetime
    stored: int
    duplicates: int
    rejected: int
    stitched: int = Field(description="earlier anonymous events attached to a customer")
    results: list[EventResult]


class TimelineItem(BaseModel):
    kind: Literal["event", "order"]
    at: datetime
    type: str = Field(description="the event type, or the order's status")
    entity_id: str | None = Field(description="the event's entity, or the order id")
    data: dict[str, Any]


class Timeline(BaseModel):
    items: list[TimelineItem]
    next_before: str | None = Field(description="pass as ?before= for the next page")
