"""Which cart lines an offer looks at: by product, category, brand, and whether on sale."""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from tonari.rules.offers.state import WorkingLine


class LineFilter(BaseModel):
    """Empty lists mean "any"; a line must pass every list that is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    products: list[str] = Field(default_factory=list, max_length=10_000)
    categories: list[str] = Field(default_factory=list, max_length=1_000)
    brands: list[str] = Field(default_factory=list, max_length=1_000)
    exclude_products: list[str] = Field(default_factory=list, max_length=10_000)
    exclude_on_sale: bool = False

    @cached_property
    def selects_everything(self) -> bool:
        return not (
            self.products
            or self.categories
            or self.brands
            or self.exclude_products
            or self.exclude_on_sale
        )

    def matches(self, line: WorkingLine) -> bool:
        if self.products and line.product_id not in self.products:
            return False
        if self.categories and line.category not in self.categories:
            return False
        if self.brands and line.brand not in self.brands:
            return False
        if line.product_id in self.exclude_products:
            return False
        return not (self.exclude_on_sale and line.on_sale)

    def describe(self) -> str:
        parts: list[str] = []
        if self.products:
            parts.append("products " + ", ".join(self.products[:5]))
        if self.categories:
            parts.append("categories " + ", ".join(self.categories[:5]))
        if self.brands:
            parts.append("brands " + ", ".join(self.brands[:5]))
        if self.exclude_on_sale:
            parts.append("not on sale")
        return "; ".join(parts) if parts else "any item"


ANY_LINE = LineFilter()


def matching_lines(lines: list[WorkingLine], line_filter: LineFilter) -> list[WorkingLine]:
    if line_filter.selects_everything:
        return list(lines)
    return [line for line in lines if line_filter.matches(line)]
