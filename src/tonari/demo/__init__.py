"""The demo brand: the Panasonic programme, a catalogue and two years of synthetic customers.

``tonari demo`` loads it and serves the API; ``load_demo`` is the service behind it. The
loader (and the services it drives) is imported on first use, so ``tonari --help`` stays quick.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tonari.demo.data import DEMO_TENANT_SLUG, DemoSummary, ProgressCallback, programme_document

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


async def load_demo(
    session: AsyncSession, *, now: datetime, progress: ProgressCallback | None = None
) -> DemoSummary:
    """Create the demo brand ``panasonic-demo`` unless it exists; return what it holds.

    See :func:`tonari.demo.loader.load_demo`.
    """
    from tonari.demo.loader import load_demo as load

    return await load(session, now=now, progress=progress)


__all__ = ["DEMO_TENANT_SLUG", "DemoSummary", "ProgressCallback", "load_demo", "programme_document"]
