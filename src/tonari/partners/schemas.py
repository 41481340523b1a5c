"""Partners of a programme: coalition partners that issue and accept points, and banks.

Part of the programme document; this module must not import ``tonari.programs`` (the
programme document imports it). Rates are basis points: 500 = 5%.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tonari.kit.errors import NotFound

PURCHASE_TYPES = ("anywhere", "brand_site")


class Partner(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,39}$")
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["coalition_partner", "bank"]
    earn_rate_bp: int | None = Field(
        default=None, ge=1, le=10_000, description="Coalition partners: 100-1400 (1-14%)"
    )
    anywhere_rate_bp: int | None = Field(
        default=None, ge=0, le=10_000, description="Banks: any card purchase (500 = 5%)"
    )
    brand_site_rate_bp: int | None = Field(
        default=None, ge=0, le=10_000, description="Banks: extra on the brand's site (2000)"
    )
    brand_site_stacks_with_anywhere: bool = Field(
        default=True,
        description="True: a brand-site purchase earns anywhere + brand-site rate (5% + 20%); "
        "false: the brand-site rate instead (20%)",
    )
    settlement_point_value_minor: int | None = Field(
        default=None, ge=1, description="What a point is settled at; default the programme's"
    )
    points_expiry_days: int | None = Field(
        default=None, ge=1, le=3650, description="Accrued points' life; default the programme's"
    )

    @model_validator(mode="after")
    def _rates_match_kind(self) -> Partner:
        if self.kind == "bank":
            if self.anywhere_rate_bp is None:
                raise ValueError("a bank partner needs anywhere_rate_bp")
            if self.earn_rate_bp is not None:
                raise ValueError("earn_rate_bp is for coalition partners; banks use rates per type")
        else:
            if self.earn_rate_bp is None:
                raise ValueError("a coalition partner needs earn_rate_bp")
            if self.anywhere_rate_bp is not None or self.brand_site_rate_bp is not None:
                raise ValueError("anywhere/brand_site rates are for bank partners")
        return self

    def accrual_rate_bp(self, purchase_type: str) -> int:
        """The rate a bank-file purchase of this type earns at."""
        anywhere = self.anywhere_rate_bp or 0
        if purchase_type != "brand_site":
            return anywhere
        brand = self.brand_site_rate_bp or 0
        return anywhere + brand if self.brand_site_stacks_with_anywhere else brand


def programme_partners(programme: object) -> list[Partner]:
    """The programme's partners (none until the programme document has the field)."""
    return list(getattr(programme, "partners", None) or [])


def find_partner(partners: list[Partner], code: str) -> Partner:
    for partner in partners:
        if partner.code == code:
            return partner
    known = ", ".join(p.code for p in partners) or "none configured"
    raise NotFound(
        f"the programme has no partner {code!r} (known: {known})",
        field="partner",
        code="unknown_partner",
    )
