"""A live path on a real database (SQLite, and PostgreSQL when configured) with the simulated broker."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.brokers.simulated import SimulatedBroker
from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading.context import TradingContext
from kevin_pipeline.trading.controls import set_trading_enabled

NY = ZoneInfo("America/New_York")
CAL = nyse_calendar()
SESSIONS = CAL.sessions_between(date(2024, 3, 1), date(2024, 5, 31))
NO_SLIP = StrategyParams(slippage_bps=Decimal("0"))


def et(*a) -> datetime:
    return datetime(*a, tzinfo=NY)


def bars(symbol: str, overrides=None, base: float = 100.0, sessions=SESSIONS) -> pd.DataFrame:
    rows = []
    for s in sessions:
        o, h, lo, c = (overrides or {}).get(s, (base, base, base, base))
        rows.append({"symbol": symbol, "date": pd.Timestamp(s), "open": o, "high": h, "low": lo, "close": c, "volume": 0})
    return pd.DataFrame(rows)


class Live:
    """Builds the runtime, the simulated venue and the context; adds mentions like an import would."""

    def __init__(self, url: str, tmp: Path, params: StrategyParams, frames: list[pd.DataFrame], trading: bool) -> None:
        self.params = params
        self.runtime: Runtime = open_runtime(Settings(state_dir=tmp, database_url=url, enable_trading=trading, **params.model_dump()))
        with self.runtime.transaction() as s:
            set_trading_enabled(s, trading)
        self.book = PriceBook.from_frame(pd.concat([bars("SPY", base=400.0), *frames], ignore_index=True))
        self.broker = SimulatedBroker(self.runtime.sessions, self.book, params, CAL)
        self.ctx = TradingContext(runtime=self.runtime, broker=self.broker, params=params, calendar=CAL)
        self._n = 0

    def mention(self, t: datetime, symbol="NVDA", action="buy", conviction="0.8", horizon="days") -> int:
        from sqlalchemy import select

        from kevin_pipeline.db.models import MentionRecord

        self._n += 1
        row = MentionRow(line=self._n, video_id=f"vid{self._n}", published_at=t, symbol=symbol, action=Action(action),
                         conviction=Decimal(conviction), horizon=Horizon(horizon), quote="q")
        with self.runtime.transaction() as s:
            store_mentions(s, [row], source="test")
        with self.runtime.sessions() as s:
            return s.scalars(select(MentionRecord.id).where(MentionRecord.video_id == f"vid{self._n}")).one()


@pytest.fixture
def live_factory(db_url, tmp_path):
    made: list[Live] = []

    def make(*frames: pd.DataFrame, params: StrategyParams = NO_SLIP, trading: bool = True) -> Live:
        live = Live(db_url, tmp_path / f"state{len(made)}", params, list(frames) or [bars("NVDA")], trading)
        made.append(live)
        return live

    yield make
    for live in made:
        live.runtime.close()
