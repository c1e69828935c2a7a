"""`domain.call_scoring`: each call's abnormal return against SPY from the first open a follower
could fill, checked against hand-computed numbers (a holiday, a Friday-evening call, a missing bar,
a horizon still open), the market model against a planted alpha and beta, and the vectorised
scoring against a plain per-call loop on random data."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.domain.call_scoring import PricePanel, abnormal_paths, score_calls

# Around Independence Day 2024: Thu 7/4 is a holiday, Wed 7/3 an early close. AAA has no bar on 7/9.
#            SPY open close   AAA open close
PRICES = {
    "2024-07-01": (100, 100, 50, 50),
    "2024-07-02": (100, 101, 50, 51),
    "2024-07-03": (101, 102, 51, 52),
    "2024-07-05": (102, 100, 52, 55),
    "2024-07-08": (100, 105, 55, 54),
    "2024-07-09": (105, 104, None, None),
    "2024-07-10": (104, 106, 56, 60),
}


def _bars(prices: dict[str, tuple] = PRICES) -> pd.DataFrame:
    rows = []
    for d, (so, sc, ao, ac) in prices.items():
        rows.append(("SPY", d, so, sc))
        if ao is not None:
            rows.append(("AAA", d, ao, ac))
    frame = pd.DataFrame(rows, columns=["symbol", "date", "open", "close"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


CALLS = pd.DataFrame(
    {
        "mention_id": [1, 2, 3, 4, 5, 6],
        "symbol": ["AAA", "AAA", "AAA", "AAA", "BBB", "AAA"],
        "action": ["buy", "sell", "buy", "hold", "buy", "avoid"],
        "published_at": pd.to_datetime(
            [
                "2024-07-03T22:00:00Z",  # Wed 18:00 ET, after the early close; Thu is a holiday -> Fri 7/5
                "2024-07-05T23:00:00Z",  # Fri 19:00 ET -> Mon 7/8
                "2024-07-09T15:00:00Z",  # Tue 11:00 ET, mid-session -> Wed 7/10, the last bar
                "2024-07-01T12:00:00Z",  # a hold is not a call
                "2024-07-02T15:00:00Z",  # no bars at all for BBB
                "2024-07-02T12:00:00Z",  # Tue 08:00 ET, before the open -> that same day, 7/2
            ]
        ),
    }
)


def _row(scores: pd.DataFrame, mention_id: int, horizon: int) -> pd.Series:
    hit = scores[(scores["mention_id"] == mention_id) & (scores["horizon"] == horizon)]
    assert len(hit) == 1
    return hit.iloc[0]


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return score_calls(CALLS, _bars(), horizons=(1, 2, 3))


def test_hold_is_not_a_call_and_every_call_gets_every_horizon(scores: pd.DataFrame) -> None:
    assert sorted(scores["mention_id"].unique()) == [1, 2, 3, 5, 6]
    assert len(scores) == 5 * 3


def test_a_call_after_the_close_before_a_holiday_enters_after_the_holiday(scores: pd.DataFrame) -> None:
    one = _row(scores, 1, 1)
    assert one["entry_date"] == pd.Timestamp("2024-07-05") and one["end_date"] == pd.Timestamp("2024-07-05")
    # AAA 52 -> 55 = +5.7692 %, SPY 102 -> 100 = -1.9608 %: abnormal +7.7300 %
    assert one["status"] == "scored"
    assert one["symbol_return"] == pytest.approx(55 / 52 - 1)
    assert one["benchmark_return"] == pytest.approx(100 / 102 - 1)
    assert one["abnormal_return"] == pytest.approx(0.0773001, abs=1e-7)
    two = _row(scores, 1, 2)  # Fri open -> Mon close: AAA 52 -> 54, SPY 102 -> 105
    assert two["end_date"] == pd.Timestamp("2024-07-08")
    assert two["abnormal_return"] == pytest.approx((54 / 52 - 1) - (105 / 102 - 1))
    assert two["abnormal_return"] == pytest.approx(0.0090498, abs=1e-7)


def test_a_friday_evening_sell_enters_monday_and_counts_reversed(scores: pd.DataFrame) -> None:
    one = _row(scores, 2, 1)
    assert one["entry_date"] == pd.Timestamp("2024-07-08")
    # AAA 55 -> 54 = -1.8182 %, SPY 100 -> 105 = +5 %: the sell was right by 6.8182 %
    assert one["abnormal_return"] == pytest.approx(-((54 / 55 - 1) - 0.05))
    assert one["abnormal_return"] == pytest.approx(0.0681818, abs=1e-7)


def test_a_call_before_the_open_enters_that_days_open(scores: pd.DataFrame) -> None:
    avoid = _row(scores, 6, 1)  # Tue 7/2: AAA 50 -> 51 (+2 %), SPY 100 -> 101 (+1 %); reversed: -1 %
    assert avoid["entry_date"] == pd.Timestamp("2024-07-02")
    assert avoid["abnormal_return"] == pytest.approx(-0.01)


def test_a_missing_bar_leaves_the_call_unscored_naming_the_date(scores: pd.DataFrame) -> None:
    for mention_id, horizon in ((1, 3), (2, 2), (2, 3)):  # every window that covers Tue 7/9
        row = _row(scores, mention_id, horizon)
        assert row["status"] == "unscored"
        assert row["reason"] == "no bar for AAA on 2024-07-09"
        assert np.isnan(row["abnormal_return"])
    assert _row(scores, 5, 1)["reason"] == "no bars for BBB"


def test_a_horizon_that_ends_after_the_last_bar_is_open_not_scored_early(scores: pd.DataFrame) -> None:
    assert _row(scores, 3, 1)["status"] == "scored"  # Wed 7/10 open -> close: 56 -> 60 vs 104 -> 106
    assert _row(scores, 3, 1)["abnormal_return"] == pytest.approx((60 / 56 - 1) - (106 / 104 - 1))
    for horizon, end in ((2, "2024-07-11"), (3, "2024-07-12")):
        row = _row(scores, 3, horizon)
        assert (row["status"], row["reason"]) == ("open", "")
        assert row["end_date"] == pd.Timestamp(end)  # when it will be scored
        assert np.isnan(row["abnormal_return"])


def test_as_of_cuts_the_data_so_a_call_is_open_until_its_horizon_ends() -> None:
    scores = score_calls(CALLS, _bars(), horizons=(2,), as_of=date(2024, 7, 5))
    assert _row(scores, 1, 2)["status"] == "open"  # ends Mon 7/8, after the cut


def test_bad_input_is_named() -> None:
    bars = _bars()
    with pytest.raises(ValueError, match="benchmark QQQ"):
        score_calls(CALLS, bars, benchmark="QQQ")
    weekend = pd.concat([bars, pd.DataFrame({"symbol": ["AAA"], "date": [pd.Timestamp("2024-07-06")],
                                             "open": [1.0], "close": [1.0]})])
    with pytest.raises(ValueError, match="not an NYSE session: AAA 2024-07-06"):
        score_calls(CALLS, weekend)
    naive = CALLS.assign(published_at=CALLS["published_at"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="call 1: published_at has no time zone"):
        score_calls(naive, bars)


# --- the market model -------------------------------------------------------------------------

N_SESSIONS = 320
ALPHA, BETA, EXTRA = 0.0005, 1.5, 0.002


def _planted_market(entry: int, horizon: int) -> tuple[pd.DataFrame, list[date]]:
    """SPY random; XYZ's daily return is exactly ALPHA + BETA x SPY's, plus EXTRA on each session of
    the call's window. Opens equal the previous close, so open-to-close = close-to-close."""
    cal = nyse_calendar()
    sessions = cal.sessions_between(date(2023, 1, 1), date(2024, 12, 31))[:N_SESSIONS]
    rng = np.random.default_rng(7)
    r_m = rng.normal(0.0004, 0.01, N_SESSIONS)
    r_s = ALPHA + BETA * r_m
    r_s[entry : entry + horizon] += EXTRA
    frames = []
    for sym, r in (("SPY", r_m), ("XYZ", r_s)):
        close = 100 * np.cumprod(1 + r)
        open_ = np.concatenate([[100.0], close[:-1]])
        frames.append(pd.DataFrame({"symbol": sym, "date": pd.to_datetime(sessions), "open": open_, "close": close}))
    return pd.concat(frames, ignore_index=True), sessions


def test_the_market_model_recovers_alpha_and_beta_and_the_planted_excess() -> None:
    entry, horizon = 280, 5
    bars, sessions = _planted_market(entry, horizon)
    cal = nyse_calendar()
    published = cal.session_close(sessions[entry - 1]) + timedelta(hours=2)  # enters sessions[entry]
    calls = pd.DataFrame({"mention_id": [1, 2], "symbol": ["XYZ", "XYZ"], "action": ["buy", "sell"],
                          "published_at": [published, published]})
    scores = score_calls(calls, bars, horizons=(horizon,))
    buy, sell = scores.iloc[0], scores.iloc[1]
    assert buy["entry_date"] == pd.Timestamp(sessions[entry])
    assert buy["alpha"] == pytest.approx(ALPHA, abs=1e-12)
    assert buy["beta"] == pytest.approx(BETA, abs=1e-9)
    assert buy["abnormal_return_mm"] == pytest.approx(horizon * EXTRA, abs=1e-10)
    assert sell["abnormal_return_mm"] == pytest.approx(-horizon * EXTRA, abs=1e-10)
    assert buy["mm_note"] == ""


def test_the_market_model_needs_enough_history_and_says_so() -> None:
    bars, sessions = _planted_market(50, 5)
    published = nyse_calendar().session_close(sessions[49]) + timedelta(hours=2)
    calls = pd.DataFrame({"mention_id": [1], "symbol": ["XYZ"], "action": ["buy"], "published_at": [published]})
    row = score_calls(calls, bars, horizons=(5,)).iloc[0]
    assert row["status"] == "scored" and not np.isnan(row["abnormal_return"])  # the simple one still counts
    assert np.isnan(row["abnormal_return_mm"]) and np.isnan(row["beta"])
    # 50 sessions before entry give 49 close-to-close returns (the first session has none)
    assert row["mm_note"] == "only 49 daily returns in the 250 sessions before entry (needs 100)"


# --- the event paths --------------------------------------------------------------------------


def test_abnormal_paths_cumulate_daily_abnormal_returns_around_the_entry() -> None:
    bars = _bars()
    panel = PricePanel.from_frame(bars)
    calls, paths = abnormal_paths(CALLS[CALLS["mention_id"] == 2], panel, pre=2, post=1)
    # sell AAA entering Mon 7/8 (position 4): days -2..+1 = 7/3, 7/5, 7/8, 7/9
    # close-to-close AR: 7/3: 52/51 - 102/101; 7/5: 55/52 - 100/102; 7/8: 54/55 - 105/100; 7/9: no AAA bar
    d = [(52 / 51) - (102 / 101), (55 / 52) - (100 / 102), (54 / 55) - (105 / 100)]
    expected = -np.cumsum(d)
    assert calls["entry_date"].tolist() == [pd.Timestamp("2024-07-08")]
    assert paths.shape == (1, 4)
    assert paths[0, :3] == pytest.approx(expected)
    assert np.isnan(paths[0, 3])  # the missing bar ends the path


# --- vectorised == a plain loop ---------------------------------------------------------------


def _loop_scores(calls: pd.DataFrame, bars: pd.DataFrame, horizon: int) -> dict[int, tuple[str, float]]:
    """The rules of the module docstring, one call at a time, with dict lookups."""
    cal = nyse_calendar()
    price = {(r.symbol, r.date.date()): (r.open, r.close) for r in bars.itertuples()}
    last = bars["date"].max().date()
    out = {}
    for c in calls.itertuples():
        if c.action not in ("buy", "sell", "avoid"):
            continue
        entry = cal.next_open_after(c.published_at.to_pydatetime())
        window = [cal.sessions_later(entry, k) for k in range(horizon)]
        if window[-1] > last:
            out[c.mention_id] = ("open", np.nan)
            continue
        if any((s, d) not in price for d in window for s in (c.symbol, "SPY")):
            out[c.mention_id] = ("unscored", np.nan)
            continue
        sign = 1 if c.action == "buy" else -1
        r = price[(c.symbol, window[-1])][1] / price[(c.symbol, entry)][0] - 1
        m = price[("SPY", window[-1])][1] / price[("SPY", entry)][0] - 1
        out[c.mention_id] = ("scored", sign * (r - m))
    return out


def test_vectorised_scoring_matches_a_plain_loop_on_random_data() -> None:
    cal = nyse_calendar()
    sessions = cal.sessions_between(date(2022, 1, 1), date(2022, 12, 31))
    rng = np.random.default_rng(3)
    frames = []
    for sym in ("SPY", "A", "B", "C"):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, len(sessions))))
        open_ = close * np.exp(rng.normal(0, 0.005, len(sessions)))
        frame = pd.DataFrame({"symbol": sym, "date": pd.to_datetime(sessions), "open": open_, "close": close})
        if sym != "SPY":
            frame = frame.drop(index=rng.choice(len(frame), 5, replace=False))  # holes
        frames.append(frame)
    bars = pd.concat(frames, ignore_index=True)
    start = datetime(2021, 12, 20, tzinfo=timezone.utc)
    published = [start + timedelta(seconds=float(s)) for s in rng.uniform(0, 380 * 86400, 400)]
    calls = pd.DataFrame({
        "mention_id": range(400),
        "symbol": rng.choice(["A", "B", "C"], 400),
        "action": rng.choice(["buy", "sell", "avoid", "hold"], 400),
        "published_at": pd.to_datetime(published, utc=True),
    })
    for horizon in (1, 5, 20):
        got = score_calls(calls, bars, horizons=(horizon,))
        want = _loop_scores(calls, bars, horizon)
        assert set(got["mention_id"]) == set(want)
        statuses = {"scored": 0, "open": 0, "unscored": 0}
        for row in got.itertuples():
            status, value = want[row.mention_id]
            statuses[status] += 1
            assert row.status == status, row.mention_id
            if status == "scored":
                assert row.abnormal_return == pytest.approx(value, abs=1e-12)
        assert min(statuses.values()) > 0  # the random data exercised every status
