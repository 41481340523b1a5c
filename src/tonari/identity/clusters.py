"""Records → people: union-find over the evidence, strongest first, honouring "never merge".

Pure: the same records and edges always give the same clusters, so a cluster is recomputed
from its evidence at any time and a merge is undone by taking its evidence away.

Two kinds of "never": a *unique key* (a loyalty card number, a record id of a source whose
records are distinct people) that differs between two clusters keeps them apart, and a pair a
person rejected is never joined again, through any path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Evidence kinds, strongest first: a person's decision, then identifiers, then the model.
CONFIRMED = "manual"
CARD = "exact:card"
EXTERNAL = "exact:external_id"
EMAIL = "exact:email"
PHONE = "exact:phone"
ANONYMOUS = "exact:anonymous_id"
FUZZY = "fuzzy"
# Unique keys named so are "never automatically"; any other (a card) is never at all.
RECORD_KEY = "record id of "
STRENGTH = {CONFIRMED: 0, CARD: 1, EXTERNAL: 2, EMAIL: 3, PHONE: 4, ANONYMOUS: 5, FUZZY: 6}


@dataclass(frozen=True, slots=True)
class Edge:
    left: int
    right: int
    kind: str
    score: float = 1.0  # a fuzzy edge's match probability; identifiers and decisions are 1


@dataclass(frozen=True, slots=True)
class Blocked:
    """An edge that was not followed, and why (shown in the review queue and the report)."""

    edge: Edge
    reason: str


@dataclass(slots=True)
class Clustering:
    clusters: list[list[int]]
    # Per record: the strongest followed edge that touches it (None: a record on its own).
    reasons: dict[int, Edge] = field(default_factory=dict)
    blocked: list[Blocked] = field(default_factory=list)


class _Forest:
    def __init__(self, unique_keys: dict[int, dict[str, str]]) -> None:
        self.parent: dict[int, int] = {}
        self.keys: dict[int, dict[str, str]] = unique_keys
        self.forbidden: dict[int, set[int]] = {}

    def find(self, item: int) -> int:
        parent = self.parent
        root = item
        while parent.get(root, root) != root:
            root = parent[root]
        while item != root:  # path compression
            item, parent[item] = parent[item], root
        return root

    def conflict(self, left: int, right: int, *, by_person: bool) -> str | None:
        left_keys, right_keys = self.keys.get(left, {}), self.keys.get(right, {})
        small, large = sorted((left_keys, right_keys), key=len)
        for name, value in small.items():
            other = large.get(name)
            if by_person and name.startswith(RECORD_KEY):
                continue  # "never automatically": a person's confirmation may join them
            if other is not None and other != value:
                return f"both hold a different {name} ({value} and {other})"
        small_forbidden, large_root = (
            (self.forbidden.get(left, set()), right)
            if len(self.forbidden.get(left, ())) <= len(self.forbidden.get(right, ()))
            else (self.forbidden.get(right, set()), left)
        )
        if any(self.find(record) == large_root for record in small_forbidden):
            return "a person rejected this match"
        return None

    def union(self, left: int, right: int) -> None:
        size_left = len(self.keys.get(left, ())) + len(self.forbidden.get(left, ()))
        size_right = len(self.keys.get(right, ())) + len(self.forbidden.get(right, ()))
        if size_left < size_right:
            left, right = right, left
        self.parent[right] = left
        if right in self.keys:
            self.keys.setdefault(left, {}).update(self.keys.pop(right))
        if right in self.forbidden:
            self.forbidden.setdefault(left, set()).update(self.forbidden.pop(right))


def cluster_records(
    records: Iterable[int],
    edges: Sequence[Edge],
    *,
    unique_keys: dict[int, dict[str, str]],
    rejected: Iterable[tuple[int, int]] = (),
) -> Clustering:
    """Join records along ``edges`` from the strongest to the weakest.

    ``unique_keys``: per record, name → value of keys a person can have only one of (e.g.
    ``{"card": "4000-12"}``; names starting with ``RECORD_KEY`` give way to a person's
    confirmation); ``rejected``: pairs a person said are different people.
    """
    ids = list(records)
    forest = _Forest({record: dict(keys) for record, keys in unique_keys.items() if keys})
    for left, right in rejected:
        forest.forbidden.setdefault(left, set()).add(right)
        forest.forbidden.setdefault(right, set()).add(left)
    result = Clustering(clusters=[])
    ordered = sorted(edges, key=lambda edge: (STRENGTH[edge.kind], -edge.score))
    for edge in ordered:
        left, right = forest.find(edge.left), forest.find(edge.right)
        if left == right:
            _note_reason(result, edge)
            continue
        reason = forest.conflict(left, right, by_person=edge.kind == CONFIRMED)
        if reason is not None:
            result.blocked.append(Blocked(edge, reason))
            continue
        forest.union(left, right)
        _note_reason(result, edge)
    members: dict[int, list[int]] = {}
    for record in ids:
        members.setdefault(forest.find(record), []).append(record)
    result.clusters = sorted((sorted(group) for group in members.values()), key=lambda g: g[0])
    return result


def _note_reason(result: Clustering, edge: Edge) -> None:
    # Edges arrive strongest first, so the first one noted for a record is its best.
    result.reasons.setdefault(edge.left, edge)
    result.reasons.setdefault(edge.right, edge)


def exact_edges(kind: str, groups: Iterable[Sequence[int]]) -> list[Edge]:
    """Records sharing one identifier value: a star from the first to each other record.

    A star, not every pair, keeps a value shared by thousands (a shop's placeholder phone)
    linear; when a unique key stops one spoke, the rest still join the first record.
    """
    edges: list[Edge] = []
    for group in groups:
        first, *others = group
        edges.extend(Edge(first, other, kind) for other in others)
    return edges
