"""A segment definition: a tree of all/any/not groups over typed conditions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CityIn(_Strict):
    field: Literal["city"]
    values: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(min_length=1)


class GenderIn(_Strict):
    field: Literal["gender"]
    values: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(min_length=1)


class LifetimeSpendAtLeast(_Strict):
    field: Literal["lifetime_spend"]
    min: int = Field(ge=0)


class OrdersInLastDays(_Strict):
    field: Literal["orders_count"]
    days: int = Field(ge=1, le=3650)
    min: int = Field(ge=1)


Condition = Annotated[
    CityIn | GenderIn | LifetimeSpendAtLeast | OrdersInLastDays, Field(discriminator="field")
]


class AllGroup(_Strict):
    all: list[Node] = Field(min_length=1)


class AnyGroup(_Strict):
    any: list[Node] = Field(min_length=1)


class NotGroup(_Strict):
    not_: Node = Field(alias="not")


Node = AllGroup | AnyGroup | NotGroup | Condition

AllGroup.model_rebuild()
AnyGroup.model_rebuild()
NotGroup.model_rebuild()
