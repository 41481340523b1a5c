"""What the offers engine reads: the cart, the buyer, presented codes and the moment.

Everything here is plain data gathered by the caller (the order service, the history import,
the simulator), so the engine itself never touches the database or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from tonari.programs.kinds import CustomerType


@dataclass(frozen=True, slots=True)
class PresentedCode:
    """A promo code or voucher the buyer typed, as the code service found it.

    ``pool`` is the pool (or public code family) the code belongs to; offers name pools in their
    ``promo_code`` condition. ``valid`` is false with a ``reason`` when the code exists but may not
    be used now (expired, used up, another customer's); an unknown code is never presented.
    ``owner_customer_id`` is set for shareable referral codes, so self-referral can be refused.
    ``value_minor`` is a gift voucher's money value, spent by the ``discount_code_value`` effect.
    """

    code: str
    pool: str
    valid: bool = True
    reason: str = ""
    owner_customer_id: int | None = None
    value_minor: int = 0


@dataclass(frozen=True, slots=True)
class OfferUsage:
    """How often this buyer already received an offer: ever, and in the offer's limit period."""

    total: int = 0
    in_period: int = 0


@dataclass(frozen=True, slots=True)
class CustomerSnapshot:
    """The buyer at the moment of the transaction; ``tier_code`` ``None`` means anonymous.

    Spend figures are net of returns, in minor units, and exclude the current cart.
    """

    customer_type: CustomerType = CustomerType.PERSON
    tier_code: str | None = None
    available_points: int = 0
    customer_id: int | None = None
    birth_date: date | None = None
    registered_at: datetime | None = None
    orders_count: int = 0
    lifetime_spend: int = 0
    spend_previous_month: int = 0
    spend_rolling_months: Mapping[int, int] = field(default_factory=dict)
    units_this_year: int = 0
    memberships: frozenset[str] = frozenset()
    stamps: Mapping[str, int] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()
    offer_usage: Mapping[str, OfferUsage] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.tier_code is None


ANONYMOUS_SNAPSHOT = CustomerSnapshot()
