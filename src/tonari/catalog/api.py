from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tonari.kit.api import PrincipalDep, SessionDep
from tonari.kit.errors import NotFound
from tonari.kit.limits import MAX_UNIT_PRICE
from tonari.models.catalog import Product

router = APIRouter(prefix="/v1/products", tags=["catalogue"])


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=300)
    category: str | None = Field(default=None, max_length=120)
    price: StrictInt = Field(ge=0, le=MAX_UNIT_PRICE)


class ProductsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    products: list[ProductIn] = Field(min_length=1, max_length=5_000)

    @field_validator("products")
    @classmethod
    def _unique_ids(cls, products: list[ProductIn]) -> list[ProductIn]:
        seen: set[str] = set()
        for index, product in enumerate(products):
            if product.product_id in seen:
                raise ValueError(f"item {index}: product_id {product.product_id!r} appears twice")
            seen.add(product.product_id)
        return products


@router.put("", summary="Create or update products in bulk")
async def upsert_products(
    body: ProductsIn, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require("catalog:write")
    statement = pg_insert(Product).values(
        [{"tenant_id": principal.tenant_id, **p.model_dump()} for p in body.products]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[Product.tenant_id, Product.product_id],
            set_={
                "name": statement.excluded.name,
                "category": statement.excluded.category,
                "price": statement.excluded.price,
            },
        )
    )
    return {"upserted": len(body.products)}


@router.get("/{product_id}", summary="One product")
async def read_product(
    product_id: Annotated[str, Path(min_length=1, max_length=128)],
    session: SessionDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    product = await session.scalar(
        select(Product).where(
            Product.tenant_id == principal.tenant_id, Product.product_id == product_id
        )
    )
    if product is None:
        raise NotFound(f"no product {product_id!r}", field="product_id")
    return {
        "product_id": product.product_id,
        "name": product.name,
        "category": product.category,
        "price": product.price,
    }
