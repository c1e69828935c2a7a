"""Column types and constraints behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, StatementError

from kevin_pipeline.db.models import (
    BacktestRun,
    BacktestTrade,
    Channel,
    DecisionRecord,
    MentionRecord,
    OrderRecord,
    TradingState,
    UTCDateTime,
    Video,
)

UTC = timezone.utc
T0 = datetime(2024, 3, 8, 14, 30, 15, 123456, tzinfo=UTC)
PLUS2 = timezone(timedelta(hours=2))


def _channel(session) -> Channel:
    channel = session.scalar(select(Channel).where(Channel.name == "test channel"))
    if channel is None:
        channel = Channel(name="test channel")
        session.add(channel)
        session.flush()
    return channel


def _video(session, video_id="vid1", published_at=T0) -> Video:
    v = Video(video_id=video_id, published_at=published_at, title="t", channel_id=_channel(session).id)
    session.add(v)
    session.flush()
    return v


def _mention(session, video: Video, symbol="AAPL", action="buy", horizon="weeks") -> MentionRecord:
    m = MentionRecord(
        video_pk=video.id,
        video_id=video.video_id,
        channel_id=video.channel_id,
        symbol=symbol,
        action=action,
        conviction=Decimal("0.8"),
        time_horizon=horizon,
        published_at=video.published_at,
        source="test",
    )
    session.add(m)
    session.flush()
    return m


def _decision(mention: MentionRecord, **kw) -> DecisionRecord:
    values = dict(
        mention_id=mention.id,
        symbol=mention.symbol,
        action=mention.action,
        kind="open_long",
        status="dry_run",
        effective_conviction=Decimal("0.85"),
        size_usd=Decimal("4125.50"),
        hold_sessions=10,
        planned_exit_session=date(2024, 3, 22),
        reason="buy passed every rule",
        decided_at=T0,
    )
    values.update(kw)
    return DecisionRecord(**values)


def _order(client_order_id: str, **kw) -> OrderRecord:
    values = dict(
        client_order_id=client_order_id,
        broker="simulated",
        symbol="AAPL",
        side="buy",
        qty=Decimal("10"),
        order_type="bracket",
        time_in_force="gtc",
        status="new",
        purpose="entry",
    )
    values.update(kw)
    return OrderRecord(**values)


# --- UTCDateTime ------------------------------------------------------------------------------


def test_naive_datetime_is_refused(session):
    session.add(Video(video_id="naive", published_at=datetime(2024, 3, 8, 14, 30)))
    with pytest.raises(StatementError) as info:
        session.flush()
    assert isinstance(info.value.orig, ValueError)
    assert "naive" in str(info.value.orig)


def test_aware_datetime_round_trips_as_utc(make_session):
    local = T0.astimezone(PLUS2)
    with make_session.begin() as s:
        s.add(Video(video_id="aware", published_at=local))
    with make_session() as s:
        got = s.scalars(select(Video.published_at).where(Video.video_id == "aware")).one()
    assert got == T0
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
    assert got.microsecond == 123456


def test_comparisons_use_the_instant_not_the_wall_time(make_session):
    with make_session.begin() as s:
        s.add(Video(video_id="cmp", published_at=T0))  # 14:30:15 UTC
    with make_session() as s:
        q = select(Video.video_id)
        # 16:00 at +02:00 is 14:00 UTC: before T0
        assert s.scalars(q.where(Video.published_at > datetime(2024, 3, 8, 16, 0, tzinfo=PLUS2))).all() == ["cmp"]
        # 17:00 at +02:00 is 15:00 UTC: after T0
        assert s.scalars(q.where(Video.published_at > datetime(2024, 3, 8, 17, 0, tzinfo=PLUS2))).all() == []
        assert s.scalars(q.where(Video.published_at == T0.astimezone(PLUS2))).all() == ["cmp"]


aware_datetimes = st.builds(
    lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-23 * 60, max_value=23 * 60),
)


@given(aware_datetimes)
def test_utcdatetime_type_round_trip_property(value):
    col = UTCDateTime()
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        stored = col.process_bind_param(value, dialect)
        back = col.process_result_value(stored, dialect)
        assert back == value
        assert back.utcoffset() == timedelta(0)


@given(st.datetimes())
def test_utcdatetime_type_refuses_every_naive_value(value):
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(value, sqlite.dialect())


# --- constraints --------------------------------------------------------------------------------


def test_exactly_one_decision_per_mention(session):
    m = _mention(session, _video(session))
    session.add(_decision(m))
    session.flush()
    session.add(_decision(m, status="skipped_filter"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_client_order_id_is_unique(session):
    session.add(_order("kevin-1-abc"))
    session.flush()
    session.add(_order("kevin-1-abc", side="sell", purpose="exit_time"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_mention_natural_key_is_unique(session):
    v = _video(session)
    _mention(session, v)
    _mention(session, v, horizon="days")  # another horizon: another mention
    with pytest.raises(IntegrityError):
        _mention(session, v)


@pytest.mark.parametrize("status", ["done", "EMITTED", ""])
def test_decision_status_is_checked(session, status):
    m = _mention(session, _video(session))
    session.add(_decision(m, status=status))
    with pytest.raises(IntegrityError):
        session.flush()


def test_foreign_keys_are_enforced(session):
    session.add(
        MentionRecord(
            video_pk=999_999,
            video_id="ghost",
            channel_id=_channel(session).id,  # only the video is missing
            symbol="AAPL",
            action="buy",
            conviction=Decimal("0.7"),
            time_horizon="days",
            published_at=T0,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_decided_mention_cannot_be_deleted(session):
    m = _mention(session, _video(session))
    session.add(_decision(m))
    session.flush()
    with pytest.raises(IntegrityError):
        session.execute(delete(MentionRecord).where(MentionRecord.id == m.id))


def test_deleting_a_backtest_run_deletes_its_trades(session):
    run = BacktestRun(trigger="cli", params={"min_conviction": "0.6"})
    session.add(run)
    session.flush()
    session.add(
        BacktestTrade(
            run_id=run.id,
            symbol="AAPL",
            entry_at=T0,
            entry_price=Decimal("170.1234"),
            qty=Decimal("10"),
            pnl_usd=Decimal("12.34"),
            pnl_pct=Decimal("0.0123"),
            exit_reason="end_of_data",
        )
    )
    session.flush()
    session.execute(delete(BacktestRun).where(BacktestRun.id == run.id))  # the database cascades
    assert session.scalars(select(BacktestTrade)).all() == []


def test_mention_ids_are_never_reused(session):
    v = _video(session)
    first = _mention(session, v, symbol="AAA")
    second = _mention(session, v, symbol="BBB")
    session.execute(delete(MentionRecord).where(MentionRecord.id == second.id))
    third = _mention(session, v, symbol="CCC")
    assert first.id < second.id < third.id


# --- values -------------------------------------------------------------------------------------


def test_money_is_decimal_and_json_takes_decimals(make_session):
    with make_session.begin() as s:
        m = _mention(s, _video(s))
        s.add(_decision(m, context={"would_size_usd": Decimal("5123.45"), "at": T0}))
        mention_id = m.id
    with make_session() as s:
        d = s.scalars(select(DecisionRecord).where(DecisionRecord.mention_id == mention_id)).one()
    assert d.size_usd == Decimal("4125.50") and isinstance(d.size_usd, Decimal)
    assert d.effective_conviction == Decimal("0.85") and isinstance(d.effective_conviction, Decimal)
    assert d.planned_exit_session == date(2024, 3, 22)
    assert d.extends_hold is False
    assert d.context == {"would_size_usd": "5123.45", "at": T0.isoformat()}


def test_trading_state_is_single_row_and_off_by_default(session):
    state = session.get(TradingState, 1)
    assert state is not None
    assert state.trading_enabled is False and state.halted is False
    assert state.updated_at.utcoffset() == timedelta(0)
    session.add(TradingState(id=2))
    with pytest.raises(IntegrityError):
        session.flush()


def test_channel_name_is_unique(session):
    session.add(Channel(name="Meet Kevin"))
    session.flush()
    session.add(Channel(name="Meet Kevin"))
    with pytest.raises(IntegrityError):
        session.flush()
