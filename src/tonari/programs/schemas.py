"""The programme document: what a brand configures, validated strictly.

A programme is applied as YAML or JSON; every field is documented in ``docs/programme.md``.
Amounts are integers in minor units, rates in basis points (500 = 5%).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from tonari.activities.schemas import ActivityRule
from tonari.kit.money import Rounding
from tonari.partners.schemas import Partner
from tonari.programs.kinds import CustomerType
from tonari.rules.offers.conditions import CustomerTier
from tonari.rules.offers.engine import OfferIndex
from tonari.rules.offers.offer import Offer

CURRENCY_MINOR_UNITS = {
    "RUB": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "IRR": 0,
    "JPY": 0,
    "KZT": 2,
    "BYN": 2,
    "UAH": 2,
    "CNY": 2,
    "TRY": 2,
    "AED": 2,
    "CHF": 2,
    "INR": 2,
    "BRL": 2,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class QualificationBasis(StrEnum):
    LIFETIME = "lifetime"
    ROLLING_MONTHS = "rolling_months"
    PREVIOUS_CALENDAR_MONTH = "previous_calendar_month"


class Qualification(Strict):
    basis: QualificationBasis = QualificationBasis.LIFETIME
    months: int | None = Field(default=None, ge=1, le=120)

    @model_validator(mode="after")
    def _months_only_for_rolling(self) -> Qualification:
        if self.basis is QualificationBasis.ROLLING_MONTHS and self.months is None:
            raise ValueError("qualification.months is required when basis is rolling_months")
        if self.basis is not QualificationBasis.ROLLING_MONTHS and self.months is not None:
            raise ValueError("qualification.months only applies to basis rolling_months")
        return self


class DowngradeRule(StrEnum):
    NONE = "none"
    AFTER_INACTIVITY = "after_inactivity"
    REEVALUATE = "reevaluate"


class Downgrade(Strict):
    rule: DowngradeRule = DowngradeRule.NONE
    inactive_months: int | None = Field(default=None, ge=1, le=120)

    @model_validator(mode="after")
    def _months_for_inactivity(self) -> Downgrade:
        if self.rule is DowngradeRule.AFTER_INACTIVITY and self.inactive_months is None:
            raise ValueError("downgrade.inactive_months is required for after_inactivity")
        return self


class Tier(Strict):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=80)
    threshold: int = Field(ge=0, description="Qualifying spend in minor units")
    earn_rate_bp: int = Field(ge=0, le=10_000)
    perks: list[str] = Field(default_factory=list)


class ExpiryMode(StrEnum):
    NEVER = "never"
    AFTER_DAYS = "after_days"
    END_OF_MONTH_AFTER_MONTHS = "end_of_month_after_months"


class Expiry(Strict):
    mode: ExpiryMode = ExpiryMode.NEVER
    days: int | None = Field(default=None, ge=1, le=3650)
    months: int | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _parameters_match_mode(self) -> Expiry:
        if self.mode is ExpiryMode.AFTER_DAYS and self.days is None:
            raise ValueError("expiry.days is required for mode after_days")
        if self.mode is ExpiryMode.END_OF_MONTH_AFTER_MONTHS and self.months is None:
            raise ValueError("expiry.months is required for mode end_of_month_after_months")
        return self


class NegativeBalanceRule(StrEnum):
    ALLOW_NEGATIVE = "allow_negative"
    CLAMP_AND_RECORD_DEBT = "clamp_and_record_debt"


class EarnBase(StrEnum):
    PAID_AMOUNT = "paid_amount"
    FULL_PRICE = "full_price"


class ProductBonus(Strict):
    """A per-product or per-category earn rate that replaces the tier rate when higher."""

    product_id: str | None = None
    category: str | None = None
    earn_rate_bp: int = Field(ge=0, le=10_000)
    replaces_tier_rate: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> ProductBonus:
        if (self.product_id is None) == (self.category is None):
            raise ValueError("a product bonus names exactly one of product_id or category")
        return self


class Programme(Strict):
    name: str = Field(min_length=1, max_length=120)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    timezone: str = "UTC"
    rounding: Rounding = Rounding.HALF_EVEN
    point_value_minor: Annotated[int, Field(ge=1)] = Field(
        description="What one point is worth when spent, in minor units (100 = 1 rouble)"
    )
    tiers: list[Tier] = Field(min_length=1)
    qualification: Qualification = Qualification()
    downgrade: Downgrade = Downgrade()
    pending_days: int = Field(default=0, ge=0, le=365)
    expiry_reminder_days: int = Field(
        default=14, ge=0, le=365, description="Emit points.expiring this many days ahead; 0 = off"
    )
    expiry: Expiry = Expiry()
    max_points_share_bp: int = Field(default=5_000, ge=0, le=10_000)
    earn_base: EarnBase = EarnBase.PAID_AMOUNT
    negative_balance: NegativeBalanceRule = NegativeBalanceRule.CLAMP_AND_RECORD_DEBT
    no_personal_price_for: list[CustomerType] = Field(default_factory=list)
    product_bonuses: list[ProductBonus] = Field(default_factory=list)
    max_cart_lines: int = Field(default=200, ge=1, le=1_000)
    offers: list[Offer] = Field(default_factory=list, max_length=10_000)
    activities: list[ActivityRule] = Field(default_factory=list, max_length=1_000)
    partners: list[Partner] = Field(default_factory=list, max_length=1_000)
    _offer_index: OfferIndex | None = PrivateAttr(default=None)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)"
            ) from exc
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCY_MINOR_UNITS:
            known = ", ".join(sorted(CURRENCY_MINOR_UNITS))
            raise ValueError(f"unknown currency {value!r}; known: {known}")
        return value

    @model_validator(mode="after")
    def _tiers_are_ordered(self) -> Programme:
        thresholds = [tier.threshold for tier in self.tiers]
        if thresholds != sorted(thresholds) or len(set(thresholds)) != len(thresholds):
            raise ValueError("tiers must be listed by strictly increasing threshold")
        if thresholds[0] != 0:
            raise ValueError("the first tier must have threshold 0 (every customer has a tier)")
        codes = [tier.code for tier in self.tiers]
        if len(set(codes)) != len(codes):
            raise ValueError("tier codes must be unique")
        return self

    @model_validator(mode="after")
    def _offers_refer_to_known_things(self) -> Programme:
        codes = [offer.code for offer in self.offers]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"offer codes must be unique: {', '.join(duplicates)}")
        known_codes = set(codes)
        tier_codes = {tier.code for tier in self.tiers}
        for position, offer in enumerate(self.offers):
            unknown = [code for code in offer.not_combinable_with if code not in known_codes]
            if unknown:
                raise ValueError(
                    f"offers[{position}] ({offer.code}): not_combinable_with names unknown "
                    f"offer {unknown[0]!r}"
                )
            for condition in offer.conditions:
                if isinstance(condition, CustomerTier):
                    missing = [code for code in condition.tiers if code not in tier_codes]
                    if missing:
                        raise ValueError(
                            f"offers[{position}] ({offer.code}): customer_tier names unknown "
                            f"tier {missing[0]!r}"
                        )
        return self

    @model_validator(mode="after")
    def _activities_and_partners_are_consistent(self) -> Programme:
        for label, codes in (
            ("activity", [rule.code for rule in self.activities]),
            ("partner", [partner.code for partner in self.partners]),
        ):
            duplicates = sorted({code for code in codes if codes.count(code) > 1})
            if duplicates:
                raise ValueError(f"{label} codes must be unique: {', '.join(duplicates)}")
        partner_codes = {partner.code for partner in self.partners}
        for position, rule in enumerate(self.activities):
            if rule.partner is not None and rule.partner not in partner_codes:
                raise ValueError(
                    f"activities[{position}] ({rule.code}): partner {rule.partner!r} is not "
                    "one of the programme's partners"
                )
        return self

    def partner(self, code: str | None) -> Partner | None:
        return next((partner for partner in self.partners if partner.code == code), None)

    def offer_index(self) -> OfferIndex:
        """Built once per programme version: offers by the products they need."""
        if self._offer_index is None:
            self._offer_index = OfferIndex.build(self.offers)
        return self._offer_index

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def tier(self, code: str | None) -> Tier:
        for tier in self.tiers:
            if tier.code == code:
                return tier
        return self.tiers[0]

    def tier_index(self, code: str | None) -> int:
        for index, tier in enumerate(self.tiers):
            if tier.code == code:
                return index
        return 0


class ProgrammeApply(BaseModel):
    """The API body for applying a programme."""

    model_config = ConfigDict(extra="forbid")
    document: dict[str, object]
    effective_from: datetime | None = None


class ProgrammeVersion(BaseModel):
    version: int
    effective_from: datetime
    created_at: datetime
    document: Programme


ProgrammeSource = Literal["api", "cli", "demo"]
