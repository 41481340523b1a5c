"""``tonari segment``: define from YAML, list, size, export to CSV and rebuild, as typed."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg

from tests.cli.test_cli import tonari
from tests.factories import TenantFixture
from tonari.db import libpq_dsn

SEGMENT_YAML = """
key: kazan-women
name: Women in Kazan
definition:
  all:
    - field: city
      values: [Kazan]
    - field: gender
      values: [female]
"""


def test_segment_commands(
    database_url: str, committed_tenant: TenantFixture, tmp_path: Path
) -> None:
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO customers (tenant_id, external_id, city, gender, email) "
            "SELECT %s, 'k' || g, CASE WHEN g %% 3 = 0 THEN 'Omsk' ELSE 'Kazan' END, "
            "CASE WHEN g %% 2 = 0 THEN 'female' ELSE 'male' END, 'k' || g || '@example.com' "
            "FROM generate_series(1, 12) AS g",
            (committed_tenant.id,),
        )
    slug = committed_tenant.slug
    definition = tmp_path / "kazan.yaml"
    definition.write_text(SEGMENT_YAML, encoding="utf-8")
    created = tonari(database_url, "segment", "create", "--tenant", slug, str(definition))
    assert created.returncode == 0, created.stderr
    # k2, k4, k8, k10: even (female) and not a multiple of three (Kazan).
    assert "kazan-women created: 4 members" in created.stdout
    listed = tonari(database_url, "segment", "list", "--tenant", slug)
    assert "kazan-women" in listed.stdout and "Women in Kazan" in listed.stdout
    size = tonari(database_url, "segment", "size", "--tenant", slug, "kazan-women", "--live")
    assert size.returncode == 0 and size.stdout.strip() == "4"
    out = tmp_path / "kazan.csv"
    exported = tonari(
        database_url, "segment", "export", "--tenant", slug, "kazan-women", "--out", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["external_id"] for r in rows) == ["k10", "k2", "k4", "k8"]
    assert rows[0]["email"].endswith("@example.com")
    rebuilt = tonari(database_url, "segment", "rebuild", "--tenant", slug, "kazan-women")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "4 members (+0 / -0)" in rebuilt.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(SEGMENT_YAML.replace("values: [Kazan]", "values: []"), encoding="utf-8")
    refused = tonari(database_url, "segment", "create", "--tenant", slug, str(broken), "--replace")
    assert refused.returncode == 2
    assert "definition.all.0.values" in refused.stderr
