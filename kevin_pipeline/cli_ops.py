"""`kevin` subcommands for operating the live path and the research tools (sweep, replay, prices).

Kept apart from cli.py so each file stays readable; both only parse arguments and delegate.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from kevin_pipeline.settings import SettingsError, load_settings


def now_from(args: argparse.Namespace) -> datetime:
    """The injected clock: `--now ISO` (tests, replays of a past day) or the real UTC time."""
    if getattr(args, "now", None):
        try:
            t = datetime.fromisoformat(args.now)
        except ValueError:
            raise SettingsError(f"--now {args.now!r}: not an ISO time, e.g. 2024-03-05T14:35:00+00:00") from None
        if t.tzinfo is None:
            raise SettingsError(f"--now {args.now!r}: give a UTC offset, e.g. 2024-03-05T14:35:00+00:00")
        return t.astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def _context(now: datetime | None = None):  # type: ignore[no-untyped-def]
    """Open the runtime and the broker; with `now`, first bring kevin's books in line with the broker
    (sync its fills, then reconcile positions: the broker is the source of truth)."""
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.trading import reconcile, sync
    from kevin_pipeline.trading.context import trading_context

    runtime = open_runtime()
    ctx = trading_context(runtime)
    if now is not None:
        sync.sync_with_broker(ctx, now)
        for line in reconcile.reconcile(ctx, now):
            print(f"reconciled: {line}", file=sys.stderr)
    return runtime, ctx


def cmd_trading(args: argparse.Namespace) -> int:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.trading.controls import set_trading_mode, switches

    runtime = open_runtime()
    try:
        if args.state != "status":
            with runtime.transaction() as session:
                set_trading_mode(session, args.state)
        with runtime.sessions() as session:
            sw = switches(session, runtime.settings.enable_trading)
        print(sw.describe(now_from(args)))
        if args.state in ("on", "exits-only") and not sw.env_enabled:
            print("note: KEVIN_ENABLE_TRADING is false, so trading stays OFF (nothing goes to the broker) "
                  "until it is set to true")
    finally:
        runtime.close()
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.trading.controls import resume

    runtime = open_runtime()
    try:
        with runtime.transaction() as session:
            changed = resume(session)
        print("resumed: halt and pause cleared" if changed else "nothing to resume: buys were neither paused nor halted")
    finally:
        runtime.close()
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    from kevin_pipeline.trading.controls import CloseRequestError, request_close, switches
    from kevin_pipeline.trading.exit_scan import process_manual_closes

    now = now_from(args)
    runtime, ctx = _context(now)
    try:
        with runtime.transaction() as session:
            req = request_close(session, args.symbol, requested_by="cli", now=now)
        print(f"close request #{req.id} for {req.symbol} queued")
        with runtime.sessions() as session:
            sw = switches(session, ctx.env_trading_enabled)
        if not sw.exits_allowed:
            print("trading is OFF: nothing goes to the broker now; the close goes out at the first exit scan "
                  "once the switch allows exits (kevin trading on|exits-only)")
        elif not args.queue_only:
            done = process_manual_closes(ctx, now)
            print(f"sent close orders for: {', '.join(done) or 'nothing'}")
    except CloseRequestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    return 0


def cmd_account(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from kevin_pipeline.db.models import RiskDay
    from kevin_pipeline.domain.calendar import ny_date
    from kevin_pipeline.trading import own_slice
    from kevin_pipeline.trading.controls import switches
    from kevin_pipeline.trading.sync import last_close_at

    now = now_from(args)
    runtime, ctx = _context(now)
    try:
        account = ctx.broker.account(now)
        positions = ctx.broker.positions(now)
        with runtime.sessions() as session:
            day = session.get(RiskDay, ny_date(now))
            sw = switches(session, runtime.settings.enable_trading)
            mine = own_slice.kevin_account(session, account, positions, allocation=ctx.allocation_usd,
                                           starting_equity=ctx.params.starting_equity_usd,
                                           last_close_at=last_close_at(ctx, now))
        p = ctx.params
        foreign = {f.symbol: f for f in mine.foreign}
        print(f"broker {ctx.broker.name}: account equity {account.equity:,.2f}  cash {account.cash:,.2f}"
              + (f"  last close {account.last_equity:,.2f}" if account.last_equity is not None else ""))
        basis = (f"allocation {ctx.allocation_usd:,.2f} + kevin's P&L" if ctx.allocation_usd is not None
                 else "the account minus foreign positions")
        print(f"kevin's slice ({basis}): equity {mine.equity:,.2f}  cash {mine.cash:,.2f}"
              + (f"  last close {mine.last_equity:,.2f}" if mine.last_equity is not None else ""))
        rows = []
        for x in positions:
            qty = x.qty - (foreign[x.symbol].qty if x.symbol in foreign else 0)
            if qty > 0:
                value = qty * x.current_price if x.current_price is not None else None
                rows.append([x.symbol, f"{qty:g}", f"{x.avg_entry_price:.2f}", f"{x.current_price:.2f}" if x.current_price else "",
                             f"{value:,.2f}" if value is not None else ""])
        print("kevin's positions:" if rows else "kevin's positions: no open positions")
        if rows:
            print(tabulate(rows, headers=["symbol", "qty", "avg entry", "mark", "value"]))
        if foreign:
            print("not kevin's (foreign positions: reported, never traded, not in kevin's equity):")
            print(tabulate([[f.symbol, f"{f.qty:g}", f.broker_qty, f"{f.mark:.2f}", f"{f.market_value:,.2f}"]
                            for f in foreign.values()], headers=["symbol", "qty", "broker position", "mark", "value"]))
        print(f"today ({ny_date(now)}): {day.trade_count if day else 0}/{p.daily_trade_cap} new trades, "
              f"{(day.alloc_usd if day else 0):,.2f}/{p.daily_alloc_cap_usd:,.2f} allocated")
        print(sw.describe(now))
    finally:
        runtime.close()
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from kevin_pipeline.trading.order_path import process_new_mentions

    now = now_from(args)
    runtime, ctx = _context(now)
    try:
        report = process_new_mentions(ctx, now)
        for d in report.decided:
            print(f"mention {d.mention_id} {d.symbol}: {d.kind} {d.status} — {d.reason}")
        print(f"decided {len(report.decided)} ({report.counts()}), orders sent {report.orders_sent} "
              f"(of which recovered {report.orders_recovered})")
        if report.recovery.waiting or report.recovery.canceled:
            print(f"recovery: {report.recovery.describe()}")
    finally:
        runtime.close()
    return 0


def cmd_exit_scan(args: argparse.Namespace) -> int:
    from kevin_pipeline.trading.exit_scan import run_exit_scan

    runtime, ctx = _context()
    try:
        r = run_exit_scan(ctx, now_from(args))
        if r.skipped_reason:
            print(f"skipped: {r.skipped_reason}")
        else:
            print(f"session {r.session} (trading {r.trading_mode}): time exits {r.time_exits or 'none'}; "
                  f"manual closes {r.manual_closes or 'none'}; orders sent {r.orders_sent} "
                  f"(of which recovered {len(r.recovery.sent)}); "
                  f"reconciliation {r.reconciliation or 'clean'}; equity {r.equity:,.2f}")
            if r.waiting or r.recovery.waiting:
                print(f"waiting for the switch (sent at the first scan that allows exits): "
                      f"{', '.join(r.waiting + r.recovery.waiting)}")
            if r.recovery.canceled:
                print(f"unsent buys canceled (a buy is never sent late): {', '.join(r.recovery.canceled)}")
    finally:
        runtime.close()
    return 0


def load_run_inputs(runtime, params, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The mentions and bars of `kevin backtest`, `sweep` and `replay`: the database's, or the
    `--mentions`/`--bars` files (`research.backtest.load_inputs`), with rejected rows and skipped bars
    reported on stderr. Raises `BacktestInputError` for an unreadable file."""
    from kevin_pipeline.research import backtest as bt

    with runtime.transaction() as session:
        inputs = bt.load_inputs(
            session, params,
            mentions_file=Path(args.mentions) if getattr(args, "mentions", None) else None,
            bars_file=Path(args.bars) if getattr(args, "bars", None) else None,
        )
    report_inputs(inputs)
    return inputs


def report_inputs(inputs) -> None:  # type: ignore[no-untyped-def]
    """Rejected mention rows and skipped bars on stderr (the first 20 of each)."""
    for r in inputs.rejected[:20]:
        print(f"rejected line {r.line}: {r.reason}", file=sys.stderr)
    for problem in inputs.bar_problems[:20]:
        print(f"skipped bar: {problem}", file=sys.stderr)


def cmd_replay(args: argparse.Namespace) -> int:
    """Exit 0: the live path and the backtest agree; 1: they differ; 2: nothing to prove (no
    mentions, no benchmark bars) or unreadable input -- a replay that proves nothing is not green."""
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.research import backtest as bt
    from kevin_pipeline.research.replay import replay

    settings = load_settings()
    params = settings.strategy_params()
    runtime = open_runtime(settings)
    try:
        inputs = load_run_inputs(runtime, params, args)
        book = bt.check_runnable(inputs, params, "replay")
    except bt.BacktestInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()
    result = replay(inputs.mentions, book, params)
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        print(f"backtest trades {len(result.backtest_trades)}, live-path trades {len(result.live_trades)}, "
              f"differences {len(result.differences)}")
        for line in result.differences:
            print(f"  {line}")
    return 0 if not result.differences else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.research import backtest as bt
    from kevin_pipeline.research import sweep

    settings = load_settings()
    try:
        grid = sweep.parse_grid(args.grid)
        combos = sweep.grid_combinations(settings.strategy_params(), grid)
    except sweep.SweepError as exc:
        raise SettingsError(str(exc)) from None
    runtime = open_runtime(settings)
    try:
        params = settings.strategy_params()
        inputs = load_run_inputs(runtime, params, args)
        book = bt.check_runnable(inputs, params, "sweep")

        def progress(done: int, total: int) -> None:
            print(f"sweep: {done}/{total} configurations", file=sys.stderr)

        results = sweep.run_sweep(inputs, combos, workers=args.workers, progress=progress, prices=book)
        sweep_id = None
        if not args.no_save:
            sweep_id = sweep.new_sweep_id()
            with runtime.transaction() as session:
                sweep.store_sweep(session, results, sweep_id)
    except bt.BacktestInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()
    print(sweep.ranked_table(results, sort_by=args.sort))
    if sweep_id:
        print(f"stored as sweep {sweep_id} ({len(results)} runs)")
    return 0


def cmd_prices_fetch(args: argparse.Namespace) -> int:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.market_data.factory import price_source
    from kevin_pipeline.market_data.source import PriceSourceError, fetch_prices

    settings = load_settings()
    symbols = sorted({s.strip().upper() for part in args.symbols for s in part.split(",") if s.strip()})
    runtime = open_runtime(settings)
    try:
        source = price_source(settings, args.source)
        assert source is not None  # --source offers bundled and alpaca, never the cache alone
        rows = fetch_prices(runtime, symbols, args.start, args.end, source)
    except PriceSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()
    print(f"stored {rows} bars for {', '.join(symbols)} ({args.start} .. {args.end}) from {args.source}")
    return 0


def print_problems(lines: list[str], limit: int, what: str) -> None:
    """The first `limit` problem lines on stderr, then how many more there were (a file with
    thousands of bad rows must not bury the summary)."""
    for line in lines[:limit]:
        print(line, file=sys.stderr)
    if len(lines) > limit:
        print(f"... and {len(lines) - limit} more {what}", file=sys.stderr)


def cmd_prices_import(args: argparse.Namespace) -> int:
    """Exit 0: every row stored; 1: some rows skipped (each named on stderr), the rest stored;
    2: the file cannot be read at all."""
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.research.backtest import BacktestInputError
    from kevin_pipeline.research.price_import import import_bars_file

    runtime = open_runtime(load_settings())
    try:
        with runtime.transaction() as session:
            report = import_bars_file(session, Path(args.path))
    except BacktestInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()
    print_problems([f"skipped {problem}" for problem in report.skipped], args.show_skipped, "skipped rows")
    print(report.summary())
    return 1 if report.stored < report.rows else 0


def cmd_dash(args: argparse.Namespace) -> int:
    from kevin_dash.app import serve

    settings = load_settings()
    serve(host=args.host or settings.dash_host, port=args.port or settings.dash_port)
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    def with_now(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--now", help="act as of this ISO time with offset (default: the real clock)")
        return p

    t = with_now(sub.add_parser(
        "trading", help="the runtime kill switch: on (everything), exits-only (no new buys), off (nothing to the broker), status"))
    t.add_argument("state", choices=["on", "exits-only", "off", "status"])
    t.set_defaults(func=cmd_trading)
    with_now(sub.add_parser("resume", help="clear a drawdown halt or loss-circuit pause")).set_defaults(func=cmd_resume)
    c = with_now(sub.add_parser("close", help="close a position (cancels its bracket legs first)"))
    c.add_argument("symbol")
    c.add_argument("--queue-only", action="store_true", help="only queue the request for the next exit scan")
    c.set_defaults(func=cmd_close)
    with_now(sub.add_parser("account", help="equity, cash, positions, today's counters, pause state")).set_defaults(func=cmd_account)
    with_now(sub.add_parser("decide", help="decide (and, kill switch on, order) every undecided mention now")).set_defaults(func=cmd_decide)
    with_now(sub.add_parser("exit-scan", help="run the 09:35 exit scan now")).set_defaults(func=cmd_exit_scan)

    r = sub.add_parser("replay", help="drive the live path over history and compare it with the backtest")
    r.add_argument("--mentions", metavar="FILE")
    r.add_argument("--bars", metavar="FILE")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_replay)

    s = sub.add_parser("sweep", help="backtest every combination of a parameter grid")
    s.add_argument("--grid", action="append", required=True, metavar="NAME=V1,V2,...")
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--sort", default="sharpe", help="metric to rank by (default sharpe)")
    s.add_argument("--no-save", action="store_true")
    s.add_argument("--mentions", metavar="FILE", help="mentions file (default: the mentions in the database)")
    s.add_argument("--bars", metavar="FILE", help="bars as Parquet or CSV (default: the price_bars cache)")
    s.set_defaults(func=cmd_sweep)

    pr = sub.add_parser("prices", help="price data")
    prs = pr.add_subparsers(dest="prices_command", required=True)
    f = prs.add_parser("fetch", help="fetch daily bars into the cache (Alpaca needs network and keys)")
    f.add_argument("symbols", nargs="+", help="symbols, space or comma separated")
    f.add_argument("--start", type=_date, required=True)
    f.add_argument("--end", type=_date, required=True)
    f.add_argument("--source", choices=["alpaca", "bundled"], default="alpaca")
    f.set_defaults(func=cmd_prices_fetch)
    pi = prs.add_parser("import", help="load daily bars from a CSV or Parquet file into the cache (as --bars reads it)")
    pi.add_argument("path", metavar="FILE", help="columns symbol, date, open, high, low, close[, volume]")
    pi.add_argument("--show-skipped", type=int, default=50, metavar="N", help="print at most N skipped rows")
    pi.set_defaults(func=cmd_prices_import)

    d = sub.add_parser("dash", help="serve the dashboard")
    d.add_argument("--host")
    d.add_argument("--port", type=int)
    d.set_defaults(func=cmd_dash)
