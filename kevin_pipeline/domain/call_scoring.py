"""Scoring a channel's calls against the market, from the moment a follower could act.

A call is scored, not a trade: stops, caps and the conviction floor do not apply (the backtest shows
what the strategy made of the calls). The rules, made precise:

* Which calls: buy, sell and avoid. A buy counts with its sign (+1), a sell or an avoid reversed
  (-1): a sell call is right when the stock then lags the market. Hold and watch are not calls.
* Entry: the OPEN of the first NYSE session that opens strictly after the publish time
  (`NyseCalendar.next_open_after`, as the backtest fills): a Friday-evening call enters Monday's
  open, a holiday is skipped by the calendar.
* Horizon h (1, 5, 20, 60 sessions): from the entry open to the CLOSE of the session h - 1 sessions
  after the entry session (h = 1 is the entry session itself, open to close).
* Simple abnormal return = direction x (symbol's return - benchmark's return) over those same
  sessions, each return = close(end) / open(entry) - 1.
* Market-model abnormal return = direction x the sum over the window's sessions of
  r - (alpha + beta x r_m), alpha and beta fitted by least squares on close-to-close daily returns of
  the `estimation` (250) sessions before the entry session (pairs with both bars present; at least
  `min_estimation` of them, else it is left empty with a note). The entry session's r and r_m are
  open-to-close (the follower holds from the open); the others close-to-close.
* Status per call and horizon: `open` when the horizon's last session is after the last session of
  the data (`as_of`, by default the last bar in the frame): never scored early. `unscored` when the
  symbol or the benchmark has no bar on a session of the window; the reason names the first such
  date. Otherwise `scored`.

Everything is vectorised over calls (no Python loop over calls or sessions): bars are laid out as
(symbol x session) arrays once (`PricePanel`), and each horizon is a handful of fancy-index gathers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from kevin_pipeline.domain.calendar import NyseCalendar, nyse_calendar

HORIZONS: tuple[int, ...] = (1, 5, 20, 60)
ESTIMATION_SESSIONS = 250
MIN_ESTIMATION = 100
DIRECTION = {"buy": 1, "sell": -1, "avoid": -1}

STATUS_SCORED, STATUS_OPEN, STATUS_UNSCORED = "scored", "open", "unscored"

SCORE_COLUMNS = [
    "horizon", "entry_date", "end_date", "status", "reason", "symbol_return", "benchmark_return",
    "abnormal_return", "abnormal_return_mm", "alpha", "beta", "mm_note",
]


@lru_cache(maxsize=4)
def calendar_dates(calendar: NyseCalendar) -> np.ndarray:
    """Every session of the calendar as datetime64[D], position = calendar session index."""
    dates = np.array(calendar.sessions_between(calendar.first_session, calendar.last_session), dtype="datetime64[D]")
    dates.flags.writeable = False
    return dates


@dataclass(frozen=True)
class PricePanel:
    """Opens and closes as (symbol x session) float arrays, NaN where a symbol has no bar.

    `sessions` are every NYSE session from the first bar to `as_of`, so position k of every row is
    the same session; `first_index` is the calendar index of `sessions[0]`.
    """

    symbols: tuple[str, ...]
    rows: dict[str, int]
    sessions: np.ndarray  # datetime64[D], consecutive NYSE sessions
    first_index: int
    opens: np.ndarray
    closes: np.ndarray

    @property
    def size(self) -> int:
        return len(self.sessions)

    @classmethod
    def from_frame(
        cls, bars: pd.DataFrame, calendar: NyseCalendar | None = None, as_of: date | None = None
    ) -> "PricePanel":
        """From a bars frame (columns symbol, date, open, close; the `market_data.frame` shape).

        Bars after `as_of` are left out. A bar dated on a day that is not an NYSE session is an
        error naming it (it would silently shift every window). A duplicated (symbol, date): the
        later row wins, as in `PriceBook`.
        """
        cal = calendar or nyse_calendar()
        missing = [c for c in ("symbol", "date", "open", "close") if c not in bars.columns]
        if missing:
            raise ValueError(f"bars lack columns: {', '.join(missing)}")
        dates = pd.to_datetime(bars["date"])
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_localize(None)
        day = dates.to_numpy().astype("datetime64[D]")
        keep = np.ones(len(day), dtype=bool) if as_of is None else day <= np.datetime64(as_of, "D")
        if not keep.any():
            raise ValueError("no bars to score calls on" + ("" if as_of is None else f" on or before {as_of}"))
        day = day[keep]
        first, last = day.min().item(), (as_of if as_of is not None else day.max().item())
        every = calendar_dates(cal)
        lo = np.searchsorted(every, np.datetime64(first, "D"))
        sessions = every[lo : np.searchsorted(every, np.datetime64(last, "D"), side="right")]
        pos = np.searchsorted(sessions, day)
        on_session = (pos < len(sessions)) & (sessions[np.minimum(pos, len(sessions) - 1)] == day)
        if not on_session.all():
            bad = np.flatnonzero(~on_session)[:5]
            symbols = bars["symbol"].to_numpy()[keep]
            listed = ", ".join(f"{symbols[i]} {day[i]}" for i in bad)
            raise ValueError(f"{int((~on_session).sum())} bar(s) dated on a day that is not an NYSE session: {listed}")
        codes, uniques = pd.factorize(bars["symbol"].astype(str).to_numpy()[keep])
        opens = np.full((len(uniques), len(sessions)), np.nan)
        closes = np.full_like(opens, np.nan)
        opens[codes, pos] = bars["open"].to_numpy(dtype="float64")[keep]
        closes[codes, pos] = bars["close"].to_numpy(dtype="float64")[keep]
        names = tuple(str(s) for s in uniques)
        return cls(
            symbols=names,
            rows={s: i for i, s in enumerate(names)},
            sessions=sessions,
            first_index=cal.session_index(sessions[0].item()),
            opens=opens,
            closes=closes,
        )

    def next_missing(self) -> np.ndarray:
        """(symbols x sessions + 1): the first position >= k where the row has no bar (`size` when
        none), so "a bar is missing in [a, b]" is `next_missing[row, a] <= b`."""
        miss = np.isnan(self.opens) | np.isnan(self.closes)
        idx = np.where(miss, np.arange(self.size), self.size)
        nm = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
        return np.concatenate([nm, np.full((len(nm), 1), self.size)], axis=1)

    def daily_returns(self) -> np.ndarray:
        """Close-to-close returns per session (NaN on the first column and next to a missing bar)."""
        out = np.full_like(self.closes, np.nan)
        out[:, 1:] = self.closes[:, 1:] / self.closes[:, :-1] - 1.0
        return out


@dataclass(frozen=True)
class PreparedCalls:
    """Scoreable calls (buy/sell/avoid) with their panel row, entry position and direction."""

    frame: pd.DataFrame  # the input rows kept, index reset
    row: np.ndarray  # panel row of the symbol, -1 when the symbol has no bars at all
    entry: np.ndarray  # panel position of the entry session (may be < 0 or >= panel size)
    direction: np.ndarray  # +1 buy, -1 sell / avoid
    entry_date: np.ndarray  # datetime64[D]; NaT when the calendar has no later session


def prepare_calls(calls: pd.DataFrame, panel: PricePanel, calendar: NyseCalendar | None = None) -> PreparedCalls:
    """Keep the scoreable calls and place each on the panel (columns symbol, action, published_at;
    any other column is carried through). A naive publish time is an error naming the row."""
    cal = calendar or nyse_calendar()
    missing = [c for c in ("symbol", "action", "published_at") if c not in calls.columns]
    if missing:
        raise ValueError(f"calls lack columns: {', '.join(missing)}")
    action = calls["action"].astype(str).str.lower()
    frame = calls[action.isin(list(DIRECTION))].reset_index(drop=True)
    published = pd.to_datetime(frame["published_at"]) if len(frame) else pd.Series([], dtype="datetime64[ns, UTC]")
    if getattr(published.dt, "tz", None) is None:
        label = frame["mention_id"].iloc[0] if "mention_id" in frame.columns else frame.index[0]
        raise ValueError(f"call {label}: published_at has no time zone (kevin works with aware UTC times)")
    ns = published.dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()
    absolute = np.asarray(cal.next_open_indices(ns), dtype=np.int64)
    all_sessions = calendar_dates(cal)
    inside = absolute < len(all_sessions)
    entry_date = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
    entry_date[inside] = all_sessions[absolute[inside]]
    symbols = frame["symbol"].astype(str).str.upper()
    return PreparedCalls(
        frame=frame,
        row=symbols.map(panel.rows).fillna(-1).astype(np.int64).to_numpy(),
        # past the calendar's end: far beyond any panel, so every horizon is "open"
        entry=np.where(inside, absolute - panel.first_index, np.iinfo(np.int32).max),
        direction=action[action.isin(list(DIRECTION))].map(DIRECTION).to_numpy(dtype=np.int64),
        entry_date=entry_date,
    )


def _prefix(values: np.ndarray) -> np.ndarray:
    """Row-wise prefix sums with a leading zero: sum of values[:, a..b] = P[:, b + 1] - P[:, a]."""
    out = np.zeros((values.shape[0], values.shape[1] + 1))
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


class _MarketModel:
    """alpha and beta per call from daily returns before entry, by prefix sums (no per-call loop)."""

    def __init__(self, panel: PricePanel, bench: int, estimation: int, min_estimation: int) -> None:
        r = panel.daily_returns()
        x = r[bench]
        valid = ~np.isnan(r) & ~np.isnan(x)
        y0, x0 = np.where(valid, r, 0.0), np.where(valid, x, 0.0)
        self.n, self.sx, self.sy = _prefix(valid.astype(float)), _prefix(x0), _prefix(y0)
        self.sxx, self.sxy = _prefix(x0 * x0), _prefix(x0 * y0)
        self.estimation, self.min_estimation = estimation, min_estimation
        self.cc = _prefix(np.nan_to_num(r))  # close-to-close sums inside a (complete) window

    def fit(self, row: np.ndarray, entry: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hi = np.clip(entry, 0, self.n.shape[1] - 1)
        lo = np.clip(entry - self.estimation, 0, self.n.shape[1] - 1)
        r = np.maximum(row, 0)
        n, sx, sy, sxx, sxy = (p[r, hi] - p[r, lo] for p in (self.n, self.sx, self.sy, self.sxx, self.sxy))
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = (n * sxy - sx * sy) / (n * sxx - sx * sx)
            alpha = (sy - beta * sx) / n
        ok = (n >= self.min_estimation) & np.isfinite(beta) & (row >= 0)
        return np.where(ok, alpha, np.nan), np.where(ok, beta, np.nan), n


def _reasons(unscored: np.ndarray, has_bars: np.ndarray, who: np.ndarray, gap_date: np.ndarray,
             symbols: np.ndarray) -> np.ndarray:
    """'no bar for SYM on YYYY-MM-DD' (the first hole in the window, the symbol's before the
    benchmark's) or 'no bars for SYM' (none at all) for each unscored call, '' for the rest."""
    out = np.full(len(unscored), "", dtype=object)
    gap = unscored & has_bars
    out[gap] = [f"no bar for {w} on {d}" for w, d in zip(who[gap], gap_date[gap].astype(str))]
    out[unscored & ~has_bars] = [f"no bars for {s}" for s in symbols[unscored & ~has_bars]]
    return out


def score_calls(
    calls: pd.DataFrame | PreparedCalls,
    bars: pd.DataFrame | PricePanel,
    *,
    benchmark: str = "SPY",
    horizons: Sequence[int] = HORIZONS,
    calendar: NyseCalendar | None = None,
    as_of: date | None = None,
    estimation: int = ESTIMATION_SESSIONS,
    min_estimation: int = MIN_ESTIMATION,
) -> pd.DataFrame:
    """One row per scoreable call and horizon (see the module docstring): the call's own columns,
    then `SCORE_COLUMNS`. Returns are fractions (0.01 = 1 %). `calls` may come prepared
    (`prepare_calls` on the same panel), as the event study uses them too."""
    cal = calendar or nyse_calendar()
    panel = bars if isinstance(bars, PricePanel) else PricePanel.from_frame(bars, cal, as_of)
    if benchmark not in panel.rows:
        raise ValueError(f"no bars for the benchmark {benchmark}: calls are scored against it")
    prep = calls if isinstance(calls, PreparedCalls) else prepare_calls(calls, panel, cal)
    bench = panel.rows[benchmark]
    nm = panel.next_missing()
    model = _MarketModel(panel, bench, estimation, min_estimation)
    alpha, beta, n_est = model.fit(prep.row, prep.entry)
    needs = f" daily returns in the {estimation} sessions before entry (needs {min_estimation})"
    mm_note = np.where(np.isnan(beta), np.char.add(np.char.add("only ", n_est.astype(int).astype(str)), needs), "")
    symbols = prep.frame["symbol"].astype(str).str.upper().to_numpy()
    sessions = calendar_dates(cal)
    last = panel.size - 1
    # what does not depend on the horizon: the entry bars and the first hole at or after entry
    e = prep.entry
    has_bars = prep.row >= 0
    r = np.maximum(prep.row, 0)
    e_in = np.clip(e, 0, last)
    sym_gap = np.where(e < 0, e, nm[r, np.clip(e, 0, last + 1)])  # e < 0: entry before any bar
    bench_gap = np.where(e < 0, e, nm[bench, np.clip(e, 0, last + 1)])
    s_open, b_open = panel.opens[r, e_in], panel.opens[bench, e_in]
    with np.errstate(invalid="ignore", divide="ignore"):
        # the market model's entry session: open to close
        first_s, first_b = panel.closes[r, e_in] / s_open - 1.0, panel.closes[bench, e_in] / b_open - 1.0
    parts: list[dict[str, np.ndarray]] = []
    for h in horizons:  # a handful of horizons; each is vectorised over all calls
        end = e + (h - 1)
        end_in = np.clip(end, 0, last)
        is_open = end > last
        sym_missing = has_bars & (sym_gap <= end)
        unscored = ~is_open & (~has_bars | sym_missing | (bench_gap <= end))
        scored = ~is_open & ~unscored
        gap = panel.first_index + np.where(sym_missing, sym_gap, bench_gap)
        gap_date = sessions[np.clip(gap, 0, len(sessions) - 1)]
        reason = _reasons(unscored, has_bars, np.where(sym_missing, symbols, benchmark), gap_date, symbols)
        with np.errstate(invalid="ignore", divide="ignore"):
            r_sym = np.where(scored, panel.closes[r, end_in] / s_open - 1.0, np.nan)
            r_bench = np.where(scored, panel.closes[bench, end_in] / b_open - 1.0, np.nan)
            # market model: the entry session open-to-close, then close-to-close, summed
            rest_s = model.cc[r, end_in + 1] - model.cc[r, e_in + 1]
            rest_b = model.cc[bench, end_in + 1] - model.cc[bench, e_in + 1]
            mm = (first_s - alpha - beta * first_b) + (rest_s - (h - 1) * alpha - beta * rest_b)
        end_abs = panel.first_index + end
        end_date = np.full(len(e), np.datetime64("NaT"), dtype="datetime64[D]")
        in_cal = (end_abs >= 0) & (end_abs < len(sessions))
        end_date[in_cal] = sessions[end_abs[in_cal]]
        parts.append({
            "horizon": np.full(len(e), h),
            "entry_date": prep.entry_date,
            "end_date": end_date,
            "status": np.select([scored, is_open], [STATUS_SCORED, STATUS_OPEN], STATUS_UNSCORED),
            "reason": reason,
            "symbol_return": r_sym,
            "benchmark_return": r_bench,
            "abnormal_return": prep.direction * (r_sym - r_bench),
            "abnormal_return_mm": np.where(scored, prep.direction * mm, np.nan),
            "alpha": alpha,
            "beta": beta,
            "mm_note": mm_note,
        })
    if not parts or prep.frame.empty:
        return pd.DataFrame(columns=[*prep.frame.columns, *SCORE_COLUMNS])
    # one frame per column set, not per horizon: the calls repeated once per horizon, side by side
    # with each score column's horizons concatenated
    calls_part = prep.frame.iloc[np.tile(np.arange(len(prep.frame)), len(parts))].reset_index(drop=True)
    scores = pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in SCORE_COLUMNS})
    return pd.concat([calls_part.drop(columns=[c for c in SCORE_COLUMNS if c in calls_part.columns]), scores], axis=1)


def abnormal_paths(
    calls: pd.DataFrame | PreparedCalls,
    panel: PricePanel,
    *,
    benchmark: str = "SPY",
    pre: int = 10,
    post: int = 60,
    calendar: NyseCalendar | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The event study's raw material: per call, the cumulative abnormal return (direction x
    (symbol - benchmark), close-to-close daily returns, summed) from day -pre to day +post, day 0
    being the entry session. Column j is day j - pre. The path is NaN from the first day that is
    after the data or lacks a bar (it is not carried forward). Returns (the calls, with their
    `entry_date`; the paths).

    Day 0's return is close-to-close, so it includes the overnight jump into the entry open that a
    follower cannot get: the path shows what the market did around the call, run-up included.
    """
    if benchmark not in panel.rows:
        raise ValueError(f"no bars for the benchmark {benchmark}: calls are scored against it")
    prep = calls if isinstance(calls, PreparedCalls) else prepare_calls(calls, panel, calendar)
    r = panel.daily_returns()
    daily = r - r[panel.rows[benchmark]]
    k = prep.entry[:, None] + np.arange(-pre, post + 1)[None, :]
    inside = (k >= 0) & (k < panel.size) & (prep.row[:, None] >= 0)
    gathered = np.where(inside, daily[np.maximum(prep.row, 0)[:, None], np.clip(k, 0, panel.size - 1)], np.nan)
    return prep.frame.assign(entry_date=prep.entry_date), np.cumsum(gathered * prep.direction[:, None], axis=1)
