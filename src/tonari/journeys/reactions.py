"""How journeys react to queued customer reactions (see tonari.reactions.dispatcher)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.reactions.dispatcher import Reaction


async def react_to_reactions(
    session: AsyncSession, tenant_id: int, reactions: Sequence[Reaction], at: datetime
) -> None:
    """Enter journeys, resolve waits for an event and count goals for one tenant's reactions."""
