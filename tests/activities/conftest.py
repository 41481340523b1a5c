"""Every activity test's tenant has the Lush voucher pool the jar rule issues from."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.activities.support import T0
from tests.factories import TenantFixture
from tonari.codes.pools import create_pool
from tonari.codes.schemas import CodePoolCreate


@pytest.fixture(autouse=True)
async def free_mask_pool(session: AsyncSession, tenant: TenantFixture) -> None:
    await create_pool(
        session,
        tenant_id=tenant.id,
        definition=CodePoolCreate(code="free_mask", name="A free face mask", kind="personal"),
        at=T0,
    )
