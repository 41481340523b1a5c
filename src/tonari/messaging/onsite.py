"""On-site content: what the brand's site shows a logged-in visitor, and which block applies.

A block (banner or popup) belongs to a placement and has a rule; the site asks for a placement
and gets the customer's loyalty numbers plus the highest-priority active block whose rule
holds *now*, rendered with the same sandboxed templates and variables as messages. The rule
is pure (``block_applies``): plain numbers in, yes/no out.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.kit.errors import NotFound, ValidationFailed
from tonari.messaging.template_context import customer_context
from tonari.messaging.templates import check_template_part, render_part, template_variables
from tonari.models.messaging_content import OnsiteBlock
from tonari.models.segments import Segment, SegmentMembership

BLOCK_KEY = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,79}$")
PLACEMENT = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,39}$")
KINDS = ("banner", "popup")


class OnsiteRule(BaseModel):
    """All given conditions must hold; an empty rule always applies (a default block)."""

    model_config = ConfigDict(extra="forbid")
    expiring_within_days: int | None = Field(
        default=None, ge=1, le=3650, description="has points expiring within this many days"
    )
    min_balance: int | None = Field(default=None, ge=0)
    max_balance: int | None = Field(default=None, ge=0)
    tiers: list[str] | None = Field(default=None, min_length=1, max_length=20)
    max_amount_to_next_tier: int | None = Field(
        default=None, ge=0, description="minor units of spend still missing for the next tier"
    )
    segment: str | None = Field(default=None, min_length=1, max_length=80)


def parse_rule(rule: dict[str, Any]) -> OnsiteRule:
    try:
        return OnsiteRule.model_validate(rule)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise ValidationFailed(
            f"rule.{place}: {first['msg']}", field=f"rule.{place}" if place else "rule"
        ) from None


def block_applies(rule: OnsiteRule, variables: dict[str, Any], segments: set[str]) -> bool:
    expiring = variables.get("expiring")
    if rule.expiring_within_days is not None and (
        expiring is None or expiring["days_left"] > rule.expiring_within_days
    ):
        return False
    balance = int(variables.get("balance") or 0)
    if rule.min_balance is not None and balance < rule.min_balance:
        return False
    if rule.max_balance is not None and balance > rule.max_balance:
        return False
    if rule.tiers is not None and variables["tier"]["code"] not in rule.tiers:
        return False
    next_tier = variables.get("next_tier")
    if rule.max_amount_to_next_tier is not None and (
        next_tier is None or next_tier["amount_left"] > rule.max_amount_to_next_tier
    ):
        return False
    return rule.segment is None or rule.segment in segments


async def put_block(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    placement: str,
    kind: str,
    priority: int,
    rule: dict[str, Any],
    title: str | None,
    html: str,
    active: bool,
    at: datetime,
) -> OnsiteBlock:
    if not BLOCK_KEY.match(key):
        raise ValidationFailed("a block key is 1-80 lowercase letters, digits, _ - .", field="key")
    if not PLACEMENT.match(placement):
        raise ValidationFailed(
            "a placement is 1-40 lowercase letters, digits, _ or -", field="placement"
        )
    if kind not in KINDS:
        raise ValidationFailed(f"kind is one of {', '.join(KINDS)}", field="kind")
    checked = parse_rule(rule).model_dump(exclude_none=True)
    check_template_part("title", title)
    check_template_part("html", html)
    values = {
        "placement": placement,
        "kind": kind,
        "priority": priority,
        "rule": checked,
        "title": title,
        "html": html,
        "active": active,
        "updated_at": at,
    }
    await session.execute(
        insert(OnsiteBlock)
        .values(tenant_id=tenant_id, key=key, created_at=at, **values)
        .on_conflict_do_update(index_elements=["tenant_id", "key"], set_=values)
    )
    return await get_block(session, tenant_id=tenant_id, key=key)


async def get_block(session: AsyncSession, *, tenant_id: int, key: str) -> OnsiteBlock:
    block = await session.scalar(
        select(OnsiteBlock)
        .where(OnsiteBlock.tenant_id == tenant_id, OnsiteBlock.key == key)
        .execution_options(populate_existing=True)
    )
    if block is None:
        raise NotFound(f"no on-site block {key!r}", field="key")
    return block


async def list_blocks(session: AsyncSession, *, tenant_id: int) -> list[OnsiteBlock]:
    return list(
        await session.scalars(
            select(OnsiteBlock)
            .where(OnsiteBlock.tenant_id == tenant_id)
            .order_by(OnsiteBlock.placement, OnsiteBlock.priority.desc(), OnsiteBlock.key)
        )
    )


async def delete_block(session: AsyncSession, *, tenant_id: int, key: str) -> None:
    block = await get_block(session, tenant_id=tenant_id, key=key)
    await session.delete(block)
    await session.flush()


async def _segment_keys(session: AsyncSession, tenant_id: int, customer_id: int) -> set[str]:
    rows = await session.scalars(
        select(Segment.key)
        .join(SegmentMembership, SegmentMembership.segment_id == Segment.id)
        .where(
            SegmentMembership.tenant_id == tenant_id,
            SegmentMembership.customer_id == customer_id,
        )
    )
    return set(rows)


async def onsite_content(
    session: AsyncSession, *, tenant_id: int, customer_id: int, placement: str, at: datetime
) -> dict[str, Any]:
    """The visitor's numbers and the block to show in ``placement`` (or ``None``)."""
    variables = template_variables(
        await customer_context(session, tenant_id=tenant_id, customer_id=customer_id, at=at), {}
    )
    blocks = list(
        await session.scalars(
            select(OnsiteBlock)
            .where(
                OnsiteBlock.tenant_id == tenant_id,
                OnsiteBlock.placement == placement,
                OnsiteBlock.active.is_(True),
            )
            .order_by(OnsiteBlock.priority.desc(), OnsiteBlock.key)
        )
    )
    segments = (
        await _segment_keys(session, tenant_id, customer_id)
        if any(block.rule.get("segment") for block in blocks)
        else set()
    )
    chosen = None
    for block in blocks:
        if block_applies(OnsiteRule.model_validate(block.rule), variables, segments):
            chosen = {
                "key": block.key,
                "kind": block.kind,
                "title": render_part("title", block.title, variables).strip()
                if block.title
                else None,
                "html": render_part("html", block.html, variables),
            }
            break
    expiring = variables["expiring"]
    return {
        "customer": variables["customer"]["external_id"],
        "placement": placement,
        "points": variables["points"],
        "tier": variables["tier"],
        "next_tier": variables["next_tier"],
        "expiring": None
        if expiring is None
        else {
            "points": expiring["points"],
            "date": expiring["date"],
            "days_left": expiring["days_left"],
        },
        "block": chosen,
    }
