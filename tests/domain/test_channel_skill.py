"""`domain.channel_skill`: the verdict rule, the day-clustered bootstrap (repeatable, and wider when
calls share a day), the statistics against hand computation, the event study, and generated
channels: a planted edge is `skilled`, a planted negative edge `anti-skilled`, a coin-flipper
`no evidence`, each in at least 90 of 100 seeds."""

from __future__ import annotations

import time
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.domain.call_scoring import PricePanel, abnormal_paths, score_calls
from kevin_pipeline.domain.channel_skill import (
    ANTI_SKILLED, NO_EVIDENCE, SKILLED, TOO_FEW, cluster_bootstrap_means, cluster_t, conviction_bucket,
    event_study, group_rng, skill_table, verdict, verdict_rule,
)

# --- the verdict rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "lo", "hi", "label"),
    [
        (29, 0.01, 0.05, TOO_FEW),  # a clear edge, but under 30 scored calls
        (30, 0.001, 0.05, SKILLED),
        (30, -0.05, -0.001, ANTI_SKILLED),
        (500, -0.01, 0.02, NO_EVIDENCE),
        (500, 0.0, 0.02, NO_EVIDENCE),  # touching 0 is containing it
        (500, -0.02, 0.0, NO_EVIDENCE),
    ],
)
def test_the_verdict_rule(n: int, lo: float, hi: float, label: str) -> None:
    assert verdict(n, lo, hi) == label


def test_the_rule_text_names_the_horizon_the_threshold_and_the_clustering() -> None:
    rule = verdict_rule()
    for part in ("20-session", "under 30 scored calls", "95 % confidence interval", "resamples days", "seeded"):
        assert part in rule
    assert "5-session" in verdict_rule(horizon=5)


# --- the bootstrap ----------------------------------------------------------------------------


def _scores(values: list[float], days: list[str], horizon: int = 20, **extra: list) -> pd.DataFrame:
    """A score frame as `score_calls` returns it, for `skill_table`: one horizon, all scored."""
    n = len(values)
    frame = pd.DataFrame({
        "channel": extra.get("channel", ["c"] * n),
        "symbol": extra.get("symbol", ["AAA"] * n),
        "horizon": horizon,
        "entry_date": pd.to_datetime(days),
        "status": extra.get("status", ["scored"] * n),
        "abnormal_return": values,
        "abnormal_return_mm": values,
    })
    frame.loc[frame["status"] != "scored", ["abnormal_return", "abnormal_return_mm"]] = np.nan
    return frame


def _days(n: int) -> list[str]:
    return [str(d.date()) for d in pd.bdate_range("2024-01-01", periods=n)]


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    rng = np.random.default_rng(1)
    scores = _scores(list(rng.normal(0.002, 0.03, 60)), _days(60))
    a = skill_table(scores, horizons=(20,), n_boot=500, seed=5)
    b = skill_table(scores, horizons=(20,), n_boot=500, seed=5)
    c = skill_table(scores, horizons=(20,), n_boot=500, seed=6)
    assert (a["ci_low_20"].item(), a["ci_high_20"].item()) == (b["ci_low_20"].item(), b["ci_high_20"].item())
    assert a["ci_low_20"].item() != c["ci_low_20"].item()


def test_another_channel_does_not_move_this_channels_interval() -> None:
    rng = np.random.default_rng(2)
    alone = _scores(list(rng.normal(0, 0.03, 40)), _days(40))
    other = _scores(list(rng.normal(0, 0.03, 40)), _days(40), channel=["b"] * 40)
    together = skill_table(pd.concat([other, alone]), horizons=(20,), n_boot=300)
    by_itself = skill_table(alone, horizons=(20,), n_boot=300)
    row = together[together["channel"] == "c"]
    assert row["ci_low_20"].item() == by_itself["ci_low_20"].item()
    assert row["ci_high_20"].item() == by_itself["ci_high_20"].item()


def test_calls_on_the_same_day_are_one_cluster() -> None:
    # 40 calls on two days: all +1 % on one, all -0.5 % on the other. Resampling days can only give
    # means of +1 %, +0.25 % or -0.5 %: the interval spans 0 and the verdict is `no evidence`.
    # Treated as 40 independent calls, the same numbers would look like a sure +0.25 % edge.
    values = [0.01] * 20 + [-0.005] * 20
    days = ["2024-03-04"] * 20 + ["2024-03-05"] * 20
    row = skill_table(_scores(values, days), horizons=(20,), n_boot=2000).iloc[0]
    assert row["mean_20"] == pytest.approx(0.0025)
    assert row["ci_low_20"] == pytest.approx(-0.005)
    assert row["ci_high_20"] == pytest.approx(0.01)
    assert row["verdict"] == NO_EVIDENCE
    # cluster-robust t with G = 2: S = (0.2, -0.1), n = (20, 20), N = 40, mean 0.0025;
    # var = 2/1 x ((0.2 - 0.05)^2 + (-0.1 - 0.05)^2) / 1600 = 5.625e-5 -> t = 0.0025 / 0.0075 = 1/3
    assert row["t_20"] == pytest.approx(1 / 3)
    each_own_day = skill_table(_scores(values, _days(40)), horizons=(20,), n_boot=2000).iloc[0]
    assert each_own_day["verdict"] == SKILLED


def test_cluster_t_with_one_call_per_day_is_the_ordinary_t() -> None:
    x = np.array([0.01, -0.02, 0.03, 0.015, 0.0])
    t = cluster_t(x[:, None], np.ones((5, 1)))
    assert t[0] == pytest.approx(x.mean() / (x.std(ddof=1) / np.sqrt(5)))


def test_bootstrap_means_by_hand_weights() -> None:
    # one cluster: every draw is that cluster's mean
    out = cluster_bootstrap_means(np.array([[3.0, 6.0]]), np.array([[2.0, 3.0]]), 4, group_rng(0, "x"))
    assert out.tolist() == [[1.5, 2.0]] * 4


def test_skill_table_counts_means_and_hit_rate_by_hand() -> None:
    values = [0.02, -0.01, 0.03, 0.0, 0.05, 0.0]
    status = ["scored", "scored", "scored", "open", "scored", "unscored"]
    scores = _scores(values, _days(6), status=status, symbol=["AAA", "AAA", "BBB", "BBB", "AAA", "BBB"])
    table = skill_table(scores, ("channel", "symbol"), horizons=(20,), n_boot=200)
    aaa, bbb = table.iloc[0], table.iloc[1]
    assert (aaa["symbol"], aaa["calls"], aaa["n_scored_20"], aaa["n_open_20"]) == ("AAA", 3, 3, 0)
    assert aaa["mean_20"] == pytest.approx((0.02 - 0.01 + 0.05) / 3)
    assert aaa["hit_rate_20"] == pytest.approx(2 / 3)
    assert (bbb["calls"], bbb["n_scored_20"], bbb["n_open_20"], bbb["n_unscored_20"]) == (3, 1, 1, 1)
    assert bbb["mean_20"] == pytest.approx(0.03) and bbb["hit_rate_20"] == 1.0
    assert np.isnan(bbb["t_20"])  # one call: no spread to test against
    assert set(table["verdict"]) == {TOO_FEW}
    assert table["rule"].iloc[0] == verdict_rule(n_boot=200)


def test_the_verdict_horizon_must_be_scored() -> None:
    with pytest.raises(ValueError, match="verdict horizon 20"):
        skill_table(_scores([0.01], _days(1), horizon=5), horizons=(5,))


# --- the event study --------------------------------------------------------------------------


def test_event_study_means_per_day_with_fewer_calls_where_paths_end() -> None:
    calls = pd.DataFrame({"entry_date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]),
                          "conviction": [0.5, 0.7, 0.9]})
    paths = np.array([[0.0, 0.01, 0.02], [0.0, 0.03, np.nan], [0.01, 0.02, 0.04]])
    table = event_study(calls, paths, pre=1, n_boot=200)
    assert table["day"].tolist() == [-1, 0, 1]
    assert table["n"].tolist() == [3, 3, 2]
    assert table["mean_car"].tolist() == pytest.approx([0.01 / 3, 0.02, 0.03])
    assert (table["ci_low"] <= table["mean_car"]).all() and (table["mean_car"] <= table["ci_high"]).all()
    by = event_study(calls.assign(bucket=conviction_bucket(calls["conviction"])), paths, pre=1, by="bucket", n_boot=50)
    assert by["bucket"].unique().tolist() == ["0.6-0.8", "<0.6", ">=0.8"]
    top = by[by["bucket"] == ">=0.8"]
    assert top["mean_car"].tolist() == pytest.approx([0.01, 0.02, 0.04])
    assert top["ci_low"].tolist() == pytest.approx([0.01, 0.02, 0.04])  # one call: no spread


def test_conviction_buckets_are_left_closed() -> None:
    got = conviction_bucket(pd.Series([0.0, 0.59, 0.6, 0.79, 0.8, 1.0, None])).tolist()
    assert got[:6] == ["<0.6", "<0.6", "0.6-0.8", "0.6-0.8", ">=0.8", ">=0.8"]
    assert pd.isna(got[6])


# --- generated channels -----------------------------------------------------------------------

CAL = nyse_calendar()
SESSIONS = CAL.sessions_between(date(2023, 1, 1), date(2024, 12, 31))[-400:]
# a time that fills at each session's open: an hour after the previous session's close
FILL_AT = pd.to_datetime(
    [CAL.session_close(CAL.sessions_later(d, -1)) + timedelta(hours=1) for d in SESSIONS], utc=True
)
N_SYMBOLS, N_CALLS, H = 20, 300, 20


def _market(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """SPY and 20 symbols (beta 0.5-1.5 plus 2 % daily noise); each open is the previous close."""
    n = len(SESSIONS)
    r_m = rng.normal(0.0003, 0.01, n)
    r = rng.uniform(0.5, 1.5, (N_SYMBOLS, 1)) * r_m + rng.normal(0, 0.02, (N_SYMBOLS, n))
    close = 100 * np.exp(np.cumsum(np.vstack([r, r_m]), axis=1))
    open_ = np.concatenate([np.full((N_SYMBOLS + 1, 1), 100.0), close[:, :-1]], axis=1)
    names = [f"S{i:02d}" for i in range(N_SYMBOLS)] + ["SPY"]
    bars = pd.DataFrame({"symbol": np.repeat(names, n), "date": np.tile(pd.to_datetime(SESSIONS).values, len(names)),
                         "open": open_.ravel(), "close": close.ravel()})
    return open_, close, bars


def _channel(rng: np.random.Generator, name: str, p_right: float, open_: np.ndarray, close: np.ndarray) -> pd.DataFrame:
    """300 calls on random days and symbols; with probability `p_right` the call's direction is the
    sign of the stock's coming 20-session abnormal return (the planted edge), else the opposite."""
    e = rng.integers(1, len(SESSIONS) - H, N_CALLS)
    s = rng.integers(0, N_SYMBOLS, N_CALLS)
    future = close[s, e + H - 1] / open_[s, e] - close[-1, e + H - 1] / open_[-1, e]
    direction = np.where(rng.random(N_CALLS) < p_right, np.sign(future), -np.sign(future))
    action = np.where(direction > 0, "buy", np.where(rng.random(N_CALLS) < 0.5, "sell", "avoid"))
    return pd.DataFrame({"channel": name, "mention_id": np.arange(N_CALLS), "symbol": [f"S{i:02d}" for i in s],
                         "action": action, "published_at": FILL_AT[e]})


CHANNELS = {"edge": (0.7, SKILLED), "negative edge": (0.3, ANTI_SKILLED), "coin flip": (0.5, NO_EVIDENCE)}


def test_planted_edges_are_found_and_a_coin_flipper_is_not_in_90_of_100_seeds() -> None:
    started = time.perf_counter()
    right = {name: 0 for name in CHANNELS}
    for seed in range(100):
        rng = np.random.default_rng(seed)
        open_, close, bars = _market(rng)
        calls = pd.concat([_channel(rng, name, p, open_, close) for name, (p, _) in CHANNELS.items()])
        table = skill_table(score_calls(calls, bars), n_boot=500, seed=seed)
        for name, label in zip(table["channel"], table["verdict"]):
            right[name] += label == CHANNELS[name][1]
    assert all(n >= 90 for n in right.values()), right
    assert time.perf_counter() - started < 60  # a few seconds on a quiet machine


def test_the_event_study_shows_the_planted_edge_after_day_0_not_before() -> None:
    rng = np.random.default_rng(11)
    open_, close, bars = _market(rng)
    calls = _channel(rng, "edge", 0.8, open_, close)
    panel = PricePanel.from_frame(bars)
    frame, paths = abnormal_paths(calls, panel, pre=10, post=H)
    table = event_study(frame, paths, pre=10, n_boot=500).set_index("day")
    before = table.loc[-1]  # days -10..-1: no edge planted there, the band contains 0
    assert before["ci_low"] < 0 < before["ci_high"]
    # day 0's close-to-close return includes the overnight gap into the open (none here: open =
    # previous close), so the path from day -1 to day 19 is the planted 20-session edge
    after = table.loc[H - 1, "mean_car"] - table.loc[-1, "mean_car"]
    assert after > 0.03 and table.loc[H - 1, "ci_low"] > 0
