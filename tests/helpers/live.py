"""The live path on a real database (SQLite, and PostgreSQL when configured) with the simulated
broker, for the trading and broker tests:

    def test_something(live_factory):
        live = live_factory(bars("NVDA", {date(2024, 3, 7): (100, 101, 91, 95)}))
        mid = live.mention_and_decide(et(2024, 3, 5, 18))   # decided at 18:01
        order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 10))  # the 3-6 open filled it
        (lot,) = live.rows(Position)

A conftest makes the fixture visible with `from tests.helpers.live import live_factory`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
from sqlalchemy import select

from kevin_pipeline.brokers.simulated import SimulatedBroker
from kevin_pipeline.db.models import MentionRecord, SimOrder
from kevin_pipeline.db.store import store_mentions
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.settings import Settings
from kevin_pipeline.trading import order_path
from kevin_pipeline.trading.context import TradingContext
from kevin_pipeline.trading.controls import set_trading_enabled, set_trading_mode
from tests.helpers.calls import mention_row
from tests.helpers.market import CAL, bars, prices

NO_SLIP = StrategyParams(slippage_bps=Decimal("0"))


class Live:
    """Builds the runtime, the simulated venue and the context; adds mentions like an import would."""

    def __init__(self, url: str, tmp: Path, params: StrategyParams, frames: list[pd.DataFrame], trading: bool) -> None:
        self.params = params
        self.runtime: Runtime = open_runtime(Settings(state_dir=tmp, database_url=url, enable_trading=trading, **params.model_dump()))
        with self.runtime.transaction() as s:
            set_trading_enabled(s, trading)
        self.book = PriceBook.from_frame(prices(*frames))
        self.broker = SimulatedBroker(self.runtime.sessions, self.book, params, CAL)
        self.ctx = TradingContext(runtime=self.runtime, broker=self.broker, params=params, calendar=CAL)
        self._n = 0

    def mention(self, t: datetime, symbol: str = "NVDA", action: str = "buy", conviction: str = "0.8",
                horizon: str = "days") -> int:
        """Stores one call published at `t` (its own video) and returns its mention id."""
        self._n += 1
        video = f"vid{self._n}"
        with self.runtime.transaction() as s:
            store_mentions(s, [mention_row(t, symbol, action, conviction, horizon, line=self._n, video_id=video)], source="test")
        with self.runtime.sessions() as s:
            return s.scalars(select(MentionRecord.id).where(MentionRecord.video_id == video)).one()

    def mention_and_decide(self, t: datetime, **mention: str) -> int:
        """Stores a call published at `t` and runs the order path a minute later, as the sensor's
        run would; returns the mention id."""
        mid = self.mention(t, **mention)
        order_path.process_new_mentions(self.ctx, t + timedelta(minutes=1))
        return mid

    def rows(self, model: type, *where: Any) -> list[Any]:
        with self.runtime.sessions() as s:
            return list(s.scalars(select(model).where(*where)))

    def sim_orders(self) -> list[SimOrder]:
        """The orders the venue took, in order; bracket legs (children of an order) left out."""
        with self.runtime.sessions() as s:
            return list(s.scalars(select(SimOrder).where(SimOrder.parent_client_order_id.is_(None)).order_by(SimOrder.id)))

    def set_mode(self, mode: str) -> None:
        with self.runtime.transaction() as s:
            set_trading_mode(s, mode)

    def kill_at_submit(self, monkeypatch: pytest.MonkeyPatch, now: datetime, *, after_submit: bool = False) -> None:
        """Runs the order path at `now` with the process killed at the broker call: before the venue
        got the buy, or (`after_submit`) just after it took it. The broker works again afterwards."""
        cls = type(self.broker)
        real = cls.submit_bracket_buy

        def killed(broker: SimulatedBroker, **kw: Any) -> Any:
            if after_submit:
                real(broker, **kw)
            raise KeyboardInterrupt("process killed " + ("after" if after_submit else "before") + " the submit")

        monkeypatch.setattr(cls, "submit_bracket_buy", killed)
        try:
            with pytest.raises(KeyboardInterrupt):
                order_path.process_new_mentions(self.ctx, now)
        finally:
            monkeypatch.setattr(cls, "submit_bracket_buy", real)


@pytest.fixture
def live_factory(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Live]]:
    """live_factory(*frames, params=NO_SLIP, trading=True): a Live over SPY and `frames` (flat NVDA
    when none), each on its own state dir; closed after the test."""
    made: list[Live] = []

    def make(*frames: pd.DataFrame, params: StrategyParams = NO_SLIP, trading: bool = True) -> Live:
        live = Live(db_url, tmp_path / f"state{len(made)}", params, list(frames) or [bars("NVDA")], trading)
        made.append(live)
        return live

    yield make
    for live in made:
        live.runtime.close()
