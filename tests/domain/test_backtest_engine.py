"""Backtest semantics on small hand-made bars over real NYSE sessions (DESIGN.md, precise semantics)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from kevin_pipeline.domain.backtest import run_backtest
from kevin_pipeline.domain.models import DecisionStatus
from kevin_pipeline.domain.params import StrategyParams
from tests.helpers.calls import call
from tests.helpers.market import SESSIONS, bars, et, prices

NO_SLIP = StrategyParams(slippage_bps=Decimal("0"))


def test_buy_fills_at_next_open_whole_shares_and_exits_after_hold_sessions():
    r = run_backtest([call(et(2024, 3, 5, 18, 0))], prices(bars("NVDA")), NO_SLIP)
    (t,) = r.trades
    assert t.entry_session == date(2024, 3, 6)  # after the close -> next session
    assert t.qty == 30  # $3,000 / $100
    assert t.exit_session == date(2024, 3, 11)  # 3 sessions later: Thu 7, Fri 8, Mon 11
    assert t.exit_reason == "time" and t.sessions_held == 3 and t.pnl_usd == 0


def test_friday_evening_call_fills_monday_and_slippage_is_paid_both_ways():
    p = StrategyParams(slippage_bps=Decimal("10"))
    r = run_backtest([call(et(2024, 3, 8, 19, 0))], prices(bars("NVDA")), p)
    (t,) = r.trades
    assert t.entry_session == date(2024, 3, 11)
    assert t.entry_price == Decimal("100.1000") and t.qty == 29  # floor(3000 / 100.10)
    assert t.exit_price == Decimal("99.9000")
    assert t.pnl_usd == Decimal("-5.80")  # 29 x -0.20


def test_intraday_stop_fills_at_the_stop_and_counts_the_entry_session():
    s0 = date(2024, 3, 6)
    r = run_backtest([call(et(2024, 3, 5, 18))], prices(bars("NVDA", {s0: (100, 101, 91, 95)})), NO_SLIP)
    (t,) = r.trades
    assert (t.exit_reason, t.exit_session, t.exit_price, t.sessions_held) == ("stop", s0, Decimal("92.00"), 0)


def test_gap_down_through_the_stop_fills_at_the_open():
    s1 = date(2024, 3, 7)
    r = run_backtest([call(et(2024, 3, 5, 18))], prices(bars("NVDA", {s1: (85, 86, 84, 85)})), NO_SLIP)
    (t,) = r.trades
    assert (t.exit_reason, t.exit_price) == ("stop", Decimal("85.0000"))


def test_take_profit_fills_at_the_limit_without_slippage():
    s1 = date(2024, 3, 7)
    p = StrategyParams(slippage_bps=Decimal("0"))
    r = run_backtest([call(et(2024, 3, 5, 18))], prices(bars("NVDA", {s1: (110, 125, 109, 112)})), p)
    (t,) = r.trades
    assert (t.exit_reason, t.exit_price) == ("take_profit", Decimal("120.00"))
    assert t.pnl_usd == Decimal("600.00")


def test_gap_up_through_the_take_profit_fills_at_the_better_open():
    s1 = date(2024, 3, 7)
    r = run_backtest([call(et(2024, 3, 5, 18))], prices(bars("NVDA", {s1: (130, 131, 129, 130)})), NO_SLIP)
    assert r.trades[0].exit_price == Decimal("130.0000")


def test_bar_touching_both_legs_counts_the_stop():
    s1 = date(2024, 3, 7)
    r = run_backtest([call(et(2024, 3, 5, 18))], prices(bars("NVDA", {s1: (100, 125, 90, 100)})), NO_SLIP)
    assert r.trades[0].exit_reason == "stop"


def test_sell_closes_at_the_next_open_and_sell_without_holding_never_shorts():
    calls = [call(et(2024, 3, 5, 18)), call(et(2024, 3, 6, 12), action="sell"), call(et(2024, 3, 20, 12), action="sell")]
    r = run_backtest(calls, prices(bars("NVDA")), NO_SLIP)
    (t,) = r.trades
    assert (t.exit_reason, t.exit_session) == ("sell", date(2024, 3, 7))
    assert r.decisions[2].status is DecisionStatus.SKIPPED_FILTER


def test_avoid_blocklists_buys_for_seven_days():
    calls = [call(et(2024, 3, 5, 12), action="avoid"), call(et(2024, 3, 12, 11, 59)), call(et(2024, 3, 12, 12, 0))]
    r = run_backtest(calls, prices(bars("NVDA")), NO_SLIP)
    assert r.decisions[1].status is DecisionStatus.SKIPPED_BLOCKLIST
    assert r.decisions[2].status is DecisionStatus.EMITTED
    assert len(r.trades) == 1 and r.trades[0].entry_session == date(2024, 3, 13)


def test_repeated_buy_tops_up_and_moves_the_planned_exit_later():
    calls = [call(et(2024, 3, 5, 18), conviction="1.0", horizon="days"),
             call(et(2024, 3, 7, 18), conviction="1.0", horizon="days")]
    r = run_backtest(calls, prices(bars("NVDA")), NO_SLIP)
    first, second = r.trades
    assert first.qty == 40 and second.qty == 35  # 4,000 then the 3,500 left under the 7,500 cap
    # first entry 3/6 would exit 3/11; the repeat (entry 3/8) pushes both lots to 3/13
    assert first.exit_session == second.exit_session == date(2024, 3, 13)


def test_symbol_without_bars_and_missing_entry_bar_are_skipped_with_reasons():
    gap = [s for s in SESSIONS if s != date(2024, 3, 6)]
    calls = [call(et(2024, 3, 5, 18), symbol="ZZZZ"), call(et(2024, 3, 5, 18), symbol="AMD")]
    r = run_backtest(calls, prices(bars("AMD", sessions=gap)), NO_SLIP)
    assert r.trades == []
    assert "no price bars for ZZZZ" in r.decisions[0].reason
    assert r.decisions[1].status is DecisionStatus.SKIPPED_NON_TRADABLE and "2024-03-06" in r.decisions[1].reason


def test_position_open_at_the_end_is_marked_to_the_last_close():
    last = SESSIONS[-1]
    r = run_backtest([call(et(2024, 5, 29, 18), horizon="months")], prices(bars("NVDA", {last: (100, 105, 99, 104)})), NO_SLIP)
    (t,) = r.trades
    assert t.exit_reason == "end_of_data" and t.exit_session is None and t.exit_price is None
    assert t.pnl_usd == Decimal("120.00")  # 30 shares x +4


def test_daily_trade_cap_allows_five_new_buys_per_new_york_day():
    syms = ["A1", "A2", "A3", "A4", "A5", "A6"]
    calls = [call(et(2024, 3, 5, 10, i), symbol=s, conviction="0.6") for i, s in enumerate(syms)]
    r = run_backtest(calls, prices(*[bars(s) for s in syms]), NO_SLIP)
    assert len(r.trades) == 5
    assert r.decisions[5].status is DecisionStatus.SKIPPED_CAPS and "daily trade cap" in r.decisions[5].reason


def test_loss_circuit_pauses_buys_for_24h_after_a_3pct_close_to_close_drop():
    s2 = date(2024, 3, 7)
    big = StrategyParams(slippage_bps=Decimal("0"), min_trade_usd=Decimal("100"), max_trade_usd=Decimal("60000"),
                         max_per_ticker_usd=Decimal("60000"), max_position_pct=Decimal("1"), base_position_pct=Decimal("0.5"),
                         daily_alloc_cap_usd=Decimal("100000"), stop_loss_pct=Decimal("0.5"))
    crash = bars("NVDA", {s2: (100, 100, 90, 90)})  # 50k position -10% = -5% equity at the 3/7 close
    calls = [call(et(2024, 3, 5, 18), conviction="1.0", horizon="weeks"),
             call(et(2024, 3, 8, 10), symbol="AMD"), call(et(2024, 3, 8, 17), symbol="AMD")]
    r = run_backtest(calls, prices(crash, bars("AMD")), big)
    assert r.decisions[1].status is DecisionStatus.SKIPPED_CAPS and "loss circuit" in r.decisions[1].reason
    assert r.decisions[2].status is DecisionStatus.EMITTED  # 24 h after the 3/7 16:00 close


def test_benchmark_is_buy_and_hold_from_the_first_entry_open_on_the_same_sessions():
    spy = bars("SPY", {date(2024, 3, 6): (400, 404, 399, 404), date(2024, 3, 7): (404, 420, 403, 420)})
    frame = pd.concat([spy, bars("NVDA")], ignore_index=True)
    r = run_backtest([call(et(2024, 3, 5, 18))], frame, NO_SLIP)
    # both curves start with the starting capital at the close before the first entry session
    # (3/6), bought at 3/6's open; the benchmark's first day counts
    assert r.benchmark.index[0] == date(2024, 3, 5) and list(r.benchmark.index) == list(r.equity.index)
    assert r.benchmark.iloc[0] == 100_000 and r.equity.iloc[0] == 100_000
    assert r.benchmark.iloc[1] == pytest.approx(100_000 * 404 / 400)
    assert r.benchmark.iloc[2] == pytest.approx(100_000 * 420 / 400)
    assert r.equity.iloc[1] == pytest.approx(100_000)


def test_equity_reconciles_with_cash_and_trades():
    s1 = date(2024, 3, 7)
    r = run_backtest([call(et(2024, 3, 5, 18)), call(et(2024, 3, 5, 18), symbol="AMD")],
                     prices(bars("NVDA", {s1: (110, 125, 109, 112)}), bars("AMD")), StrategyParams(commission_usd=Decimal("1")))
    closed = sum(t.pnl_usd for t in r.trades)
    assert r.equity.iloc[-1] == pytest.approx(100_000 + float(closed), abs=0.02)
    assert r.final_cash == pytest.approx(Decimal(100_000) + closed, abs=Decimal("0.02"))


def test_sell_before_the_fill_cancels_the_pending_buy():
    calls = [call(et(2024, 3, 8, 18)), call(et(2024, 3, 9, 12), action="sell")]
    r = run_backtest(calls, prices(bars("NVDA")), NO_SLIP)
    assert r.trades == [] and "cancelled before its fill" in r.decisions[0].reason


# --- the seed's scenarios --------------------------------------------------------------------


def test_seed_winning_trade_and_positive_alpha_over_a_flat_benchmark():
    s = SESSIONS
    ramp = {d: (100 + i, 100 + i, 100 + i, 100 + i) for i, d in enumerate(s[3:20])}  # +1 $ a session
    r = run_backtest([call(et(2024, 3, 5, 18), horizon="weeks")], prices(bars("NVDA", ramp)), NO_SLIP)
    (t,) = r.trades
    assert t.exit_reason == "time" and t.pnl_usd > 0 and t.entry_price == Decimal("100.0000")
    from kevin_pipeline.domain.metrics import compute_metrics

    m = compute_metrics(r.equity, r.benchmark, r.trades, r.exposure)
    assert m.benchmark_total_return_pct == 0 and m.alpha_vs_benchmark_pct > 0 and m.win_rate_pct == 100


def test_seed_low_conviction_call_is_filtered_and_never_trades():
    r = run_backtest([call(et(2024, 3, 5, 18), conviction="0.55")], prices(bars("NVDA")), NO_SLIP)
    assert r.trades == [] and r.decisions[0].status is DecisionStatus.SKIPPED_FILTER


def test_hold_counts_sessions_across_a_holiday():
    # weeks = 10 sessions from Thu 2024-03-28: Good Friday 3/29 is closed -> exits Fri 2024-04-12
    r = run_backtest([call(et(2024, 3, 27, 18), horizon="weeks")], prices(bars("NVDA")), NO_SLIP)
    (t,) = r.trades
    assert t.entry_session == date(2024, 3, 28) and t.exit_session == date(2024, 4, 12) and t.sessions_held == 10


def test_whole_shares_round_down_and_leave_the_change_in_cash():
    r = run_backtest([call(et(2024, 3, 5, 18))], prices(bars("NVDA", base=70.0)), NO_SLIP)
    (t,) = r.trades
    assert t.qty == 42  # floor(3000 / 70) = 42.86 -> 42 shares, $60 stays cash
    assert r.final_cash == Decimal("100000")  # flat prices, no costs: every dollar comes back


@pytest.mark.parametrize(
    "published,entry",
    [
        (et(2024, 3, 5, 16, 30), date(2024, 3, 6)),  # after the close -> next session's open
        (et(2024, 3, 5, 8, 0), date(2024, 3, 5)),  # before the open -> that day's open
        (et(2024, 3, 8, 19, 0), date(2024, 3, 11)),  # Friday evening -> Monday
        (et(2024, 3, 28, 17, 0), date(2024, 4, 1)),  # before Good Friday -> the next session
    ],
)
def test_entry_is_the_first_open_after_the_call(published, entry):
    r = run_backtest([call(published)], prices(bars("NVDA")), NO_SLIP)
    assert r.trades[0].entry_session == entry


def test_the_exits_due_at_an_open_are_every_planned_exit_at_or_before_it():
    """The engine finds due time exits from a heap instead of scanning every planned exit: under
    any mix of plans, extensions, earlier plans (ignored: the later one stands) and drops, it must
    name exactly the symbols a scan would."""
    import random
    from datetime import timedelta as td

    from kevin_pipeline.domain.backtest import _Book

    rng = random.Random(7)
    book = _Book(cash=Decimal("0"), starting_equity=Decimal("0"))
    day0 = date(2024, 1, 2)
    symbols = [f"S{i}" for i in range(12)]
    expected: dict[str, date] = {}
    for n in range(400):
        today = day0 + td(days=n)
        for _ in range(rng.randint(0, 4)):
            sym = rng.choice(symbols)
            if rng.random() < 0.3:
                book.planned_exit.pop(sym, None)  # as the engine drops a plan with nothing left to exit
                expected.pop(sym, None)
            else:
                when = today + td(days=rng.randint(-3, 12))
                book.plan_exit(sym, when, when.toordinal())  # any index in the dates' order
                expected[sym] = max(expected.get(sym, when), when)
        assert book.planned_exit == expected
        assert book.exits_due(today, today.toordinal()) == {s for s, due in expected.items() if due <= today}, n


def test_a_run_hands_the_collector_back_on_with_its_rows_in_the_oldest_generation():
    """A run pauses the collector and, ending, moves what it made to the oldest generation without
    a walk (freeze + unfreeze); the collector must come back on, nothing left frozen, and a
    caller's own frozen objects must stay frozen (a sweep worker's inheritance)."""
    import gc

    calls = [call(et(2024, 3, 5, 18, 0), id=i) for i in range(1, 4)]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    r = run_backtest(calls, prices(bars("NVDA")), NO_SLIP)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    young = {id(o) for o in gc.get_objects(0)} | {id(o) for o in gc.get_objects(1)}
    assert r.decisions and not any(id(d) in young for d in r.decisions)  # moved on, not walked
    inherited = [object()]  # a container the caller froze
    gc.freeze()  # a caller (a sweep worker) that froze what it inherited
    try:
        run_backtest(calls, prices(bars("NVDA")), NO_SLIP)
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert not any(o is inherited for g in range(3) for o in gc.get_objects(g))  # still frozen
    finally:
        gc.unfreeze()
    assert any(o is inherited for o in gc.get_objects(2))


@pytest.mark.parametrize("first_after_the_open", ["hold", "buy"])
def test_a_drawdown_at_an_open_halts_at_the_next_call_in_a_light_run_as_in_the_full_one(first_after_the_open):
    """A gap through the stop loses money at the open; the first call after it trips the halt at
    its publish time. A light run skips the calls the account cannot change (a hold call): it must
    still halt at that call's time, and refuse the buys after it, exactly as the full run does."""
    from kevin_pipeline.domain.backtest import MentionTape
    from kevin_pipeline.domain.calendar import nyse_calendar

    params = StrategyParams(slippage_bps=Decimal("0"), drawdown_halt_pct=Decimal("0.999"))
    book = prices(bars("NVDA", {date(2024, 3, 7): (85, 86, 84, 85)}), bars("AMD"))
    first = call(et(2024, 3, 7, 11), symbol="AMD", action=first_after_the_open)
    calls = [call(et(2024, 3, 5, 18)), first, call(et(2024, 3, 7, 12), symbol="AMD"), call(et(2024, 3, 8, 12), symbol="AMD")]
    tape = MentionTape(calls, nyse_calendar())
    tape.decided_without_the_account(params)  # as a sweep does: the light run then skips the hold call
    full = run_backtest(tape, book, params)
    light = run_backtest(tape, book, params, audit=False)
    assert full.notes == light.notes == [f"drawdown halt at {first.published_at.isoformat()}: no new buys for the rest of the backtest"]
    assert [(t.symbol, t.exit_reason, t.exit_price) for t in light.trades] == [("NVDA", "stop", Decimal("85.0000"))]
    assert [t.model_dump() for t in light.trades] == [t.model_dump() for t in full.trades]
    assert light.equity.equals(full.equity) and light.final_cash == full.final_cash
    assert [d.status for d in full.decisions[1:]] == [
        DecisionStatus.SKIPPED_FILTER if first_after_the_open == "hold" else DecisionStatus.SKIPPED_CAPS,
        DecisionStatus.SKIPPED_CAPS, DecisionStatus.SKIPPED_CAPS,
    ]


def test_a_light_run_with_a_start_and_calls_past_the_last_bar_trades_as_the_full_run():
    """The light run decides only the calls the account can change: from `start` on (not the ones
    before it) and up to the calls after the last bar, as the full run does."""
    from kevin_pipeline.domain.backtest import MentionTape
    from kevin_pipeline.domain.calendar import nyse_calendar

    book = prices(bars("NVDA"), bars("AMD"))
    calls = [
        call(et(2024, 3, 5, 18), symbol="AMD"),  # before `start`: not traded
        call(et(2024, 4, 2, 18)), call(et(2024, 4, 3, 12), action="hold"), call(et(2024, 4, 4, 12), action="sell"),
        call(et(2024, 5, 30, 12), symbol="AMD", horizon="weeks"),  # still open at the end of the data
        call(et(2024, 6, 10, 12), symbol="AMD"), call(et(2024, 6, 11, 12), action="watch"),  # after the last bar
    ]
    tape = MentionTape(calls, nyse_calendar())
    tape.decided_without_the_account(NO_SLIP)
    full = run_backtest(tape, book, NO_SLIP, start=date(2024, 4, 1))
    light = run_backtest(tape, book, NO_SLIP, start=date(2024, 4, 1), audit=False)
    assert [(t.symbol, t.exit_reason) for t in full.trades] == [("NVDA", "sell"), ("AMD", "end_of_data")]
    assert [t.model_dump() for t in light.trades] == [t.model_dump() for t in full.trades]
    assert light.equity.equals(full.equity) and light.final_cash == full.final_cash and light.notes == full.notes
    assert full.decisions[-2].status is DecisionStatus.SKIPPED_NON_TRADABLE  # the June buy: no bar to fill at


def test_a_tape_orders_calls_by_time_then_id_as_a_sort_of_the_list_would():
    """Ties in time go by id (no id first), and calls equal in both keep the order they came in;
    the same instant written in another zone is the same time."""
    from datetime import timezone

    from kevin_pipeline.domain.backtest import MentionTape
    from kevin_pipeline.domain.calendar import nyse_calendar

    noon = et(2024, 3, 5, 12)
    calls = [
        call(et(2024, 3, 6, 9), id=1), call(noon, id=9), call(noon.astimezone(timezone.utc), id=3, symbol="AMD"),
        call(noon, id=3, symbol="TSLA"), call(et(2024, 3, 4, 16), id=7),
        call(noon).model_copy(update={"id": None}), call(et(2024, 3, 4, 16), id=2),
    ]
    tape = MentionTape(calls, nyse_calendar())
    want = sorted(calls, key=lambda m: (m.published_at, m.id if m.id is not None else -1))
    assert [id(m) for m in tape] == [id(m) for m in want]
    assert [(m.id, m.symbol) for m in tape][:5] == [(2, "NVDA"), (7, "NVDA"), (None, "NVDA"), (3, "AMD"), (3, "TSLA")]
    assert tape.ny_dates == [date(2024, 3, 4)] * 2 + [date(2024, 3, 5)] * 4 + [date(2024, 3, 6)]


@pytest.mark.parametrize("direction", ["follow", "inverse"])
def test_a_light_runs_sell_and_avoid_calls_read_the_book_as_the_full_run_does(direction):
    """A light run decides a sell or avoid call by whether the book holds the symbol, an unfilled
    buy included: it cancels that buy, closes a filled lot, blocklists, or does nothing, exactly
    as the full run, which asks the rules with the account."""
    from kevin_pipeline.domain.backtest import MentionTape
    from kevin_pipeline.domain.calendar import nyse_calendar

    params = StrategyParams(slippage_bps=Decimal("0"), direction=direction)
    flip = {"buy": "sell", "sell": "buy", "avoid": "buy"} if direction == "inverse" else {}

    def c(t, symbol="NVDA", action="buy"):
        return call(t, symbol=symbol, action=flip.get(action, action) if action != "avoid" or not flip else "buy")

    calls = [
        c(et(2024, 3, 4, 18)), c(et(2024, 3, 5, 7), action="sell"),  # held only as an unfilled buy: cancelled
        c(et(2024, 3, 5, 18), symbol="AMD"), c(et(2024, 3, 7, 12), symbol="AMD", action="sell"),  # a filled lot: closed
        c(et(2024, 3, 8, 12), symbol="TSLA", action="sell"),  # nothing held: nothing happens
        c(et(2024, 3, 11, 18)), c(et(2024, 3, 12, 12), action="avoid"), c(et(2024, 3, 13, 12)),  # avoid, then blocked
    ]
    book = prices(bars("NVDA"), bars("AMD"), bars("TSLA"))
    tape = MentionTape(calls, nyse_calendar())
    tape.decided_without_the_account(params)  # as a sweep prepares its tape
    full = run_backtest(tape, book, params)
    light = run_backtest(tape, book, params, audit=False)
    # the light run took its sell and avoid calls from these
    assert tape.decided_by_holding(params, compute=False) is not None
    assert [t.model_dump() for t in light.trades] == [t.model_dump() for t in full.trades]
    assert light.equity.equals(full.equity) and light.final_cash == full.final_cash and light.notes == full.notes
    if direction == "follow":
        assert [(t.symbol, t.exit_reason) for t in full.trades] == [("AMD", "sell"), ("NVDA", "avoid")]
        assert "cancelled before its fill" in full.decisions[0].reason
        assert full.decisions[-1].status is DecisionStatus.SKIPPED_BLOCKLIST
