"""Malformed customer files: every bad row reported with its line, nothing imported half-way."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TenantFixture
from tonari.identity.importer import ImportSummary, RowIssue, import_customers
from tonari.identity.sources import SourceDefinition, put_source, source_definition
from tonari.kit.errors import ValidationFailed

TODAY = date(2026, 11, 24)
SHOP = SourceDefinition(
    name="shop",
    region="RU",
    columns={"id": "record_id", "mail": "email", "dob": "birth_date"},
)


async def _import(
    session: AsyncSession, tenant_id: int, path: Path, definition: SourceDefinition = SHOP
) -> tuple[ImportSummary, list[RowIssue]]:
    source = await put_source(session, tenant_id=tenant_id, definition=definition)
    issues: list[RowIssue] = []
    summary = await import_customers(
        session,
        tenant_id=tenant_id,
        source=source,
        definition=source_definition(source),
        path=path,
        today=TODAY,
        on_issue=issues.append,
    )
    return summary, issues


async def _records(session: AsyncSession, tenant_id: int) -> int:
    return int(
        await session.scalar(
            text("SELECT count(*) FROM source_records WHERE tenant_id = :t"), {"t": tenant_id}
        )
        or 0
    )


async def test_every_bad_row_is_named_by_its_line_and_the_good_ones_import(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    path = tmp_path / "shop.csv"
    path.write_bytes(
        b"id,mail,dob,first_name\n"
        + "1,anna@example.com,12.03.1985,Анна\n".encode()
        + b"2,bad\xff\xfebytes@example.com,01.01.1990,Olga\n"  # not UTF-8
        b"3,olga@example.com,1990-13-45,Olga\n"  # garbage date: kept, flagged
        b"4,only,two\n"  # too few cells
        b",nobody@example.com,01.01.1990,Nobody\n"  # no record id
        b"5,first@example.com,01.01.1990,Ivan\n"
        b"5,second@example.com,01.01.1990,Ivan\n"  # the same id again: the later row wins
    )
    summary, issues = await _import(session, tenant.id, path)
    rejected = {(i.line, i.code) for i in issues if i.severity == "rejected"}
    assert rejected == {
        (3, "unreadable_row"),
        (5, "unreadable_row"),
        (6, "no_record_id"),
        (7, "repeated_record_id"),
    }
    reasons = {i.line: i.reason for i in issues if i.severity == "rejected"}
    assert "not valid utf-8" in reasons[3]
    assert "2 cells where the header has 4" in reasons[5] or "3 cells" in reasons[5]
    assert "line 8" in reasons[7]
    assert ("3", "birth_date") in {(i.record_id, i.field) for i in issues}
    assert (summary.rows_read, summary.created, summary.rejected) == (7, 3, 4)
    emails = {
        row.record_id: row.email
        for row in await session.execute(
            text("SELECT record_id, email FROM source_records WHERE tenant_id = :t"),
            {"t": tenant.id},
        )
    }
    assert emails == {"1": "anna@example.com", "3": "olga@example.com", "5": "second@example.com"}


async def test_a_missing_column_stops_the_file_before_anything_is_written(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("id,email\n1,anna@example.com\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as error:
        await _import(session, tenant.id, path)
    assert error.value.code == "missing_column"
    assert "mail, dob" in error.value.message or "dob, mail" in error.value.message
    assert await _records(session, tenant.id) == 0
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("email,phone\nanna@example.com,\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as error:
        await _import(session, tenant.id, no_id, SourceDefinition(name="plain"))
    assert error.value.field == "record_id"


async def test_a_file_in_another_encoding_is_detected_and_a_wrong_declaration_is_named(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    path = tmp_path / "shop.csv"
    path.write_bytes(
        "id,mail,dob,first_name\n1,anna@example.com,12.03.1985,Анна\n".encode("cp1251")
    )
    summary, _ = await _import(session, tenant.id, path)
    assert summary.encoding == "cp1251" and summary.created == 1
    first = await session.scalar(
        text("SELECT first_name FROM source_records WHERE tenant_id = :t"), {"t": tenant.id}
    )
    assert first == "Анна"
    header = tmp_path / "header.csv"
    header.write_bytes("ид,mail\n1,a@b.example\n".encode("cp1251"))
    declared = SourceDefinition(name="utf", encoding="utf-8", columns={"mail": "email"})
    with pytest.raises(ValidationFailed) as error:
        await _import(session, tenant.id, header, declared)
    assert error.value.field == "encoding"


async def test_json_lines_and_a_broken_line_among_them(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text(
        '{"record_id": "a1", "email": "anna@example.com"}\n'
        '{"record_id": "a2", "email": \n'
        '["not", "an", "object"]\n'
        '{"record_id": "a3", "phone": "8 916 123-45-67", "birth_date": "1990-02-30"}\n',
        encoding="utf-8",
    )
    summary, issues = await _import(
        session, tenant.id, path, SourceDefinition(name="app", region="RU")
    )
    assert summary.created == 2
    assert {(i.line, i.code) for i in issues if i.severity == "rejected"} == {
        (2, "unreadable_row"),
        (3, "unreadable_row"),
    }
    phone = await session.scalar(
        text("SELECT phone FROM source_records WHERE record_id = 'a3' AND tenant_id = :t"),
        {"t": tenant.id},
    )
    assert phone == "+79161234567"


async def test_a_changed_row_updates_only_its_record(
    session: AsyncSession, tenant: TenantFixture, tmp_path: Path
) -> None:
    path = tmp_path / "shop.csv"
    path.write_text(
        "id,mail,dob\n1,anna@example.com,12.03.1985\n2,olga@example.com,01.01.1990\n",
        encoding="utf-8",
    )
    await _import(session, tenant.id, path)
    await session.execute(text("UPDATE source_records SET needs_resolution = false"))
    path.write_text(
        "id,mail,dob\n1,anna@example.com,12.03.1985\n2,olga.new@example.com,01.01.1990\n",
        encoding="utf-8",
    )
    summary, _ = await _import(session, tenant.id, path)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 1)
    waiting = [
        row.record_id
        for row in await session.execute(
            text("SELECT record_id FROM source_records WHERE needs_resolution AND tenant_id = :t"),
            {"t": tenant.id},
        )
    ]
    assert waiting == ["2"]
