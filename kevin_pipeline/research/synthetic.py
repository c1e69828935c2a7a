"""A deterministic synthetic market: bars for N symbols (plus SPY) and N mentions over them.

The benchmarks measure on it and the parity, fault-injection and sweep tests replay it, so one seed
gives the same universe on any machine; nothing here touches a database or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd

from kevin_pipeline.domain.calendar import NY, nyse_calendar
from kevin_pipeline.domain.models import Action, Horizon, Mention

BENCHMARK = "SPY"
UNIVERSE_END = date(2024, 12, 31)
SEED = 20240501

ACTIONS = [Action.BUY, Action.SELL, Action.HOLD, Action.AVOID, Action.WATCH]
ACTION_P = [0.70, 0.10, 0.06, 0.04, 0.10]
HORIZONS = [Horizon.DAYS, Horizon.WEEKS, Horizon.MONTHS, Horizon.LONG_TERM, Horizon.UNSPECIFIED, Horizon.INTRADAY]
HORIZON_P = [0.20, 0.30, 0.25, 0.10, 0.10, 0.05]


@dataclass
class Universe:
    bars: pd.DataFrame
    mentions: list[Mention]
    sessions: list[date]


def symbol_names(n: int) -> list[str]:
    """Deterministic distinct tickers (S000, S001, ...), never the benchmark's."""
    return [f"S{i:03d}" if n <= 1000 else f"S{i:05d}" for i in range(n)]


def synthetic_bars(symbols: list[str], sessions: list[date], rng: np.random.Generator) -> pd.DataFrame:
    """Random-walk daily OHLCV with low <= open, close <= high and every price > 0.

    Per symbol: daily drift ~ N(0.03 %, 0.03 %), volatility U(1 %, 3 %); an overnight gap of 0.3 sigma,
    then the session's move; high/low extend beyond max/min(open, close) by a half-normal wick.
    """
    n_sym, n_s = len(symbols), len(sessions)
    mu = rng.normal(0.0003, 0.0003, size=(n_sym, 1))
    sigma = rng.uniform(0.01, 0.03, size=(n_sym, 1))
    if symbols and symbols[-1] == BENCHMARK:  # the benchmark: an index-like, calmer walk
        mu[-1], sigma[-1] = 0.0004, 0.011
    p0 = rng.uniform(10.0, 400.0, size=(n_sym, 1))
    if symbols and symbols[-1] == BENCHMARK:
        p0[-1] = 320.0
    gap = rng.normal(0.0, 1.0, size=(n_sym, n_s)) * sigma * 0.3
    move = mu + rng.normal(0.0, 1.0, size=(n_sym, n_s)) * sigma
    log_close = np.log(p0) + np.cumsum(gap + move, axis=1)
    close = np.exp(log_close)
    open_ = np.exp(log_close - move)
    wick_hi = np.abs(rng.normal(0.0, 0.5, size=(n_sym, n_s))) * sigma
    wick_lo = np.abs(rng.normal(0.0, 0.5, size=(n_sym, n_s))) * sigma
    high = np.maximum(open_, close) * np.exp(wick_hi)
    low = np.minimum(open_, close) * np.exp(-wick_lo)
    # Cents, floored at a cent, then re-ordered so rounding can never break low <= o, c <= high.
    open_, close, high, low = (np.maximum(np.round(a, 2), 0.01) for a in (open_, close, high, low))
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))
    volume = rng.integers(100_000, 20_000_000, size=(n_sym, n_s)).astype(float)
    session_ts = pd.to_datetime(pd.Index(sessions)).astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "symbol": np.repeat(np.array(symbols, dtype=object), n_s),
            "date": np.tile(session_ts.values, n_sym),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
        }
    )


def synthetic_mentions(symbols: list[str], sessions: list[date], n: int, rng: np.random.Generator) -> list[Mention]:
    """`n` calls at uniform random instants over the sessions' span (any hour, weekends too).

    Popularity is skewed (weight ~ 1 / rank^0.8) so repeated calls, and with them aggregation and
    per-ticker caps, happen as they would on a real channel. Ids are 1..n in publish order.
    """
    start = datetime.combine(sessions[0], dtime(0, 0), tzinfo=NY).astimezone(timezone.utc)
    end = datetime.combine(sessions[-1], dtime(16, 0), tzinfo=NY).astimezone(timezone.utc)
    span = (end - start).total_seconds()
    offsets = np.sort(rng.uniform(0.0, span, size=n))
    weights = 1.0 / np.arange(1, len(symbols) + 1) ** 0.8
    picks = rng.choice(len(symbols), size=n, p=weights / weights.sum())
    actions = rng.choice(len(ACTIONS), size=n, p=ACTION_P)
    horizons = rng.choice(len(HORIZONS), size=n, p=HORIZON_P)
    convictions = np.round(rng.uniform(0.40, 1.00, size=n), 2)
    return [
        Mention(
            id=i + 1,
            video_id=f"vid{i // 4:05d}",
            symbol=symbols[int(picks[i])],
            action=ACTIONS[int(actions[i])],
            conviction=Decimal(f"{convictions[i]:.2f}"),
            horizon=HORIZONS[int(horizons[i])],
            published_at=start + timedelta(seconds=float(offsets[i])),
        )
        for i in range(n)
    ]


def synthetic_universe(n_symbols: int, n_sessions: int, n_mentions: int, *, seed: int = SEED) -> Universe:
    """The deterministic bench universe: same arguments, same bars and mentions, on any machine."""
    cal = nyse_calendar()
    last = cal.session_index(cal.next_session_on_or_after(UNIVERSE_END))
    if cal.session_at(last) > UNIVERSE_END:
        last -= 1
    sessions = [cal.session_at(i) for i in range(last - n_sessions + 1, last + 1)]
    rng = np.random.default_rng(seed)
    names = symbol_names(n_symbols)
    bars = synthetic_bars([*names, BENCHMARK], sessions, rng)
    mentions = synthetic_mentions(names, sessions, n_mentions, rng)
    return Universe(bars=bars, mentions=mentions, sessions=sessions)
