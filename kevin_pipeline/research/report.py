"""Plain-text tables for the terminal (the demo and `kevin backtest`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tabulate import tabulate

from kevin_pipeline.domain.direction import Direction
from kevin_pipeline.research.backtest import BacktestOutcome


def _fmt(value: Any, suffix: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value}{suffix}"


def decision_table(outcome: BacktestOutcome, limit: int | None = 40) -> str:
    rows = []
    decisions = outcome.result.decisions
    for d in decisions[:limit] if limit else decisions:
        rows.append(
            [
                outcome.inputs.label(d.mention_id),
                d.published_at.strftime("%Y-%m-%d %H:%M"),
                d.symbol,
                d.action.value,
                f"{d.effective_conviction:.2f}",
                d.kind.value,
                d.status.value,
                f"{d.size_usd:,.2f}" if d.size_usd else "",
                d.filled_qty or "",
                _shorten(d.reason, 70),
            ]
        )
    table = tabulate(
        rows,
        headers=["mention", "published (UTC)", "symbol", "call", "eff.conv", "decision", "status", "size $", "qty", "reason"],
    )
    if limit and len(decisions) > limit:
        table += f"\n... {len(decisions) - limit} more decisions (kevin backtest --json shows all)"
    counts = Counter(d.status.value for d in decisions)
    table += "\n" + "decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return table


def metrics_table(outcome: BacktestOutcome) -> str:
    m = outcome.metrics
    if m is None:
        return "no metrics: the backtest produced no equity curve (no session in range)"
    bench = outcome.result.params.benchmark_symbol
    rows = [
        ["period", f"{m.start_date} .. {m.end_date} ({m.sessions} sessions)", ""],
        ["total return", _fmt(m.total_return_pct, " %"), _fmt(m.benchmark_total_return_pct, " %")],
        ["CAGR", _fmt(m.cagr_pct, " %"), _fmt(m.benchmark_cagr_pct, " %")],
        ["alpha vs benchmark (return difference)", _fmt(m.alpha_vs_benchmark_pct, " pts"), ""],
        ["Jensen's alpha (annualised)", _fmt(m.jensen_alpha_annual_pct, " %"), ""],
        ["beta", _fmt(m.beta), ""],
        ["Sharpe / Sortino", f"{_fmt(m.sharpe)} / {_fmt(m.sortino)}", ""],
        ["volatility (annualised)", _fmt(m.volatility_pct, " %"), ""],
        ["max drawdown", _fmt(m.max_drawdown_pct, " %"), f"{m.max_drawdown_peak_date} -> {m.max_drawdown_trough_date}"],
        ["Calmar", _fmt(m.calmar), ""],
        ["trades (closed / open)", f"{m.trade_count} / {m.open_trade_count}", ""],
        ["win rate", _fmt(m.win_rate_pct, " %"), ""],
        ["avg winner / avg loser", f"{_fmt(m.avg_winner_pct, ' %')} / {_fmt(m.avg_loser_pct, ' %')}", ""],
        ["profit factor", _fmt(m.profit_factor), ""],
        ["best / worst trade", f"{_fmt(m.best_trade_pct, ' %')} {m.best_trade_symbol or ''} / "
                               f"{_fmt(m.worst_trade_pct, ' %')} {m.worst_trade_symbol or ''}", ""],
        ["exposure (sessions with a position)", _fmt(m.exposure_pct, " %"), ""],
        ["final equity", _fmt(m.final_equity, " $"), ""],
    ]
    # a contrarian run says so where its numbers are read (domain.direction)
    inverse = outcome.result.params.direction == Direction.INVERSE
    strategy = "strategy (inverse: against the calls)" if inverse else "strategy"
    return tabulate(rows, headers=["metric", strategy, f"benchmark ({bench} buy & hold)"])


def top_trades_table(outcome: BacktestOutcome, n: int = 10) -> str:
    trades = sorted(outcome.result.trades, key=lambda t: t.pnl_usd, reverse=True)[:n]
    rows = [
        [t.symbol, t.entry_session, t.exit_session or "open", t.qty, f"{t.entry_price:.2f}",
         f"{t.exit_price:.2f}" if t.exit_price is not None else "", f"{t.pnl_usd:,.2f}", f"{t.pnl_pct:.2f}", t.exit_reason.value]
        for t in trades
    ]
    return tabulate(rows, headers=["symbol", "entry", "exit", "qty", "entry $", "exit $", "P&L $", "P&L %", "exit reason"])


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
