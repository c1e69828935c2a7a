"""The backtest scorecard, checked against numbers worked out by hand.

The expected values below are derived in the comments from the raw data (fractions where they come
out exact), never by calling the module's own formulas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum, StrEnum

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from kevin_pipeline.domain.metrics import Metrics, compute_metrics, drawdown_series


@dataclass(frozen=True)
class Trade:
    symbol: str
    pnl_usd: Decimal | float
    pnl_pct: Decimal | float
    exit_reason: str


# Six sessions. The dates are spread so that first -> last is exactly 1461 calendar days
# (2020-01-02 -> 2024-01-02: 366 + 365 + 365 + 365, one Feb 29), which makes the CAGR exponent
# 365.25 / 1461 = 1/4 exactly. The metrics only need an ordered date index, not adjacent sessions.
DATES = [date(2020, 1, 2), date(2021, 1, 4), date(2022, 1, 3), date(2023, 1, 3), date(2023, 7, 3), date(2024, 1, 2)]
# strategy returns:  +10 %, -10 %, +22/99 (=+22.22 %), 0 %, +10 %
EQUITY = [100.0, 110.0, 99.0, 121.0, 121.0, 133.1]
# benchmark returns: +5 %, -10 %, +10 %, 0 %, +5 %
BENCH = [100.0, 105.0, 94.5, 103.95, 103.95, 109.1475]
# held a position at the close of sessions 2, 3, 4 and 6
EXPOSURE = [False, True, True, True, False, True]
TRADES = [
    Trade("AAPL", Decimal("50.00"), Decimal("10"), "take_profit"),
    Trade("MSFT", Decimal("-20.00"), Decimal("-8"), "stop"),
    Trade("NVDA", 30.0, 6.0, "time"),
    Trade("TSLA", -10.0, -2.0, "sell"),
    # still open, marked to market: would be the best trade and swing every stat if counted
    Trade("AMZN", Decimal("500"), Decimal("50"), "end_of_data"),
]


def series(values, dates=DATES) -> pd.Series:
    return pd.Series(values, index=list(dates), dtype="float64")


@pytest.fixture(scope="module")
def example() -> Metrics:
    return compute_metrics(
        series(EQUITY), series(BENCH), TRADES, exposure=pd.Series(EXPOSURE, index=DATES)
    )


# --- returns and risk on the six-session example -----------------------------------------------


def test_span_and_endpoints(example):
    assert example.start_date == date(2020, 1, 2)
    assert example.end_date == date(2024, 1, 2)
    assert example.sessions == 6
    assert example.initial_equity == 100.0
    assert example.final_equity == pytest.approx(133.1)


def test_total_return_and_cagr(example):
    # 133.1 / 100 - 1 = 33.1 %
    assert example.total_return_pct == pytest.approx(33.1)
    # 133.1 / 100 = 1.331 = 1.1^3; exponent 365.25 / 1461 = 1/4 -> 1.1^(3/4) - 1
    # ln 1.1 = 0.0953102; x 0.75 = 0.0714826; e^0.0714826 = 1.0740995 -> 7.40995 %
    assert example.cagr_pct == pytest.approx(7.40995, abs=1e-4)


def test_volatility_sharpe_sortino(example):
    # r = [1/10, -1/10, 22/99, 0, 1/10]; sum = 1/10 + 2/9 = 29/90; mean = 29/450 = 0.0644444
    # deviations x 450: 45-29=16, -45-29=-74, 100-29=71, -29, 16
    # squares: 256 + 5476 + 5041 + 841 + 256 = 11870 -> sum sq = 11870 / 450^2 = 11870 / 202500
    # sample variance (ddof 1, / 4) = 11870 / 810000 = 0.01465432; std = 0.12105503
    # sqrt(252) = 15.8745079
    # volatility = 0.12105503 x 15.8745079 x 100 = 192.1689 %
    assert example.volatility_pct == pytest.approx(192.1689, abs=1e-3)
    # sharpe = 0.0644444 / 0.12105503 x 15.8745079 = 0.5323530 x 15.8745079 = 8.45090
    assert example.sharpe == pytest.approx(8.45090, abs=1e-4)
    # downside: min(r, 0) = [0, -0.1, 0, 0, 0]; mean of squares over ALL 5 returns = 0.01 / 5 = 0.002
    # downside deviation = sqrt(0.002) = 0.04472136
    # sortino = 0.0644444 / 0.04472136 x 15.8745079 = 1.4410195 x 15.8745079 = 22.87551
    assert example.sortino == pytest.approx(22.87551, abs=1e-4)


def test_max_drawdown_dates_and_calmar(example):
    # running high 110 on 2021-01-04, falls to 99 on 2022-01-03: 99/110 - 1 = -10 %;
    # first session back at >= 110 is 2023-01-03 (121)
    assert example.max_drawdown_pct == pytest.approx(-10.0)
    assert example.max_drawdown_peak_date == date(2021, 1, 4)
    assert example.max_drawdown_trough_date == date(2022, 1, 3)
    assert example.max_drawdown_recovery_date == date(2023, 1, 3)
    # calmar = 7.40995 / 10 = 0.740995
    assert example.calmar == pytest.approx(0.740995, abs=1e-5)


def test_benchmark_alpha_and_beta(example):
    # benchmark: 1.05 x 0.9 x 1.1 x 1.0 x 1.05 = 1.091475 -> +9.1475 %
    assert example.benchmark_total_return_pct == pytest.approx(9.1475)
    # 1.091475^(1/4): sqrt = 1.0447368, sqrt again = 1.0221237 -> 2.21237 %
    assert example.benchmark_cagr_pct == pytest.approx(2.21237, abs=1e-4)
    # the seed's alpha: 33.1 - 9.1475 = 23.9525 points
    assert example.alpha_vs_benchmark_pct == pytest.approx(23.9525)
    # rb = [.05, -.1, .1, 0, .05]; mean = 0.02; deviations: .03, -.12, .08, -.02, .03
    # var(rb) = (.0009 + .0144 + .0064 + .0004 + .0009) / 4 = .023 / 4 = .00575
    # cov = [16(.03) + (-74)(-.12) + 71(.08) + (-29)(-.02) + 16(.03)] / 450 / 4
    #     = (.48 + 8.88 + 5.68 + .58 + .48) / 1800 = 16.1 / 1800
    # beta = (16.1 / 1800) / .00575 = 16.1 / 10.35 = 322 / 207 = 14 / 9 = 1.5556
    assert example.beta == pytest.approx(14 / 9)
    # Jensen (rf 0), per session: mean(r) - beta mean(rb) = 29/450 - (14/9)(1/50) = 29/450 - 14/450
    # = 15/450 = 1/30; x 252 = 8.4 -> 840 % a year (tiny sample, huge number)
    assert example.jensen_alpha_annual_pct == pytest.approx(840.0)


def test_exposure_is_share_of_sessions_holding_a_position(example):
    # 4 of 6 sessions
    assert example.exposure_pct == pytest.approx(400 / 6)


def test_no_exposure_series_means_no_exposure_metric():
    m = compute_metrics(series(EQUITY), series(BENCH), [])
    assert m.exposure_pct is None


# --- trades ----------------------------------------------------------------------------------


def test_trade_statistics_come_from_closed_trades(example):
    # closed: AAPL +50$ (+10 %), MSFT -20$ (-8 %), NVDA +30$ (+6 %), TSLA -10$ (-2 %)
    assert example.trade_count == 4
    assert example.open_trade_count == 1
    assert example.win_rate_pct == pytest.approx(50.0)  # 2 of 4
    assert example.avg_winner_pct == pytest.approx(8.0)  # (10 + 6) / 2
    assert example.avg_loser_pct == pytest.approx(-5.0)  # (-8 - 2) / 2
    assert example.profit_factor == pytest.approx(80 / 30)  # (50 + 30) / |-20 - 10| = 2.6667
    assert (example.best_trade_symbol, example.best_trade_pct) == ("AAPL", pytest.approx(10.0))
    assert (example.worst_trade_symbol, example.worst_trade_pct) == ("MSFT", pytest.approx(-8.0))


def test_open_trades_are_excluded_from_win_rate():
    # one closed loser and two open "winners" marked to market: the win rate is 0 %, not 67 %
    trades = [
        Trade("MSFT", -10, -1, "stop"),
        Trade("AMZN", 100, 10, "end_of_data"),
        Trade("META", 100, 10, "end_of_data"),
    ]
    m = compute_metrics(series(EQUITY), series(BENCH), trades)
    assert (m.trade_count, m.open_trade_count) == (1, 2)
    assert m.win_rate_pct == 0.0
    assert m.avg_winner_pct is None
    assert m.best_trade_symbol == "MSFT"
    assert m.profit_factor == 0.0  # losers but no winners: 0 / 10


@pytest.mark.parametrize("base", [StrEnum, Enum])
def test_exit_reason_may_be_an_enum(base):
    Reason = base("Reason", {"END_OF_DATA": "end_of_data", "STOP": "stop"})  # a str enum, or a plain one
    trades = [Trade("A", 5, 5, Reason.STOP), Trade("B", 5, 5, Reason.END_OF_DATA), Trade("C", 1, 1, "end_of_data")]
    m = compute_metrics(series(EQUITY), series(BENCH), trades)
    assert (m.trade_count, m.open_trade_count) == (1, 2)


def test_profit_factor_is_none_without_losers():
    trades = [Trade("AAPL", 10, 1, "time"), Trade("NVDA", 20, 2, "take_profit")]
    m = compute_metrics(series(EQUITY), series(BENCH), trades)
    assert m.profit_factor is None
    assert m.win_rate_pct == 100.0
    assert m.avg_loser_pct is None


def test_scratch_trade_counts_against_win_rate_but_in_neither_average():
    trades = [Trade("AAPL", 10, 1, "time"), Trade("FLAT", 0, 0, "sell")]
    m = compute_metrics(series(EQUITY), series(BENCH), trades)
    assert m.win_rate_pct == 50.0
    assert m.avg_winner_pct == 1.0
    assert m.avg_loser_pct is None
    assert m.profit_factor is None


def test_no_trades_leaves_trade_statistics_undefined():
    m = compute_metrics(series(EQUITY), series(BENCH), [])
    assert (m.trade_count, m.open_trade_count) == (0, 0)
    assert m.win_rate_pct is None and m.profit_factor is None
    assert m.best_trade_symbol is None and m.worst_trade_pct is None


def test_closed_trade_with_missing_or_nan_pnl_is_rejected():
    with pytest.raises(ValueError, match="pnl_usd"):
        compute_metrics(series(EQUITY), series(BENCH), [Trade("X", None, 1, "time")])
    with pytest.raises(ValueError, match="pnl_pct"):
        compute_metrics(series(EQUITY), series(BENCH), [Trade("X", 1, Decimal("NaN"), "time")])
    good = Trade("A", Decimal("5"), Decimal("1.5"), "time")
    with pytest.raises(ValueError, match=r"closed trade Y: pnl_usd 'abc' is not a number"):
        compute_metrics(series(EQUITY), series(BENCH), [good, Trade("Y", "abc", 1, "time")])
    with pytest.raises(ValueError, match=r"closed trade Z: pnl_usd inf is not finite"):
        compute_metrics(series(EQUITY), series(BENCH), [good, good, Trade("Z", float("inf"), 1, "time")])


# --- drawdown ----------------------------------------------------------------------------------


def test_recovery_date_is_none_while_under_water():
    # 100 -> 120 (peak) -> 90 (trough, 90/120 - 1 = -25 %) -> 110 (still below 120)
    m = compute_metrics(series([100, 120, 90, 110], DATES[:4]), series([100, 101, 102, 103], DATES[:4]), [])
    assert m.max_drawdown_pct == pytest.approx(-25.0)
    assert m.max_drawdown_peak_date == DATES[1]
    assert m.max_drawdown_trough_date == DATES[2]
    assert m.max_drawdown_recovery_date is None


def test_peak_is_the_last_session_at_the_high_and_trough_the_first_at_the_low():
    # highs of 110 on sessions 2 and 3; the fall starts after session 3. Lows of 88 on 4 and 5.
    m = compute_metrics(series([100, 110, 110, 88, 88, 110]), series(BENCH), [])
    assert m.max_drawdown_pct == pytest.approx(-20.0)
    assert m.max_drawdown_peak_date == DATES[2]
    assert m.max_drawdown_trough_date == DATES[3]
    assert m.max_drawdown_recovery_date == DATES[5]  # back at exactly 110 counts as recovered


def test_calmar_is_none_without_drawdown():
    m = compute_metrics(series([100, 101, 103, 103, 107, 110]), series(BENCH), [])
    assert m.max_drawdown_pct == 0.0
    assert m.max_drawdown_peak_date is None and m.max_drawdown_trough_date is None
    assert m.max_drawdown_recovery_date is None
    assert m.calmar is None
    assert m.sortino is None  # no day below the target: the downside deviation is 0


def test_drawdown_series_is_fraction_below_running_high():
    # running high: 100, 110, 110, 121, 121, 133.1 -> 0, 0, 99/110 - 1 = -0.1, 0, 0, 0
    dd = drawdown_series(series(EQUITY))
    assert list(dd.index) == DATES
    assert dd.to_list() == pytest.approx([0.0, 0.0, -0.1, 0.0, 0.0, 0.0])
    # 100 -> 80 (-20 %) -> 90 (-10 %) -> 50 (-50 %) -> 120 (new high, 0)
    assert drawdown_series(pd.Series([100.0, 80, 90, 50, 120])).to_list() == pytest.approx([0, -0.2, -0.1, -0.5, 0])


# --- benchmark relationships -------------------------------------------------------------------


def test_equity_equal_to_scaled_benchmark_has_beta_one_and_no_jensen_alpha():
    bench = series(BENCH)
    m = compute_metrics(bench * 1000.0, bench, [])
    assert m.beta == pytest.approx(1.0)
    assert m.jensen_alpha_annual_pct == pytest.approx(0.0, abs=1e-9)
    assert m.alpha_vs_benchmark_pct == pytest.approx(0.0, abs=1e-9)


def test_two_times_leveraged_benchmark_has_beta_two():
    # equity compounds 2 x each benchmark daily return: +10 %, -20 %, +20 %, 0 %, +10 %
    # 100 -> 110 -> 88 -> 105.6 -> 105.6 -> 116.16
    m = compute_metrics(series([100, 110, 88, 105.6, 105.6, 116.16]), series(BENCH), [])
    assert m.beta == pytest.approx(2.0)
    # mean(r - 2 rb) = 0 every day -> no Jensen alpha, though total returns differ
    assert m.jensen_alpha_annual_pct == pytest.approx(0.0, abs=1e-9)
    assert m.alpha_vs_benchmark_pct == pytest.approx(16.16 - 9.1475)


def test_flat_benchmark_leaves_beta_and_jensen_alpha_undefined():
    m = compute_metrics(series(EQUITY), series([100.0] * 6), [])
    assert m.beta is None and m.jensen_alpha_annual_pct is None
    assert m.benchmark_total_return_pct == 0.0
    assert m.alpha_vs_benchmark_pct == pytest.approx(33.1)


def test_risk_free_rate_is_an_annual_fraction_compounded_per_session():
    # rf = 1.0001^252 - 1 (2.55 % a year) is exactly 0.0001 = 1 bp per session
    m = compute_metrics(series(EQUITY), series(BENCH), [], risk_free_rate=1.0001**252 - 1)
    # mean excess = 29/450 - 0.0001 = 0.0644444 - 0.0001 = 0.0643444; std unchanged 0.12105503
    # sharpe = 0.0643444 / 0.12105503 x 15.8745079 = 0.5315274 x 15.8745079 = 8.43773
    assert m.sharpe == pytest.approx(8.43773, abs=1e-4)
    # min(r - 0.0001, 0) = [0, -0.1001, 0, -0.0001, 0]; squares 0.01002001 + 0.00000001 = 0.01002002
    # / 5 = 0.002004004; sqrt = 0.04476610; sortino = 0.0643444 / 0.0447661 x 15.8745079 = 22.8172
    assert m.sortino == pytest.approx(22.8172, abs=1e-3)
    # Jensen per session: (29/450 - 0.0001) - (14/9)(0.02 - 0.0001) = 1/30 - 0.0001 + (14/9)(0.0001)
    # = 1/30 + (5/9)(0.0001); x 252 x 100 = 840 + 2.52 x 5/9 = 840 + 1.4 = 841.4
    assert m.jensen_alpha_annual_pct == pytest.approx(841.4)
    assert m.beta == pytest.approx(14 / 9)  # beta does not depend on rf
    assert m.volatility_pct == pytest.approx(192.1689, abs=1e-3)


# --- alignment, degenerate and invalid input ---------------------------------------------------


def test_series_align_on_common_dates_whatever_the_index_type():
    # benchmark as tz-aware timestamps at the close, with an extra session the equity lacks
    bench_idx = [datetime(d.year, d.month, d.day, 21, 0, tzinfo=timezone.utc) for d in DATES]
    bench = pd.Series(BENCH + [200.0], index=pd.DatetimeIndex(bench_idx + [pd.Timestamp("2024-01-03", tz="UTC")]))
    equity = pd.Series([Decimal(str(v)) for v in EQUITY], index=DATES)  # Decimals on date objects
    m = compute_metrics(equity, bench, [])
    assert m.sessions == 6
    assert m.end_date == date(2024, 1, 2)
    assert m.benchmark_total_return_pct == pytest.approx(9.1475)
    assert m.beta == pytest.approx(14 / 9)


def test_single_session_has_no_ratios():
    m = compute_metrics(series([100.0], DATES[:1]), series([50.0], DATES[:1]), [])
    assert m.sessions == 1
    assert m.total_return_pct == 0.0
    assert m.cagr_pct is None  # under one calendar day
    assert m.volatility_pct is None and m.sharpe is None and m.sortino is None
    assert m.beta is None and m.jensen_alpha_annual_pct is None
    assert m.max_drawdown_pct == 0.0 and m.calmar is None


def test_constant_return_curve_has_no_sharpe():
    # +1 % every session: std is 0 (up to float noise), Sharpe undefined rather than 1e15
    eq = series([100 * 1.01**i for i in range(6)])
    m = compute_metrics(eq, series(BENCH), [])
    assert m.sharpe is None and m.sortino is None
    assert m.volatility_pct == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("equity", "bench", "match"),
    [
        (pd.Series([], dtype="float64"), series(BENCH), "equity series is empty"),
        (series(EQUITY), pd.Series([], dtype="float64"), "benchmark series is empty"),
        (series(EQUITY), series(BENCH, [date(2030, 1, d) for d in range(1, 7)]), "share no session dates"),
        (series([100, 110, np.nan, 121, 121, 133.1]), series(BENCH), "equity .*NaN"),
        (series(EQUITY), series([100, 105, 94.5, np.nan, 103.95, 109.1475]), "benchmark .*NaN"),
        (series([100, 110, 0, 121, 121, 133.1]), series(BENCH), "equity .*non-positive"),
        (series(EQUITY), series([100, -1, 94.5, 103.95, 103.95, 109.1475]), "benchmark .*non-positive"),
        (series(EQUITY, DATES[:5] + [DATES[4]]), series(BENCH), "equity .*duplicate"),
    ],
)
def test_invalid_curves_are_rejected_with_the_reason(equity, bench, match):
    with pytest.raises(ValueError, match=match):
        compute_metrics(equity, bench, [])


def test_invalid_curve_is_rejected_by_drawdown_series_too():
    with pytest.raises(ValueError, match="NaN"):
        drawdown_series(pd.Series([100.0, np.nan]))
    with pytest.raises(ValueError, match="empty"):
        drawdown_series(pd.Series([], dtype="float64"))


def test_exposure_must_cover_every_session():
    with pytest.raises(ValueError, match="exposure has no value"):
        compute_metrics(series(EQUITY), series(BENCH), [], exposure=pd.Series(EXPOSURE[:5], index=DATES[:5]))


def test_risk_free_rate_given_in_percent_is_rejected():
    with pytest.raises(ValueError, match="fraction"):
        compute_metrics(series(EQUITY), series(BENCH), [], risk_free_rate=4.0)


def test_metrics_are_immutable_and_finite():
    m = compute_metrics(series(EQUITY), series(BENCH), [])
    with pytest.raises(ValidationError):
        Metrics(**{**m.model_dump(), "sharpe": float("inf")})
    with pytest.raises(ValidationError):
        m.sharpe = 1.0  # type: ignore[misc]


def test_naive_stamps_during_the_day_count_as_their_dates():
    at_four = [datetime(d.year, d.month, d.day, 16, 0) for d in DATES]
    by_stamp = compute_metrics(pd.Series(EQUITY, index=pd.DatetimeIndex(at_four)), series(BENCH), [])
    assert by_stamp == compute_metrics(series(EQUITY), series(BENCH), [])
    assert (by_stamp.sessions, by_stamp.end_date) == (6, date(2024, 1, 2))


def test_curves_sharing_one_index_score_as_curves_with_their_own():
    """A backtest's three curves share one index object and the metrics then read its dates once:
    the scores must be those of the same curves each with an index of its own (and of curves whose
    shared index is out of order, which take the general path)."""
    shared = pd.Index(list(DATES), name="session")
    one = compute_metrics(pd.Series(EQUITY, index=shared), pd.Series(BENCH, index=shared), TRADES,
                          exposure=pd.Series(EXPOSURE, index=shared, dtype=bool))
    own = compute_metrics(series(EQUITY), series(BENCH), TRADES, exposure=pd.Series(EXPOSURE, index=list(DATES)))
    assert one == own
    backwards = pd.Index(list(reversed(DATES)))
    flipped = compute_metrics(pd.Series(EQUITY[::-1], index=backwards), pd.Series(BENCH[::-1], index=backwards), TRADES,
                              exposure=pd.Series(EXPOSURE[::-1], index=backwards))
    assert flipped == own
