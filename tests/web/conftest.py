from __future__ import annotations

import httpx
import pytest

from tests.factories import TenantFixture
from tests.web.support import Panel


@pytest.fixture
async def panel(client: httpx.AsyncClient, tenant: TenantFixture) -> Panel:
    """The tenant's marketer, signed in to the panel."""
    return await Panel(client, tenant).open()
