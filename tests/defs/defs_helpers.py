"""Helpers for the Dagster tests: a kevin runtime with explicit resources, seed data.

Resources never read the caller's KEVIN_* environment for what matters here: the drop folder, the
broker and the price source are set explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.db.models import MentionRecord
from kevin_pipeline.defs.resources import (
    BrokerResource,
    KevinRuntimeResource,
    PriceSourceResource,
)
from kevin_pipeline.ingest.importer import import_mentions_file
from kevin_pipeline.market_data.bundled import load_bundled_bars
from kevin_pipeline.market_data.cache import store_bars
from kevin_pipeline.trading.controls import set_trading_enabled

# Five calls in March 2022 on bundled symbols (NVDA, AMZN, AAPL; SPY is the benchmark).
SMALL_CSV = """video_id,published_at,symbol,action,conviction,time_horizon,quote
v1,2022-03-01T15:00:00Z,NVDA,buy,0.80,weeks,adding NVDA
v2,2022-03-02T15:00:00Z,AMZN,buy,0.75,days,AMZN dip
v3,2022-03-03T15:00:00Z,NVDA,hold,0.50,weeks,holding
v4,2022-03-04T15:00:00Z,AAPL,buy,0.90,months,AAPL long
v5,2022-03-07T15:00:00Z,NVDA,sell,0.70,unspecified,trimming
"""


@dataclass
class Kevin:
    tmp: Path
    kevin_runtime: KevinRuntimeResource
    resources: dict[str, Any]

    @property
    def runtime(self) -> Runtime:
        return self.kevin_runtime.runtime

    @property
    def drop_dir(self) -> Path:
        return self.runtime.settings.resolved_drop_dir

    def write_file(self, name: str, text: str, folder: Path | None = None) -> Path:
        folder = folder or self.tmp / "files"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text)
        return path

    def seed_mentions(self, text: str = SMALL_CSV, name: str = "seed.csv") -> list[int]:
        import_mentions_file(self.runtime, self.write_file(name, text))
        with self.runtime.sessions() as s:
            return list(s.scalars(select(MentionRecord.id).order_by(MentionRecord.id)))

    def seed_bars(self, symbols=("NVDA", "AMZN", "AAPL", "SPY"), start=date(2022, 1, 3), end=date(2022, 6, 30)) -> None:
        with self.runtime.transaction() as s:
            store_bars(s, load_bundled_bars(list(symbols), start, end), source="bundled")

    def trading(self, on: bool) -> None:
        with self.runtime.transaction() as s:
            set_trading_enabled(s, on)

    def mention_count(self) -> int:
        with self.runtime.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(MentionRecord)))


def make_kevin(db_url: str, tmp: Path, *, enable_trading: bool = False) -> Kevin:
    kevin_runtime = KevinRuntimeResource(
        database_url=db_url,
        state_dir=str(tmp / "state"),
        enable_trading=enable_trading,
        settings_overrides={"mentions_drop_dir": str(tmp / "inbox")},
    )
    resources = {
        "kevin_runtime": kevin_runtime,
        "broker": BrokerResource(kind="simulated"),
        "price_source": PriceSourceResource(kind="bundled"),
    }
    return Kevin(tmp=tmp, kevin_runtime=kevin_runtime, resources=resources)
