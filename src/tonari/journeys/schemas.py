"""The journey definition language: an entry, a start step and a graph of typed steps.

A definition is stored as JSON and validated here before it is saved: the structure by
Pydantic (strict, steps discriminated by ``type``), the graph by :func:`check_graph` (every
``next`` names a step, every step is reachable from ``start``, and any loop passes through a
step that waits, so an instance can never spin). Errors name the place that is wrong
(``steps.remind.timeout_seconds``).
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from tonari.kit.errors import ValidationFailed
from tonari.segments.schemas import Node

StepId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,79}$")]
Seconds = Annotated[int, Field(ge=1, le=400 * 86_400)]
EventKind = Annotated[str, Field(min_length=1, max_length=80)]
KEY = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,78}[a-z0-9]$")
LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _local_time(value: str) -> str:
    if not LOCAL_TIME.match(value):
        raise ValueError("a local time is HH:MM, e.g. 10:00")
    return value


def parse_local_time(value: str) -> time:
    return time(int(value[:2]), int(value[3:]))


# --- entries --------------------------------------------------------------------------------


class EventEntry(_Strict):
    """Start on an event; ``key: entity`` gives one instance per entity (a cart id),
    ``none`` one per customer, ``each`` one per occurrence."""

    event: EventKind
    key: Literal["entity", "none", "each"] = "entity"
    filter: Node | None = Field(default=None, description="who may enter (a segment condition)")
    reentry: Literal["never", "after_exit", "after_days"] = "never"
    reentry_days: int | None = Field(default=None, ge=1, le=3650)


class SegmentEntry(_Strict):
    segment: Annotated[str, Field(min_length=1, max_length=80)]
    # Leaving the segment ends a live instance (exited), e.g. "lapsed" customers who bought.
    exit_on_leave: bool = False
    reentry: Literal["never", "after_exit", "after_days"] = "never"
    reentry_days: int | None = Field(default=None, ge=1, le=3650)


class DateEntry(_Strict):
    """Start N local days before a customer's date, at a local time of day."""

    date: Literal["birthday", "anniversary", "points_expiry"]
    days_before: int = Field(default=0, ge=0, le=90)
    at_local_time: str = "10:00"

    @field_validator("at_local_time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _local_time(value)


def _entry_kind(value: Any) -> str | None:
    """Which entry a value is, from its keys, so errors name the fields of that one only."""
    if isinstance(value, dict):
        for kind in ("event", "segment", "date"):
            if kind in value:
                return kind
        return None
    kinds: dict[type, str] = {EventEntry: "event", SegmentEntry: "segment", DateEntry: "date"}
    return kinds.get(type(value))


Entry = Annotated[
    Annotated[EventEntry, Tag("event")]
    | Annotated[SegmentEntry, Tag("segment")]
    | Annotated[DateEntry, Tag("date")],
    Discriminator(
        _entry_kind,
        custom_error_type="entry_kind",
        custom_error_message="an entry gives one of event, segment or date",
    ),
]


# --- steps ----------------------------------------------------------------------------------


class _Step(_Strict):
    next: StepId | None = Field(default=None, description="the step after this one; none: end")


class WaitStep(_Step):
    type: Literal["wait"]
    duration_seconds: Seconds | None = None
    until_local_time: str | None = None

    @field_validator("until_local_time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        return None if value is None else _local_time(value)

    @model_validator(mode="after")
    def _one_kind(self) -> WaitStep:
        if (self.duration_seconds is None) == (self.until_local_time is None):
            raise ValueError("a wait gives exactly one of duration_seconds or until_local_time")
        return self


class WaitForEventStep(_Strict):
    type: Literal["wait_for_event"]
    kind: EventKind
    same_key: bool = True
    timeout_seconds: Seconds
    on_event: StepId | None = None
    on_timeout: StepId | None = None


class ConditionStep(_Strict):
    type: Literal["condition"]
    if_: Node = Field(alias="if")
    then: StepId | None = None
    else_: StepId | None = Field(default=None, alias="else")


class Branch(_Strict):
    weight: int = Field(ge=1, le=10_000)
    next: StepId | None = None
    name: str | None = Field(default=None, max_length=40)


class SplitStep(_Strict):
    type: Literal["split"]
    branches: list[Branch] = Field(min_length=2, max_length=10)


class SendStep(_Step):
    type: Literal["send"]
    channel: Literal["email", "sms", "push", "web_push"] = "email"
    template: Annotated[str, Field(min_length=1, max_length=80)]
    priority: int | None = Field(default=None, ge=-100, le=100)
    # Extra variables computed when queued: the programme's points per profile section.
    include: list[Literal["profile_sections"]] = Field(default_factory=list)


class GrantPointsStep(_Step):
    type: Literal["grant_points"]
    points: int = Field(ge=1, le=10_000_000)
    reason: str | None = Field(default=None, max_length=200)


class GrantTemporaryPointsStep(_Step):
    type: Literal["grant_temporary_points"]
    points: int = Field(ge=1, le=10_000_000)
    valid_days: int = Field(ge=1, le=365)
    for_cart: bool = True


class IssuePromoCodeStep(_Step):
    type: Literal["issue_promo_code"]
    pool: Annotated[str, Field(min_length=1, max_length=63)]


class SetAttributeStep(_Step):
    type: Literal["set_attribute"]
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    value: str | int | bool | None = None  # absent or null: the attribute becomes JSON null


class ExitStep(_Strict):
    type: Literal["exit"]


class GoalStep(_Strict):
    """Wait up to ``within_seconds`` for the event: it converts the instance, else it ends."""

    type: Literal["goal"]
    event: EventKind
    within_seconds: Seconds
    same_key: bool = False


Step = Annotated[
    WaitStep
    | WaitForEventStep
    | ConditionStep
    | SplitStep
    | SendStep
    | GrantPointsStep
    | GrantTemporaryPointsStep
    | IssuePromoCodeStep
    | SetAttributeStep
    | ExitStep
    | GoalStep,
    Field(discriminator="type"),
]
STEP_TYPES = frozenset(
    {
        "wait",
        "wait_for_event",
        "condition",
        "split",
        "send",
        "grant_points",
        "grant_temporary_points",
        "issue_promo_code",
        "set_attribute",
        "exit",
        "goal",
    }
)
# Steps after which an instance sleeps: a loop must pass through one of them.
WAITING_TYPES = frozenset({"wait", "wait_for_event", "goal"})


class Goal(_Strict):
    """Checked while the instance lives: the event converts it and ends the journey."""

    event: EventKind
    within_seconds: Seconds
    same_key: bool = False


class JourneyDefinition(_Strict):
    entry: Entry
    start: StepId
    steps: dict[StepId, Step] = Field(min_length=1, max_length=100)
    goal: Goal | None = None


def successors(step: Any) -> list[tuple[str, str | None]]:
    """(attribute, next step id) pairs of a step, in the order they are written."""
    if isinstance(step, WaitForEventStep):
        return [("on_event", step.on_event), ("on_timeout", step.on_timeout)]
    if isinstance(step, ConditionStep):
        return [("then", step.then), ("else", step.else_)]
    if isinstance(step, SplitStep):
        return [(f"branches.{i}.next", b.next) for i, b in enumerate(step.branches)]
    if isinstance(step, ExitStep | GoalStep):
        return []
    return [("next", step.next)]


def check_graph(definition: JourneyDefinition) -> None:
    steps = definition.steps
    if definition.start not in steps:
        raise ValidationFailed(f"start names no step ({definition.start!r})", field="start")
    for step_id, step in steps.items():
        for attribute, target in successors(step):
            if target is not None and target not in steps:
                raise ValidationFailed(
                    f"steps.{step_id}.{attribute} names no step ({target!r})",
                    field=f"steps.{step_id}.{attribute}",
                )
    reachable: set[str] = set()
    frontier = [definition.start]
    while frontier:
        current = frontier.pop()
        if current in reachable:
            continue
        reachable.add(current)
        frontier.extend(t for _, t in successors(steps[current]) if t is not None)
    for step_id in steps:
        if step_id not in reachable:
            raise ValidationFailed(
                f"step {step_id!r} cannot be reached from start", field=f"steps.{step_id}"
            )
    # A cycle among steps that never wait would run forever in one go: refuse it.
    instant = {k for k, s in steps.items() if s.type not in WAITING_TYPES}
    colour: dict[str, int] = {}

    def visit(node: str) -> None:
        colour[node] = 1
        for _, target in successors(steps[node]):
            if target is None or target not in instant:
                continue
            if colour.get(target) == 1:
                raise ValidationFailed(
                    f"steps {node!r} → {target!r} loop without a wait",
                    field=f"steps.{target}",
                )
            if target not in colour:
                visit(target)
        colour[node] = 2

    for node in sorted(instant):
        if node not in colour:
            visit(node)


def _place(loc: tuple[Any, ...]) -> str:
    """``steps.remind.timeout_seconds`` from Pydantic's location, without the union tags."""
    parts = [str(p) for p in loc]
    if parts[:1] == ["steps"] and len(parts) > 2 and parts[2] in STEP_TYPES:
        del parts[2]
    elif parts[:1] == ["entry"] and len(parts) > 1 and parts[1] in ("event", "segment", "date"):
        del parts[1]
    return ".".join(p.rstrip("_") for p in parts) or "definition"


def parse_definition(document: Any) -> JourneyDefinition:
    """A validated definition, or :class:`ValidationFailed` naming the wrong place."""
    try:
        definition = JourneyDefinition.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = _place(tuple(first["loc"]))
        raise ValidationFailed(
            f"{place}: {first['msg']}",
            field=place,
            details={
                "errors": [
                    {"place": _place(tuple(e["loc"])), "message": e["msg"]}
                    for e in exc.errors()[:20]
                ]
            },
        ) from None
    check_graph(definition)
    entry = definition.entry
    if (
        isinstance(entry, EventEntry | SegmentEntry)
        and entry.reentry == "after_days"
        and entry.reentry_days is None
    ):
        raise ValidationFailed("reentry after_days needs reentry_days", field="entry.reentry_days")
    return definition


def entry_kind(definition: JourneyDefinition) -> str:
    entry = definition.entry
    if isinstance(entry, EventEntry):
        return entry.event
    if isinstance(entry, SegmentEntry):
        return "segment.entered"
    return "date"


# --- API bodies -----------------------------------------------------------------------------


class JourneyCreate(_Strict):
    key: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=200)
    definition: dict[str, Any]
    priority: int = Field(default=0, ge=-100, le=100)
    holdout_bp: int = Field(default=0, ge=0, le=10_000)
    quiet_hours: Literal["defer", "drop"] = "defer"
    status: Literal["draft", "active"] = "active"

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY.match(value):
            raise ValueError("a key is lowercase letters, digits, - and _ (2-80 characters)")
        return value


class TemplateEnable(_Strict):
    key: str | None = Field(default=None, min_length=1, max_length=80)
    holdout_bp: int | None = Field(default=None, ge=0, le=10_000)


class StepStats(BaseModel):
    step: str
    outcomes: dict[str, int]


class JourneyOut(BaseModel):
    key: str
    name: str
    template: str | None
    status: str
    entry_kind: str
    priority: int
    holdout_bp: int
    quiet_hours: str
    version: int
    definition: dict[str, Any]
    created_at: datetime
    stats: dict[str, int] | None = None
    steps: list[StepStats] | None = None


class TemplateOut(BaseModel):
    name: str
    title: str
    description: str
    entry: str
    messages: list[str]
    enabled: bool


class InstanceOut(BaseModel):
    id: int
    customer: str
    entity_key: str
    run: int
    status: str
    step: str | None
    wake_at: datetime | None
    entered_at: datetime
    finished_at: datetime | None
    converted_at: datetime | None
    state: dict[str, Any]


class InstancesPage(BaseModel):
    items: list[InstanceOut]
    next_after: int | None
