"""The panel in a real browser: Debian's Chromium driven by Playwright against a live server.

Signs in, reads the dashboard's chart, types a segment definition and watches the live
size change as the marketer would. Under ``CI=true`` a missing browser fails the test
(``make install`` installs Debian's chromium); elsewhere it skips and says why.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import TenantFixture

CHROMIUM = Path(os.environ.get("TONARI_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() == "true"
SCREENSHOTS = Path(os.environ.get("TONARI_SCREENSHOTS", "/tmp/tonari-panel-screenshots"))


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the browser test)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_server(database_url: str) -> Iterator[str]:
    """The app under uvicorn on a free 127.0.0.1 port, in a thread, on the test database."""
    import uvicorn

    from tonari.app import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(database_url=database_url), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="panel-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _seed(base: str, tenant: TenantFixture) -> int:
    """Two customers in Moscow, one in Kazan, and an order today; returns what was paid."""
    with httpx.Client(base_url=base, headers=tenant.headers, timeout=30) as api:
        for external_id, city in (("b1", "Moscow"), ("b2", "Moscow"), ("b3", "Kazan")):
            r = api.put(f"/v1/customers/{external_id}", json={"city": city})
            assert r.status_code == 201, r.text
        r = api.post(
            "/v1/orders",
            json={
                "order_id": "bo1",
                "customer": {"external_id": "b1"},
                "paid": True,
                "lines": [{"product_id": "p1", "unit_price": 250_000, "quantity": 1}],
            },
        )
        assert r.status_code == 201, r.text
        return int(api.get("/v1/orders/bo1").json()["total_paid"])


def test_sign_in_dashboard_chart_and_live_segment_size(
    live_server: str, committed_tenant: TenantFixture
) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _need(False, "playwright is not installed: run make install")
        raise
    _need(
        CHROMIUM.exists(),
        f"Debian's chromium is not at {CHROMIUM}: install it with apt-get install chromium "
        "(make install does it when run as root)",
    )
    paid = _seed(live_server, committed_tenant)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # JavaScript errors only: a 401 or 422 answer the page shows is no script error.
            page.on(
                "console",
                lambda message: (
                    errors.append(message.text)
                    if message.type == "error" and "Failed to load resource" not in message.text
                    else None
                ),
            )
            page.goto(f"{live_server}/panel/")
            expect(page.get_by_role("heading", name="Sign in to the Tonari panel")).to_be_visible()

            page.get_by_label("API key").fill("tnr_0000_not-a-real-key")
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#sign-in-error")).to_contain_text("unknown or revoked")

            page.get_by_label("API key").fill(committed_tenant.api_key)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
            bars = page.locator("#sales svg.chart rect.bar")
            expect(bars).to_have_count(30)
            assert float(bars.last.get_attribute("data-value") or "0") == paid / 100
            assert page.locator("#total-customers").inner_text() == "3"
            page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

            page.get_by_role("link", name="Segments", exact=True).click()
            page.get_by_role("link", name="New segment").click()
            editor = page.get_by_label("Definition (YAML or JSON)")
            size = page.locator("#live-size")
            editor.fill("")
            editor.press_sequentially("field: city\nvalues: [Moscow]", delay=10)
            expect(size).to_have_text("2 customers now")
            expect(page.locator("#live-sample li")).to_have_count(2)

            editor.fill("field: city\nvalues: [Moscow, Kazan]")
            expect(size).to_have_text("3 customers now")

            editor.fill(
                "all:\n  - field: city\n    values: [Moscow]\n  - field: spend\n    days: 0"
            )
            problem = page.locator("#live-error")
            expect(problem).to_be_visible()
            expect(problem.locator("code.error-field")).to_have_text("definition.all.1.days")
            expect(size).to_have_text("Fix the definition to see its size")
            page.screenshot(path=str(SCREENSHOTS / "segment-error.png"), full_page=True)

            editor.fill("field: city\nvalues: [Kazan]")
            expect(size).to_have_text("1 customer now")
            page.get_by_label("Key").fill("kazan")
            page.get_by_label("Name").fill("Kazan")
            page.get_by_role("button", name="Create segment").click()
            expect(page.get_by_role("heading", name="Segment Kazan")).to_be_visible()
            expect(page.get_by_role("status")).to_have_text("Saved.")
            page.screenshot(path=str(SCREENSHOTS / "segment.png"), full_page=True)

            # A trigger switched on gives the brand message templates; mail the segment.
            page.get_by_role("link", name="Journeys", exact=True).click()
            page.locator("#template-birthday").get_by_role("button", name="Enable").click()
            expect(page.get_by_role("status")).to_have_text("The journey is enabled.")
            expect(page.locator("#template-birthday")).to_contain_text("Enabled")
            page.screenshot(path=str(SCREENSHOTS / "journeys.png"), full_page=True)
            page.get_by_role("link", name="Campaigns", exact=True).click()
            page.get_by_role("link", name="New campaign").click()
            page.get_by_label("Key").fill("kazan-news")
            page.get_by_label("Name").fill("Kazan news")
            page.get_by_label("Segment").select_option("kazan")
            page.get_by_label("Message template").select_option(index=1)
            page.get_by_role("button", name="Create campaign").click()
            expect(page.locator("#campaign-status")).to_have_text("draft")
            page.get_by_role("button", name="Start").click()
            expect(page.locator("#campaign-status")).to_have_text("running")
            expect(page.locator("#count-queued")).to_have_text("1")
            page.screenshot(path=str(SCREENSHOTS / "campaign.png"), full_page=True)

            page.get_by_role("link", name="Customers", exact=True).click()
            page.get_by_label("Find a customer").fill("b1")
            page.get_by_role("button", name="Search").click()
            page.get_by_role("link", name="b1", exact=True).click()
            expect(page.locator("#timeline")).to_contain_text("bo1")
            page.screenshot(path=str(SCREENSHOTS / "customer.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
