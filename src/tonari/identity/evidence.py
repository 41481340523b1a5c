"""The evidence between records: shared identifiers (from SQL) and the model's fuzzy pairs.

Exact evidence is read fresh every time from the records' identifier columns. Fuzzy evidence is
scored by the Splink model (:mod:`tonari.identity.matching`) and stored in ``identity_pairs``
with its probability and the comparison levels that explain it; a person's decision on a pair
(confirmed, rejected) is never overwritten by a later scoring.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity import clusters
from tonari.identity.clusters import Edge
from tonari.identity.matching import RECORD_COLUMNS, ScoredPair
from tonari.kit.driver import driver_in_transaction
from tonari.models.identity import IdentitySettings

# A value shared by more records than this is a placeholder ("noemail@mail.ru", a shop's own
# phone), not an identity: it joins nobody. Reported by the quality report.
MAX_SHARED_IDENTIFIER = 10
AUTO, REVIEW, CONFIRMED, REJECTED = "auto", "review", "confirmed", "rejected"
IDENTIFIERS = (
    ("card_number", clusters.CARD, 1_000),
    ("external_id", clusters.EXTERNAL, 1_000),
    ("email_key", clusters.EMAIL, MAX_SHARED_IDENTIFIER),
    ("phone", clusters.PHONE, MAX_SHARED_IDENTIFIER),
    ("anonymous_id", clusters.ANONYMOUS, MAX_SHARED_IDENTIFIER),
)
# Matching sees lower-case text; the golden record keeps the values as cleaned.
_MATCHING_SELECT = """
SELECT r.id AS unique_id, s.name AS source, lower(r.first_name) AS first_name,
       lower(r.last_name) AS last_name, to_char(r.birth_date, 'YYYY-MM-DD') AS birth_date,
       r.email_key AS email, r.phone, lower(r.city) AS city, lower(r.address) AS address,
       r.postcode, lower(r.region) AS region
FROM source_records r JOIN customer_sources s ON s.id = r.source_id
WHERE r.tenant_id = {tenant_id} AND r.erased_at IS NULL {extra}
ORDER BY r.id
"""


@dataclass(frozen=True, slots=True)
class Thresholds:
    auto_merge: float
    review: float


async def thresholds(session: AsyncSession, tenant_id: int) -> Thresholds:
    from tonari.identity.matching import AUTO_MERGE_PROBABILITY, REVIEW_PROBABILITY

    row = (
        await session.execute(
            select(
                IdentitySettings.auto_merge_probability, IdentitySettings.review_probability
            ).where(IdentitySettings.tenant_id == tenant_id)
        )
    ).first()
    auto = row.auto_merge_probability if row and row.auto_merge_probability else None
    review = row.review_probability if row and row.review_probability else None
    return Thresholds(auto or AUTO_MERGE_PROBABILITY, review or REVIEW_PROBABILITY)


async def matching_table(
    session: AsyncSession, tenant_id: int, record_ids: Sequence[int] | None = None
) -> pa.Table:
    """Records in the matching model's columns, streamed out of PostgreSQL as CSV into Arrow."""
    driver = await driver_in_transaction(session)
    extra = ""
    if record_ids is not None:
        if not record_ids:
            return pa.table({name: pa.array([], type=pa.string()) for name in RECORD_COLUMNS})
        extra = "AND r.id = ANY('{" + ",".join(str(int(i)) for i in record_ids) + "}'::bigint[])"
    buffer = io.BytesIO()
    await driver.copy_from_query(
        _MATCHING_SELECT.format(tenant_id=int(tenant_id), extra=extra),
        output=buffer,
        format="csv",
        header=True,
    )
    buffer.seek(0)
    types = {name: pa.string() for name in RECORD_COLUMNS}
    types["unique_id"] = pa.int64()
    return pa_csv.read_csv(
        buffer,
        convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )


async def exact_edges(
    session: AsyncSession, tenant_id: int, record_ids: Sequence[int] | None = None
) -> tuple[list[Edge], set[int]]:
    """Edges between records sharing an identifier, and every record such a group touches.

    With ``record_ids``, only values that one of those records holds are followed (the
    incremental case); the records found that way are returned so the caller widens its set.
    """
    driver = await driver_in_transaction(session)
    edges: list[Edge] = []
    touched: set[int] = set()
    for column, kind, limit in IDENTIFIERS:
        scope = ""
        arguments: list[Any] = [tenant_id, limit]
        if record_ids is not None:
            scope = (
                f"AND {column} IN (SELECT {column} FROM source_records "
                f"WHERE id = ANY($3::bigint[]) AND {column} IS NOT NULL)"
            )
            arguments.append(list(record_ids))
        rows = await driver.fetch(
            f"SELECT array_agg(id ORDER BY id) AS ids FROM source_records "
            f"WHERE tenant_id = $1 AND erased_at IS NULL AND {column} IS NOT NULL {scope} "
            f"GROUP BY {column} HAVING count(*) BETWEEN 2 AND $2",
            *arguments,
        )
        groups = [list(row["ids"]) for row in rows]
        for group in groups:
            touched.update(group)
        edges.extend(clusters.exact_edges(kind, groups))
    return edges, touched


async def store_pairs(
    session: AsyncSession,
    tenant_id: int,
    pairs: Sequence[ScoredPair],
    limits: Thresholds,
    *,
    replace_scored_among: Sequence[int] | None = None,
    all_records: bool = False,
) -> tuple[int, int]:
    """Keep the model's pairs; returns (auto, review) counts. Decided pairs stay decided.

    A full run (``all_records``) forgets earlier undecided pairs the model no longer finds.
    """
    driver = await driver_in_transaction(session)
    if all_records:
        await driver.execute(
            "DELETE FROM identity_pairs WHERE tenant_id = $1 AND status IN ('auto', 'review')",
            tenant_id,
        )
    elif replace_scored_among:
        await driver.execute(
            "DELETE FROM identity_pairs WHERE tenant_id = $1 AND status IN ('auto', 'review') "
            "AND (left_record_id = ANY($2::bigint[]) OR right_record_id = ANY($2::bigint[]))",
            tenant_id,
            list(replace_scored_among),
        )
    kept = [pair for pair in pairs if pair.probability >= limits.review]
    if not kept:
        return 0, 0
    await driver.execute(
        "CREATE TEMPORARY TABLE identity_pair_stage (left_id bigint, right_id bigint, "
        "probability float8, weight float8, levels jsonb, status text) ON COMMIT DROP"
    )
    await driver.copy_records_to_table(
        "identity_pair_stage",
        records=[
            (
                min(pair.left_id, pair.right_id),
                max(pair.left_id, pair.right_id),
                pair.probability,
                pair.weight,
                json.dumps(pair.levels, ensure_ascii=False),
                AUTO if pair.probability >= limits.auto_merge else REVIEW,
            )
            for pair in kept
        ],
    )
    await driver.execute(
        "INSERT INTO identity_pairs (tenant_id, left_record_id, right_record_id, probability, "
        "weight, levels, status) SELECT $1, left_id, right_id, probability, weight, levels, "
        "status FROM identity_pair_stage ON CONFLICT (tenant_id, left_record_id, "
        "right_record_id) DO UPDATE SET probability = excluded.probability, "
        "weight = excluded.weight, levels = excluded.levels, "
        "status = CASE WHEN identity_pairs.status IN ('confirmed', 'rejected') "
        "THEN identity_pairs.status ELSE excluded.status END",
        tenant_id,
    )
    await driver.execute("DROP TABLE identity_pair_stage")
    auto = sum(1 for pair in kept if pair.probability >= limits.auto_merge)
    return auto, len(kept) - auto


async def pair_edges(
    session: AsyncSession, tenant_id: int, record_ids: Sequence[int] | None = None
) -> tuple[list[Edge], list[tuple[int, int]]]:
    """Stored pairs as edges: auto and confirmed ones to follow, rejected ones to keep apart."""
    driver = await driver_in_transaction(session)
    scope = ""
    arguments: list[Any] = [tenant_id]
    if record_ids is not None:
        scope = "AND (left_record_id = ANY($2::bigint[]) OR right_record_id = ANY($2::bigint[]))"
        arguments.append(list(record_ids))
    rows = await driver.fetch(
        "SELECT left_record_id, right_record_id, probability, status FROM identity_pairs "
        f"WHERE tenant_id = $1 AND status IN ('auto', 'confirmed', 'rejected') {scope}",
        *arguments,
    )
    edges: list[Edge] = []
    rejected: list[tuple[int, int]] = []
    for row in rows:
        left, right = int(row["left_record_id"]), int(row["right_record_id"])
        if row["status"] == REJECTED:
            rejected.append((left, right))
        elif row["status"] == CONFIRMED:
            edges.append(Edge(left, right, clusters.CONFIRMED))
        else:
            edges.append(Edge(left, right, clusters.FUZZY, float(row["probability"] or 0.0)))
    return edges, rejected


async def save_model(
    session: AsyncSession, tenant_id: int, model: dict[str, Any], records: int, at: datetime
) -> None:
    values = {"model": model, "model_trained_at": at, "model_records": records, "updated_at": at}
    await session.execute(
        pg_insert(IdentitySettings)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_update(index_elements=[IdentitySettings.tenant_id], set_=values)
    )


async def stored_model(session: AsyncSession, tenant_id: int) -> dict[str, Any] | None:
    model = await session.scalar(
        select(IdentitySettings.model).where(IdentitySettings.tenant_id == tenant_id)
    )
    return dict(model) if model else None
