"""Compile a segment definition to one select of customer ids (SQLAlchemy Core, no I/O).

Each condition becomes a predicate over ``customers`` (columns, or correlated ``EXISTS`` /
scalar subqueries over orders, events, ledger, consents), so the whole segment is a single
statement the planner can optimise; ``SELECT count(*)`` over it is the live size. Dates
(age, birthdays) are computed from the evaluation instant's local date in the programme's
time zone, which is known before the query is built, so the SQL compares plain dates.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    and_,
    any_,
    case,
    cast,
    exists,
    extract,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB

from tonari.models.catalog import Product
from tonari.models.consents import Consent
from tonari.models.customers import Customer
from tonari.models.events import CustomerEvent
from tonari.models.ledger import LedgerAccount, PointLot
from tonari.models.offers import Membership
from tonari.models.orders import Order, OrderLine
from tonari.segments import schemas as s

CART_EVENTS = ("cart_updated", "added_to_cart", "removed_from_cart")
EMAIL_EVENTS = {"opened": "email_opened", "clicked": "email_clicked"}


@dataclass(frozen=True, slots=True)
class Context:
    """What a compilation needs besides the tree: whose data, when, and the local calendar."""

    tenant_id: int
    at: datetime
    zone: tzinfo = UTC

    @property
    def today(self) -> date:
        return self.at.astimezone(self.zone).date()

    @property
    def zone_name(self) -> str:
        return str(getattr(self.zone, "key", "UTC"))


# --- the local calendar in SQL ----------------------------------------------------------------


def _birthday_in(year: int) -> ColumnElement[Any]:
    """This customer's birthday in ``year``; Feb 29 falls on Feb 28 in common years."""
    month = cast(extract("month", Customer.birth_date), Integer)
    day = cast(extract("day", Customer.birth_date), Integer)
    leap_day = 29 if calendar.isleap(year) else 28
    clamped = case((and_(month == 2, day == 29), leap_day), else_=day)
    return func.make_date(year, month, clamped, type_=Date)


def next_birthday(ctx: Context, *, today_counts: bool) -> ColumnElement[Any]:
    """The next birthday from the local today (today itself when ``today_counts``)."""
    this_year = _birthday_in(ctx.today.year)
    upcoming = this_year >= ctx.today if today_counts else this_year > ctx.today
    return case((upcoming, this_year), else_=_birthday_in(ctx.today.year + 1))


def local_midnight(ctx: Context, day: ColumnElement[Any]) -> ColumnElement[Any]:
    """The instant a local date starts in the programme's zone (as timestamptz)."""
    return func.timezone(ctx.zone_name, cast(day, DateTime), type_=DateTime(timezone=True))


def age_in_years(ctx: Context) -> ColumnElement[Any]:
    had_birthday = case((_birthday_in(ctx.today.year) > ctx.today, 1), else_=0)
    born = cast(extract("year", Customer.birth_date), Integer)
    return ctx.today.year - born - had_birthday


def days(n: int) -> timedelta:
    return timedelta(days=n)


# --- helpers ---------------------------------------------------------------------------------


def _in_range(value: Any, low: int | None, high: int | None) -> ColumnElement[bool]:
    parts = []
    if low is not None:
        parts.append(value >= low)
    if high is not None:
        parts.append(value <= high)
    return and_(*parts) if parts else true()


def _count_between(
    where: Sequence[ColumnElement[bool]], low: int | None, high: int | None
) -> ColumnElement[bool]:
    """``low <= count(rows matching where) <= high``, as EXISTS when that is all it asks."""
    low = low or 0
    if high is None and low <= 0:
        return true()
    if high is None and low == 1:
        return exists().where(*where)
    if high == 0:
        return ~exists().where(*where)
    counted = select(func.count()).where(*where).scalar_subquery()
    return _in_range(counted, low, high)


def _live(ctx: Context) -> list[ColumnElement[bool]]:
    return [
        Customer.tenant_id == ctx.tenant_id,
        Customer.merged_into_id.is_(None),
        Customer.erased_at.is_(None),
    ]


def orders_in_window(ctx: Context, window_days: int | None) -> list[ColumnElement[bool]]:
    where = [
        Order.tenant_id == ctx.tenant_id,
        Order.customer_id == Customer.id,
        Order.status != "cancelled",
        Order.placed_at <= ctx.at,
    ]
    if window_days is not None:
        where.append(Order.placed_at > ctx.at - days(window_days))
    return where


def events_in_window(
    ctx: Context, event_types: Sequence[str], window_days: int | None
) -> list[ColumnElement[bool]]:
    where = [
        CustomerEvent.tenant_id == ctx.tenant_id,
        CustomerEvent.customer_id == Customer.id,
        CustomerEvent.event_type.in_(list(event_types)),
        CustomerEvent.occurred_at <= ctx.at,
    ]
    if window_days is not None:
        where.append(CustomerEvent.occurred_at > ctx.at - days(window_days))
    return where


def last_cart_event(ctx: Context) -> ColumnElement[Any]:
    return (
        select(func.max(CustomerEvent.occurred_at))
        .where(*events_in_window(ctx, CART_EVENTS, None))
        .scalar_subquery()
    )


def last_activity(ctx: Context) -> ColumnElement[Any]:
    """The latest of any event, the last purchase and registration (never NULL)."""
    last_event = (
        select(func.max(CustomerEvent.occurred_at))
        .where(
            CustomerEvent.tenant_id == ctx.tenant_id,
            CustomerEvent.customer_id == Customer.id,
            CustomerEvent.occurred_at <= ctx.at,
        )
        .scalar_subquery()
    )
    return func.greatest(last_event, Customer.last_purchase_at, Customer.created_at)


def _products_of_categories(ctx: Context, categories: list[str]) -> Select[Any]:
    return select(Product.product_id).where(
        Product.tenant_id == ctx.tenant_id, Product.category.in_(categories)
    )


def rfm_scores(ctx: Context) -> Any:
    """Quintiles of the tenant's live buyers (ties broken by id, so the scores are stable)."""
    return (
        select(
            Customer.id.label("id"),
            func.ntile(5).over(order_by=(Customer.last_purchase_at, Customer.id)).label("r"),
            func.ntile(5).over(order_by=(Customer.orders_count, Customer.id)).label("f"),
            func.ntile(5).over(order_by=(Customer.lifetime_spend, Customer.id)).label("m"),
        )
        .where(*_live(ctx), Customer.orders_count > 0, Customer.last_purchase_at.is_not(None))
        .subquery("rfm")
    )


# --- one function per condition -------------------------------------------------------------

Compiler = Callable[[Any, Context], ColumnElement[bool]]


def _values(column: Any) -> Compiler:
    return lambda c, ctx: column.in_(c.values)


def _age(c: s.AgeBetween, ctx: Context) -> ColumnElement[bool]:
    return and_(Customer.birth_date.is_not(None), _in_range(age_in_years(ctx), c.min, c.max))


def _birthday(c: s.BirthdayInDays, ctx: Context) -> ColumnElement[bool]:
    upcoming = next_birthday(ctx, today_counts=True)
    return and_(Customer.birth_date.is_not(None), upcoming <= ctx.today + days(c.days))


def _attribute(c: s.AttributeIs, ctx: Context) -> ColumnElement[bool]:
    if c.equals is None:
        return Customer.attributes.has_key(c.name)
    return Customer.attributes.contains(cast(literal({c.name: c.equals}, JSONB), JSONB))


def _consent(c: s.ConsentGiven, ctx: Context) -> ColumnElement[bool]:
    given = exists().where(
        Consent.tenant_id == ctx.tenant_id,
        Consent.customer_id == Customer.id,
        Consent.channel == c.channel,
        Consent.topic == c.topic,
        Consent.granted.is_(True),
    )
    return given if c.granted else ~given


def _orders_count(c: s.OrdersCount, ctx: Context) -> ColumnElement[bool]:
    if c.days is None:
        return _in_range(Customer.orders_count, c.min, c.max)
    return _count_between(orders_in_window(ctx, c.days), c.min, c.max)


def _spend(c: s.Spend, ctx: Context) -> ColumnElement[bool]:
    if c.days is None:
        return _in_range(Customer.lifetime_spend, c.min, c.max)
    total = (
        select(func.coalesce(func.sum(Order.net_spend), 0))
        .where(*orders_in_window(ctx, c.days))
        .scalar_subquery()
    )
    return _in_range(total, c.min, c.max)


def _bought(c: s.Bought, ctx: Context) -> ColumnElement[bool]:
    line = [OrderLine.order_id == Order.id]
    items = []
    if c.products is not None:
        items.append(OrderLine.product_id.in_(c.products))
    if c.categories is not None:
        items.append(OrderLine.category.in_(c.categories))
    return exists().where(*orders_in_window(ctx, c.days), *line, or_(*items))


def _viewed(c: s.Viewed, ctx: Context) -> ColumnElement[bool]:
    where = events_in_window(ctx, ["product_viewed"], c.days)
    if c.products is not None:
        where.append(CustomerEvent.entity_id.in_(c.products))
    return _count_between(where, c.min, None)


def _wishlist(c: s.WishlistContains, ctx: Context) -> ColumnElement[bool]:
    added = CustomerEvent.__table__.alias("added")
    removed = CustomerEvent.__table__.alias("removed")
    items = []
    if c.products is not None:
        items.append(added.c.entity_id.in_(c.products))
    if c.categories is not None:
        items.append(added.c.entity_id.in_(_products_of_categories(ctx, c.categories)))
        items.append(added.c.payload["category"].astext.in_(c.categories))
    taken_out = exists().where(
        removed.c.tenant_id == ctx.tenant_id,
        removed.c.customer_id == added.c.customer_id,
        removed.c.event_type == "wishlist_removed",
        removed.c.entity_id == added.c.entity_id,
        removed.c.occurred_at >= added.c.occurred_at,
        removed.c.occurred_at <= ctx.at,
    )
    return exists().where(
        added.c.tenant_id == ctx.tenant_id,
        added.c.customer_id == Customer.id,
        added.c.event_type == "wishlist_added",
        added.c.occurred_at <= ctx.at,
        or_(*items),
        ~taken_out,
    )


def _cart(c: s.CartOpen, ctx: Context) -> ColumnElement[bool]:
    last = last_cart_event(ctx)
    parts = [
        last.is_not(None),
        or_(Customer.last_purchase_at.is_(None), last > Customer.last_purchase_at),
        last <= ctx.at - timedelta(minutes=c.min_age_minutes),
    ]
    if c.max_age_minutes is not None:
        parts.append(last > ctx.at - timedelta(minutes=c.max_age_minutes))
    return and_(*parts)


def _email(c: s.EmailEngagement, ctx: Context) -> ColumnElement[bool]:
    return _count_between(events_in_window(ctx, [EMAIL_EVENTS[c.action]], c.days), c.min, c.max)


def _last_purchase(c: s.LastPurchase, ctx: Context) -> ColumnElement[bool]:
    if c.within_days is not None:
        return Customer.last_purchase_at > ctx.at - days(c.within_days)
    assert c.more_than_days is not None
    long_ago = Customer.last_purchase_at <= ctx.at - days(c.more_than_days)
    return or_(long_ago, Customer.last_purchase_at.is_(None)) if c.or_never else long_ago


def _last_activity(c: s.LastActivity, ctx: Context) -> ColumnElement[bool]:
    if c.within_days is not None:
        return last_activity(ctx) > ctx.at - days(c.within_days)
    assert c.more_than_days is not None
    return last_activity(ctx) <= ctx.at - days(c.more_than_days)


def _balance(c: s.Balance, ctx: Context) -> ColumnElement[bool]:
    available = (
        select(LedgerAccount.available)
        .where(LedgerAccount.tenant_id == ctx.tenant_id, LedgerAccount.customer_id == Customer.id)
        .scalar_subquery()
    )
    return _in_range(func.coalesce(available, 0), c.min, c.max)


def expiring_lots(ctx: Context) -> list[ColumnElement[bool]]:
    return [
        PointLot.tenant_id == ctx.tenant_id,
        PointLot.customer_id == Customer.id,
        PointLot.state == "available",
        PointLot.remaining > 0,
        PointLot.expires_at > ctx.at,
    ]


def _points_expiring(c: s.PointsExpiring, ctx: Context) -> ColumnElement[bool]:
    expiring = (
        select(func.coalesce(func.sum(PointLot.remaining), 0))
        .where(*expiring_lots(ctx), PointLot.expires_at <= ctx.at + days(c.within_days))
        .scalar_subquery()
    )
    return expiring >= c.min


def _membership(c: s.MembershipActive, ctx: Context) -> ColumnElement[bool]:
    where = [
        Membership.tenant_id == ctx.tenant_id,
        Membership.customer_id == Customer.id,
        Membership.cancelled_at.is_(None),
        Membership.starts_at <= ctx.at,
        Membership.ends_at > ctx.at,
    ]
    if c.codes is not None:
        where.append(Membership.code.in_(c.codes))
    return exists().where(*where)


def _rfm(c: s.Rfm, ctx: Context) -> ColumnElement[bool]:
    scores = rfm_scores(ctx)
    where = []
    for column, wanted in (("r", c.recency), ("f", c.frequency), ("m", c.monetary)):
        if wanted is not None:
            where.append(scores.c[column].in_(wanted))
    return Customer.id.in_(select(scores.c.id).where(*where))


COMPILERS: dict[type[s.Condition], Compiler] = {
    s.CityIn: _values(Customer.city),
    s.RegionIn: _values(Customer.region),
    s.GenderIn: _values(Customer.gender),
    s.CustomerTypeIn: _values(Customer.customer_type),
    s.RegistrationSourceIn: _values(Customer.registration_source),
    s.TierIn: _values(Customer.tier_code),
    s.AgeBetween: _age,
    s.BirthdayInDays: _birthday,
    s.AttributeIs: _attribute,
    s.ConsentGiven: _consent,
    s.OrdersCount: _orders_count,
    s.Spend: _spend,
    s.LifetimeSpendAtLeast: lambda c, ctx: Customer.lifetime_spend >= c.min,
    s.Bought: _bought,
    s.Viewed: _viewed,
    s.WishlistContains: _wishlist,
    s.CartOpen: _cart,
    s.EmailEngagement: _email,
    s.LastPurchase: _last_purchase,
    s.LastActivity: _last_activity,
    s.Balance: _balance,
    s.PointsExpiring: _points_expiring,
    s.MembershipActive: _membership,
    s.Rfm: _rfm,
}
assert set(COMPILERS) == set(s.CONDITION_CLASSES), "every condition needs a compiler"


def predicate(node: s.Node, ctx: Context) -> ColumnElement[bool]:
    if isinstance(node, s.AllGroup):
        return and_(*(predicate(n, ctx) for n in node.all))
    if isinstance(node, s.AnyGroup):
        return or_(*(predicate(n, ctx) for n in node.any))
    if isinstance(node, s.NotGroup):
        return not_(predicate(node.not_, ctx))
    compiler = COMPILERS.get(type(node))
    if compiler is None:
        raise TypeError(f"unknown node {type(node).__name__}")
    return compiler(node, ctx)


def customer_filter(
    customer_ids: Sequence[int] | None = None, id_range: tuple[int, int] | None = None
) -> list[ColumnElement[bool]]:
    """Restrict to some customers: a list (incremental) or an id range (rebuild chunks)."""
    where: list[ColumnElement[bool]] = []
    if customer_ids is not None:
        if not customer_ids:
            return [false()]
        where.append(Customer.id == any_(literal(list(customer_ids), ARRAY(BigInteger))))
    if id_range is not None:
        where.append(Customer.id.between(*id_range))
    return where


def live_customers(
    ctx: Context,
    customer_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> list[ColumnElement[bool]]:
    """The tenant's live profiles, optionally only some of them."""
    return [*_live(ctx), *customer_filter(customer_ids, id_range)]


def compile_segment(
    node: s.Node,
    *,
    tenant_id: int,
    at: datetime,
    zone: tzinfo | None = None,
    customer_ids: Sequence[int] | None = None,
    id_range: tuple[int, int] | None = None,
) -> Select[Any]:
    """Customer ids of one tenant matching the definition, live profiles only."""
    ctx = Context(tenant_id=tenant_id, at=at, zone=zone or UTC)
    return select(Customer.id).where(
        *_live(ctx), *customer_filter(customer_ids, id_range), predicate(node, ctx)
    )
