"""Where the benchmarks run: the database, pgbench next to it, and a real uvicorn server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from tonari.db import libpq_dsn, start_embedded_postgres
from tonari.migrate import upgrade_database

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOST, LOCAL_PORT = "127.0.0.1", 5432
PGBENCH_TABLES = ("pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers")


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    origin: str
    server_version: str
    pgbench: str | None

    @property
    def dsn(self) -> str:
        """The libpq form pgbench and psycopg take."""
        return libpq_dsn(self.url)


def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pgserver_bin() -> Path | None:
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        return None
    path = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return path if path.is_dir() else None


def find_pgbench(server_version_num: int, *, embedded: bool) -> str | None:
    """pgbench of the server in use if we can tell where it lives, else the one on PATH."""
    major = server_version_num // 10_000
    candidates: list[Path] = []
    pgserver_bin = _pgserver_bin()
    if embedded and pgserver_bin is not None:
        candidates.append(pgserver_bin / "pgbench")
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin/pgbench"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("pgbench")
    if on_path:
        return on_path
    if pgserver_bin is not None and (pgserver_bin / "pgbench").is_file():
        return str(pgserver_bin / "pgbench")
    return None


def _server_version(url: str) -> tuple[str, int]:
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int"
        ).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def _drop_pgbench_tables(url: str) -> None:
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {', '.join(PGBENCH_TABLES)}")


@contextmanager
def provision_database(log: bool = True) -> Iterator[BenchDatabase]:
    """A migrated database for this run.

    ``TONARI_BENCH_DATABASE_URL`` is used as it is (only pgbench's tables are dropped after);
    else a fresh ``tonari_bench_<random>`` on the local service, dropped at the end; else an
    embedded server in a temporary folder.
    """
    configured = os.environ.get("TONARI_BENCH_DATABASE_URL")
    name = f"tonari_bench_{uuid.uuid4().hex[:10]}"
    if configured:
        try:
            yield from _prepared(configured, "TONARI_BENCH_DATABASE_URL", embedded=False)
        finally:
            _drop_pgbench_tables(configured)
        return
    if _answers(LOCAL_HOST, LOCAL_PORT):
        admin = f"postgresql://postgres@{LOCAL_HOST}:{LOCAL_PORT}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        try:
            yield from _prepared(
                url, f"local service {LOCAL_HOST}:{LOCAL_PORT}, {name}", embedded=False
            )
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    data_dir = Path(tempfile.mkdtemp(prefix="tonari-bench-"))
    try:
        url = start_embedded_postgres(data_dir, database=name)
        yield from _prepared(url, f"embedded server in {data_dir}", embedded=True)
    finally:
        from tonari import db as tonari_db

        server = tonari_db._embedded_servers.pop((data_dir / "pg").resolve(), None)
        if server is not None:
            with suppress(Exception):
                server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def _prepared(url: str, origin: str, *, embedded: bool) -> Iterator[BenchDatabase]:
    upgrade_database(url)
    version, version_num = _server_version(url)
    yield BenchDatabase(
        url=url,
        origin=origin,
        server_version=version,
        pgbench=find_pgbench(version_num, embedded=embedded),
    )


# --- pgbench --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgbenchRun:
    tps: float
    latency_avg_ms: float | None
    command: str


def pgbench_init(database: BenchDatabase, *, scale: int, timeout: float = 600) -> None:
    assert database.pgbench is not None
    subprocess.run(
        [database.pgbench, "-i", "-q", "-s", str(scale), database.dsn],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pgbench_run(database: BenchDatabase, *, clients: int, threads: int, seconds: int) -> PgbenchRun:
    """``pgbench -N`` (simple update: 3 statements and a commit per transaction)."""
    assert database.pgbench is not None
    args = [database.pgbench, "-N", "-c", str(clients), "-j", str(threads), "-T", str(seconds)]
    completed = subprocess.run(
        [*args, database.dsn],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    tps = latency = None
    for line in completed.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        elif line.startswith("latency average = "):
            latency = float(line.split()[3])
    if tps is None:
        raise RuntimeError(f"pgbench printed no tps:\n{completed.stdout}\n{completed.stderr}")
    return PgbenchRun(tps=tps, latency_avg_ms=latency, command=" ".join(args[1:]))


# --- the API server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL_HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class ApiServer:
    base_url: str
    workers: int
    process: subprocess.Popen[bytes]


@contextmanager
def api_server(
    database_url: str, *, workers: int, stock_uvicorn: bool = False, startup_timeout: float = 60
) -> Iterator[ApiServer]:
    """uvicorn serving ``bench.app:make_app`` on 127.0.0.1 (see bench/serve.py), stopped by its
    pid at the end."""
    port = _free_port()
    env = {
        **os.environ,
        "TONARI_BENCH_APP_DATABASE_URL": database_url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "bench.serve",
        "--host",
        LOCAL_HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *(["--stock"] if stock_uvicorn else []),
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    base_url = f"http://{LOCAL_HOST}:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode} at startup")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer on {base_url} in {startup_timeout}s")
            time.sleep(0.1)
        yield ApiServer(base_url=base_url, workers=workers, process=process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
