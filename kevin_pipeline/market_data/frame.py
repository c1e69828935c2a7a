"""The one table shape every price source hands to the rest of the pipeline.

Bundled bars, broker bars and test fixtures all return this shape so the backtest and the live
path never branch on where prices came from. `validate_bars` is the gate: a bad bar (high below
low, a zero close) silently poisons fills and P&L, so sources check before they hand a frame over.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BAR_COLUMNS: list[str] = ["symbol", "date", "open", "high", "low", "close", "volume"]
PRICE_COLUMNS: list[str] = ["open", "high", "low", "close"]
NUMBER_COLUMNS: list[str] = [*PRICE_COLUMNS, "volume"]

# Cap on messages per rule, so a badly broken file yields a readable report rather than 10k lines.
_MAX_PER_RULE = 20


def _label(df: pd.DataFrame, mask: pd.Series) -> list[str]:
    """'SYMBOL YYYY-MM-DD' for each flagged row (vectorised; no per-row Python on the good rows)."""
    rows = df.loc[mask, ["symbol", "date"]]
    dates = pd.to_datetime(rows["date"], errors="coerce").dt.strftime("%Y-%m-%d").fillna("?")
    return (rows["symbol"].astype(str) + " " + dates).tolist()


def numeric_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The price and volume columns as floats; a cell that is not a number (a CSV's "n/a", "abc")
    becomes NaN instead of raising deep inside a comparison."""
    numbers = df[NUMBER_COLUMNS]
    if all(dtype == np.float64 for dtype in numbers.dtypes):  # Parquet, the cache: nothing to parse
        return numbers.astype("float64")
    return numbers.apply(pd.to_numeric, errors="coerce").astype("float64")


def validate_bars(df: pd.DataFrame) -> list[str]:
    """Return human-readable problems with a bars frame; an empty list means it is usable.

    Checks: required columns, no nulls, one row per (symbol, date), prices > 0,
    high >= low, high >= max(open, close), low <= min(open, close), volume >= 0.
    """
    missing = [c for c in BAR_COLUMNS if c not in df.columns]
    if missing:
        return [f"missing columns: {', '.join(missing)}"]

    problems: list[str] = []

    def report(mask: pd.Series, what: str) -> None:
        mask = mask.fillna(False).astype(bool)
        n = int(mask.sum())
        if not n:
            return
        labels = _label(df, mask)
        problems.extend(f"{label}: {what}" for label in labels[:_MAX_PER_RULE])
        if n > _MAX_PER_RULE:
            problems.append(f"... {n - _MAX_PER_RULE} more rows with {what}")

    for col in BAR_COLUMNS:
        report(df[col].isna(), f"{col} is missing")

    dates = pd.to_datetime(df["date"], errors="coerce")
    report(dates.isna() & df["date"].notna(), "date is not a date")
    report(df.duplicated(["symbol", "date"], keep="first"), "duplicate (symbol, date)")

    numbers = numeric_columns(df)
    for col in NUMBER_COLUMNS:
        report(numbers[col].isna() & df[col].notna(), f"{col} is not a number")
    prices = numbers[PRICE_COLUMNS]
    for col in PRICE_COLUMNS:
        report(prices[col] <= 0, f"{col} <= 0")
    report(prices["high"] < prices["low"], "high < low")
    # fmax/fmin skip a NaN as max(axis=1)/min(axis=1) do, without building a two-column frame
    report(prices["high"] < np.fmax(prices["open"], prices["close"]), "high < max(open, close)")
    report(prices["low"] > np.fmin(prices["open"], prices["close"]), "low > min(open, close)")
    report(numbers["volume"] < 0, "volume < 0")
    return problems
