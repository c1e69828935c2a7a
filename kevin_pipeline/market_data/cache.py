"""The `price_bars` table as a cache: every price source writes through it, the backtest reads it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import PriceBar
from kevin_pipeline.market_data.frame import BAR_COLUMNS

CHUNK = 500


def store_bars(session: Session, bars: pd.DataFrame, source: str) -> int:
    """Insert or replace bars (one row per symbol and session). Returns rows written."""
    if bars.empty:
        return 0
    frame = bars[BAR_COLUMNS].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    now = datetime.now(timezone.utc)
    records = [
        {
            "symbol": str(r.symbol),
            "date": r.date,
            "open": float(r.open),
            "high": float(r.high),
            "low": float(r.low),
            "close": float(r.close),
            "volume": float(r.volume),
            "source": source,
            "fetched_at": now,
        }
        for r in frame.itertuples(index=False)
    ]
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        keys = [(rec["symbol"], rec["date"]) for rec in chunk]
        session.execute(delete(PriceBar).where(tuple_(PriceBar.symbol, PriceBar.date).in_(keys)))
        session.execute(PriceBar.__table__.insert(), chunk)
    return len(records)


def load_cached_bars(
    session: Session, symbols: Iterable[str] | None = None, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    stmt = select(
        PriceBar.symbol, PriceBar.date, PriceBar.open, PriceBar.high, PriceBar.low, PriceBar.close, PriceBar.volume
    ).order_by(PriceBar.symbol, PriceBar.date)
    if symbols is not None:
        stmt = stmt.where(PriceBar.symbol.in_([s.upper() for s in symbols]))
    if start is not None:
        stmt = stmt.where(PriceBar.date >= start)
    if end is not None:
        stmt = stmt.where(PriceBar.date <= end)
    # plain tuples: pandas probes every SQLAlchemy Row for namedtuple fields (4 of the 8 s the
    # /channels skill report took on 630,000 bars)
    frame = pd.DataFrame.from_records([tuple(r) for r in session.execute(stmt)], columns=BAR_COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def cached_symbols(session: Session) -> set[str]:
    return set(session.scalars(select(PriceBar.symbol).distinct()))


def newest_cached_date(session: Session) -> date | None:
    """The newest session any symbol has a cached bar for (None: the cache is empty)."""
    return session.scalar(select(func.max(PriceBar.date)))
