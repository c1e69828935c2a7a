"""`kevin prices import FILE`: daily bars from a CSV or Parquet file into the `price_bars` cache.

The file is read exactly as `kevin backtest --bars FILE` reads it (`research.backtest.bars_from_file`
and `usable_bars`), so a backtest from the cache after an import equals one from the file.
Importing is idempotent: one row per (symbol, session); a re-import replaces a changed bar and
keeps an identical one. Unusable rows are skipped and named, the others stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import PriceBar
from kevin_pipeline.market_data.cache import CHUNK, store_bars
from kevin_pipeline.market_data.frame import BAR_COLUMNS
from kevin_pipeline.research.backtest import bars_from_file, usable_bars

SYMBOL_MAX = PriceBar.__table__.c.symbol.type.length or 16
SOURCE_MAX = PriceBar.__table__.c.source.type.length or 32


@dataclass
class PriceImportReport:
    path: Path
    rows: int = 0  # data rows in the file
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    symbols: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # each unusable row, named, and why

    @property
    def stored(self) -> int:
        return self.new + self.updated + self.unchanged

    def summary(self) -> str:
        return (
            f"{self.path.name}: {self.rows} rows read; {self.stored} bars stored for {len(self.symbols)} symbols "
            f"({self.new} new, {self.updated} updated, {self.unchanged} unchanged); "
            f"{self.rows - self.stored} rows skipped"
        )


def import_bars_file(session: Session, path: Path) -> PriceImportReport:
    """Store the file's usable bars in the cache. Raises `BacktestInputError` for an unreadable file."""
    frame = bars_from_file(path)
    report = PriceImportReport(path=path, rows=len(frame))
    too_long = frame["symbol"].str.len() > SYMBOL_MAX
    report.skipped += [f"row {i + 1}: symbol {sym[:20]!r}... is longer than {SYMBOL_MAX} characters"
                       for i, sym in zip(frame.index[too_long], frame.loc[too_long, "symbol"])]
    bars, problems = usable_bars(frame[~too_long])
    report.skipped += problems
    if bars.empty:
        return report
    bars = bars[BAR_COLUMNS].copy()
    bars["date"] = pd.to_datetime(bars["date"]).dt.date
    old = _existing(session, list(zip(bars["symbol"], bars["date"])))
    for r in bars.itertuples(index=False):
        before = old.get((r.symbol, r.date))
        if before is None:
            report.new += 1
        elif before == tuple(float(v) for v in (r.open, r.high, r.low, r.close, r.volume)):
            report.unchanged += 1
        else:
            report.updated += 1
    store_bars(session, bars, source=f"file:{path.name}"[:SOURCE_MAX])
    report.symbols = sorted(set(bars["symbol"]))
    return report


def _existing(session: Session, keys: list[tuple[str, object]]) -> dict[tuple[str, object], tuple[float, ...]]:
    """The cached (open, high, low, close, volume) of each (symbol, date) in `keys` that has one."""
    found: dict[tuple[str, object], tuple[float, ...]] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        rows = session.execute(
            select(PriceBar.symbol, PriceBar.date, PriceBar.open, PriceBar.high, PriceBar.low, PriceBar.close,
                   PriceBar.volume).where(tuple_(PriceBar.symbol, PriceBar.date).in_(chunk))
        )
        for sym, d, *values in rows:
            found[(sym, d)] = tuple(float(v) if v is not None else 0.0 for v in values)
    return found
