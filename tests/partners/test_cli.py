"""``tonari import partner-accruals`` and ``tonari partners settlement`` as a person runs them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.factories import TenantFixture
from tests.partners.support import bank, bank_file
from tonari.partners import schemas as partner_schemas
from tonari.partners.cli import partners_app, register


def test_import_the_bank_file_twice_then_settle(
    committed_tenant: TenantFixture,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tonari.cli

    monkeypatch.setattr(tonari.cli, "database_url", lambda: database_url)
    monkeypatch.setattr(partner_schemas, "programme_partners", lambda programme: [bank()])
    app = typer.Typer()
    import_app = typer.Typer()
    register(import_app)
    app.add_typer(import_app, name="import")
    app.add_typer(partners_app, name="partners")
    source = bank_file(
        tmp_path,
        [
            "c1,JCB-1001,,1000000,anywhere,2025-03-10",
            "c2,JCB-1001,,1000000,brand_site,2025-03-10",
            "c3,JCB-1002,,abc,anywhere,2025-03-10",
        ],
    )
    rejects = tmp_path / "rejects.csv"
    args = [
        "import",
        "partner-accruals",
        str(source),
        "--partner",
        "Rosselkhozbank",
        "--tenant",
        committed_tenant.slug,
        "--report",
        str(rejects),
        "--now",
        "2025-03-11T09:00:00+03:00",
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    said = " ".join(first.output.split())  # rich wraps long lines
    assert "credited 2 rows" in said
    assert "3000 points (0 to profiles, 3000 to side accounts, 1 new side accounts)" in said
    with rejects.open() as stream:
        [reject] = list(csv.DictReader(stream))
    assert (reject["row"], reject["transaction_id"]) == ("4", "c3")
    assert "not an integer" in reject["reason"]

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "credited 0 rows, skipped 2 already credited" in " ".join(again.output.split())

    settle = CliRunner().invoke(
        app,
        [
            "partners",
            "settlement",
            "--tenant",
            committed_tenant.slug,
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-31",
            "--json",
        ],
    )
    assert settle.exit_code == 0, settle.output
    [line] = json.loads(settle.output)["partners"]
    assert (line["partner"], line["points_issued"], line["partner_owes"]) == (
        "rshb",
        3_000,
        300_000,
    )

    unknown = CliRunner().invoke(app, [*args[:3], "--partner", "nobody", *args[5:]])
    assert unknown.exit_code == 2
    assert "unknown_partner" in unknown.output
