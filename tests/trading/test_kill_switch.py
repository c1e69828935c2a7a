"""The kill switch stops every path to the broker: on / exits-only / off, recovery and catch-up."""

from __future__ import annotations

import pytest

from kevin_pipeline.db.models import DecisionRecord, ManualCloseRequest, OrderRecord, Position
from kevin_pipeline.trading import exit_scan, order_path
from kevin_pipeline.trading.controls import TradingModeError, parse_mode, request_close, switches
from tests.helpers.market import bars, et


def half_sent_buy(live, monkeypatch, t=None) -> int:
    """A buy decided with the switch on whose process died before the broker call."""
    t = t or et(2024, 3, 5, 18)
    mid = live.mention(t)
    live.kill_at_submit(monkeypatch, t.replace(minute=1))
    (o,) = live.rows(OrderRecord)
    assert o.status == "pending_submit"
    return mid


def open_lot(live, horizon="days") -> None:
    live.mention_and_decide(et(2024, 3, 5, 18), horizon=horizon)
    order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 10))  # the 3-6 open filled it
    assert [p.status for p in live.rows(Position)] == ["open"]


# --- item 2: recovery obeys the switch ------------------------------------------------------


@pytest.mark.parametrize("mode", ["off", "exits-only"])
def test_a_half_sent_buy_is_not_sent_unless_the_switch_is_on(live_factory, monkeypatch, mode):
    live = live_factory()
    mid = half_sent_buy(live, monkeypatch)
    live.set_mode(mode)
    report = order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 5))
    assert live.sim_orders() == []  # the broker never got it
    assert (report.orders_sent, report.orders_recovered) == (0, 0)
    assert report.recovery.canceled == [f"kv-{mid}-b"]
    (o,) = live.rows(OrderRecord)
    assert o.status == "canceled" and "never sent late" in o.error
    (d,) = live.rows(DecisionRecord)
    assert f"the kill switch is {mode}" in d.reason and "never sent late" in d.reason
    live.set_mode("on")  # switched back: the buy stays unsent
    assert order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 9)).orders_sent == 0
    exit_scan.run_exit_scan(live.ctx, et(2024, 3, 6, 9, 35))
    assert live.sim_orders() == []


def test_the_master_switch_alone_stops_recovery_too(live_factory, monkeypatch):
    live = live_factory()
    half_sent_buy(live, monkeypatch)
    live.runtime.settings = live.runtime.settings.model_copy(update={"enable_trading": False})
    report = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 6, 9, 35))
    assert report.trading_mode == "off" and report.orders_sent == 0 and len(report.recovery.canceled) == 1
    assert live.sim_orders() == []


def test_a_half_sent_buy_is_resent_while_on_and_timely_and_counted(live_factory, monkeypatch):
    live = live_factory()
    mid = half_sent_buy(live, monkeypatch)
    report = order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 5))
    assert (report.orders_sent, report.orders_recovered, report.recovery.sent) == (1, 1, [f"kv-{mid}-b"])
    assert [o.client_order_id for o in live.sim_orders()] == [f"kv-{mid}-b"]


def test_a_half_sent_buy_found_after_its_entry_open_is_canceled_not_sent_late(live_factory, monkeypatch):
    live = live_factory()
    half_sent_buy(live, monkeypatch)  # decided 3-5 18:01 for the 3-6 open
    report = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 6, 9, 35))  # the switch is on, but too late
    assert report.orders_sent == 0 and len(report.recovery.canceled) == 1
    assert live.sim_orders() == []
    (d,) = live.rows(DecisionRecord)
    assert "entry session's open has passed" in d.reason


def test_a_buy_the_broker_already_has_is_recorded_not_canceled(live_factory, monkeypatch):
    """Crash after the submit, then the switch goes off: nothing new is sent, the books follow the broker."""
    live = live_factory()
    mid = live.mention(et(2024, 3, 5, 18))
    live.kill_at_submit(monkeypatch, et(2024, 3, 5, 18, 1), after_submit=True)
    live.set_mode("off")
    report = order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 5))
    assert report.recovery.canceled == [] and report.orders_sent == 0
    (o,) = live.rows(OrderRecord)
    assert (o.client_order_id, o.status) == (f"kv-{mid}-b", "accepted")
    assert len(live.sim_orders()) == 1


# --- item 3: three states and catch-up ---------------------------------------------------------


def test_parse_mode_and_the_master_switch():
    assert [parse_mode(m) for m in ("ON", "exits_only", " off ")] == ["on", "exits-only", "off"]
    with pytest.raises(TradingModeError):
        parse_mode("paused")


def test_exits_only_records_buys_as_dry_runs_but_sends_sells(live_factory):
    live = live_factory()
    open_lot(live)
    live.set_mode("exits-only")
    live.mention(et(2024, 3, 6, 12), symbol="NVDA", action="sell")
    report = order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 12, 1))
    assert report.counts() == {"emitted": 1} and report.orders_sent == 1
    live.mention(et(2024, 3, 6, 13), conviction="0.9")
    buy = order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 13, 1))
    assert buy.counts() == {"dry_run": 1} and buy.orders_sent == 0
    d = live.rows(DecisionRecord)[-1]
    assert d.context["would_size_usd"] == "4000.00" and d.context["trading_mode"] == "exits-only"
    order_path.process_new_mentions(live.ctx, et(2024, 3, 7, 10))
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason, lot.exit_at) == ("closed", "sell", et(2024, 3, 7, 9, 30))
    assert [o.side for o in live.sim_orders()] == ["buy", "sell"]


def test_off_holds_a_sell_call_and_catch_up_sends_it_at_the_first_scan_after(live_factory):
    live = live_factory()
    open_lot(live, horizon="weeks")
    live.set_mode("off")
    mid = live.mention(et(2024, 3, 6, 12), action="sell")
    report = order_path.process_new_mentions(live.ctx, et(2024, 3, 6, 12, 1))
    assert report.counts() == {"emitted": 1} and report.orders_sent == 0
    (d,) = live.rows(DecisionRecord, DecisionRecord.mention_id == mid)
    assert "held: trading is off" in d.reason
    scan = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 7, 9, 35))  # still off: waits
    assert scan.recovery.waiting == [f"kv-{mid}-c"] and scan.orders_sent == 0
    assert [o.side for o in live.sim_orders()] == ["buy"]
    live.set_mode("on")
    scan = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 8, 9, 35))
    assert scan.recovery.sent == [f"kv-{mid}-c"] and scan.orders_sent == 1
    (lot,) = live.rows(Position)
    assert (lot.status, lot.exit_reason, lot.exit_at) == ("closed", "sell", et(2024, 3, 8, 9, 30))


def test_off_holds_time_exits_and_manual_closes_until_exits_are_allowed(live_factory):
    live = live_factory(bars("NVDA"), bars("AMD"))
    live.mention(et(2024, 3, 5, 18))  # days: due at the 3-11 scan
    live.mention_and_decide(et(2024, 3, 5, 18), symbol="AMD", horizon="weeks")
    exit_scan.run_exit_scan(live.ctx, et(2024, 3, 6, 9, 35))
    live.set_mode("off")
    with live.runtime.transaction() as s:
        request_close(s, "AMD", requested_by="test")
    assert exit_scan.process_manual_closes(live.ctx, et(2024, 3, 8, 12)) == []  # `kevin close` while off
    due = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 11, 9, 35))
    assert due.time_exits == [] and due.manual_closes == [] and due.orders_sent == 0
    assert due.waiting == ["time exit NVDA", "manual close AMD"]
    assert [o.side for o in live.sim_orders()] == ["buy", "buy"]
    (req,) = live.rows(ManualCloseRequest)
    assert req.status == "pending"
    live.set_mode("exits-only")
    caught_up = exit_scan.run_exit_scan(live.ctx, et(2024, 3, 13, 9, 35))
    assert caught_up.time_exits == ["NVDA"] and caught_up.manual_closes == ["AMD"]
    order_path.process_new_mentions(live.ctx, et(2024, 3, 14, 10))
    lots = {p.symbol: (p.status, p.exit_reason, p.exit_at) for p in live.rows(Position)}
    assert lots == {"NVDA": ("closed", "time", et(2024, 3, 13, 9, 30)), "AMD": ("closed", "manual", et(2024, 3, 14, 9, 30))}


def test_buys_decided_while_off_are_never_sent_later(live_factory):
    live = live_factory()
    live.set_mode("off")
    live.mention(et(2024, 3, 5, 18))
    assert order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 1)).counts() == {"dry_run": 1}
    live.set_mode("on")
    order_path.process_new_mentions(live.ctx, et(2024, 3, 5, 18, 2))
    exit_scan.run_exit_scan(live.ctx, et(2024, 3, 6, 9, 35))
    assert live.sim_orders() == [] and live.rows(OrderRecord) == []


def test_switches_describe_the_mode_in_force(live_factory):
    live = live_factory()
    live.set_mode("exits-only")
    with live.runtime.sessions() as s:
        sw = switches(s, True)
        forced = switches(s, False)
    assert (sw.mode, sw.buys_allowed, sw.exits_allowed) == ("exits-only", False, True)
    assert (forced.mode, forced.exits_allowed) == ("off", False)
    assert "trading EXITS-ONLY" in sw.describe(et(2024, 3, 5, 12))
    assert "trading OFF" in forced.describe(et(2024, 3, 5, 12)) and "runtime switch exits-only" in forced.describe(et(2024, 3, 5, 12))
    assert live.rows(OrderRecord) == []
