"""``identity resolve``: records → clusters → profiles, in one transaction.

Batch mode looks at every record (the first seven-database job, or a recovery). Incremental
mode starts from records marked ``needs_resolution`` (new or changed since the last run),
scores only them against the rest with the stored model, and re-clusters only the records
their evidence reaches. Both run the same clustering and assignment on their set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity import evidence, golden
from tonari.identity.assignment import assign_profiles
from tonari.identity.clusters import EMAIL, PHONE, RECORD_KEY, Edge, cluster_records
from tonari.identity.merging import merge_profiles, unmerge_profile
from tonari.identity.profiles import create_profiles, point_records, refresh_golden_records
from tonari.identity.sources import API_SOURCE
from tonari.kit.clock import utcnow
from tonari.kit.driver import driver_in_transaction
from tonari.kit.errors import NotFound
from tonari.models.identity import IdentitySettings

# How far incremental mode follows evidence out from the changed records before it stops.
MAX_EXPANSION_ROUNDS = 4
# Advisory-lock namespace (programmes 7_001, partner holders 7_002).
RESOLUTION_LOCK = 7_003
ACTOR = "system:identity"


@dataclass(slots=True)
class ResolveSummary:
    mode: str
    records: int = 0
    profiles: int = 0
    new_profiles: int = 0
    merges: int = 0
    revived: int = 0
    deferred: list[str] = field(default_factory=list)
    exact_edges: int = 0
    fuzzy_auto: int = 0
    fuzzy_review: int = 0
    blocked: int = 0
    model: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


Progress = Callable[[str], None]


async def _backfill_api_records(session: AsyncSession, tenant_id: int) -> int:
    """Customers made through the API before they had records get their record now."""
    from tonari.identity.api_records import backfill_api_records

    return await backfill_api_records(session, tenant_id)


async def _record_facts(
    session: AsyncSession, tenant_id: int, record_ids: Sequence[int] | None
) -> list[Any]:
    driver = await driver_in_transaction(session)
    scope = "AND r.id = ANY($2::bigint[])" if record_ids is not None else ""
    arguments: list[Any] = [tenant_id] + ([list(record_ids)] if record_ids is not None else [])
    return list(
        await driver.fetch(
            "SELECT r.id, r.record_id, r.card_number, r.external_id, r.profile_id, "
            "r.home_profile_id, lower(r.first_name) AS first_name, r.birth_date, "
            "s.name AS source, s.record_ids_are_people "
            "FROM source_records r JOIN customer_sources s ON s.id = r.source_id "
            f"WHERE r.tenant_id = $1 AND r.erased_at IS NULL {scope}",
            *arguments,
        )
    )


async def _affected_records(session: AsyncSession, tenant_id: int, seeds: set[int]) -> set[int]:
    """The changed records, everything their identifiers or stored pairs reach, and every
    record of every profile involved (a profile is re-clustered whole or not at all)."""
    driver = await driver_in_transaction(session)
    affected = set(seeds)
    for _ in range(MAX_EXPANSION_ROUNDS):
        before = len(affected)
        _, touched = await evidence.exact_edges(session, tenant_id, sorted(affected))
        affected |= touched
        edges, _ = await evidence.pair_edges(session, tenant_id, sorted(affected))
        for edge in edges:
            affected.update((edge.left, edge.right))
        rows = await driver.fetch(
            "SELECT id FROM source_records WHERE tenant_id = $1 AND erased_at IS NULL AND "
            "profile_id IN (SELECT profile_id FROM source_records WHERE id = ANY($2::bigint[]) "
            "AND profile_id IS NOT NULL)",
            tenant_id,
            sorted(affected),
        )
        affected.update(int(row["id"]) for row in rows)
        if len(affected) == before:
            break
    return affected


async def resolve_identities(
    session: AsyncSession,
    *,
    tenant_id: int,
    at: datetime,
    incremental: bool = False,
    first_tier: str | None = None,
    progress: Progress = lambda stage: None,
    retrain: bool = False,
) -> ResolveSummary:
    summary = ResolveSummary(mode="incremental" if incremental else "batch")
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        summary.seconds[stage] = round(now - clock, 3)
        clock = now
        progress(stage)

    # One resolution per tenant at a time (CLI, API and workers alike): two runs clustering
    # the same new records at once would each make a profile for them.
    await session.execute(select(func.pg_advisory_xact_lock(RESOLUTION_LOCK, tenant_id)))
    await _backfill_api_records(session, tenant_id)
    driver = await driver_in_transaction(session)
    limits = await evidence.thresholds(session, tenant_id)
    scope: list[int] | None = None
    if incremental:
        changed = [
            int(row["id"])
            for row in await driver.fetch(
                "SELECT id FROM source_records WHERE tenant_id = $1 AND needs_resolution "
                "AND erased_at IS NULL",
                tenant_id,
            )
        ]
        if not changed:
            summary.model = "nothing changed"
            return summary
        await _score_incremental(session, tenant_id, changed, limits, summary, at, retrain)
        scope = sorted(await _affected_records(session, tenant_id, set(changed)))
    else:
        # A first import loads a million rows at once; the planner must know before the
        # joins below (autovacuum would analyse the table only later).
        await driver.execute("ANALYZE source_records")
        await _score_batch(session, tenant_id, limits, summary, at)
    lap("fuzzy matching")
    facts = await _record_facts(session, tenant_id, scope)
    summary.records = len(facts)
    exact, _ = await evidence.exact_edges(session, tenant_id, scope)
    pairs, rejected = await evidence.pair_edges(session, tenant_id, scope)
    in_scope = {int(row["id"]) for row in facts}
    by_id = {int(row["id"]): row for row in facts}
    households: list[Edge] = []
    kept: list[Edge] = []
    for edge in exact:
        split = edge.kind in SHARED_KINDS and _two_people(by_id, edge)
        (households if split else kept).append(edge)
    exact = kept
    edges = [e for e in (*exact, *pairs) if e.left in in_scope and e.right in in_scope]
    summary.exact_edges = len(exact)
    unique_keys: dict[int, dict[str, str]] = {}
    for row in facts:
        keys: dict[str, str] = {}
        if row["card_number"]:
            keys["card"] = row["card_number"]
        if row["record_ids_are_people"]:
            keys[f"{RECORD_KEY}{row['source']}"] = row["record_id"]
        if keys:
            unique_keys[int(row["id"])] = keys
    clustering = cluster_records(
        sorted(in_scope), edges, unique_keys=unique_keys, rejected=rejected
    )
    summary.blocked = len(clustering.blocked) + len(households)
    summary.fuzzy_review = await _open_reviews(session, tenant_id, clustering.clusters, scope)
    lap("clustering")
    await _apply(session, tenant_id, by_id, clustering, summary, at, first_tier, lap)
    return summary


async def _score_batch(
    session: AsyncSession,
    tenant_id: int,
    limits: evidence.Thresholds,
    summary: ResolveSummary,
    at: datetime,
) -> None:
    from tonari.identity.matching import score_pairs

    table = await evidence.matching_table(session, tenant_id)
    model, summary.model = _trained(table)
    await evidence.save_model(session, tenant_id, model.settings, table.num_rows, at)
    pairs = score_pairs(table, model, min_probability=limits.review)
    summary.fuzzy_auto, summary.fuzzy_review = await evidence.store_pairs(
        session, tenant_id, pairs, limits, all_records=True
    )


def _trained(table: pa.Table) -> tuple[Any, str]:
    """The model trained on these records, or the shipped starting values when the data is
    too small or too uniform for Splink to estimate from (it says so rather than guess)."""
    from tonari.identity.matching import TrainedModel, train_model
    from tonari.identity.matching_settings import untrained_settings

    try:
        return train_model(table), f"trained on {table.num_rows} records"
    except ValueError as error:
        note = str(error).split(".")[0]
        return TrainedModel(settings=untrained_settings()), f"starting values ({note})"


async def _score_incremental(
    session: AsyncSession,
    tenant_id: int,
    changed: list[int],
    limits: evidence.Thresholds,
    summary: ResolveSummary,
    at: datetime,
    retrain: bool,
) -> None:
    from tonari.identity.matching import TrainedModel, score_new_against_existing

    stored = None if retrain else await evidence.stored_model(session, tenant_id)
    everything = await evidence.matching_table(session, tenant_id)
    if stored is None:
        model, summary.model = _trained(everything)
        await evidence.save_model(session, tenant_id, model.settings, everything.num_rows, at)
    else:
        model = TrainedModel(settings=stored)
        summary.model = "stored model"
    is_new = pc.is_in(everything["unique_id"], value_set=pa.array(changed, type=pa.int64()))
    new_table = everything.filter(is_new)
    existing = everything.filter(pc.invert(is_new))
    pairs = score_new_against_existing(new_table, existing, model, min_probability=limits.review)
    summary.fuzzy_auto, summary.fuzzy_review = await evidence.store_pairs(
        session, tenant_id, pairs, limits, replace_scored_among=changed
    )


async def _open_reviews(
    session: AsyncSession,
    tenant_id: int,
    clusters: list[list[int]],
    scope: list[int] | None,
) -> int:
    """Review pairs still worth a person's look: their records ended up in two profiles."""
    cluster_of = {record: index for index, cluster in enumerate(clusters) for record in cluster}
    driver = await driver_in_transaction(session)
    rows = await driver.fetch(
        "SELECT left_record_id, right_record_id FROM identity_pairs "
        "WHERE tenant_id = $1 AND status = 'review'",
        tenant_id,
    )
    return sum(
        1
        for row in rows
        if cluster_of.get(row["left_record_id"], -1) != cluster_of.get(row["right_record_id"], -2)
        and (scope is None or row["left_record_id"] in cluster_of)
    )


# Identifiers a household shares (a landline, a family mailbox): they join two records only
# when nothing about the people themselves says they are two.
SHARED_KINDS = frozenset({PHONE, EMAIL})


def _two_people(by_id: dict[int, Any], edge: Edge) -> bool:
    """Both records name a person, and the first names and the birth dates both disagree
    (beyond a typo or a day/month swap): mother and daughter on one phone, not one person."""
    left, right = by_id.get(edge.left), by_id.get(edge.right)
    if left is None or right is None:
        return False
    first_a, first_b = left["first_name"], right["first_name"]
    born_a, born_b = left["birth_date"], right["birth_date"]
    if not (first_a and first_b and born_a and born_b):
        return False
    names_differ = first_a[:3] != first_b[:3]
    swapped = (born_a.year, born_a.month, born_a.day) == (born_b.year, born_b.day, born_b.month)
    return names_differ and born_a != born_b and not swapped


def _brand_customer_id(records: Sequence[int], by_id: dict[int, Any]) -> str | None:
    """The shop's own customer id for a new profile: an API record's, else one a file gave."""
    for record in records:
        if by_id[record]["source"] == API_SOURCE:
            return str(by_id[record]["record_id"])
    return next((by_id[r]["external_id"] for r in records if by_id[r]["external_id"]), None)


def _reason(edge: Edge | None) -> tuple[float | None, str]:
    if edge is None:
        return None, "alone"
    return edge.score, edge.kind


async def _apply(
    session: AsyncSession,
    tenant_id: int,
    by_id: dict[int, Any],
    clustering: Any,
    summary: ResolveSummary,
    at: datetime,
    first_tier: str | None,
    lap: Callable[[str], None],
) -> None:
    driver = await driver_in_transaction(session)
    current = {record: by_id[record]["profile_id"] for record in by_id}
    home = {record: by_id[record]["home_profile_id"] for record in by_id}
    candidates = sorted({p for p in home.values() if p is not None})
    folded = frozenset(
        int(row["id"])
        for row in await driver.fetch(
            "SELECT id FROM customers WHERE id = ANY($1::bigint[]) AND merged_into_id IS NOT NULL",
            candidates,
        )
    )
    live = sorted({p for p in current.values() if p is not None})
    known_to_brand = frozenset(
        int(row["id"])
        for row in await driver.fetch(
            "SELECT id FROM customers WHERE id = ANY($1::bigint[]) "
            "AND external_id NOT LIKE 'profile:%'",
            live,
        )
    )
    plan = assign_profiles(
        clustering.clusters,
        current=current,
        home=home,
        folded=folded,
        known_to_brand=known_to_brand,
    )
    deferred = await _deferred(session, tenant_id, [m for m, _ in plan.merges])
    new_needed = [p for p in plan.plans if p.profile_id is None]
    new_ids = await create_profiles(
        session,
        tenant_id,
        [_brand_customer_id(cluster.records, by_id) for cluster in new_needed],
        first_tier=first_tier,
        at=at,
    )
    summary.new_profiles = len(new_ids)
    new_iter = iter(new_ids)
    for cluster in plan.plans:
        if cluster.revived:
            await unmerge_profile(
                session, tenant_id=tenant_id, merged_id=cluster.profile_id or 0, at=at, actor=ACTOR
            )
            summary.revived += 1
    pointing: list[tuple[int, int, float | None, str]] = []
    touched: list[int] = []
    survivors: set[int] = set()
    for cluster in plan.plans:
        profile_id = cluster.profile_id if cluster.profile_id is not None else next(new_iter)
        touched.append(profile_id)
        for record in cluster.records:
            owner = current.get(record)
            target = owner if owner in deferred else profile_id
            score, rule = _reason(clustering.reasons.get(record))
            pointing.append((record, target, score, rule))
    for merged, survivor in plan.merges:
        if merged in deferred:
            summary.deferred.append(deferred[merged])
            touched.append(merged)
            continue
        await merge_profiles(
            session,
            tenant_id=tenant_id,
            survivor_id=survivor,
            merged_id=merged,
            at=at,
            actor=ACTOR,
            reason="identity resolution: the same person",
        )
        survivors.add(survivor)
        summary.merges += 1
    lap("new profiles and merges")
    await point_records(session, pointing)
    lap("records pointed")
    rules = await _rules(session, tenant_id)
    await refresh_golden_records(session, tenant_id, touched, rules, at)
    lap("golden records")
    summary.profiles = len(plan.plans)
    await _refresh_tiers(session, tenant_id, sorted(survivors), at)


async def _deferred(session: AsyncSession, tenant_id: int, merged: list[int]) -> dict[int, str]:
    """Profiles that cannot fold yet (points reserved for an open order, or a points debt)."""
    if not merged:
        return {}
    driver = await driver_in_transaction(session)
    rows = await driver.fetch(
        "SELECT a.customer_id, c.external_id FROM ledger_accounts a "
        "JOIN customers c ON c.id = a.customer_id WHERE a.tenant_id = $1 "
        "AND a.customer_id = ANY($2::bigint[]) AND (a.reserved > 0 OR a.debt > 0)",
        tenant_id,
        merged,
    )
    return {
        int(row["customer_id"]): f"{row['external_id']}: points reserved for an open order or "
        "a points debt; merged on a later run"
        for row in rows
    }


async def _rules(session: AsyncSession, tenant_id: int) -> dict[str, golden.Rule]:
    overrides = await session.scalar(
        select(IdentitySettings.survivorship).where(IdentitySettings.tenant_id == tenant_id)
    )
    return golden.rules_for(overrides)


async def first_tier_in_force(session: AsyncSession, tenant_id: int) -> str | None:
    """The tier a new profile starts in: the programme's first, if one is in force."""
    from tonari.programs.service import programme_in_force

    try:
        _, programme = await programme_in_force(session, tenant_id=tenant_id, at=utcnow())
    except NotFound:
        return None
    return programme.tiers[0].code if programme.tiers else None


async def _refresh_tiers(
    session: AsyncSession, tenant_id: int, customer_ids: list[int], at: datetime
) -> None:
    if not customer_ids:
        return
    from tonari.orders.tiering import refresh_tier
    from tonari.programs.service import programme_in_force

    try:
        _, programme = await programme_in_force(session, tenant_id=tenant_id, at=at)
    except NotFound:
        return
    for customer_id in customer_ids:
        await refresh_tier(
            session, tenant_id=tenant_id, programme=programme, customer_id=customer_id, at=at
        )
