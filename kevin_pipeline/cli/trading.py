"""`kevin trading|resume|close|account|decide|exit-scan`: operating the live path by hand.

Every command takes `--now` (the injected clock) so a past day can be replayed and tests can pin time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from kevin_pipeline.cli.common import now_from

if TYPE_CHECKING:
    from kevin_pipeline.runtime import Runtime
    from kevin_pipeline.trading.context import TradingContext


@contextmanager
def opened_trading(now: datetime | None = None) -> Iterator[tuple[Runtime, TradingContext]]:
    """The runtime and the broker, closed on every exit path; with `now`, first bring kevin's books
    in line with the broker (sync its fills, then reconcile positions: the broker is the source of truth)."""
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.trading import reconcile, sync
    from kevin_pipeline.trading.context import trading_context

    with open_runtime() as runtime:
        ctx = trading_context(runtime)
        if now is not None:
            sync.sync_with_broker(ctx, now)
            for line in reconcile.reconcile(ctx, now):
                print(f"reconciled: {line}", file=sys.stderr)
        yield runtime, ctx


def cmd_trading(args: argparse.Namespace) -> int:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.trading.controls import set_trading_mode, switches

    with open_runtime() as runtime:
        if args.state != "status":
            with runtime.transaction() as session:
                set_trading_mode(session, args.state)
        with runtime.sessions() as session:
            sw = switches(session, runtime.settings.enable_trading)
        print(sw.describe(now_from(args)))
        if args.state in ("on", "exits-only") and not sw.env_enabled:
            print("note: KEVIN_ENABLE_TRADING is false, so trading stays OFF (nothing goes to the broker) "
                  "until it is set to true")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.trading.controls import resume

    with open_runtime() as runtime, runtime.transaction() as session:
        changed = resume(session)
    print("resumed: halt and pause cleared" if changed else "nothing to resume: buys were neither paused nor halted")
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    from kevin_pipeline.trading.controls import CloseRequestError, request_close, switches
    from kevin_pipeline.trading.exit_scan import process_manual_closes

    now = now_from(args)
    with opened_trading(now) as (runtime, ctx):
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
    return 0


def cmd_account(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from kevin_pipeline.db.models import RiskDay
    from kevin_pipeline.domain.calendar import ny_date
    from kevin_pipeline.trading import own_slice
    from kevin_pipeline.trading.controls import switches
    from kevin_pipeline.trading.sync import last_close_at

    now = now_from(args)
    with opened_trading(now) as (runtime, ctx):
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
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from kevin_pipeline.trading.order_path import process_new_mentions

    now = now_from(args)
    with opened_trading(now) as (_, ctx):
        report = process_new_mentions(ctx, now)
    for d in report.decided:
        print(f"mention {d.mention_id} {d.symbol}: {d.kind} {d.status} — {d.reason}")
    print(f"decided {len(report.decided)} ({report.counts()}), orders sent {report.orders_sent} "
          f"(of which recovered {report.orders_recovered})")
    if report.recovery.waiting or report.recovery.canceled:
        print(f"recovery: {report.recovery.describe()}")
    return 0


def cmd_exit_scan(args: argparse.Namespace) -> int:
    from kevin_pipeline.trading.exit_scan import run_exit_scan

    with opened_trading() as (_, ctx):
        r = run_exit_scan(ctx, now_from(args))
    if r.skipped_reason:
        print(f"skipped: {r.skipped_reason}")
        return 0
    print(f"session {r.session} (trading {r.trading_mode}): time exits {r.time_exits or 'none'}; "
          f"manual closes {r.manual_closes or 'none'}; orders sent {r.orders_sent} "
          f"(of which recovered {len(r.recovery.sent)}); "
          f"reconciliation {r.reconciliation or 'clean'}; equity {r.equity:,.2f}")
    if r.waiting or r.recovery.waiting:
        print(f"waiting for the switch (sent at the first scan that allows exits): "
              f"{', '.join(r.waiting + r.recovery.waiting)}")
    if r.recovery.canceled:
        print(f"unsent buys canceled (a buy is never sent late): {', '.join(r.recovery.canceled)}")
    return 0


def _with_now(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--now", help="act as of this ISO time with offset (default: the real clock)")
    return p


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    t = _with_now(sub.add_parser(
        "trading", help="the runtime kill switch: on (everything), exits-only (no new buys), off (nothing to the broker), status"))
    t.add_argument("state", choices=["on", "exits-only", "off", "status"])
    t.set_defaults(func=cmd_trading)
    _with_now(sub.add_parser("resume", help="clear a drawdown halt or loss-circuit pause")).set_defaults(func=cmd_resume)
    c = _with_now(sub.add_parser("close", help="close a position (cancels its bracket legs first)"))
    c.add_argument("symbol")
    c.add_argument("--queue-only", action="store_true", help="only queue the request for the next exit scan")
    c.set_defaults(func=cmd_close)
    _with_now(sub.add_parser("account", help="equity, cash, positions, today's counters, pause state")).set_defaults(func=cmd_account)
    _with_now(sub.add_parser("decide", help="decide (and, kill switch on, order) every undecided mention now")).set_defaults(func=cmd_decide)
    _with_now(sub.add_parser("exit-scan", help="run the 09:35 exit scan now")).set_defaults(func=cmd_exit_scan)
