"""Run worker modules as real OS processes side by side and collect their JSON reports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from tests.conftest import REPO_ROOT


def run_workers(
    module: str, argument_lists: Sequence[Sequence[object]], *, timeout: float = 600
) -> list[dict[str, Any]]:
    """Start ``python -m module ARGS`` once per argument list, all at once; each worker prints
    one JSON line last. A worker that fails fails the test with the end of its stderr."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", module, *map(str, arguments)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for arguments in argument_lists
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports
