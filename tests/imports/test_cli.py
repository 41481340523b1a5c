"""The ``orders`` command as the CLI will run it, against a committed tenant."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.factories import TenantFixture
from tonari.imports.cli import register


def test_import_orders_command_prints_a_summary_and_writes_the_rejects(
    committed_tenant: TenantFixture,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tonari.cli

    monkeypatch.setattr(tonari.cli, "database_url", lambda: database_url)
    app = typer.Typer()
    import_app = typer.Typer()
    register(import_app)
    app.add_typer(import_app, name="import")
    source = tmp_path / "orders.txt"
    source.write_text(
        "buyer,order_id,placed_at,amount\n"
        "cli-1,cli-o1,2023-01-05,1000000\n"
        "cli-1,cli-o2,2023-01-06,12.5\n"
    )
    rejects = tmp_path / "rejects.csv"
    args = [
        "import",
        "orders",
        str(source),
        "--tenant",
        committed_tenant.slug,
        "--map",
        "customer_id=buyer",
        "--format",
        "csv",
        "--report",
        str(rejects),
        "--now",
        "2023-03-01T00:00:00+00:00",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "imported 1 orders" in result.output
    assert "rejected 1" in result.output
    assert "1 customers created" in result.output
    with rejects.open() as stream:
        [reject] = list(csv.DictReader(stream))
    assert reject["row"] == "3" and "fraction" in reject["reason"]

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "imported 0 orders, skipped 1 already present" in again.output

    wrong = CliRunner().invoke(app, ["import", "orders", str(source), "--tenant", "no-such"])
    assert wrong.exit_code == 2
