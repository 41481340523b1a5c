"""The app factory uvicorn runs for the benchmarks (``uvicorn --factory bench.app:make_app``).

The database URL comes from ``TONARI_BENCH_APP_DATABASE_URL`` so every ``--workers`` process
builds the same app. No background worker: the benchmarks measure the request path only.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from tonari.app import create_app


def make_app() -> FastAPI:
    return create_app(database_url=os.environ["TONARI_BENCH_APP_DATABASE_URL"])
