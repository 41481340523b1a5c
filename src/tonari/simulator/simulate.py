"""One what-if: a proposed programme and a baseline replayed over the same history."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from tonari.imports.reader import RowReject
from tonari.programs.schemas import Programme
from tonari.simulator.comparison import Comparison
from tonari.simulator.history import HistoryOrder
from tonari.simulator.parallel import replay_in_parallel, workers_for
from tonari.simulator.prepared import (
    RedemptionPolicy,
    ReplayResult,
    prepare,
    replay_without_programme,
)
from tonari.simulator.replay import Replayer

Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``: stage is ``proposal`` or ``baseline``."""

MAX_REJECTS_KEPT = 1_000


def simulate(
    orders: Iterable[HistoryOrder],
    *,
    programme: Programme,
    baseline: Programme | None,
    margin_bp: int,
    policy: RedemptionPolicy = RedemptionPolicy(),
    until: datetime | None = None,
    rejects: Iterable[RowReject] = (),
    progress: Progress | None = None,
    workers: int = 1,
) -> Comparison:
    """Replay ``orders`` through ``programme`` and ``baseline`` (``None``: no programme).

    ``workers`` > 1 (0: one per CPU) replays large histories in forked processes; never from
    inside a server process. Raises ``ValueError`` when there is nothing to replay.
    """
    history = prepare(orders, until=until)
    total = len(history)

    def stage(name: str) -> Callable[[int], None] | None:
        if progress is None:
            return None
        return lambda done: progress(name, done, total)

    processes = 1 if workers == 1 else workers_for(history, workers)

    def run(chosen: Programme, name: str) -> ReplayResult:
        if processes > 1:
            return replay_in_parallel(
                chosen, history, policy=policy, workers=processes, progress=stage(name)
            )
        return Replayer(chosen, history, policy=policy).run(stage(name))

    proposal = run(programme, "proposal")
    if baseline is None:
        compared = replay_without_programme(history, programme.zone)
        if progress is not None:
            progress("baseline", total, total)
    else:
        compared = run(baseline, "baseline")
    refused = list(rejects)
    return Comparison(
        proposal=proposal,
        baseline=compared,
        margin_bp=margin_bp,
        policy=policy,
        rejected=len(refused),
        rejects=tuple(
            {
                "row": reject.row,
                "order_id": reject.order_id,
                "customer_id": reject.customer_id,
                "reason": reject.reason,
            }
            for reject in refused[:MAX_REJECTS_KEPT]
        ),
    )
