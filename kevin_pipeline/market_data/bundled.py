"""Real daily bars shipped inside the package, so the demo and backtests run with no API key.

Contents (see kevin_pipeline/data/README.md): split- and dividend-adjusted daily OHLCV for
META AMZN AAPL NFLX NVDA GOOG, plus "SPY" = the S&P 500 price index standing in for the ETF,
every XNYS session 2013-01-02 .. 2022-12-28.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from importlib import resources

import pandas as pd

from kevin_pipeline.market_data.frame import BAR_COLUMNS

BARS_RESOURCE = "bars.parquet"
BENCHMARK_SYMBOL = "SPY"


@lru_cache(maxsize=1)
def _read_all() -> pd.DataFrame:
    """Read the parquet once per process via importlib.resources (works from a wheel or a checkout)."""
    # Anchored on the regular package: kevin_pipeline/data has no __init__.py (it is package data).
    ref = resources.files("kevin_pipeline").joinpath("data", BARS_RESOURCE)
    with resources.as_file(ref) as path:
        df = pd.read_parquet(path, engine="pyarrow")
    df = df[BAR_COLUMNS]
    return df.assign(
        symbol=df["symbol"].astype(str),
        date=pd.to_datetime(df["date"]).astype("datetime64[ns]").dt.normalize(),
    )


def _session_day(d: date) -> pd.Timestamp:
    """The calendar day of `d` as a naive midnight Timestamp (an aware datetime keeps its own wall date)."""
    ts = pd.Timestamp(d)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def bundled_symbols() -> list[str]:
    """Symbols that have bundled bars (including the benchmark)."""
    return sorted(_read_all()["symbol"].unique().tolist())


def load_bundled_bars(
    symbols: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """Bundled bars in the BAR_COLUMNS shape, sorted by (symbol, date); start/end are inclusive.

    Unknown symbols are simply absent from the result (callers decide whether "no bars" is a skip
    or an error). Returns a copy, so callers may mutate it without corrupting the cache.
    """
    df = _read_all()
    mask = pd.Series(True, index=df.index)
    if symbols is not None:
        wanted = {s.strip().upper() for s in ([symbols] if isinstance(symbols, str) else symbols)}
        mask &= df["symbol"].isin(wanted)
    if start is not None:
        mask &= df["date"] >= _session_day(start)
    if end is not None:
        mask &= df["date"] <= _session_day(end)
    return df.loc[mask].reset_index(drop=True).copy()
