"""``tonari codes``: a pool from YAML, generation with a progress bar, export, the schedule."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

from tests.cli.test_cli import tonari
from tonari.codes.generator import ALPHABET


def test_operator_creates_generates_and_exports_codes(database_url: str, tmp_path: Path) -> None:
    slug = f"codes-{uuid.uuid4().hex[:8]}"
    assert tonari(database_url, "tenant", "create", slug).returncode == 0
    definition = tmp_path / "pool.yaml"
    definition.write_text(
        "code: autumn\nname: Autumn codes\nkind: personal\nprefix: AUT-\nvalid_days: 75\n"
    )
    created = tonari(database_url, "codes", "create-pool", str(definition), "--tenant", slug)
    assert created.returncode == 0, created.stderr
    assert "personal pool autumn created" in created.stdout
    public = tonari(
        database_url,
        "codes",
        "create-pool",
        "--tenant",
        slug,
        "--code",
        "skidka",
        "--name",
        "SKIDKA30",
        "--kind",
        "public",
        "--public-code",
        "skidka30",
    )
    assert public.returncode == 0, public.stderr
    assert "SKIDKA30" in public.stdout

    generated = tonari(
        database_url, "codes", "generate", "--tenant", slug, "--pool", "autumn", "--count", "3000"
    )
    assert generated.returncode == 0, generated.stderr
    assert "generated 3,000 codes of 8 symbols" in generated.stdout

    out = tmp_path / "autumn.csv"
    exported = tonari(
        database_url, "codes", "export", "--tenant", slug, "--pool", "autumn", "--output", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    with out.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len({row["code"] for row in rows}) == 3000
    assert all(row["code"].startswith("AUT-") for row in rows)
    assert all(set(row["code"][4:]) <= set(ALPHABET) for row in rows)
    assert {row["status"] for row in rows} == {"active"}

    listed = tonari(database_url, "codes", "list", "--tenant", slug)
    assert listed.returncode == 0 and "3,000" in listed.stdout

    too_many = tonari(
        database_url, "codes", "generate", "--tenant", slug, "--pool", "autumn", "--count", "0"
    )
    assert too_many.returncode == 2 and "(field: count)" in too_many.stderr
    unknown = tonari(
        database_url, "codes", "generate", "--tenant", slug, "--pool", "nope", "--count", "5"
    )
    assert unknown.returncode == 2 and "no code pool 'nope'" in unknown.stderr
    bad_prefix = tonari(
        database_url,
        "codes",
        "create-pool",
        str(definition),
        "--tenant",
        slug,
        "--code",
        "other",
        "--prefix",
        "Промо",
    )
    assert bad_prefix.returncode == 2 and "(field: prefix)" in bad_prefix.stderr

    schedule = tonari(database_url, "codes", "run-schedule")
    assert schedule.returncode == 0, schedule.stderr
