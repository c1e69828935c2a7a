"""Where a decision becomes an order: kill switch, caps, idempotency, exits, reconciliation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from kevin_pipeline.db.models import (
    BlocklistEntry,
    DecisionRecord,
    ManualCloseRequest,
    OrderRecord,
    Position,
    ReconciliationEvent,
    RiskDay,
)
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.trading import exit_scan, order_path
from kevin_pipeline.trading.context import trading_context
from kevin_pipeline.trading.controls import CloseRequestError, request_close, resume, set_trading_enabled
from tests.helpers.market import bars, et


def test_kill_switch_off_records_dry_run_with_would_size_and_sends_nothing(live_factory):
    live = live_factory(trading=False)
    mid = live.mention(et(2024, 3, 5, 18))
    report = order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 0, 5))
    assert report.counts() == {"dry_run": 1}
    (d,) = live.rows(DecisionRecord)
    assert d.mention_id == mid and d.status == "dry_run" and d.context["would_size_usd"] == "3000.00"
    assert live.rows(OrderRecord) == [] and live.sim_orders() == []


def test_env_kill_switch_alone_is_not_enough_runtime_switch_must_agree(live_factory):
    live = live_factory(trading=True)
    with live.runtime.transaction() as s:
        set_trading_enabled(s, False)
    live.mention(et(2024, 3, 5, 18))
    assert order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 1)).counts() == {"dry_run": 1}


def test_buy_becomes_one_bracket_order_and_a_lot_after_the_fill(live_factory):
    live = live_factory()
    mid = live.mention(et(2024, 3, 5, 18))
    order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 0, 5))
    (o,) = live.rows(OrderRecord)
    assert (o.client_order_id, o.side, o.purpose, o.status) == (f"kv-{mid}-b", "buy", "entry", "accepted")
    order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 10))  # sync after the open
    (lot,) = live.rows(Position)
    assert (lot.qty, lot.entry_price, lot.planned_exit_session, lot.source_mention_id) == (
        Decimal(30), Decimal("100.0000"), date(2024, 3, 11), mid)
    day = live.rows(RiskDay, RiskDay.ny_date == date(2024, 3, 5))[0]
    assert (day.trade_count, day.alloc_usd) == (1, Decimal("3000.00"))


def test_rerunning_never_decides_or_orders_twice(live_factory):
    live = live_factory()
    live.mention_and_decide(et(2024, 3, 5, 18))
    second = order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 2))
    assert second.decided == []
    assert len(live.rows(DecisionRecord)) == 1 and len(live.sim_orders()) == 1


@pytest.mark.parametrize("crash_at", ["before_submit", "after_submit"])
def test_crash_around_the_broker_call_still_gives_exactly_one_order(live_factory, monkeypatch, crash_at):
    live = live_factory()
    live.mention(et(2024, 3, 5, 18))
    live.kill_at_submit(monkeypatch, et(2024, 3, 5, 18, 1), after_submit=crash_at == "after_submit")
    report = order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 5))
    assert report.orders_recovered == 1
    assert len(live.sim_orders()) == 1 and len(live.rows(DecisionRecord)) == 1
    assert live.rows(OrderRecord)[0].status == "accepted"


def test_daily_trade_cap_and_allocation_cap_hold_across_runs(live_factory):
    syms = [f"S{i}" for i in range(7)]
    live = live_factory(*[bars(s) for s in syms])
    for i, s in enumerate(syms):
        live.mention(et(2024, 3, 5, 10, i), symbol=s, conviction="0.6")
        order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 10, i, 30))
    statuses = [d.status for d in live.rows(DecisionRecord)]
    assert statuses.count("emitted") == 5 and statuses.count("skipped_caps") == 2
    assert len(live.sim_orders()) == 5


def test_avoid_closes_the_long_and_blocklists_the_symbol(live_factory):
    live = live_factory()
    live.mention_and_decide(et(2024, 3, 5, 18))
    live.mention_and_decide(et(2024, 3, 6, 12), action="avoid")
    (b,) = live.rows(BlocklistEntry)
    assert b.symbol == "NVDA" and b.expires_at == et(2024, 3, 13, 13)  # 7 x 24 h across the DST change
    live.mention_and_decide(et(2024, 3, 8, 12), conviction="1.0")
    statuses = [d.status for d in live.rows(DecisionRecord)]
    assert statuses == ["emitted", "emitted", "skipped_blocklist"]
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason, lot.exit_at) == ("closed", "avoid", et(2024, 3, 7, 9, 30))


def test_the_order_path_bets_against_the_channel_when_settings_say_inverse(live_factory):
    live = live_factory(params=StrategyParams(direction="inverse", slippage_bps=Decimal("0")))
    live.ctx = trading_context(live.runtime, live.broker)  # the params as production reads them: Settings
    assert live.ctx.params.direction == "inverse"
    entry = live.mention_and_decide(et(2024, 3, 5, 18), action="avoid")  # taken as a buy: $3,000
    order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 10))
    (lot,) = live.rows(Position)
    assert (lot.qty, lot.source_mention_id) == (Decimal(30), entry)
    close = live.mention_and_decide(et(2024, 3, 6, 12), action="buy")  # taken as avoid: close, blocklist
    order_path.process_new_mentions(live.ctx, et(2024, 3, 7, 10))
    live.mention_and_decide(et(2024, 3, 8, 12), action="sell")  # taken as a buy: blocklisted
    opened, closed, blocked = live.rows(DecisionRecord)
    assert (opened.action, opened.kind, opened.size_usd) == ("avoid", "open_long", Decimal("3000.00"))
    assert (closed.action, closed.kind, closed.context) == ("buy", "close_long", {"direction": "inverse"})
    assert closed.reason.startswith("inverse: buy call taken as avoid")
    assert (blocked.action, blocked.status) == ("sell", "skipped_blocklist")
    exit_order = live.rows(OrderRecord, OrderRecord.client_order_id == f"kv-{close}-c")
    assert [o.purpose for o in exit_order] == ["exit_avoid"]
    (b,) = live.rows(BlocklistEntry)
    assert (b.reason, b.expires_at) == (f"buy call #{close}", et(2024, 3, 13, 13))
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason, lot.exit_at) == ("closed", "avoid", et(2024, 3, 7, 9, 30))


def test_exit_scan_closes_due_positions_once_and_skips_holidays(live_factory):
    live = live_factory()
    live.mention_and_decide(et(2024, 3, 5, 18))
    early = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 8, 9, 35))
    assert early.time_exits == []
    assert exit_scan.run_exit_scan(live.ctx, et(2024, 3, 9, 9, 35)).skipped_reason  # Saturday
    due = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 11, 9, 35))
    assert due.time_exits == ["NVDA"]
    again = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 11, 9, 40))
    assert again.time_exits == []
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason, lot.exit_price) == ("closed", "time", Decimal("100.0000"))
    assert len([o for o in live.rows(OrderRecord) if o.purpose == "exit_time"]) == 1
    assert exit_scan.run_exit_scan(live.ctx, et(2024, 3, 29, 9, 35)).skipped_reason  # Good Friday


def test_exits_run_while_buys_are_halted(live_factory):
    live = live_factory()
    live.mention_and_decide(et(2024, 3, 5, 18))
    with live.runtime.transaction() as s:
        from kevin_pipeline.trading.controls import trading_state_row

        row = trading_state_row(s)
        row.halted, row.halt_reason = True, "test"
    live.mention(et(2024, 3, 6, 12), action="sell")
    live.mention_and_decide(et(2024, 3, 6, 12), symbol="NVDA", conviction="0.9", horizon="weeks")
    assert sorted(d.status for d in live.rows(DecisionRecord)) == ["emitted", "emitted", "skipped_caps"]
    with live.runtime.transaction() as s:
        assert resume(s) is True


def test_manual_close_request_is_executed_by_the_scan(live_factory):
    live = live_factory()
    live.mention_and_decide(et(2024, 3, 5, 18), horizon="weeks")
    with live.runtime.transaction() as s:
        with pytest.raises(CloseRequestError):
            request_close(s, "NVDA")  # nothing filled yet
    order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 12))
    with live.runtime.transaction() as s:
        request_close(s, "nvda", requested_by="test")
    exit_scan.run_exit_scan(live.ctx, et(2024, 3, 7, 9, 35))
    order_path.process_new_mentions(live.ctx, et(2024, 3, 8, 10))
    (req,) = live.rows(ManualCloseRequest)
    assert req.status == "done"
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason) == ("closed", "manual")


def test_reconciliation_trusts_the_broker_and_records_each_difference(live_factory):
    live = live_factory(bars("NVDA"), bars("AMD"))
    live.mention_and_decide(et(2024, 3, 5, 18), horizon="weeks")
    exit_scan.run_exit_scan(live.ctx, et(2024, 3, 6, 9, 35))
    # a position kevin never ordered, and kevin's lot sold behind its back
    live.broker.submit_bracket_buy(client_order_id="manual-ui", symbol="AMD", target_usd=Decimal("1000"),
                                   take_profit_pct=Decimal("0.2"), stop_loss_pct=Decimal("0.08"), time_in_force="gtc",
                                   now=et(2024, 3, 6, 12))
    live.broker.close_position("NVDA", client_order_id="manual-sell", reason="manual", now=et(2024, 3, 6, 12))
    report = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 7, 9, 35))
    kinds = sorted(e.kind for e in live.rows(ReconciliationEvent))
    assert kinds == ["foreign_position", "missing_position"], report.reconciliation
    # the AMD shares are not kevin's: reported, never made into a lot
    assert live.rows(Position, Position.status == "open") == []
    assert len(live.sim_orders()) == 3  # reconciliation placed no order


def test_live_aggregation_counts_the_window_as_the_backtest_does(live_factory):
    """Issue 11 item 3: the order path loads the symbol's mentions around the window and lets
    `aggregation.others_in_window_counts` (the backtest's rule) count them: the window's start and
    a tie count; a second earlier, any later one, another symbol and the mention itself do not."""
    from datetime import timedelta

    from kevin_pipeline.db.store import load_mentions
    from kevin_pipeline.domain.aggregation import others_in_window_counts

    live = live_factory(trading=False)
    t = et(2024, 3, 5, 18)
    live.mention(t - timedelta(hours=48))                       # the window's first instant: counts
    live.mention(t - timedelta(hours=48, seconds=1))            # just outside
    mid = live.mention(t, conviction="0.6")                     # the one decided
    live.mention(t)                                             # a tie: counts
    live.mention(t + timedelta(seconds=1))                      # later: never
    live.mention(t - timedelta(hours=1), symbol="AAPL")         # another symbol
    order_path.decide_mention(live.ctx, mid, t + timedelta(seconds=5))
    (d,) = live.rows(DecisionRecord)
    assert Decimal(d.effective_conviction) == Decimal("0.70")  # 0.6 + 2 x 0.05
    with live.runtime.sessions() as s:
        tape = load_mentions(s)
    backtest_count = others_in_window_counts(tape, live.params.aggregation_window_hours)[[m.id for m in tape].index(mid)]
    assert backtest_count == 2
