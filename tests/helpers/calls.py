"""A YouTuber's calls built in one line: as the domain sees them (`call`) and as an import stores
them (`mention_row`). Strings for the enums and Decimals keep the tests readable."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.domain.models import Action, Horizon, Mention

_ids = itertools.count(1)


def call(t: datetime, symbol: str = "NVDA", action: str | Action = "buy", conviction: str | Decimal = "0.8",
         horizon: str | Horizon = "days", *, id: int | None = None, quote: str | None = None) -> Mention:
    """A mention published at `t`; a fresh id unless one is given."""
    return Mention(id=next(_ids) if id is None else id, symbol=symbol, action=Action(action),
                   conviction=Decimal(conviction), horizon=Horizon(horizon), published_at=t, quote=quote)


def mention_row(t: datetime, symbol: str = "NVDA", action: str | Action = "buy", conviction: str | Decimal = "0.8",
                horizon: str | Horizon = "days", *, line: int = 1, video_id: str | None = None, quote: str | None = None,
                **more: Any) -> MentionRow:
    """A parsed file row published at `t` (video `v{line}` unless named); `more` sets the other
    MentionRow fields (video_title, channel)."""
    return MentionRow(line=line, video_id=video_id or f"v{line}", published_at=t, symbol=symbol, action=Action(action),
                      conviction=Decimal(conviction), horizon=Horizon(horizon), quote=quote, **more)
