"""The operator's CLI against a real database, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from tests.conftest import REPO_ROOT


def tonari(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TONARI_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tonari.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_operator_sets_up_a_brand_and_inspects_a_customer(database_url: str) -> None:
    slug = f"brand-{uuid.uuid4().hex[:8]}"
    created = tonari(database_url, "tenant", "create", slug, "--name", "Brand")
    assert created.returncode == 0, created.stderr
    again = tonari(database_url, "tenant", "create", slug)
    assert again.returncode == 2 and "already exists" in again.stderr
    applied = tonari(
        database_url, "program", "apply", "examples/programmes/panasonic.yaml", "--tenant", slug
    )
    assert applied.returncode == 0, applied.stderr
    assert "version 1" in applied.stdout
    key = tonari(
        database_url,
        "apikey",
        "create",
        "--tenant",
        slug,
        "--name",
        "shop",
        "--scope",
        "orders:write",
        "--scope",
        "customers:read",
    )
    assert key.returncode == 0, key.stderr
    raw_key = key.stdout.strip().splitlines()[-1]
    assert raw_key.startswith("tnr_")
    bad_scope = tonari(database_url, "apikey", "create", "--tenant", slug, "--scope", "root")
    assert bad_scope.returncode == 2 and "unknown scopes" in bad_scope.stderr
    shown = tonari(database_url, "program", "show", "--tenant", slug)
    assert json.loads(shown.stdout)["tiers"][1]["earn_rate_bp"] == 1000
    missing = tonari(database_url, "customer", "show", "nobody", "--tenant", slug, "--json")
    assert missing.returncode == 2 and "no customer" in missing.stderr
    verified = tonari(database_url, "ledger", "verify", "--tenant", slug)
    assert verified.returncode == 0, verified.stderr
    assert "ledger is consistent" in verified.stdout


def test_customer_show_json_prints_balances_and_tier(database_url: str, committed_tenant) -> None:
    import asyncio

    from tests.concurrency.test_shared_account import _setup_shared_customer

    asyncio.run(_setup_shared_customer(database_url, committed_tenant.id, 700))
    shown = tonari(
        database_url, "customer", "show", "shared", "--tenant", committed_tenant.slug, "--json"
    )
    assert shown.returncode == 0, shown.stderr
    profile = json.loads(shown.stdout)
    assert profile["tier"] == "silver" and profile["tier_name"] == "Silver"
    assert profile["balances"]["available"] == 700


def test_revoked_key_is_refused_at_once(database_url: str) -> None:
    import asyncio

    import httpx

    from tonari.app import create_app

    slug = f"brand-{uuid.uuid4().hex[:8]}"
    assert tonari(database_url, "tenant", "create", slug).returncode == 0
    raw_key = tonari(database_url, "apikey", "create", "-t", slug).stdout.strip().splitlines()[-1]
    prefix = raw_key.split("_")[1]
    listed = tonari(database_url, "apikey", "list", "-t", slug)
    assert prefix in listed.stdout and raw_key not in listed.stdout

    async def status() -> int:
        app = create_app(database_url=database_url)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get(
                    "/v1/programmes", headers={"Authorization": f"Bearer {raw_key}"}
                )
                return response.status_code

    assert asyncio.run(status()) == 200
    revoked = tonari(database_url, "apikey", "revoke", "-t", slug, prefix)
    assert revoked.returncode == 0, revoked.stderr
    assert asyncio.run(status()) == 401
    again = tonari(database_url, "apikey", "revoke", "-t", slug, prefix)
    assert again.returncode == 2 and "no active key" in again.stderr


def test_scheduled_work_runs_from_the_cli(database_url: str, committed_tenant) -> None:
    import asyncio

    from tests.concurrency.test_shared_account import _setup_shared_customer

    asyncio.run(_setup_shared_customer(database_url, committed_tenant.id, 100))
    jobs = tonari(database_url, "ledger", "run-jobs")
    assert jobs.returncode == 0, jobs.stderr
    assert "released" in jobs.stdout and "reminded" in jobs.stdout
    tiers = tonari(database_url, "ledger", "reevaluate-tiers")
    assert tiers.returncode == 0, tiers.stderr
    assert "tiers changed" in tiers.stdout
    verified = tonari(database_url, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
