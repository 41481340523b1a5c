from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tonari.programs.schemas import CustomerType

DEFAULT_PHONE_REGION = "RU"


def normalise_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number for its region")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class CustomerFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    card_number: str | None = Field(default=None, min_length=1, max_length=64)
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    birth_date: date | None = None
    gender: str | None = Field(default=None, pattern=r"^(female|male|other)$")
    city: str | None = Field(default=None, max_length=120)
    customer_type: CustomerType = CustomerType.PERSON
    region: str | None = Field(default=None, max_length=120)
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone (Europe/Moscow) for quiet hours, caps and local send times",
    )
    registration_source: str | None = Field(
        default=None, max_length=64, description="where the customer registered (shop, club)"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from None
        return value

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


class CustomerUpsert(CustomerFields):
    pass


class Balances(BaseModel):
    pending: int
    available: int
    reserved: int
    expiring_soon: int
    expiring_within_days: int
    debt: int


class MembershipOut(BaseModel):
    code: str
    starts_at: datetime
    ends_at: datetime


class CustomerOut(BaseModel):
    external_id: str
    email: str | None
    phone: str | None
    card_number: str | None
    first_name: str | None
    last_name: str | None
    birth_date: date | None
    gender: str | None
    city: str | None
    region: str | None = None
    time_zone: str | None = None
    registration_source: str | None = None
    customer_type: str
    tier: str | None
    tier_name: str | None
    tier_since: datetime | None
    lifetime_spend: int
    orders_count: int
    last_purchase_at: datetime | None
    balances: Balances
    memberships: list[MembershipOut] = Field(
        default_factory=list, description="Memberships active now or bought for later"
    )
    stamps: dict[str, int] = Field(default_factory=dict, description="Stamps held per card")
    created_at: datetime


class CustomerReference(BaseModel):
    """How a shop or POS names the buyer: any one of these."""

    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    card_number: str | None = Field(default=None, min_length=1, max_length=64)
    phone: str | None = Field(default=None, max_length=40)

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)
