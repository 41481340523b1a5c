"""Identity at scale: seven sources, import → clean → resolve → export, against bare Splink.

``python -m bench.bench_identity [--records N] [--data DIR]`` (default N = 1,000,000;
``--records 20000`` for a quick run):

1. the seven source files of bench/customers_generator.py are written into DIR once (their
   generation is timed apart: it is not part of the pipeline);
2. a migrated database is provisioned as for every benchmark (bench/infra.py);
3. the pipeline runs through Tonari's own CLI, one child process per stage, with
   ``TONARI_DATABASE_URL`` pointing at that database: ``tenant create``, ``sources apply``,
   ``import customers`` once per source, ``identity resolve``, ``identity export``. Each stage's
   wall time and the peak RSS of its process (``wait4``'s rusage, descendants included) are
   recorded; a command the CLI does not have yet is reported as such and the run goes on;
4. export.csv is graded against truth.csv: pairwise precision, recall and F1 of "same
   profile" against "same person";
5. the baseline, in the same run, is a bare Splink (DuckDB) dedupe of the same records in a
   child process of its own: the files read with pandas/pyarrow into one schema, lower-cased,
   phones stripped to digits, dates read with each source's own format, a phone or e-mail
   given by more than ten records taken as missing, and nothing more; the comparisons,
   blocking and training of Splink's tutorial; pairs at 0.5, clustered at 0.5.

The table shows each stage's seconds, records/s and peak RSS, the pipeline's total as a ratio
to bare Splink's, the 5-minute target as met or missed (printed, never asserted) and both F1s.
The PostgreSQL server's own memory is not in the RSS figures. JSON: bench/results/identity.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.report import RESULTS_DIR

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RECORDS = 1_000_000
TARGET_SECONDS = 300.0
MATCH_THRESHOLD = 0.5
PLACEHOLDER_SHARE = 10  # households share a phone or a mailbox; more than ten is a placeholder
MISSING_COMMAND = ("No such command", "No such option", "Missing command")


def default_data_dir(records: int) -> Path:
    return RESULTS_DIR / f"customers-{records}"


# --- child processes ----------------------------------------------------------------------


@dataclass
class Stage:
    stage: str
    seconds: float | None = None
    records: int | None = None
    peak_rss_mb: float | None = None
    status: str = "ok"  # ok, failed, not available yet, skipped
    note: str = ""

    @property
    def records_per_s(self) -> float | None:
        if not self.records or not self.seconds or self.status != "ok":
            return None
        return self.records / self.seconds


def run_child(
    stage: str, argv: list[str], *, env: dict[str, str], log_dir: Path, records: int | None = None
) -> Stage:
    """Run one child to the end: wall time, exit status and peak RSS (``wait4`` reports the
    child's own and its waited-for descendants' high-water mark, not the parent's)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{stage.replace(' ', '_')}.log"
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait
    result = Stage(
        stage, round(seconds, 2), records, round(usage.ru_maxrss / 1024, 1)
    )  # ru_maxrss is in KiB on Linux
    if process.returncode != 0:
        text = log.read_text(errors="replace")
        if any(marker in text for marker in MISSING_COMMAND):
            result.status, result.note = "not available yet", f"no `tonari {' '.join(argv[1:3])}`"
        else:
            lines = [line for line in text.splitlines() if line.strip()]
            errors = [line for line in lines if "rror" in line]  # not the progress bar
            last = errors[:1] or lines[-1:] or [""]
            result.status = "failed"
            result.note = f"exit {process.returncode}: {last[0][:160]} (log: {log})"
    return result


def tonari_command() -> str:
    beside = Path(sys.executable).parent / "tonari"
    return str(beside) if beside.exists() else (shutil.which("tonari") or "tonari")


# --- data ---------------------------------------------------------------------------------


def ensure_data(records: int, data_dir: Path, *, seed: int, log_dir: Path) -> Stage:
    """Generate the files unless DIR already holds this many records of this seed."""
    marker = data_dir / "generation.json"
    if marker.exists():
        made = json.loads(marker.read_text())
        if made.get("records") == records and made.get("seed") == seed:
            return Stage(
                "generate data",
                made.get("seconds"),
                records,
                made.get("peak_rss_mb"),
                status="skipped",
                note=f"already in {data_dir} (generated in {made.get('seconds')} s)",
            )
    shutil.rmtree(data_dir, ignore_errors=True)
    argv = [sys.executable, "-m", "bench.customers_generator", "--records", str(records)]
    argv += ["--out", str(data_dir), "--seed", str(seed)]
    return run_child("generate data", argv, env=_env(), log_dir=log_dir, records=records)


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def source_names(data_dir: Path) -> list[tuple[str, Path]]:
    import yaml

    from bench.customers_generator import SOURCES

    files = {s.name: s.file for s in SOURCES}
    declared = yaml.safe_load((data_dir / "sources.yaml").read_text(encoding="utf-8"))
    return [(s["name"], data_dir / files[s["name"]]) for s in declared["sources"]]


# --- accuracy -----------------------------------------------------------------------------


@dataclass
class Accuracy:
    records: int
    people: int
    clusters: int
    graded_records: int  # records of truth.csv found in the predicted clusters
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int


def pairwise_accuracy(truth: Any, predicted: Any) -> Accuracy:
    """Pairwise precision/recall/F1 of ``predicted`` (source, record_id, cluster) against
    ``truth`` (source, record_id, person_id). A record missing from the prediction (rejected
    on import, say) counts as a cluster of its own."""
    merged = truth.merge(predicted, on=["source", "record_id"], how="left")
    graded = int(merged["cluster"].notna().sum())
    alone = "alone:" + merged["source"] + ":" + merged["record_id"]
    merged["cluster"] = merged["cluster"].fillna(alone)

    def pairs(columns: list[str]) -> int:
        sizes = merged.groupby(columns, sort=False).size()
        return int((sizes * (sizes - 1) // 2).sum())

    true_pairs, predicted_pairs = pairs(["person_id"]), pairs(["cluster"])
    correct = pairs(["person_id", "cluster"])
    precision = correct / predicted_pairs if predicted_pairs else 0.0
    recall = correct / true_pairs if true_pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Accuracy(
        records=len(merged),
        people=int(merged["person_id"].nunique()),
        clusters=int(merged["cluster"].nunique()),
        graded_records=graded,
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        correct_pairs=correct,
    )


def read_truth(data_dir: Path) -> Any:
    import pandas as pd

    return pd.read_csv(data_dir / "truth.csv", dtype=str, keep_default_na=False)


def read_export(path: Path) -> Any:
    import pandas as pd

    export = pd.read_csv(path, dtype=str, keep_default_na=False)
    export = export.rename(columns={"source_record_id": "record_id", "profile_id": "cluster"})
    export = export[["source", "record_id", "cluster"]]
    return export[export["cluster"] != ""]  # a record in no profile is graded as alone


# --- bare Splink --------------------------------------------------------------------------

BASELINE_COLUMNS = ("first_name", "last_name", "birth_date", "email", "phone", "city")


def _load_source(source: Any, path: Path) -> Any:
    """One file in the baseline's schema: as little cleaning as a first script would do."""
    import pandas as pd

    if source.format == "parquet":
        frame = pd.read_parquet(path)
    elif source.format == "jsonl":
        frame = pd.read_json(path, lines=True, dtype=False, convert_dates=False)
    else:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding=source.encoding or "utf-8"
        )
    by_field = {f: column for column, f in source.columns.items() if f}
    out = pd.DataFrame({"record_id": frame[by_field["record_id"]].astype(str)})
    for name in BASELINE_COLUMNS:
        column = by_field.get(name)
        out[name] = frame.get(column) if column else None
    if "full_name" in by_field:  # read as "Фамилия Имя Отчество", the Russian habit
        parts = frame[by_field["full_name"]].fillna("").str.split(n=2, expand=True)
        parts = parts.reindex(columns=[0, 1], fill_value=None)
        out["last_name"], out["first_name"] = parts[0], parts[1]
    formats = {"YMD": "%Y-%m-%d", "DMY": "%d.%m.%Y"}
    date_format = "%d/%m/%Y" if source.name == "cooking_club" else formats[source.date_order]
    out["birth_date"] = pd.to_datetime(
        out["birth_date"].astype(str), format=date_format, errors="coerce"
    ).dt.strftime("%Y-%m-%d")
    for name in ("first_name", "last_name", "email", "city"):
        out[name] = out[name].astype("string").str.strip().str.lower()
    out["phone"] = out["phone"].astype("string").str.replace(r"\D", "", regex=True)
    out = out.replace({"": None})
    out.insert(0, "source", source.name)
    return out


def _null_placeholders(frame: Any) -> Any:
    """A phone or e-mail that more than ``PLACEHOLDER_SHARE`` records give ('0', 'n/a',
    +7 000...) is nobody's: Splink's blocking guidance is to keep such values out, and without
    this one step a bare run chains thousands of strangers into one cluster."""
    for column in ("email", "phone"):
        counts = frame[column].value_counts()
        shared = counts[counts > PLACEHOLDER_SHARE].index
        frame.loc[frame[column].isin(shared), column] = None
    return frame


def splink_baseline(data_dir: Path, output: Path) -> dict[str, Any]:
    """The bare Splink run; writes (source, record_id, cluster) to ``output``."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from bench.customers_generator import SOURCES

    timings: dict[str, float] = {}
    started = time.perf_counter()
    frame = pd.concat([_load_source(s, data_dir / s.file) for s in SOURCES], ignore_index=True)
    frame = _null_placeholders(frame)
    frame.insert(0, "unique_id", frame["source"] + ":" + frame["record_id"])
    timings["load"] = time.perf_counter() - started

    mark = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("city"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "last_name"),
            block_on("last_name", "birth_date"),
            block_on("email"),
            block_on("phone"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(DuckDBAPI().register(frame), settings, log_level=None)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "birth_date"), block_on("email")], recall=0.7
    )
    training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "last_name"))
    training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    timings["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    pairs = linker.inference.predict(threshold_match_probability=MATCH_THRESHOLD)
    timings["predict"] = time.perf_counter() - mark
    mark = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pairs, MATCH_THRESHOLD
    ).as_pandas_dataframe()
    timings["cluster"] = time.perf_counter() - mark
    clusters = clusters[["unique_id", "cluster_id"]].merge(
        frame[["unique_id", "source", "record_id"]], on="unique_id"
    )
    clusters.rename(columns={"cluster_id": "cluster"})[["source", "record_id", "cluster"]].to_csv(
        output, index=False
    )
    return {
        "records": len(frame),
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "pairs_at_threshold": int(pairs.as_duckdbpyrelation().count("*").fetchall()[0][0]),
    }


# --- the run ------------------------------------------------------------------------------


@contextmanager
def _database(console: Console) -> Iterator[str | None]:
    from bench.infra import provision_database

    try:
        with provision_database() as database:
            console.print(f"database: {database.origin} (PostgreSQL {database.server_version})")
            yield database.url
    except Exception as exc:  # no database, no pipeline: the baseline still runs
        console.print(f"[red]no database: {exc}[/red]")
        yield None


@dataclass
class Outcome:
    records: int
    data_dir: str
    stages: list[Stage] = field(default_factory=list)
    ours: Accuracy | None = None
    bare: Accuracy | None = None
    bare_stage: Stage | None = None
    bare_details: dict[str, Any] = field(default_factory=dict)
    generation: Stage | None = None

    @property
    def pipeline_seconds(self) -> float | None:
        timed = [s for s in self.stages if s.status == "ok" and s.seconds is not None]
        if not timed or any(s.status != "ok" for s in self.stages):
            return None
        return round(sum(s.seconds for s in timed if s.seconds is not None), 2)


def run_pipeline(
    outcome: Outcome, data_dir: Path, url: str, log_dir: Path, console: Console
) -> None:
    tonari = tonari_command()
    env = _env(TONARI_DATABASE_URL=url)
    slug = f"bench-identity-{uuid.uuid4().hex[:8]}"
    records = outcome.records
    export = data_dir / "export.csv"
    export.unlink(missing_ok=True)  # never grade a previous run's export

    def stage(name: str, *args: str, count: int | None = None) -> Stage:
        result = run_child(name, [tonari, *args], env=env, log_dir=log_dir, records=count)
        outcome.stages.append(result)
        console.print(
            f"  {name}: {result.status}"
            + (f" in {result.seconds:.1f} s" if result.status == "ok" else f" ({result.note})")
        )
        return result

    if stage("tenant create", "tenant", "create", slug).status != "ok":
        return
    stage("sources apply", "sources", "apply", str(data_dir / "sources.yaml"), "--tenant", slug)
    generation = json.loads((data_dir / "generation.json").read_text())
    for name, path in source_names(data_dir):
        report = data_dir / f"rejects-{name}.csv"
        stage(
            f"import {name}",
            *("import", "customers", str(path), "--source", name, "--tenant", slug),
            *("--report", str(report)),
            count=generation["per_source"].get(name),
        )
    stage("identity resolve", "identity", "resolve", "--tenant", slug, count=records)
    stage("identity export", "identity", "export", str(export), "--tenant", slug, count=records)


def run_baseline(outcome: Outcome, data_dir: Path, log_dir: Path, console: Console) -> None:
    clusters = data_dir / "bare-splink-clusters.csv"
    details = data_dir / "bare-splink.json"
    argv = [sys.executable, "-m", "bench.bench_identity", "--splink-baseline"]
    argv += ["--data", str(data_dir), "--output", str(clusters)]
    result = run_child("bare Splink", argv, env=_env(), log_dir=log_dir, records=outcome.records)
    outcome.bare_stage = result
    console.print(
        f"  bare Splink: {result.status}"
        + (f" in {result.seconds:.1f} s" if result.status == "ok" else f" ({result.note})")
    )
    if result.status == "ok":
        import pandas as pd

        outcome.bare_details = json.loads(details.read_text())
        predicted = pd.read_csv(clusters, dtype=str, keep_default_na=False)
        outcome.bare = pairwise_accuracy(read_truth(data_dir), predicted)


def run(
    records: int, data_dir: Path, *, seed: int = 1, console: Console | None = None
) -> list[dict]:
    """Generate (once), run the pipeline and the baseline, print the table, write the JSON;
    the rows of the table as dicts."""
    console = console or Console()
    data_dir = data_dir.resolve()
    log_dir = data_dir.parent / f"{data_dir.name}-logs"
    outcome = Outcome(records=records, data_dir=str(data_dir))
    console.print(f"data: {data_dir}")
    outcome.generation = ensure_data(records, data_dir, seed=seed, log_dir=log_dir)
    if outcome.generation.status == "failed":
        raise RuntimeError(f"the generator failed: {outcome.generation.note}")
    console.print(
        f"  generation: {outcome.generation.seconds} s, peak RSS "
        f"{outcome.generation.peak_rss_mb} MB {outcome.generation.note}"
    )
    with _database(console) as url:
        if url is not None:
            run_pipeline(outcome, data_dir, url, log_dir, console)
    export = data_dir / "export.csv"
    resolved = any(s.stage == "identity resolve" and s.status == "ok" for s in outcome.stages)
    if export.exists() and resolved:  # an export after a failed resolve grades nothing
        outcome.ours = pairwise_accuracy(read_truth(data_dir), read_export(export))
    run_baseline(outcome, data_dir, log_dir, console)
    rows = table_rows(outcome)
    render(outcome, rows, console)
    path = write_results(outcome, rows)
    console.print(f"JSON: {path}")
    return rows


def table_rows(outcome: Outcome) -> list[dict[str, Any]]:
    def row(stage: Stage) -> dict[str, Any]:
        return {**asdict(stage), "records_per_s": _round(stage.records_per_s)}

    rows = [row(s) for s in outcome.stages]
    imports = [s for s in outcome.stages if s.stage.startswith("import ")]
    if imports and all(s.status == "ok" for s in imports):
        rows.append(
            row(
                Stage(
                    "import (all sources)",
                    round(sum(s.seconds or 0 for s in imports), 2),
                    sum(s.records or 0 for s in imports),
                    max(s.peak_rss_mb or 0 for s in imports),
                )
            )
        )
    total = outcome.pipeline_seconds
    ran = [s for s in outcome.stages if s.status == "ok"]
    peaks = [s.peak_rss_mb for s in ran if s.peak_rss_mb is not None]
    rows.append(
        row(
            Stage(
                "pipeline total",
                total if total is not None else round(sum(s.seconds or 0 for s in ran), 2),
                outcome.records,
                max(peaks) if peaks else None,
                status="ok" if total is not None else "incomplete",
                note="" if total is not None else "the stages that ran, added up",
            )
        )
    )
    if outcome.bare_stage is not None:
        rows.append(row(outcome.bare_stage))
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value)


def render(outcome: Outcome, rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title=f"Identity resolution, {outcome.records:,} records in seven sources")
    for column in ("stage", "seconds", "records/s", "peak RSS MB", "status"):
        table.add_column(column, justify="left" if column in ("stage", "status") else "right")
    for row in rows:
        status = row["status"]
        shown = "" if status == "ok" else f"[yellow]{status}[/yellow] {row['note']}".strip()
        table.add_row(
            row["stage"],
            _text(row["seconds"], ".1f"),
            _text(row["records_per_s"], ",.0f"),
            _text(row["peak_rss_mb"], ",.0f"),
            shown,
        )
    console.print(table)
    total, bare = outcome.pipeline_seconds, outcome.bare_stage
    if total is not None and bare is not None and bare.status == "ok" and bare.seconds:
        console.print(f"pipeline ÷ bare Splink: {total / bare.seconds:.2f}× the time (↓ better)")
    else:
        console.print("pipeline ÷ bare Splink: – (the pipeline did not run to the end)")
    if total is None:
        console.print(f"target {TARGET_SECONDS:.0f} s for the pipeline: – (incomplete)")
    else:
        verdict = "[green]met[/green]" if total <= TARGET_SECONDS else "[red]missed[/red]"
        console.print(f"target {TARGET_SECONDS:.0f} s for the pipeline: {total:.1f} s {verdict}")
    for label, accuracy in (("Tonari", outcome.ours), ("bare Splink", outcome.bare)):
        if accuracy is None:
            console.print(f"{label}: no clusters to grade")
            continue
        console.print(
            f"{label}: F1 {accuracy.f1:.3f} (precision {accuracy.precision:.3f}, recall "
            f"{accuracy.recall:.3f}); {accuracy.records:,} records, {accuracy.people:,} true "
            f"people, {accuracy.clusters:,} profiles found ({accuracy.graded_records:,} graded)"
        )


def _text(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def write_results(outcome: Outcome, rows: list[dict[str, Any]]) -> Path:
    path = RESULTS_DIR / "identity.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    bare = outcome.bare_stage
    payload = {
        "finished_at": datetime.now(UTC).isoformat(),
        "records": outcome.records,
        "data_dir": outcome.data_dir,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "generation": asdict(outcome.generation) if outcome.generation else None,
        "rows": rows,
        "pipeline_seconds": outcome.pipeline_seconds,
        "bare_splink_seconds": bare.seconds if bare and bare.status == "ok" else None,
        "target_seconds": TARGET_SECONDS,
        "accuracy": {
            "tonari": asdict(outcome.ours) if outcome.ours else None,
            "bare_splink": asdict(outcome.bare) if outcome.bare else None,
        },
        "bare_splink": outcome.bare_details,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_identity", description=__doc__)
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    parser.add_argument(
        "--data", type=Path, default=None, help="data folder (default bench/results/customers-N)"
    )
    parser.add_argument("--seed", type=int, default=1)
    # The baseline's own child process (run by the benchmark, not by hand).
    parser.add_argument("--splink-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = args.data or default_data_dir(args.records)
    if args.splink_baseline:
        details = splink_baseline(data_dir, args.output)
        (data_dir / "bare-splink.json").write_text(json.dumps(details, indent=2) + "\n")
        return 0
    console = Console(width=None if Console().is_terminal else 150)
    run(args.records, data_dir, seed=args.seed, console=console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
