"""What the API and the CLI accept and answer for code pools, codes and vouchers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from tonari.codes.generator import DEFAULT_LENGTH, MAX_LENGTH, MIN_LENGTH
from tonari.kit.limits import MAX_CART_TOTAL

MAX_GENERATE = 1_000_000
MAX_ISSUE_CUSTOMERS = 100_000
MAX_CODES_PER_CUSTOMER = 100
MAX_VOUCHER_POINTS = 10**9  # what one manual grant of points may carry
POOL_CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class PoolKind(StrEnum):
    PUBLIC = "public"
    """One reusable code everybody types, like SKIDKA30."""
    PERSONAL = "personal"
    """Generated unique codes, handed to people or printed."""
    GIFT = "gift"
    """A gift voucher worth ``value_minor`` of ``currency`` at an order."""
    BONUS = "bonus"
    """A bonus voucher that credits ``value_points`` to the account that redeems it."""


class PoolStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class CodePoolCreate(BaseModel):
    """A campaign of codes. Fields that only some kinds take are checked together on create."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(
        pattern=POOL_CODE_PATTERN,
        description="The pool's slug, unique per tenant; offers name it in their promo_code "
        "condition",
    )
    name: str = Field(min_length=1, max_length=200)
    kind: PoolKind
    public_code: str | None = Field(
        default=None,
        min_length=3,
        max_length=64,
        description="public pools: the code customers type (stored upper-case)",
    )
    max_uses_per_code: StrictInt | None = Field(
        default=None,
        ge=1,
        le=10**12,
        description="1 = single use; null = unlimited. Default: unlimited for public codes, "
        "single use otherwise",
    )
    per_customer_limit: StrictInt | None = Field(
        default=None, ge=1, le=10**6, description="How many times one customer may use this pool"
    )
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    valid_days: StrictInt | None = Field(
        default=None, ge=1, le=3650, description="Each code lapses this many days after issue"
    )
    shareable: bool = Field(
        default=False, description="personal codes a customer may share with friends (referral)"
    )
    value_minor: StrictInt | None = Field(
        default=None, ge=1, le=MAX_CART_TOTAL, description="gift vouchers: the money value"
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    value_points: StrictInt | None = Field(
        default=None, ge=1, le=MAX_VOUCHER_POINTS, description="bonus vouchers: points credited"
    )
    prefix: str = Field(default="", max_length=16, description="A–Z, 0–9 and '-', e.g. SUMMER-")
    code_length: StrictInt = Field(
        default=DEFAULT_LENGTH,
        ge=MIN_LENGTH,
        le=MAX_LENGTH,
        description="Random symbols after the prefix (raised automatically for huge pools)",
    )
    reissue_every_days: StrictInt | None = Field(
        default=None,
        ge=1,
        le=365,
        description="Give every buyer a new code this often (e.g. 14: every two weeks)",
    )
    description: str | None = Field(default=None, max_length=500)


class CodePoolOut(BaseModel):
    code: str
    name: str
    kind: PoolKind
    status: PoolStatus
    public_code: str | None = None
    max_uses_per_code: int | None
    per_customer_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    valid_days: int | None
    shareable: bool
    value_minor: int | None
    currency: str | None
    value_points: int | None
    prefix: str
    code_length: int
    reissue_every_days: int | None
    description: str | None
    created_at: datetime
    stats: dict[str, int] | None = None


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: StrictInt = Field(ge=1, le=MAX_GENERATE, description="How many new codes")


class IssueIn(BaseModel):
    """Hand codes (or vouchers) of a pool to chosen customers; the key makes a retry safe."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    customers: list[str] = Field(
        min_length=1, max_length=MAX_ISSUE_CUSTOMERS, description="Customers' external ids"
    )
    per_customer: StrictInt = Field(default=1, ge=1, le=MAX_CODES_PER_CUSTOMER)
    issue_key: str = Field(
        min_length=1,
        max_length=200,
        description="Your id for this issue: sending it again hands out nothing more",
    )
    reason: str | None = Field(default=None, max_length=500)


class RedeemVoucherIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    customer: str = Field(min_length=1, max_length=128, description="The customer's external id")


def pool_view(
    pool: Any, *, public_code: str | None = None, stats: dict[str, int] | None = None
) -> CodePoolOut:
    return CodePoolOut(
        code=pool.code,
        name=pool.name,
        kind=PoolKind(pool.kind),
        status=PoolStatus(pool.status),
        public_code=public_code,
        max_uses_per_code=pool.max_uses_per_code,
        per_customer_limit=pool.per_customer_limit,
        valid_from=pool.valid_from,
        valid_until=pool.valid_until,
        valid_days=pool.valid_days,
        shareable=pool.shareable,
        value_minor=pool.value_minor,
        currency=pool.currency,
        value_points=pool.value_points,
        prefix=pool.prefix,
        code_length=pool.code_length,
        reissue_every_days=pool.reissue_every_days,
        description=pool.description,
        created_at=pool.created_at,
        stats=stats,
    )
