"""kevin's account is its own slice: shares it did not buy are reported, never traded or counted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kevin_pipeline.db.models import (
    DecisionRecord,
    OrderRecord,
    Position,
    ReconciliationEvent,
    RiskDay,
    SimOrder,
    TradingState,
)
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.trading import exit_scan, order_path, reconcile
from kevin_pipeline.trading.controls import CloseRequestError, request_close
from tests.helpers.market import bars, et

# every buy is $500: 5 shares at $100
FIVE_SHARES = StrategyParams(slippage_bps=Decimal("0"), min_trade_usd=Decimal("500"), max_trade_usd=Decimal("500"))


def broker_qty(live, symbol: str, now) -> int:
    return {p.symbol: p.qty for p in live.broker.positions(now)}.get(symbol, 0)


def with_allocation(live, usd: str) -> None:
    live.runtime.settings = live.runtime.settings.model_copy(update={"allocation_usd": Decimal(usd)})


def test_reconciliation_reports_a_foreign_holding_once_and_makes_no_lot(live_factory):
    live = live_factory(bars("AAPL"))
    live.broker.add_foreign_holding("AAPL", 10, Decimal("100"), et(2024, 3, 5, 12))

    notes = reconcile.reconcile(live.ctx, et(2024, 3, 6, 9, 35))
    reconcile.reconcile(live.ctx, et(2024, 3, 7, 9, 35))  # unchanged: not logged again

    assert live.rows(Position) == []
    (event,) = live.rows(ReconciliationEvent)
    assert (event.kind, event.symbol, event.repaired) == ("foreign_position", "AAPL", False)
    assert "10 shares" in event.detail and "not kevin's" in event.detail and notes == [event.detail]

    live.broker.add_foreign_holding("AAPL", 5, Decimal("100"), et(2024, 3, 7, 12))  # the user buys more
    reconcile.reconcile(live.ctx, et(2024, 3, 8, 9, 35))
    events = live.rows(ReconciliationEvent)
    assert [e.kind for e in events] == ["foreign_position", "foreign_position"] and "15 shares" in events[-1].detail
    assert live.rows(Position) == []


def _kevin_buys_five_next_to_the_users_ten(live_factory, horizon: str = "weeks"):
    live = live_factory(bars("AAPL"), params=FIVE_SHARES)
    live.broker.add_foreign_holding("AAPL", 10, Decimal("100"), et(2024, 3, 5, 12))
    live.mention_and_decide(et(2024, 3, 5, 18), symbol="AAPL", horizon=horizon)
    order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 12))  # the buy filled at the 3/6 open
    (lot,) = live.rows(Position)
    assert (lot.qty, lot.status) == (Decimal(5), "open")
    assert broker_qty(live, "AAPL", et(2024, 3, 6, 12)) == 15
    return live


@pytest.mark.parametrize("action", ["sell", "avoid"])
def test_a_sell_or_avoid_call_sells_exactly_kevins_shares(live_factory, action):
    live = _kevin_buys_five_next_to_the_users_ten(live_factory)
    live.mention_and_decide(et(2024, 3, 6, 13), symbol="AAPL", action=action)
    order_path.process_new_mentions(live.ctx, et(2024, 3, 7, 10))  # the sell filled at the 3/7 open

    (sell,) = live.rows(SimOrder, SimOrder.side == "sell", SimOrder.order_class == "simple")
    assert (sell.status, sell.filled_qty) == ("filled", Decimal(5))
    assert broker_qty(live, "AAPL", et(2024, 3, 7, 10)) == 10  # the user's shares stay
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason) == ("closed", action)
    (order,) = live.rows(OrderRecord, OrderRecord.side == "sell")
    assert order.filled_qty == Decimal(5)


def test_a_time_exit_sells_exactly_kevins_shares(live_factory):
    live = _kevin_buys_five_next_to_the_users_ten(live_factory, horizon="days")
    report = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 11, 9, 35))
    assert report.time_exits == ["AAPL"]
    assert broker_qty(live, "AAPL", et(2024, 3, 11, 10)) == 10
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason) == ("closed", "time")


def test_a_manual_close_sells_exactly_kevins_shares(live_factory):
    live = _kevin_buys_five_next_to_the_users_ten(live_factory)
    with live.runtime.transaction() as s:
        request_close(s, "AAPL", requested_by="test")
    exit_scan.run_exit_scan(live.ctx, et(2024, 3, 7, 9, 35))
    order_path.process_new_mentions(live.ctx, et(2024, 3, 8, 10))
    assert broker_qty(live, "AAPL", et(2024, 3, 8, 10)) == 10
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason) == ("closed", "manual")


def test_a_manual_close_where_kevin_holds_nothing_is_refused(live_factory):
    live = live_factory(bars("AAPL"))
    live.broker.add_foreign_holding("AAPL", 10, Decimal("100"), et(2024, 3, 5, 12))
    reconcile.reconcile(live.ctx, et(2024, 3, 6, 9, 35))
    with live.runtime.transaction() as s, pytest.raises(CloseRequestError, match="kevin holds no open lot in AAPL"):
        request_close(s, "AAPL")


def test_an_old_reconciliation_lot_is_released_and_a_sell_call_leaves_the_users_shares(live_factory):
    """Before this fix reconciliation wrote the user's shares as a kevin lot (no entry order)."""
    live = live_factory(bars("AAPL"))
    live.broker.add_foreign_holding("AAPL", 10, Decimal("100"), et(2024, 3, 5, 12))
    with live.runtime.transaction() as s:
        s.add(Position(symbol="AAPL", qty=Decimal(10), entry_at=et(2024, 3, 5, 12), entry_price=Decimal("100"),
                       cost_basis=Decimal("1000"), status="open"))
    live.mention_and_decide(et(2024, 3, 6, 12), symbol="AAPL", action="sell")
    order_path.process_new_mentions(live.ctx, et(2024, 3, 7, 10))

    assert broker_qty(live, "AAPL", et(2024, 3, 7, 10)) == 10
    assert live.rows(SimOrder, SimOrder.side == "sell") == []
    assert live.rows(Position) == []  # released: it was never kevin's
    assert [e.kind for e in live.rows(ReconciliationEvent)] == ["foreign_position"]
    order_path.process_new_mentions(live.ctx, et(2024, 3, 8, 10))  # idempotent
    assert len(live.rows(ReconciliationEvent)) == 1


def test_sizing_uses_the_account_minus_foreign_positions(live_factory):
    live = live_factory(bars("NVDA"), bars("AMD"))
    live.broker.add_foreign_holding("AMD", 250, Decimal("100"), et(2024, 3, 5, 12))  # $25,000 of the user's
    live.mention_and_decide(et(2024, 3, 5, 18), conviction="0.8")
    (d,) = live.rows(DecisionRecord)
    # equity 100,000 - 25,000 = 75,000; 75,000 x 4% x (0.5 + 0.5 x 0.2 / 0.4) = 2,250
    assert (d.status, d.size_usd) == ("emitted", Decimal("2250.00"))


@pytest.mark.parametrize("allocation, size", [("20000", "600.00"), ("90000", "2250.00")])
def test_an_allocation_is_kevins_equity_capped_by_what_the_account_has(live_factory, allocation, size):
    live = live_factory(bars("NVDA"), bars("AMD"))
    with_allocation(live, allocation)
    live.broker.add_foreign_holding("AMD", 250, Decimal("100"), et(2024, 3, 5, 12))
    live.mention_and_decide(et(2024, 3, 5, 18), conviction="0.8")
    (d,) = live.rows(DecisionRecord)
    # 20,000 x 3% = 600 (and 20,000 is the drawdown halt's start: no halt); 90,000 is capped at 75,000
    assert (d.status, d.size_usd) == ("emitted", Decimal(size))


def test_an_allocation_grows_with_kevins_own_pnl(live_factory):
    live = live_factory(bars("NVDA", {date(2024, 3, 6): (100, 100, 100, 110)}), params=FIVE_SHARES)
    with_allocation(live, "20000")
    live.mention_and_decide(et(2024, 3, 5, 18))  # 5 NVDA at the 3/6 open, 100
    order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 17))  # sync: the lot is kevin's books
    account = order_path.read_kevin_account(live.ctx, et(2024, 3, 6, 17))
    # 20,000 + 5 x (110 - 100) unrealized; cash 20,000 - 500 spent
    assert (account.equity, account.cash) == (Decimal("20050"), Decimal("19500"))


def test_a_foreign_position_falling_does_not_trip_kevins_loss_circuit(live_factory):
    live = live_factory(bars("NVDA"), bars("AMD", {date(2024, 3, 6): (100, 100, 90, 90)}))
    live.broker.add_foreign_holding("AMD", 500, Decimal("100"), et(2024, 3, 4, 12))  # half the account
    order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 10))  # records the 3/5 close
    order_path.process_new_mentions(live.ctx, et(2024, 3, 7, 10))  # the 3/6 close: account -5%, kevin 0%
    with live.runtime.sessions() as s:
        assert s.get(RiskDay, date(2024, 3, 6)).close_equity == Decimal("50000")
        assert s.get(TradingState, 1).paused_until is None


def test_the_snapshot_and_the_dashboard_keep_foreign_positions_apart(live_factory):
    from kevin_dash.data import paper_account as data

    live = _kevin_buys_five_next_to_the_users_ten(live_factory)
    equity = exit_scan.snapshot_account(live.ctx, et(2024, 3, 6, 17))
    # the account: 100,000 - 1,000 (user's 10) - 500 (kevin's 5) cash + 15 x 100 = 100,000; kevin's slice 99,000
    assert equity == Decimal("99000")
    with live.runtime.sessions() as s:
        foreign = data.foreign_positions(s)
        lots = data.open_positions(s)
    assert foreign[["symbol", "qty", "broker_qty", "kevin_qty", "value"]].to_dict("records") == [
        {"symbol": "AAPL", "qty": 10.0, "broker_qty": 15.0, "kevin_qty": 5.0, "value": 1000.0}]
    assert lots[["symbol", "qty"]].to_dict("records") == [{"symbol": "AAPL", "qty": 5.0}]
