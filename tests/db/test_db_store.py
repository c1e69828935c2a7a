"""store_mentions / load_mentions: idempotent import, first-stored wins, domain values out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import event, func, select

from kevin_pipeline.db.models import Channel, MentionRecord, Video
from kevin_pipeline.db.store import StoreResult, load_mentions, store_mentions
from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.domain.models import Action, Horizon, Mention
from tests.helpers.calls import mention_row

UTC = timezone.utc
T0 = datetime(2024, 3, 8, 14, 30, tzinfo=UTC)


def row(
    video_id="v1",
    symbol="AAPL",
    action="buy",
    horizon="weeks",
    conviction="0.8",
    published_at=T0,
    line=1,
    channel="Meet Kevin",
    title="Title",
    quote=None,
) -> MentionRow:
    return mention_row(published_at, symbol, action, conviction, horizon, line=line, video_id=video_id, quote=quote,
                       video_title=title, channel=channel)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_import_counts_new_and_duplicate_rows(session):
    rows = [
        row(symbol="AAPL", line=1),
        row(symbol="TSLA", action="sell", line=2, quote="trimming"),
        row(symbol="AAPL", line=3, conviction="0.9"),  # same key as line 1: duplicate in the file
        row(video_id="v2", symbol="AAPL", published_at=T0 + timedelta(days=1), line=4),
    ]
    result = store_mentions(session, rows, source="calls.csv")
    assert result == StoreResult(imported=3, skipped_duplicate=1, videos_created=2)
    assert _count(session, MentionRecord) == 3
    assert _count(session, Video) == 2
    assert _count(session, Channel) == 1

    # The first occurrence won.
    first = session.scalars(
        select(MentionRecord).where(MentionRecord.video_id == "v1", MentionRecord.symbol == "AAPL")
    ).one()
    assert first.conviction == Decimal("0.8")
    assert first.source == "calls.csv"
    assert first.imported_at.tzinfo is not None

    # Re-importing the same file adds nothing.
    again = store_mentions(session, rows, source="calls.csv")
    assert (again.imported, again.skipped_duplicate, again.videos_created) == (0, 4, 0)
    assert _count(session, MentionRecord) == 3


def test_natural_key_is_video_symbol_action_horizon(session):
    rows = [
        row(action="buy", horizon="weeks"),
        row(action="buy", horizon="days"),
        row(action="watch", horizon="weeks"),
        row(symbol="MSFT"),
        row(video_id="v2"),
    ]
    assert store_mentions(session, rows, source="a.csv").imported == 5


def test_empty_input(session):
    assert store_mentions(session, [], source="empty.csv") == StoreResult(0, 0)
    assert store_mentions(session, iter([]), source="empty.csv") == StoreResult(0, 0)


def test_video_time_is_first_stored_and_mentions_carry_it(session):
    store_mentions(session, [row(symbol="AAPL")], source="one.csv")
    later = T0 + timedelta(hours=5)
    result = store_mentions(session, [row(symbol="NVDA", published_at=later)], source="two.csv")
    assert result.imported == 1
    assert result.published_at_conflicts == ("v1",)
    times = session.scalars(select(MentionRecord.published_at)).all()
    assert times == [T0, T0]

    # Disagreement inside one file: the first row's time wins as well.
    result = store_mentions(
        session,
        [row(video_id="v9", symbol="A"), row(video_id="v9", symbol="B", published_at=later)],
        source="three.csv",
    )
    assert result.published_at_conflicts == ("v9",)
    assert set(
        session.scalars(select(MentionRecord.published_at).where(MentionRecord.video_id == "v9"))
    ) == {T0}


def test_a_call_without_channel_goes_to_the_unassigned_channel_and_names_are_reused(session):
    store_mentions(session, [row(channel=None)], source="a.csv")
    store_mentions(session, [row(video_id="v2", channel="Meet Kevin")], source="b.csv")
    store_mentions(session, [row(video_id="v3", channel="Meet Kevin")], source="c.csv")
    names = dict(session.execute(select(Channel.id, Channel.name)).all())
    assert sorted(names.values()) == ["(no channel)", "Meet Kevin"]  # "Meet Kevin" once
    video_channels = dict(session.execute(select(Video.video_id, Video.channel_id)).all())
    assert {v: names[c] for v, c in video_channels.items()} == {
        "v1": "(no channel)", "v2": "Meet Kevin", "v3": "Meet Kevin"
    }
    # every mention carries its video's channel
    pairs = session.execute(
        select(MentionRecord.channel_id, Video.channel_id).join(Video, MentionRecord.video_pk == Video.id)
    ).all()
    assert len(pairs) == 3 and all(m == v for m, v in pairs)


def test_load_mentions_returns_domain_mentions_in_id_order(make_session):
    published = datetime(2024, 3, 8, 9, 30, tzinfo=timezone(timedelta(hours=-5)))  # ET, winter
    with make_session.begin() as s:
        store_mentions(
            s,
            [
                row(symbol="AAPL", conviction="0.8125", published_at=published, quote="buy it"),
                row(symbol="TSLA", action="avoid", horizon="unspecified", published_at=published),
                row(symbol="MSFT", published_at=published),
            ],
            source="calls.csv",
        )
    with make_session() as s:
        mentions = load_mentions(s)
        assert [m.symbol for m in mentions] == ["AAPL", "TSLA", "MSFT"]
        ids = [m.id for m in mentions]
        assert ids == sorted(ids)

        m = mentions[0]
        assert isinstance(m, Mention)
        assert m.published_at == published
        assert m.published_at.utcoffset() == timedelta(0)
        assert m.published_at.hour == 14
        assert isinstance(m.conviction, Decimal) and m.conviction == Decimal("0.8125")
        assert m.action is Action.BUY and m.horizon is Horizon.WEEKS
        assert m.quote == "buy it" and m.video_id == "v1"
        assert mentions[1].action is Action.AVOID and mentions[1].horizon is Horizon.UNSPECIFIED

        assert [x.symbol for x in load_mentions(s, after_id=ids[0])] == ["TSLA", "MSFT"]
        assert [x.symbol for x in load_mentions(s, after_id=ids[0], limit=1)] == ["TSLA"]
        assert load_mentions(s, after_id=ids[-1]) == []


def test_large_import_is_set_based(session, engine):
    n_videos, per_video = 600, 20  # 12,000 rows
    symbols = [f"S{i:03d}" for i in range(per_video)]
    rows = [
        row(
            video_id=f"vid{v:04d}",
            symbol=symbols[k],
            published_at=T0 + timedelta(minutes=v),
            line=v * per_video + k + 1,
            channel=f"chan{v % 3}",
        )
        for v in range(n_videos)
        for k in range(per_video)
    ]
    statements: list[str] = []

    def _count_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count_statement)
    try:
        result = store_mentions(session, rows, source="big.csv")
        assert result.imported == 12_000 and result.skipped_duplicate == 0
        first_round = len(statements)
        again = store_mentions(session, rows[:5000], source="big.csv")
        assert again.imported == 0 and again.skipped_duplicate == 5000
    finally:
        event.remove(engine, "before_cursor_execute", _count_statement)

    # Chunked lookups and multi-row inserts: tens of statements, not one per row.
    assert first_round < 100, first_round
    assert len(statements) - first_round < 20
    assert _count(session, MentionRecord) == 12_000
    assert _count(session, Video) == n_videos
    assert _count(session, Channel) == 3


def test_concurrent_import_of_the_same_rows_does_not_fail(session, monkeypatch):
    """If another import stores the same keys between our lookup and our insert, ON CONFLICT
    skips them and they count as duplicates (no IntegrityError)."""
    import kevin_pipeline.db.store as store

    rows = [row(symbol="AAPL"), row(symbol="TSLA")]
    store_mentions(session, rows, source="first.csv")
    monkeypatch.setattr(store, "_existing_keys", lambda session, video_ids: set())
    result = store_mentions(session, [*rows, row(symbol="NVDA")], source="second.csv")
    assert (result.imported, result.skipped_duplicate) == (1, 2)
    assert _count(session, MentionRecord) == 3


def test_an_extracted_row_keeps_its_extractor_version_and_second_and_a_file_row_has_none(session):
    extracted = row(symbol="NVDA", line=1).model_copy(
        update={"extractor": "offline-dictionary", "extractor_version": "1.2", "start_seconds": 83.5}
    )
    store_mentions(session, [extracted, row(symbol="AMD", line=2)], source="transcript:v1")
    stored = session.execute(
        select(MentionRecord.symbol, MentionRecord.extractor, MentionRecord.extractor_version, MentionRecord.start_seconds)
        .order_by(MentionRecord.id)
    ).all()
    assert [tuple(r) for r in stored] == [("NVDA", "offline-dictionary", "1.2", 83.5), ("AMD", None, None, None)]
