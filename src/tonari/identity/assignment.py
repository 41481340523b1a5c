"""Clusters → profiles: which existing profile each cluster keeps, which fold, which return.

Pure. A profile follows the majority of its records. A cluster that holds the majority of
several profiles keeps the one with most records there (the oldest on a tie) and folds the
others into it. A cluster that holds no profile's majority brings back a profile folded
earlier, if its records came from one (that is the undo), or else gets a new profile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    records: tuple[int, ...]
    profile_id: int | None  # None: a new profile is made for it
    revived: bool = False  # the profile was folded into another and comes back now


@dataclass(slots=True)
class Assignment:
    plans: list[ClusterPlan] = field(default_factory=list)
    # (folded profile, the profile it folds into)
    merges: list[tuple[int, int]] = field(default_factory=list)


def assign_profiles(
    clusters: Sequence[Sequence[int]],
    *,
    current: Mapping[int, int | None],
    home: Mapping[int, int | None],
    folded: frozenset[int],
    known_to_brand: frozenset[int] = frozenset(),
) -> Assignment:
    """``current``: record → its profile now; ``home``: record → the profile it first made or
    joined; ``folded``: profiles merged into another one (they hold no records now);
    ``known_to_brand``: profiles the shop knows by its own id, kept in preference on a tie."""
    counts: dict[int, Counter[int]] = {}
    for index, cluster in enumerate(clusters):
        for record in cluster:
            profile = current.get(record)
            if profile is not None:
                counts.setdefault(profile, Counter())[index] += 1
    majority: dict[int, int] = {}
    for profile, per_cluster in counts.items():
        best = max(per_cluster.items(), key=lambda item: (item[1], -item[0]))
        majority[profile] = best[0]
    keepers: dict[int, list[int]] = {}
    for profile, index in majority.items():
        keepers.setdefault(index, []).append(profile)
    result = Assignment()
    reviving: set[int] = set()
    for index, cluster in enumerate(clusters):
        candidates = keepers.get(index, [])
        if candidates:
            survivor = max(
                candidates,
                key=lambda profile: (
                    counts[profile][index],
                    profile in known_to_brand,
                    -profile,
                ),
            )
            result.merges.extend(
                (profile, survivor) for profile in sorted(candidates) if profile != survivor
            )
            result.plans.append(ClusterPlan(tuple(cluster), survivor))
            continue
        homes = Counter(
            profile
            for record in cluster
            if (profile := home.get(record)) is not None
            and profile in folded
            and profile not in reviving
        )
        if homes:
            revived = max(homes.items(), key=lambda item: (item[1], -item[0]))[0]
            reviving.add(revived)
            result.plans.append(ClusterPlan(tuple(cluster), revived, revived=True))
        else:
            result.plans.append(ClusterPlan(tuple(cluster), None))
    return result
