"""``tonari simulate`` and ``tonari report liability`` as an operator types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.cli.test_cli import tonari
from tests.conftest import REPO_ROOT
from tests.factories import TenantFixture, panasonic_document

PANASONIC = "examples/programmes/panasonic.yaml"
HISTORY = (
    "customer_id,order_id,placed_at,amount,lines,points_spent\n"
    "A,o1,2024-01-10T12:00:00+03:00,2000000,,\n"
    "B,o2,2024-01-15,500000,,\n"
    "A,o3,2024-02-01T10:00:00+03:00,1000000,,600\n"
    "A,o4,not-a-date,100,,\n"
    "C,o5,2024-03-01,99.90,,\n"
)


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "tonari.cli", "simulate", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_simulate_prints_the_comparison_and_writes_png_html_and_json(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    history.write_text(HISTORY, encoding="utf-8")
    out = tmp_path / "report"
    baseline = tmp_path / "old.yaml"
    old = panasonic_document(name="Old club", tiers=[{"code": "all", "name": "All",
                             "threshold": 0, "earn_rate_bp": 300}])  # fmt: skip
    baseline.write_text(yaml.safe_dump(old), encoding="utf-8")
    done = simulate(
        "--programme", PANASONIC, "--orders", str(history), "--baseline", str(baseline),
        "--margin-bp", "3000", "--redeem", "recorded", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Panasonic Club" in done.stdout and "points issued" in done.stdout
    assert "sales uplift needed to stand still" in done.stdout
    assert "row 5" in done.stderr and "not-a-date" in done.stderr
    assert "row 6" in done.stderr and "fraction" in done.stderr
    for name in ("liability.png", "cost.png", "tiers.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG"), name
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "Panasonic Club" in html
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert result["proposal"]["orders"] == 3 and result["rejected"] == 2
    assert result["proposal"]["points_redeemed"] == 600  # o1's points were released on 24 Jan
    assert result["baseline"]["programme"] == "Old club"
    assert result["baseline"]["points_issued"] == 600 + 150 + 282  # 3% of 20,000, 5,000, 9,400
    rejects = (out / "rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == "row,order_id,customer_id,reason" and rejects[1].startswith("5,o4,A,")


def test_simulate_json_against_no_programme(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text(
        json.dumps({"customer_id": "A", "order_id": "o1", "placed_at": "2024-01-10",
                    "amount": 900_000}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    done = simulate("-p", PANASONIC, "-o", str(history), "--json", "--margin-bp", "3000")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["baseline"]["programme"] is None
    assert result["baseline"]["programme_cost"] == 0
    assert result["proposal"]["points_issued"] == 450  # 5% of 9,000 RUB
    assert result["proposal"]["gross_profit"] == 270_000


def test_simulate_refuses_a_bad_programme_and_an_empty_history(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: X\ncurrency: RUB\npoint_value_minor: 0\ntiers: []\n", encoding="utf-8")
    history = tmp_path / "history.csv"
    history.write_text("customer_id,order_id,placed_at,amount\n", encoding="utf-8")
    done = simulate("-p", str(bad), "-o", str(history))
    assert done.returncode == 2 and "--programme" in done.stderr and "field" in done.stderr
    empty = simulate("-p", PANASONIC, "-o", str(history))
    assert empty.returncode == 2 and "no orders to replay" in empty.stderr


def test_report_liability_from_the_cli(database_url: str, committed_tenant: TenantFixture) -> None:
    shown = tonari(database_url, "report", "liability", "--tenant", committed_tenant.slug)
    assert shown.returncode == 0, shown.stderr
    assert "points liability" in shown.stdout and "0 customers hold points" in shown.stdout
    answer = tonari(
        database_url, "report", "liability", "--tenant", committed_tenant.slug, "--json"
    )
    assert json.loads(answer.stdout)["total"] == {"points": 0, "value_minor": 0}
