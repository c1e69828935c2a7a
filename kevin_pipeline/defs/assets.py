"""The asset graph. Each asset is a few lines that call the pipeline's own functions.

    channel_videos ──► transcripts ──► extracted_mentions ──► mentions   (defs/calls.py)

    mentions ──► aggregated_signals
       │
       ├──► price_bars ──► backtest_run ──► ticker_scorecard
       │                                        ▲
       └────────────────────────────────────────┘
    paper_account   (the broker's account; also reported by the 09:35 exit scan)

`mentions`, `price_bars`, `backtest_run` and `paper_account` write to the app database and return
only metadata (no IO manager involved). `aggregated_signals` and `ticker_scorecard` return small
DataFrames, which the default IO manager pickles.
"""

import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pandas as pd
from sqlalchemy import func, select

from kevin_pipeline.db.models import MentionRecord
from kevin_pipeline.db.store import load_mentions
from kevin_pipeline.defs.calls import extracted_mentions
from kevin_pipeline.defs.common import (
    account_metadata,
    bullet_list,
    latest_dagster_run,
    latest_snapshot,
    md_table,
    parse_instant,
)
from kevin_pipeline.defs.resources import (
    BrokerResource,
    KevinRuntimeResource,
    PriceSourceResource,
)
from kevin_pipeline.domain.aggregation import effective_convictions
from kevin_pipeline.domain.calendar import ny_date
from kevin_pipeline.domain.direction import directed_action
from kevin_pipeline.domain.models import Action
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.ingest.inbox import import_inbox
from kevin_pipeline.market_data.source import normalize_symbols
from kevin_pipeline.research import backtest as bt
from kevin_pipeline.research.scorecard import ticker_scorecard as build_scorecard
from kevin_pipeline.trading.controls import switches
from kevin_pipeline.trading.exit_scan import snapshot_account
from kevin_pipeline.trading.order_path import undecided_mention_ids

# Bars are fetched from a little before the first call (so the first decision has a mark).
BARS_LOOKBACK_DAYS = 10


# --- mentions ---------------------------------------------------------------------------------


class MentionsConfig(dg.Config):
    now: str | None = None  # ISO-8601 import clock (replays, tests); default: now. Later publish times are rejected.


@dg.asset(group_name="ingest", deps=[extracted_mentions], kinds={"python"})
def mentions(
    context: dg.AssetExecutionContext, config: MentionsConfig, kevin_runtime: KevinRuntimeResource
) -> dg.MaterializeResult:
    """New stock calls: those `extracted_mentions` stored from videos (in count_total), and those
    of mention files in the drop folder (KEVIN_MENTIONS_DROP_DIR, default <state dir>/inbox),
    stored in the app database; imported files move to processed/, files that fail to failed/
    (with a .reason.txt). An empty folder imports nothing: the bundled illustrative sample only
    ever goes into the demo's own database (`kevin demo`)."""
    runtime = kevin_runtime.runtime
    report = import_inbox(runtime, runtime.settings.resolved_drop_dir, now=parse_instant(config.now))
    for name, why in report.failed.items():
        context.log.error(f"mention file {name} was not imported and was moved to failed/: {why}")
    inbox = (
        f"{report.seen} file(s)" if report.seen
        else "empty: no files to import (the bundled sample is only imported by `kevin demo`)"
    )
    if not report.seen:
        context.log.info(f"the drop folder {report.drop_dir} is {inbox}")
    with runtime.sessions() as session:
        total = int(session.scalar(select(func.count()).select_from(MentionRecord)) or 0)
    files = [
        {"file": r.path.name, "imported": r.imported, "duplicates": r.skipped_duplicate, "rejected": len(r.rejected)}
        for r in report.reports
    ]
    return dg.MaterializeResult(
        metadata={
            "count_new": report.new_count,
            "count_total": total,
            "rejected_rows": len(report.rejected),
            "duplicates_skipped": report.duplicate_count,
            "files": md_table(files),
            "rejected": md_table(report.rejected),
            "failed_files": bullet_list(f"{name}: {why}" for name, why in report.failed.items()),
            "drop_dir": dg.MetadataValue.path(str(report.drop_dir)),
            "inbox": inbox,
            "source": "drop folder",
        }
    )


# --- aggregated signals -----------------------------------------------------------------------


@dg.asset(group_name="strategy", deps=[mentions], kinds={"pandas"})
def aggregated_signals(context: dg.AssetExecutionContext, kevin_runtime: KevinRuntimeResource) -> dg.Output[pd.DataFrame]:
    """Effective conviction of every undecided mention: its conviction plus the repeat boost from
    other calls of the symbol in the trailing window (domain.aggregation, as the live path uses)."""
    runtime = kevin_runtime.runtime
    params = runtime.settings.strategy_params()
    with runtime.sessions() as session:
        pending = set(undecided_mention_ids(session))
        history = load_mentions(session)
    effective = effective_convictions(history, params)
    rows = [
        {
            "mention_id": m.id,
            "video_id": m.video_id,
            "published_at": m.published_at,
            "symbol": m.symbol,
            "action": m.action.value,
            "horizon": m.horizon.value,
            "conviction": float(m.conviction),
            "effective_conviction": float(eff),
            "boost": float(eff - m.conviction),
            "buy_signal": directed_action(m.action, params.direction) == Action.BUY and eff >= params.min_conviction,
        }
        for m, eff in zip(history, effective)
        if m.id in pending
    ]
    frame = pd.DataFrame(rows, columns=[
        "mention_id", "video_id", "published_at", "symbol", "action", "horizon",
        "conviction", "effective_conviction", "boost", "buy_signal",
    ])
    newest = frame.sort_values(["published_at", "mention_id"], ascending=False)
    shown = newest.assign(published_at=newest["published_at"].map(lambda t: f"{t:%Y-%m-%d %H:%M}"))
    return dg.Output(
        frame,
        metadata={
            "pending_mentions": len(frame),
            "buy_signals": int(frame["buy_signal"].sum()) if not frame.empty else 0,
            "boosted": int((frame["boost"] > 0).sum()) if not frame.empty else 0,
            "min_conviction": float(params.min_conviction),
            "newest": md_table(shown.drop(columns=["video_id"])),
            "dagster/row_count": len(frame),
        },
    )


# --- price bars -------------------------------------------------------------------------------


@dg.asset(group_name="ingest", deps=[mentions], kinds={"python"})
def price_bars(
    context: dg.AssetExecutionContext, kevin_runtime: KevinRuntimeResource, price_source: PriceSourceResource
) -> dg.MaterializeResult:
    """Daily bars for every mentioned symbol and the benchmark, from the price source into the
    app database's price cache (only what the cache lacks is asked for)."""
    runtime = kevin_runtime.runtime
    params = runtime.settings.strategy_params()
    with runtime.sessions() as session:
        symbols = set(session.scalars(select(MentionRecord.symbol).distinct()))
        first_call = session.scalar(select(func.min(MentionRecord.published_at)))
    wanted = normalize_symbols(symbols | {params.benchmark_symbol})
    end = ny_date(datetime.now(UTC))
    start = (ny_date(first_call) if first_call else end - timedelta(days=365)) - timedelta(days=BARS_LOOKBACK_DAYS)
    source = price_source.cached_source(runtime)
    bars = source.get_bars(wanted, start, end)
    per_symbol = (
        bars.groupby("symbol")["date"].agg(first="min", last="max", bars="count").reset_index()
        if not bars.empty
        else pd.DataFrame(columns=["symbol", "first", "last", "bars"])
    )
    per_symbol["first"] = per_symbol["first"].map(lambda d: f"{d:%Y-%m-%d}")
    per_symbol["last"] = per_symbol["last"].map(lambda d: f"{d:%Y-%m-%d}")
    without = sorted(set(wanted) - set(per_symbol["symbol"]))
    if without:
        context.log.warning(f"no bars from {price_source.resolved_kind(runtime.settings)} for: {', '.join(without)}")
    return dg.MaterializeResult(
        metadata={
            "source": price_source.resolved_kind(runtime.settings),
            "symbols": len(wanted),
            "bars": len(bars),
            "upstream_requests": source.upstream_calls,
            "requested_range": f"{start} .. {end}",
            "per_symbol": md_table(per_symbol, limit=50),
            "symbols_without_bars": bullet_list(without),
        }
    )


# --- backtest ---------------------------------------------------------------------------------


class BacktestConfig(dg.Config):
    """Overrides for this run only; None keeps the current setting (KEVIN_* environment)."""

    min_conviction: float | None = None
    max_mention_age_hours: float | None = None
    base_position_pct: float | None = None
    min_trade_usd: float | None = None
    max_trade_usd: float | None = None
    max_per_ticker_usd: float | None = None
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    slippage_bps: float | None = None
    commission_usd: float | None = None
    starting_equity_usd: float | None = None
    daily_trade_cap: int | None = None
    daily_alloc_cap_usd: float | None = None
    benchmark_symbol: str | None = None
    start: str | None = None  # first session to trade, YYYY-MM-DD
    end: str | None = None  # last session, YYYY-MM-DD
    # any other strategy parameter by name, e.g. {"hold_sessions_weeks": "15"}
    overrides: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults)

    def params(self, base: StrategyParams) -> StrategyParams:
        values: dict[str, object] = dict(self.overrides)
        for name in type(self).model_fields:
            if name in ("start", "end", "overrides"):
                continue
            value = getattr(self, name)
            if value is not None:
                values[name] = str(value)  # exact decimals: 0.7 -> Decimal("0.7")
        unknown = sorted(set(values) - set(StrategyParams.model_fields))
        if unknown:
            raise dg.Failure(f"unknown strategy parameter(s): {', '.join(unknown)}")
        return StrategyParams.model_validate({**base.model_dump(), **values})

    def window(self) -> tuple[date | None, date | None]:
        try:
            return (
                date.fromisoformat(self.start) if self.start else None,
                date.fromisoformat(self.end) if self.end else None,
            )
        except ValueError as exc:
            raise dg.Failure(f"start/end must be YYYY-MM-DD: {exc}") from None


@dg.asset(group_name="strategy", deps=[mentions, price_bars], kinds={"python"})
def backtest_run(
    context: dg.AssetExecutionContext, config: BacktestConfig, kevin_runtime: KevinRuntimeResource
) -> dg.MaterializeResult:
    """A backtest over every stored mention and the cached bars, with the current settings (run
    config can override parameters); stored as a run with trigger "dagster"."""
    runtime = kevin_runtime.runtime
    params = config.params(runtime.settings.strategy_params())
    start, end = config.window()
    try:
        outcome = bt.run_and_store(runtime, params, trigger="dagster", start=start, end=end)
    except bt.BacktestError as exc:  # stored as a failed run (research.backtest's failure policy)
        raise dg.Failure(str(exc), metadata={"run_id": exc.run_id if exc.run_id is not None else "n/a"}) from exc
    run_id = outcome.run_id
    for note in outcome.result.notes:
        context.log.info(note)
    m = outcome.metrics
    data = bt.outcome_json(outcome)
    top = sorted(data["trades"], key=lambda t: t["pnl_usd"], reverse=True)[:10]
    columns = ["symbol", "entry_date", "exit_date", "qty", "entry_price", "exit_price", "pnl_usd", "pnl_pct", "exit_reason"]

    def num(value: float | None) -> dg.MetadataValue | str:
        return dg.MetadataValue.float(float(value)) if value is not None else "n/a"

    return dg.MaterializeResult(
        metadata={
            "run_id": run_id,
            "total_return_pct": num(m.total_return_pct if m else None),
            "benchmark_return_pct": num(m.benchmark_total_return_pct if m else None),
            "alpha_vs_benchmark_pct": num(m.alpha_vs_benchmark_pct if m else None),
            "sharpe": num(m.sharpe if m else None),
            "max_drawdown_pct": num(m.max_drawdown_pct if m else None),
            "trade_count": len(outcome.result.trades),
            "closed_trades": m.trade_count if m else 0,
            "open_trades": m.open_trade_count if m else 0,
            "final_equity_usd": num(m.final_equity if m else None),
            "period": f"{m.start_date} .. {m.end_date}" if m else "n/a",
            "engine_seconds": round(outcome.engine_seconds, 4),
            "top_trades": md_table([{c: t[c] for c in columns} for t in top]),
            "notes": bullet_list(outcome.result.notes),
        }
    )


# --- scorecard --------------------------------------------------------------------------------


@dg.asset(group_name="strategy", deps=[backtest_run, price_bars, mentions], kinds={"pandas"})
def ticker_scorecard(context: dg.AssetExecutionContext, kevin_runtime: KevinRuntimeResource) -> dg.Output[pd.DataFrame]:
    """Per symbol: mentions, last call, hit rate at horizon vs the benchmark, the latest Dagster
    backtest's P&L and the live status (research.scorecard, shared with the dashboard)."""
    runtime = kevin_runtime.runtime
    with runtime.sessions() as session:
        run = latest_dagster_run(session)
        params = StrategyParams.model_validate(run.params) if run else runtime.settings.strategy_params()
        frame = build_scorecard(session, run.id if run else None, params)
    ranked = frame.sort_values("bt_pnl_usd", ascending=False) if not frame.empty else frame
    return dg.Output(
        frame,
        metadata={
            "backtest_run_id": run.id if run else "none",
            "symbols": len(frame),
            "top": md_table(ranked.drop(columns=["live_reason"], errors="ignore"), limit=15),
            "dagster/row_count": len(frame),
        },
    )


# --- paper account ----------------------------------------------------------------------------


class AccountConfig(dg.Config):
    now: str | None = None  # ISO-8601 instant to snapshot at (replays, the demo); default: now


@dg.asset(group_name="live", kinds={"python"})
def paper_account(
    context: dg.AssetExecutionContext, config: AccountConfig, kevin_runtime: KevinRuntimeResource, broker: BrokerResource
) -> dg.MaterializeResult:
    """A snapshot of the paper account (equity, cash, positions) from the broker, stored in the
    app database (trading.exit_scan.snapshot_account)."""
    runtime = kevin_runtime.runtime
    now = parse_instant(config.now)
    ctx = broker.trading_context(runtime)
    started = time.perf_counter()
    snapshot_account(ctx, now)
    with runtime.sessions() as session:
        state = switches(session, ctx.env_trading_enabled).describe(now)
    return dg.MaterializeResult(
        metadata={
            **account_metadata(latest_snapshot(runtime)),
            "trading": state,
            "broker_seconds": round(time.perf_counter() - started, 3),
        }
    )


ALL_ASSETS = [mentions, aggregated_signals, price_bars, backtest_run, ticker_scorecard, paper_account]
