"""Returns are measured from the starting capital (issue 10 item 7), checked by hand on a tiny run.

The files below go through the same path as `kevin backtest --mentions F --bars F` (file readers,
`execute`, the scorecard). Every expected number is worked out in the comments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research import backtest as bt

# One buy call on Tuesday 2024-03-05 after the close: it fills at the open of Wed 3/6, the first
# session the backtest can trade (the benchmark buys at that same open).
MENTIONS = (
    "video_id,published_at,symbol,action,conviction,time_horizon,quote\n"
    "v1,2024-03-05T23:00:00Z,NVDA,buy,0.8,days,hand-computed\n"
)
BARS = (
    "symbol,date,open,high,low,close,volume\n"
    "SPY,2024-03-05,490,500,490,500,1\n"
    "SPY,2024-03-06,500,506,499,505,1\n"
    "SPY,2024-03-07,505,511,504,510,1\n"
    "SPY,2024-03-08,510,511,499,500,1\n"
    "NVDA,2024-03-05,99,100,98,100,1\n"
    "NVDA,2024-03-06,100,102,99,101,1\n"
    "NVDA,2024-03-07,101,104,100,104,1\n"
    "NVDA,2024-03-08,104,106,103,105,1\n"
)

# Defaults: starting capital $100,000, slippage 5 bps, no commission.
# Size: 100,000 x 4 % x (0.5 + 0.5 x (0.8 - 0.6) / 0.4) = $3,000.
# Fill at 3/6's open with slippage: 100 x 1.0005 = 100.05; qty = floor(3,000 / 100.05) = 29;
# cost 29 x 100.05 = 2,901.45, cash left 97,098.55. Hold 3 sessions: the exit (3/11) is after the
# data, so the lot is still open at the end, marked at 3/8's close.
# Equity points:
#   3/5 close (base, before the first session):  100,000.00
#   3/6 close: 97,098.55 + 29 x 101 = 100,027.55
#   3/7 close: 97,098.55 + 29 x 104 = 100,114.55
#   3/8 close: 97,098.55 + 29 x 105 = 100,143.55
# Total return = 100,143.55 / 100,000 - 1 = +0.14355 % (the old code measured from 100,027.55:
# +0.11597 %, hiding the first buy's slippage and the first day).
# Benchmark: 100,000 / 500 (3/6 open) = 200 SPY; 3/5 100,000 (cash); 3/6 200 x 505 = 101,000;
# 3/7 102,000; 3/8 100,000 -> total 0 % (the old code: 100,000 / 101,000 - 1 = -0.990 %).
# Alpha vs benchmark = 0.14355 - 0 = 0.14355 pts. CAGR over the 3 calendar days 3/5 -> 3/8:
# 1.0014355 ** (365.25 / 3) - 1.
EXPECTED_EQUITY = {
    date(2024, 3, 5): 100_000.00,
    date(2024, 3, 6): 100_027.55,
    date(2024, 3, 7): 100_114.55,
    date(2024, 3, 8): 100_143.55,
}
EXPECTED_BENCHMARK = {
    date(2024, 3, 5): 100_000.0,
    date(2024, 3, 6): 101_000.0,
    date(2024, 3, 7): 102_000.0,
    date(2024, 3, 8): 100_000.0,
}


@pytest.fixture
def outcome(tmp_path):
    (tmp_path / "m.csv").write_text(MENTIONS)
    (tmp_path / "b.csv").write_text(BARS)
    mentions, labels, rejected = bt.mentions_from_file(tmp_path / "m.csv")
    assert not rejected
    bars, problems = bt.clean_bars(bt.bars_from_file(tmp_path / "b.csv"))
    assert not problems
    return bt.execute(bt.BacktestInputs(mentions, bars, labels, source="file"), StrategyParams())


def test_equity_and_benchmark_curves_start_at_the_starting_capital(outcome):
    r = outcome.result
    (trade,) = r.trades
    assert (trade.entry_session, trade.entry_price, trade.qty) == (date(2024, 3, 6), Decimal("100.0500"), 29)
    assert r.equity.to_dict() == pytest.approx(EXPECTED_EQUITY, abs=1e-6)
    assert r.benchmark.to_dict() == pytest.approx(EXPECTED_BENCHMARK, abs=1e-6)
    assert list(r.exposure) == [False, True, True, True]


def test_every_return_is_measured_from_the_starting_capital(outcome):
    m = outcome.metrics
    assert m is not None
    assert m.initial_equity == 100_000.0 and m.final_equity == pytest.approx(100_143.55)
    assert m.total_return_pct == pytest.approx(0.14355, abs=1e-9)
    assert m.benchmark_total_return_pct == pytest.approx(0.0, abs=1e-9)
    assert m.alpha_vs_benchmark_pct == pytest.approx(0.14355, abs=1e-9)
    assert m.cagr_pct == pytest.approx((1.0014355 ** (365.25 / 3) - 1) * 100, rel=1e-9)
    # the daily returns start with the first day, slippage included: 3 returns from 4 points
    assert (m.start_date, m.end_date, m.sessions) == (date(2024, 3, 5), date(2024, 3, 8), 4)
    # Beta and Jensen's alpha use those 3 daily returns; hand check of beta:
    # r  = 100,027.55/100,000 - 1, 100,114.55/100,027.55 - 1, 100,143.55/100,114.55 - 1
    # rb = 0.01, 102/101 - 1, 100/102 - 1
    r = [100_027.55 / 100_000 - 1, 100_114.55 / 100_027.55 - 1, 100_143.55 / 100_114.55 - 1]
    rb = [0.01, 102 / 101 - 1, 100 / 102 - 1]
    mr, mb = sum(r) / 3, sum(rb) / 3
    beta = sum((a - mr) * (b - mb) for a, b in zip(r, rb)) / sum((b - mb) ** 2 for b in rb)
    assert m.beta == pytest.approx(beta, rel=1e-9)
    assert m.jensen_alpha_annual_pct == pytest.approx((mr - beta * mb) * 252 * 100, rel=1e-9)


def test_start_moves_the_first_tradable_session_and_the_benchmark_buy(tmp_path):
    """`--start` is the first session the backtest can trade: both curves start there, even when
    the first call comes later (the benchmark's run-up before the call counts against alpha)."""
    (tmp_path / "m.csv").write_text(MENTIONS.replace("2024-03-05T23:00:00Z", "2024-03-06T23:00:00Z"))
    (tmp_path / "b.csv").write_text(BARS)
    mentions, labels, _ = bt.mentions_from_file(tmp_path / "m.csv")
    bars = bt.bars_from_file(tmp_path / "b.csv")
    out = bt.execute(bt.BacktestInputs(mentions, bars, labels, source="file"), StrategyParams(),
                     start=date(2024, 3, 6))
    r = out.result
    assert list(r.equity.index) == [date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 7), date(2024, 3, 8)]
    assert r.benchmark.to_dict() == pytest.approx(EXPECTED_BENCHMARK, abs=1e-6)  # bought at 3/6's open
    assert r.equity.iloc[:2].tolist() == [100_000.0, 100_000.0]  # the call fills at 3/7's open
