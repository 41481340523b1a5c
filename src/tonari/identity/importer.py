"""``import customers``: a source's file into ``source_records``, in one transaction.

Rows are cleaned as they stream and copied into a temporary table in batches, so memory stays
flat whatever the file's size; one statement then folds the batch into ``source_records``. A row
whose raw values hash the same as the stored record's changes nothing, so importing the same file
again is a no-op and a changed row updates just its record (and queues it for resolution).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.identity.cleaning_pool import cleaned_chunks
from tonari.identity.readers import BrokenRow, SourceRow, detect_format, open_rows
from tonari.identity.records import CleanRecord, field_mapping
from tonari.identity.sources import PROFILE_FIELDS, FileFormat, SourceDefinition
from tonari.kit.driver import driver_in_transaction
from tonari.models.identity import CustomerSource

COPY_BATCH = 5_000
# Stored on the record for the golden record's sake, but nothing for the brand to fix.
NOT_WARNINGS = frozenset({"inferred"})
RECORD_COLUMNS = (
    "record_id",
    "content_hash",
    "raw",
    "first_name",
    "last_name",
    "middle_name",
    "birth_date",
    "gender",
    "email",
    "email_key",
    "email_status",
    "phone",
    "phone_status",
    "city",
    "address",
    "postcode",
    "region",
    "card_number",
    "external_id",
    "anonymous_id",
    "source_updated_at",
    "flags",
)
STAGE_COLUMNS = ("line", *RECORD_COLUMNS)
_STAGE = """
CREATE TEMPORARY TABLE customer_import_stage (
    line bigint, record_id text, content_hash text, raw jsonb, first_name text, last_name text,
    middle_name text, birth_date date, gender text, email text, email_key text,
    email_status text, phone text, phone_status text, city text, address text, postcode text,
    region text, card_number text, external_id text, anonymous_id text,
    source_updated_at timestamptz, flags jsonb
) ON COMMIT DROP
"""
_REPEATS = """
SELECT record_id, array_agg(line ORDER BY line) AS lines FROM customer_import_stage
GROUP BY record_id HAVING count(*) > 1
"""
_ERASED = """
SELECT count(*) FROM (SELECT DISTINCT record_id FROM customer_import_stage) AS stage
JOIN source_records AS kept
  ON kept.tenant_id = $1 AND kept.source_id = $2 AND kept.record_id = stage.record_id
WHERE kept.erased_at IS NOT NULL
"""
_SETS = ", ".join(f"{name} = excluded.{name}" for name in RECORD_COLUMNS if name != "record_id")
_UPSERT = f"""
INSERT INTO source_records (tenant_id, source_id, {", ".join(RECORD_COLUMNS)})
SELECT DISTINCT ON (record_id) $1, $2, {", ".join(RECORD_COLUMNS)}
FROM customer_import_stage ORDER BY record_id, line DESC
ON CONFLICT (tenant_id, source_id, record_id) DO UPDATE SET {_SETS},
    needs_resolution = true, changed_at = now(), last_seen_at = now()
WHERE source_records.content_hash IS DISTINCT FROM excluded.content_hash
  AND source_records.erased_at IS NULL
RETURNING (xmax = 0) AS inserted
"""


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One line of the import report: a rejected row, or a value kept out of use."""

    line: int
    record_id: str | None
    severity: str  # "rejected": the row was not imported; "warning": a value was flagged
    field: str | None
    code: str
    reason: str
    value: str | None = None


@dataclass(slots=True)
class ImportSummary:
    source: str
    file_format: str
    encoding: str | None
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    erased_skipped: int = 0
    warnings_by_code: dict[str, int] = field(default_factory=dict)


def _stage_row(line: int, record: CleanRecord) -> tuple[Any, ...]:
    values: list[Any] = [line]
    for name in RECORD_COLUMNS:
        value = getattr(record, name)
        values.append(json.dumps(value, ensure_ascii=False) if name in ("raw", "flags") else value)
    return tuple(values)


async def import_customers(
    session: AsyncSession,
    *,
    tenant_id: int,
    source: CustomerSource,
    definition: SourceDefinition,
    path: Path,
    today: date,
    encoding: str | None = None,
    file_format: FileFormat | None = None,
    on_issue: Callable[[RowIssue], None] = lambda issue: None,
    on_progress: Callable[[int], None] = lambda rows: None,
) -> ImportSummary:
    """Read, clean and store one file; every rejected row and flagged value goes to ``on_issue``.

    Structural problems (unknown format, no record id column, a mapped column missing, an
    undecodable header) raise before anything is written. The caller's transaction holds the
    whole file: a failure half-way leaves nothing behind.
    """
    chosen_format = detect_format(path, file_format or definition.format)
    header, used_encoding, rows = open_rows(path, chosen_format, encoding or definition.encoding)
    summary = ImportSummary(definition.name, str(chosen_format), used_encoding)
    if chosen_format is FileFormat.JSONL:
        # A JSON line simply leaves out a key it has no value for: only the first line's keys
        # are known up front, so a mapped key missing there is not a missing column.
        mapped = set(definition.columns.values())
        named = [name for name in PROFILE_FIELDS if name not in mapped]
        header = list(dict.fromkeys([*header, *definition.columns, *named]))
    return await import_rows(
        session,
        tenant_id=tenant_id,
        source=source,
        definition=definition,
        header=header,
        rows=rows,
        summary=summary,
        today=today,
        on_issue=on_issue,
        on_progress=on_progress,
    )


async def import_rows(
    session: AsyncSession,
    *,
    tenant_id: int,
    source: CustomerSource,
    definition: SourceDefinition,
    header: list[str],
    rows: Iterable[SourceRow | BrokenRow],
    summary: ImportSummary,
    today: date,
    on_issue: Callable[[RowIssue], None] = lambda issue: None,
    on_progress: Callable[[int], None] = lambda rows: None,
) -> ImportSummary:
    """Clean and store rows of one source (a file's, or a batch sent to the API)."""
    mapping = field_mapping(definition, header)
    driver = await driver_in_transaction(session)
    await driver.execute(_STAGE)
    batch: list[tuple[Any, ...]] = []
    async for chunk in cleaned_chunks(rows, mapping, definition, today):
        for line, outcome in chunk:
            summary.rows_read += 1
            if isinstance(outcome, BrokenRow):
                summary.rejected += 1
                on_issue(RowIssue(line, None, "rejected", None, "unreadable_row", outcome.reason))
            elif isinstance(outcome, str):
                summary.rejected += 1
                on_issue(RowIssue(line, None, "rejected", "record_id", "no_record_id", outcome))
            else:
                _warn(summary, outcome, line, on_issue)
                batch.append(_stage_row(line, outcome))
        if len(batch) >= COPY_BATCH:
            await _copy(driver, batch)
            on_progress(summary.rows_read)
            batch = []
    if batch:
        await _copy(driver, batch)
    on_progress(summary.rows_read)
    for repeat in await driver.fetch(_REPEATS):
        lines = list(repeat["lines"])
        for line in lines[:-1]:
            summary.rejected += 1
            on_issue(
                RowIssue(
                    line,
                    repeat["record_id"],
                    "rejected",
                    "record_id",
                    "repeated_record_id",
                    f"record id appears again at line {lines[-1]}; that later row is kept",
                )
            )
    summary.erased_skipped = int(await driver.fetchval(_ERASED, tenant_id, source.id) or 0)
    written = await driver.fetch(_UPSERT, tenant_id, source.id)
    summary.created = sum(1 for row in written if row["inserted"])
    summary.updated = len(written) - summary.created
    distinct = int(
        await driver.fetchval("SELECT count(DISTINCT record_id) FROM customer_import_stage") or 0
    )
    summary.unchanged = distinct - len(written) - summary.erased_skipped
    await driver.execute("DROP TABLE customer_import_stage")
    return summary


def _warn(
    summary: ImportSummary, record: CleanRecord, line: int, on_issue: Callable[[RowIssue], None]
) -> None:
    for flag in record.flags:
        if flag["code"] in NOT_WARNINGS:
            continue
        summary.warnings += 1
        code = flag["code"]
        summary.warnings_by_code[code] = summary.warnings_by_code.get(code, 0) + 1
        on_issue(
            RowIssue(
                line,
                record.record_id,
                "warning",
                flag["field"],
                code,
                flag["reason"],
                flag["value"],
            )
        )


async def _copy(driver: Any, batch: list[tuple[Any, ...]]) -> None:
    await driver.copy_records_to_table(
        "customer_import_stage", records=batch, columns=STAGE_COLUMNS
    )
