"""Rows for the live trading tables (positions, orders, snapshots, decisions, risk state), written
straight through the SQLAlchemy models: the order path that fills them in production is someone
else's module, and the dashboard must only read them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from kevin_pipeline.db.models import (
    AccountSnapshot,
    BacktestRun,
    Channel,
    DecisionRecord,
    MentionRecord,
    OrderRecord,
    Position,
    PriceBar,
    RiskDay,
    TradingState,
    Video,
)
from kevin_pipeline.domain.calendar import ny_date


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def add_mention(
    s: Session,
    symbol: str,
    action: str = "buy",
    published_at: datetime | None = None,
    *,
    conviction: str = "0.80",
    horizon: str = "weeks",
    quote: str | None = None,
    video_id: str | None = None,
    source: str = "fixture.csv",
    channel: str = "fixture",
) -> MentionRecord:
    published_at = published_at or utc(2024, 1, 2, 15)
    vid = video_id or f"v-{symbol}-{published_at:%Y%m%d%H%M}-{action}"
    video = s.query(Video).filter_by(video_id=vid).one_or_none()
    if video is None:
        owner = s.query(Channel).filter_by(name=channel).one_or_none() or Channel(name=channel)
        video = Video(video_id=vid, channel=owner, title=f"video {vid}", published_at=published_at)
        s.add(video)
        s.flush()
    m = MentionRecord(
        video_pk=video.id, video_id=vid, channel_id=video.channel_id, symbol=symbol, action=action, conviction=Decimal(conviction),
        time_horizon=horizon, quote=quote or f"{action} {symbol} fixture quote", published_at=published_at, source=source,
    )
    s.add(m)
    s.flush()
    return m


def add_decision(
    s: Session, mention: MentionRecord, status: str, reason: str, *, kind: str | None = None, size: str = "0",
    decided_at: datetime | None = None,
) -> DecisionRecord:
    kind = kind or ("open_long" if status in ("emitted", "dry_run") and mention.action == "buy" else "no_op")
    d = DecisionRecord(
        mention_id=mention.id, symbol=mention.symbol, action=mention.action, kind=kind, status=status,
        effective_conviction=mention.conviction, size_usd=Decimal(size), reason=reason,
        decided_at=decided_at or mention.published_at + timedelta(seconds=5),
    )
    s.add(d)
    s.flush()
    return d


def add_position(
    s: Session,
    symbol: str,
    qty: int,
    entry_price: str,
    entry_at: datetime,
    *,
    mention: MentionRecord | None = None,
    planned_exit: date | None = None,
    exit_price: str | None = None,
    exit_at: datetime | None = None,
    exit_reason: str | None = None,
) -> Position:
    entry = Decimal(entry_price)
    closed = exit_price is not None
    # kevin's lots are the ones its own entry orders opened (trading.own_slice)
    order = OrderRecord(
        client_order_id=f"kv-test-{symbol}-{entry_at:%Y%m%d%H%M%S}-{qty}", broker="simulated", symbol=symbol, side="buy",
        qty=Decimal(qty), order_type="market", time_in_force="gtc", status="filled", purpose="entry",
        filled_qty=Decimal(qty), filled_avg_price=entry, filled_at=entry_at,
    )
    s.add(order)
    s.flush()
    p = Position(
        entry_order_id=order.id, symbol=symbol, qty=Decimal(qty), entry_at=entry_at, entry_price=entry, cost_basis=(entry * qty).quantize(Decimal("0.01")),
        planned_exit_session=planned_exit, stop_price=(entry * Decimal("0.92")).quantize(Decimal("0.0001")),
        take_profit_price=(entry * Decimal("1.20")).quantize(Decimal("0.0001")),
        source_mention_id=mention.id if mention else None, status="closed" if closed else "open",
        exit_at=exit_at, exit_price=Decimal(exit_price) if closed else None, exit_reason=exit_reason,
        realized_pnl=((Decimal(exit_price) - entry) * qty).quantize(Decimal("0.01")) if closed else None,
    )
    s.add(p)
    s.flush()
    return p


def add_snapshot(s: Session, taken_at: datetime, equity: str, cash: str, day_pnl: str | None = None) -> AccountSnapshot:
    snap = AccountSnapshot(
        taken_at=taken_at, equity=Decimal(equity), cash=Decimal(cash), positions_value=Decimal(equity) - Decimal(cash),
        day_pnl=Decimal(day_pnl) if day_pnl is not None else None, source="simulated", positions=[],
    )
    s.add(snap)
    s.flush()
    return snap


def set_trading_state(s: Session, **values: Any) -> TradingState:
    row = s.get(TradingState, 1)
    if row is None:
        row = TradingState(id=1, trading_enabled=False, halted=False)
        s.add(row)
    for k, v in values.items():
        setattr(row, k, v)
    s.flush()
    return row


def set_risk_day(s: Session, when: datetime, trades: int, alloc: str) -> RiskDay:
    day = s.get(RiskDay, ny_date(when)) or RiskDay(ny_date=ny_date(when))
    day.trade_count, day.alloc_usd = trades, Decimal(alloc)
    s.add(day)
    s.flush()
    return day


def add_bars(s: Session, symbol: str, rows: list[tuple[date, float, float]], source: str = "fixture") -> None:
    """rows: (date, open, close); high/low spread around them."""
    for d, o, c in rows:
        s.add(PriceBar(symbol=symbol, date=d, open=o, high=max(o, c) * 1.01, low=min(o, c) * 0.99, close=c, volume=1000.0, source=source))
    s.flush()


def add_run(
    s: Session,
    equity: list[tuple[str, float]],
    benchmark: list[tuple[str, float]],
    *,
    metrics: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    status: str = "succeeded",
    trigger: str = "cli",
    sweep_id: str | None = None,
    created_at: datetime | None = None,
) -> BacktestRun:
    now = created_at or datetime.now(UTC)
    run = BacktestRun(
        created_at=now, started_at=now, finished_at=now + timedelta(seconds=2), status=status, trigger=trigger, sweep_id=sweep_id,
        params=params or {"min_conviction": "0.60", "hold_sessions_weeks": 10, "stop_loss_pct": "0.08", "take_profit_pct": "0.20",
                          "slippage_bps": "5", "benchmark_symbol": "SPY"},
        metrics=metrics, equity_curve=[list(p) for p in equity], benchmark_curve=[list(p) for p in benchmark], decisions=[],
    )
    s.add(run)
    s.flush()
    return run


def live_account(s: Session, now: datetime | None = None) -> dict[str, Any]:
    """A small but complete paper account on top of the demo database (whose bars end 2022-12-30).

    Two open lots (AAPL with its source mention, NVDA), two closed ones, a week of snapshots in
    December 2022 (so SPY bars cover them), decisions of every badge kind, a risk day for today.
    """
    now = now or datetime.now(UTC)
    m_aapl = add_mention(s, "AAPL", "buy", utc(2022, 12, 19, 15), conviction="0.85", horizon="weeks",
                         quote="AAPL into the new year, I'm buying here")
    m_nvda = add_mention(s, "NVDA", "buy", utc(2022, 12, 20, 15), conviction="0.70", horizon="weeks")
    m_meta = add_mention(s, "META", "buy", utc(2022, 12, 21, 15), conviction="0.66", horizon="weeks")
    m_nflx = add_mention(s, "NFLX", "buy", utc(2022, 12, 22, 15), conviction="0.40", horizon="weeks")
    add_decision(s, m_aapl, "emitted", "buy 4000.00 at conviction 0.8500 for 10 sessions", size="4000")
    add_decision(s, m_nvda, "emitted", "buy 3000.00 at conviction 0.7000 for 10 sessions", size="3000")
    add_decision(s, m_meta, "dry_run", "buy 2300.00 at conviction 0.6600 (kill switch off: dry run)", size="2300")
    add_decision(s, m_nflx, "skipped_filter", "conviction 0.4000 below the floor 0.60")
    aapl = add_position(s, "AAPL", 30, "132.00", utc(2022, 12, 20, 14, 30), mention=m_aapl, planned_exit=date(2023, 1, 4))
    nvda = add_position(s, "NVDA", 20, "160.00", utc(2022, 12, 21, 14, 30), mention=m_nvda, planned_exit=date(2023, 1, 5))
    add_position(s, "GOOG", 40, "90.00", utc(2022, 11, 1, 14, 30), exit_price="99.00", exit_at=utc(2022, 11, 15, 14, 30), exit_reason="time")
    add_position(s, "AMZN", 25, "100.00", utc(2022, 11, 2, 14, 30), exit_price="92.00", exit_at=utc(2022, 11, 10, 15), exit_reason="stop")
    equities = ["100000", "100150", "99800", "100420", "100900", "101250"]
    for i, eq in enumerate(equities):
        snap = add_snapshot(s, utc(2022, 12, 21 + i if i < 3 else 24 + i, 21, 5), eq, str(Decimal(eq) - Decimal(7160)),
                            day_pnl=None if i == 0 else str(Decimal(eq) - Decimal(equities[i - 1])))
    # the broker account also holds 4 TSLA the user bought: not kevin's (trading.own_slice)
    snap.positions = [
        {"symbol": "AAPL", "qty": 30, "current_price": "129.93", "kevin_qty": "30", "foreign_qty": "0"},
        {"symbol": "NVDA", "qty": 20, "current_price": "146.14", "kevin_qty": "20", "foreign_qty": "0"},
        {"symbol": "TSLA", "qty": 4, "current_price": "123.18", "kevin_qty": "0", "foreign_qty": "4"},
    ]
    set_trading_state(s, trading_enabled=False, halted=True, halt_reason="equity below 80% of the starting equity",
                      halted_at=utc(2022, 12, 23, 21))
    set_risk_day(s, now, 2, "7000")
    return {"aapl": aapl.id, "nvda": nvda.id, "mentions": [m_aapl.id, m_nvda.id, m_meta.id, m_nflx.id]}


def add_sweep(s: Session, sweep_id: str, sharpe: dict[tuple[str, int], float]) -> list[int]:
    """Light sweep runs (params and metrics only, as a sweep stores them): (min_conviction, weeks) -> Sharpe."""
    ids = []
    for (conv, weeks), value in sharpe.items():
        run = add_run(
            s, [], [], trigger="sweep", sweep_id=sweep_id,
            params={"min_conviction": conv, "hold_sessions_weeks": weeks, "stop_loss_pct": "0.08", "take_profit_pct": "0.20",
                    "slippage_bps": "5", "benchmark_symbol": "SPY"},
            metrics={"sharpe": value, "total_return_pct": value * 3},
        )
        run.equity_curve = run.benchmark_curve = None
        ids.append(run.id)
    s.flush()
    return ids
