"""The panel ships inside the package, and the demo tells the newcomer where it is."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from tests.conftest import REPO_ROOT
from tonari.demo import cli as demo_cli
from tonari.demo.data import DemoSummary


def test_templates_and_static_files_are_package_data() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["tonari"]
    web = resources.files("tonari.web")
    shipped = [
        *(f"templates/{p.name}" for p in Path(str(web / "templates")).glob("*.html")),
        "static/panel.css",
        "static/panel.js",
    ]
    for relative in shipped:
        suffix = relative.rsplit(".", 1)[1]
        folder = relative.rsplit("/", 1)[0]
        assert f"web/{folder}/*.{suffix}" in patterns, relative
        assert (web / relative).is_file(), relative
    assert "playwright" in " ".join(pyproject["project"]["optional-dependencies"]["dev"])


async def test_static_files_are_served_from_the_package(client) -> None:
    css = await client.get("/panel/static/panel.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    script = await client.get("/panel/static/panel.js")
    assert script.status_code == 200 and "live size" in script.text


def test_the_demo_prints_the_panel_url() -> None:
    summary = DemoSummary(
        tenant_slug="panasonic-demo",
        tenant_id=1,
        created=True,
        api_key="tnr_x",
        products=40,
        customers=300,
        orders=900,
    )
    with demo_cli.console.capture() as captured:
        demo_cli._print_welcome(summary, "tnr_x", "http://127.0.0.1:8000")
    assert "Merchant panel: http://127.0.0.1:8000/panel" in captured.get()
