"""A segment definition: a tree of all/any/not groups over typed conditions.

Every condition is a strict Pydantic class discriminated by ``field``; an unknown field, a
missing parameter or a wrong type is rejected with its place in the tree (``all.1.days``).
Periods are in whole days counted back from the evaluation instant; dates (age, birthdays)
are taken in the programme's time zone.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    model_validator,
)

Text = Annotated[str, Field(min_length=1, max_length=128)]
Texts = Annotated[list[Text], Field(min_length=1, max_length=1_000)]
Days = Annotated[int, Field(ge=1, le=3650)]
Count = Annotated[int, Field(ge=0)]
Quintiles = Annotated[list[Annotated[int, Field(ge=1, le=5)]], Field(min_length=1, max_length=5)]
KEY = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,78}[a-z0-9]$|^[a-z0-9]$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Condition(_Strict):
    """A leaf of the tree; ``field`` names it (see the union below)."""


class _Range(Condition):
    """``min`` / ``max`` bounds, both inclusive, at least one of them."""

    min: Count | None = None
    max: Count | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> Any:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not be greater than max")
        return self


# --- profile --------------------------------------------------------------------------------


class CityIn(Condition):
    field: Literal["city"]
    values: Texts


class RegionIn(Condition):
    field: Literal["region"]
    values: Texts


class GenderIn(Condition):
    field: Literal["gender"]
    values: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(min_length=1)


class CustomerTypeIn(Condition):
    field: Literal["customer_type"]
    values: Texts


class RegistrationSourceIn(Condition):
    field: Literal["registration_source"]
    values: Texts


class AgeBetween(_Range):
    """Age in whole years on the programme's local date (a Feb 29 birthday counts on Feb 28)."""

    field: Literal["age"]
    min: Annotated[int, Field(ge=0, le=150)] | None = None
    max: Annotated[int, Field(ge=0, le=150)] | None = None


class BirthdayInDays(Condition):
    """The next birthday is today or within ``days`` local days (0 = today only)."""

    field: Literal["birthday_in_days"]
    days: Annotated[int, Field(ge=0, le=365)]


class AttributeIs(Condition):
    """A free attribute: ``equals`` a JSON scalar, or just present when ``equals`` is absent."""

    field: Literal["attribute"]
    name: Text
    equals: str | int | bool | None = None


class ConsentGiven(Condition):
    field: Literal["consent"]
    channel: Literal["email", "sms", "push", "web_push"]
    topic: Text = "marketing"
    granted: bool = True


# --- behaviour ------------------------------------------------------------------------------


class OrdersCount(_Range):
    """Orders (not cancelled) in the last ``days`` days, or ever when ``days`` is absent."""

    field: Literal["orders_count"]
    days: Days | None = None


class Spend(_Range):
    """Net spend (minor units) of orders in the last ``days`` days, or ever."""

    field: Literal["spend"]
    days: Days | None = None


class LifetimeSpendAtLeast(Condition):
    field: Literal["lifetime_spend"]
    min: int = Field(ge=0)


class _Items(Condition):
    products: Texts | None = None
    categories: Texts | None = None

    @model_validator(mode="after")
    def _some_items(self) -> Any:
        if self.products is None and self.categories is None:
            raise ValueError("give products, categories or both")
        return self


class Bought(_Items):
    """Bought any of the products or categories (in the last ``days`` days, or ever)."""

    field: Literal["bought"]
    days: Days | None = None


class Viewed(Condition):
    """Viewed (``product_viewed``) any product, or one of ``products``, ``min`` times or more."""

    field: Literal["viewed"]
    days: Days
    products: Texts | None = None
    min: int = Field(default=1, ge=1)


class WishlistContains(_Items):
    """The wishlist now holds one of the products (or a product of the categories)."""

    field: Literal["wishlist"]


class CartOpen(Condition):
    """A cart event since the last purchase; its age is the time since the last cart event."""

    field: Literal["cart"]
    min_age_minutes: Annotated[int, Field(ge=0, le=525_600)] = 0
    max_age_minutes: Annotated[int, Field(ge=1, le=525_600)] | None = None


class EmailEngagement(Condition):
    """E-mails opened or clicked in the last ``days`` days: at least ``min`` (0 with max 0 =
    none)."""

    field: Literal["email"]
    action: Literal["opened", "clicked"]
    days: Days
    min: Count = 1
    max: Count | None = None


class LastPurchase(Condition):
    """The last purchase was ``more_than_days`` ago (or never, with ``or_never``), or within
    ``within_days``."""

    field: Literal["last_purchase"]
    more_than_days: Days | None = None
    within_days: Days | None = None
    or_never: bool = False

    @model_validator(mode="after")
    def _one_side(self) -> Any:
        if (self.more_than_days is None) == (self.within_days is None):
            raise ValueError("give exactly one of more_than_days or within_days")
        return self


class LastActivity(Condition):
    """Any event or purchase within ``within_days``, or none for ``more_than_days``."""

    field: Literal["last_activity"]
    more_than_days: Days | None = None
    within_days: Days | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Any:
        if (self.more_than_days is None) == (self.within_days is None):
            raise ValueError("give exactly one of more_than_days or within_days")
        return self


# --- loyalty --------------------------------------------------------------------------------


class TierIn(Condition):
    field: Literal["tier"]
    values: Texts


class Balance(_Range):
    """Available points."""

    field: Literal["balance"]


class PointsExpiring(Condition):
    """At least ``min`` available points expire within the next ``within_days`` days."""

    field: Literal["points_expiring"]
    within_days: Days
    min: int = Field(default=1, ge=1)


class MembershipActive(Condition):
    """A paid membership (of one of ``codes``, or any) is running now."""

    field: Literal["membership"]
    codes: Texts | None = None


class Rfm(Condition):
    """Recency / frequency / monetary quintiles (5 = best) among the tenant's buyers."""

    field: Literal["rfm"]
    recency: Quintiles | None = None
    frequency: Quintiles | None = None
    monetary: Quintiles | None = None

    @model_validator(mode="after")
    def _some_score(self) -> Any:
        if self.recency is None and self.frequency is None and self.monetary is None:
            raise ValueError("give recency, frequency, monetary or several")
        return self


CONDITION_CLASSES: tuple[type[Condition], ...] = (
    CityIn,
    RegionIn,
    GenderIn,
    CustomerTypeIn,
    RegistrationSourceIn,
    AgeBetween,
    BirthdayInDays,
    AttributeIs,
    ConsentGiven,
    OrdersCount,
    Spend,
    LifetimeSpendAtLeast,
    Bought,
    Viewed,
    WishlistContains,
    CartOpen,
    EmailEngagement,
    LastPurchase,
    LastActivity,
    TierIn,
    Balance,
    PointsExpiring,
    MembershipActive,
    Rfm,
)
AnyCondition = Annotated[
    CityIn
    | RegionIn
    | GenderIn
    | CustomerTypeIn
    | RegistrationSourceIn
    | AgeBetween
    | BirthdayInDays
    | AttributeIs
    | ConsentGiven
    | OrdersCount
    | Spend
    | LifetimeSpendAtLeast
    | Bought
    | Viewed
    | WishlistContains
    | CartOpen
    | EmailEngagement
    | LastPurchase
    | LastActivity
    | TierIn
    | Balance
    | PointsExpiring
    | MembershipActive
    | Rfm,
    Field(discriminator="field"),
]


def field_of(condition: type[Condition] | Condition) -> str:
    """The ``field`` literal that names a condition class."""
    klass = condition if isinstance(condition, type) else type(condition)
    annotation = klass.model_fields["field"].annotation
    return str(annotation.__args__[0])  # type: ignore[union-attr]


CONDITION_FIELDS = frozenset(field_of(klass) for klass in CONDITION_CLASSES)


class AllGroup(_Strict):
    all: list[Node] = Field(min_length=1, max_length=100)


class AnyGroup(_Strict):
    any: list[Node] = Field(min_length=1, max_length=100)


class NotGroup(_Strict):
    not_: Node = Field(alias="not")


def _node_kind(value: Any) -> str | None:
    """Which kind of node a value is, from its keys: errors then name one branch only."""
    if isinstance(value, dict):
        for group in ("all", "any", "not"):
            if group in value:
                return group
        return "condition"
    kinds: dict[type[BaseModel], str] = {AllGroup: "all", AnyGroup: "any", NotGroup: "not"}
    return kinds.get(type(value), "condition" if isinstance(value, Condition) else None)


Node = Annotated[
    Annotated[AllGroup, Tag("all")]
    | Annotated[AnyGroup, Tag("any")]
    | Annotated[NotGroup, Tag("not")]
    | Annotated[AnyCondition, Tag("condition")],
    Discriminator(_node_kind),
]

AllGroup.model_rebuild()
AnyGroup.model_rebuild()
NotGroup.model_rebuild()

NODE_ADAPTER: TypeAdapter[Node] = TypeAdapter(Node)


def conditions_of(node: Node) -> list[Condition]:
    """Every condition in the tree, depth first."""
    if isinstance(node, AllGroup):
        return [c for child in node.all for c in conditions_of(child)]
    if isinstance(node, AnyGroup):
        return [c for child in node.any for c in conditions_of(child)]
    if isinstance(node, NotGroup):
        return conditions_of(node.not_)
    return [node]


# --- API bodies -----------------------------------------------------------------------------


class SegmentCreate(_Strict):
    key: str = Field(
        pattern=KEY.pattern, description="lowercase letters, digits, - and _; up to 80"
    )
    name: str = Field(min_length=1, max_length=200)
    definition: dict[str, Any] = Field(description="all/any/not groups of conditions")


class SegmentUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    definition: dict[str, Any] | None = None


class SegmentOut(BaseModel):
    key: str
    name: str
    definition: dict[str, Any]
    status: str
    size: int
    rebuilt_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PreviewIn(_Strict):
    definition: dict[str, Any]
    sample: int = Field(default=10, ge=0, le=100)


class MemberOut(BaseModel):
    external_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    city: str | None
    tier: str | None
    entered_at: datetime | None = None


class PreviewOut(BaseModel):
    size: int
    sample: list[MemberOut]
    milliseconds: float


class MembersPage(BaseModel):
    items: list[MemberOut]
    next_after: str | None = Field(description="pass as ?after= for the next page")


class RebuildOut(BaseModel):
    key: str
    size: int
    entered: int
    exited: int
    milliseconds: float
