"""How segments reacts to queued customer reactions (see tonari.reactions.dispatcher)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tonari.reactions.dispatcher import Reaction


async def react_to_reactions(
    session: AsyncSession, tenant_id: int, reactions: Sequence[Reaction], at: datetime
) -> None:
    """Apply one tenant's reactions (oldest first) inside the dispatcher's transaction."""
