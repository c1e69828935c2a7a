"""Figure builders: the numbers drawn, not just that a figure came back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kevin_dash import figures


def series(values: list[float], start: str = "2024-01-02") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype=float)


def test_equity_figure_draws_curve_benchmark_markers_and_drawdowns() -> None:
    equity = series([100.0, 110.0, 99.0, 121.0])
    bench = series([100.0, 90.0, 95.0, 120.0])
    trades = pd.DataFrame(
        {
            "symbol": ["AAPL"], "qty": [10.0], "entry_price": [50.0], "exit_price": [45.0],
            "entry_date": [equity.index[1]], "exit_date": [equity.index[2]],
            "pnl_usd": [-50.0], "pnl_pct": [-10.0], "exit_reason": ["stop"],
        }
    )
    fig = figures.equity_figure({"run #1": equity}, bench, benchmark_label="SPY", trades=trades)

    names = [t.name for t in fig.data]
    assert names == ["run #1", "SPY buy & hold", "entries", "exits", "run #1 drawdown", "SPY drawdown"]
    line, _bench_line, entries, exits, dd, bench_dd = fig.data
    assert list(line.y) == [100.0, 110.0, 99.0, 121.0]
    # drawdown in percent from the running high: 99 is 10 % under 110, 121 is a new high
    assert np.allclose(dd.y, [0.0, 0.0, -10.0, 0.0])
    assert np.allclose(bench_dd.y, [0.0, -10.0, -5.0, 0.0])
    assert dd.yaxis == "y2" and line.yaxis == "y"
    # markers sit on the strategy curve on their session; a losing exit is red
    assert list(entries.y) == [110.0] and list(exits.y) == [99.0]
    assert list(exits.marker.color) == [figures.LOSS]


def test_equity_figure_compares_two_runs_without_markers() -> None:
    a, b = series([100.0, 105.0, 103.0]), series([100.0, 98.0, 104.0])
    fig = figures.equity_figure({"run #2": a, "run #1": b}, series([100.0, 101.0, 102.0]))
    assert [t.name for t in fig.data] == [
        "run #2", "run #1", "SPY buy & hold", "run #2 drawdown", "run #1 drawdown", "SPY drawdown",
    ]
    assert fig.data[0].line.color != fig.data[1].line.color
    assert fig.data[2].visible == "legendonly" and fig.data[5].visible == "legendonly"
    assert np.allclose(fig.data[4].y, [0.0, -2.0, 0.0])


def test_equity_figure_without_data_is_an_empty_figure_with_a_message() -> None:
    fig = figures.equity_figure({"run #1": pd.Series(dtype=float)}, None)
    assert len(fig.data) == 0
    assert "No equity curve" in fig.layout.annotations[0].text


def test_sweep_heatmap_puts_sharpe_in_its_cell_and_keeps_the_best_of_a_cell() -> None:
    points = pd.DataFrame(
        {
            "run_id": [1, 2, 3, 4, 5],
            "min_conviction": [0.6, 0.6, 0.7, 0.7, 0.7],
            "hold_sessions_weeks": [5, 10, 5, 10, 10],
            "sharpe": [0.5, 0.8, -0.2, 0.1, 0.4],  # runs 4 and 5 share a cell: best is 0.4
            "total_return_pct": [1.0, 2.0, -1.0, 0.5, 1.5],
        }
    )
    fig = figures.sweep_heatmap(points)
    (hm,) = fig.data
    assert list(hm.x) == ["5", "10"] and list(hm.y) == ["0.60", "0.70"]
    assert np.allclose(np.array(hm.z, dtype=float), [[0.5, 0.8], [-0.2, 0.4]])


def test_sweep_heatmap_leaves_missing_cells_empty() -> None:
    points = pd.DataFrame(
        {"run_id": [1, 2], "min_conviction": [0.6, 0.7], "hold_sessions_weeks": [5, 10], "sharpe": [0.5, 0.9],
         "total_return_pct": [1.0, 2.0]}
    )
    z = [list(row) for row in figures.sweep_heatmap(points).data[0].z]
    assert z == [[0.5, None], [None, 0.9]]


def test_account_figure_scales_the_benchmark_to_the_first_equity() -> None:
    taken = pd.to_datetime(["2024-01-02 21:05", "2024-01-03 21:05", "2024-01-04 21:05"], utc=True)
    curve = pd.DataFrame({"taken_at": taken, "equity": [100_000.0, 101_000.0, 99_500.0], "cash": [90_000.0, 90_000.0, 92_000.0]})
    closes = pd.Series([400.0, 410.0, 380.0], index=taken)
    fig = figures.account_figure(curve, closes, starting_equity=100_000.0)
    assert [t.name for t in fig.data] == ["equity", "cash", "SPY (same start)"]
    assert np.allclose(fig.data[2].y, [100_000.0, 102_500.0, 95_000.0])
    assert fig.layout.shapes[0].y0 == pytest.approx(100_000.0)


def test_account_figure_without_snapshots_has_no_traces() -> None:
    fig = figures.account_figure(pd.DataFrame(columns=["taken_at", "equity", "cash"]))
    assert len(fig.data) == 0
    assert "No account snapshots" in fig.layout.annotations[0].text


def test_downsample_keeps_every_peak_and_trough_within_two_thousand_points() -> None:
    idx = pd.bdate_range("2020-01-01", periods=6000)
    values = np.sin(np.arange(6000) / 7.0) * 100 + np.arange(6000) * 0.01
    values[4321] = -500.0  # a one-day crash a person must still see
    series = pd.Series(values, index=idx)
    shown = figures.downsample(series)
    assert len(shown) <= figures.MAX_POINTS
    assert shown.index[0] == idx[0] and shown.index[-1] == idx[-1]
    assert shown.min() == -500.0 and shown.idxmin() == idx[4321]
    assert shown.max() == series.max()
    assert shown.index.is_monotonic_increasing
    assert (shown == series.loc[shown.index]).all()  # points are kept, never invented


def test_downsample_leaves_a_short_series_alone() -> None:
    series = pd.Series([1.0, 3.0, 2.0], index=pd.bdate_range("2024-01-01", periods=3))
    assert figures.downsample(series) is series


def test_account_figure_draws_at_most_two_thousand_points_of_five_thousand_snapshots() -> None:
    taken = pd.date_range("2020-01-01", periods=5000, freq="6h", tz="UTC")
    curve = pd.DataFrame({"taken_at": taken, "equity": np.linspace(100_000, 120_000, 5000), "cash": 40_000.0})
    fig = figures.account_figure(curve)
    assert len(fig.data[0].x) <= figures.MAX_POINTS and len(fig.data[1].x) <= figures.MAX_POINTS
    assert fig.data[0].y[0] == 100_000 and fig.data[0].y[-1] == 120_000


def _trades(n: int, index: pd.DatetimeIndex) -> pd.DataFrame:
    days = [index[i % len(index)] for i in range(n)]
    return pd.DataFrame({
        "symbol": ["AAA"] * n, "qty": [1.0] * n, "entry_price": [10.0] * n, "exit_price": [11.0] * n,
        "entry_date": days, "exit_date": days, "pnl_usd": [1.0] * n, "pnl_pct": [10.0] * n, "exit_reason": ["time"] * n,
    })


def test_trade_markers_are_drawn_up_to_the_limit_and_start_hidden_above_it() -> None:
    equity = series([100.0 + i for i in range(300)])
    few = figures.equity_figure({"run #1": equity}, None, trades=_trades(figures.MAX_SHOWN_MARKERS // 2, equity.index))
    assert [t.visible for t in few.data[1:3]] == [True, True] and [t.name for t in few.data[1:3]] == ["entries", "exits"]
    many = figures.equity_figure({"run #1": equity}, None, trades=_trades(figures.MAX_SHOWN_MARKERS, equity.index))
    entries, exits = many.data[1:3]
    assert entries.visible == "legendonly" and exits.visible == "legendonly"
    # hidden, not dropped: every trade is still there, a click on the legend draws them
    assert len(entries.x) == len(exits.x) == figures.MAX_SHOWN_MARKERS
    assert entries.name == f"entries ({figures.MAX_SHOWN_MARKERS}: click to show)"


def test_session_dates_are_sent_as_plain_dates() -> None:
    equity = series([100.0, 101.0, 102.0])
    fig = figures.equity_figure({"run #1": equity}, None)
    assert list(fig.data[0].x) == ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_the_account_equity_line_has_markers_only_while_snapshots_are_few() -> None:
    def curve(n: int) -> pd.DataFrame:
        taken = pd.date_range("2020-01-01", periods=n, freq="6h", tz="UTC")
        return pd.DataFrame({"taken_at": taken, "equity": np.linspace(100_000, 120_000, n), "cash": 40_000.0})

    assert figures.account_figure(curve(figures.MAX_MARKED_SNAPSHOTS)).data[0].mode == "lines+markers"
    dense = figures.account_figure(curve(5000)).data[0]
    assert dense.mode == "lines" and dense.y[-1] == 120_000
