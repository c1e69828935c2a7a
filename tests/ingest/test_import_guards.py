"""Import guards on a real database (SQLite and PostgreSQL): publish times in the future and values
longer than the database columns are rejected per row, with the line and field, and never cost the
good rows of the file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.cli import main
from kevin_pipeline.db.engine import session_factory
from kevin_pipeline.db.models import Channel, MentionRecord, Video
from kevin_pipeline.ingest.importer import import_mentions_file
from kevin_pipeline.ingest.limits import MAX_CHARS, SOURCE_CHARS
from kevin_pipeline.settings import Settings

HEADER = "video_id,published_at,symbol,action,conviction,time_horizon,quote,video_title,channel\n"
NOW = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def runtime(engine: Engine, tmp_path: Path) -> Runtime:
    return Runtime(settings=Settings(state_dir=tmp_path / "state"), engine=engine, sessions=session_factory(engine))


def stored_video_ids(runtime: Runtime) -> list[str]:
    with runtime.sessions() as s:
        return list(s.scalars(select(MentionRecord.video_id).order_by(MentionRecord.id)))


# --------------------------------------------------------------------------------------------------
# item 8: publish dates in the future


def test_csv_future_publish_time_is_rejected_with_line_and_field(runtime, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(
        HEADER
        + "v1,2024-03-05T14:00:00Z,NVDA,buy,0.8,weeks,,,\n"  # an hour ago
        + "v2,2042-03-05T14:00:00Z,AMD,buy,0.8,weeks,typo year,,\n"  # line 3: years ahead
        + "v3,2024-03-05T15:04:59Z,AAPL,buy,0.8,weeks,,,\n"  # within the 5 min of clock skew allowed
        + "v4,2024-03-05T10:06:00-05:00,TSLA,buy,0.8,weeks,,,\n"  # line 5: 6 min ahead (offset honoured)
    )
    report = import_mentions_file(runtime, path, now=NOW)
    assert stored_video_ids(runtime) == ["v1", "v3"]
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [(3, "published_at"), (5, "published_at")]
    assert "in the future" in report.rejected[0].reason and "'2042-03-05T14:00:00Z'" in report.rejected[0].reason
    assert "2024-03-05T15:00:00Z" in report.rejected[0].reason and "5 min" in report.rejected[0].reason


def test_json_future_publish_time_is_rejected_with_its_index(runtime, tmp_path):
    path = tmp_path / "calls.json"
    items = [
        {"video_id": "j1", "published_at": "2024-03-05T14:59:00Z", "symbol": "NVDA", "action": "buy", "conviction": 0.8},
        {"video_id": "j2", "published_at": "2025-03-05T14:59:00Z", "symbol": "AMD", "action": "sell", "conviction": 0.8},
    ]
    path.write_text(json.dumps(items))
    report = import_mentions_file(runtime, path, now=NOW)
    assert stored_video_ids(runtime) == ["j1"]
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [(2, "published_at")]


def test_tolerance_is_a_setting(engine, tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text('{"video_id": "k1", "published_at": "2024-03-05T15:20:00Z", "symbol": "NVDA", "action": "buy", "conviction": 0.8}\n')
    strict = Runtime(settings=Settings(state_dir=tmp_path), engine=engine, sessions=session_factory(engine))
    assert [r.line for r in import_mentions_file(strict, path, now=NOW).rejected] == [1]
    loose = Runtime(settings=Settings(state_dir=tmp_path, max_publish_ahead_minutes=30), engine=engine,
                sessions=session_factory(engine))
    assert import_mentions_file(loose, path, now=NOW).imported == 1


def test_cli_import_takes_now(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KEVIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KEVIN_DATABASE_URL", db_url)
    path = tmp_path / "calls.csv"
    path.write_text(HEADER + "v1,2024-03-05T14:00:00Z,NVDA,buy,0.8,weeks,,,\n")
    assert main(["import-mentions", str(path), "--now", "2024-03-05T13:00:00+00:00"]) == 1
    assert "rejected line 2: published_at: in the future" in capsys.readouterr().err
    assert main(["import-mentions", str(path), "--now", "2024-03-05T14:00:00+00:00"]) == 0
    assert "imported 1" in capsys.readouterr().out
    assert main(["import-mentions", str(path), "--now", "yesterday"]) == 2
    assert capsys.readouterr().err.startswith("error: --now 'yesterday'")


# --------------------------------------------------------------------------------------------------
# item 9: lengths the database cannot hold


def test_limits_come_from_the_database_columns():
    assert MAX_CHARS["video_id"] == Video.__table__.c.video_id.type.length == MentionRecord.__table__.c.video_id.type.length
    assert MAX_CHARS["channel"] == Channel.__table__.c.name.type.length
    assert MAX_CHARS["symbol"] == MentionRecord.__table__.c.symbol.type.length
    assert SOURCE_CHARS == MentionRecord.__table__.c.source.type.length
    # unbounded TEXT columns: the parser's sanity caps apply
    assert Video.__table__.c.title.type.length is None and MentionRecord.__table__.c.quote.type.length is None
    assert (MAX_CHARS["video_title"], MAX_CHARS["quote"]) == (1_000, 10_000)


def test_csv_over_long_values_are_rejected_per_row_and_the_rest_stored(runtime, tmp_path):
    vid = "v" * (MAX_CHARS["video_id"] + 1)  # 65 characters
    chan = "c" * (MAX_CHARS["channel"] + 1)  # 201 characters
    path = tmp_path / "calls.csv"
    path.write_text(
        HEADER
        + "ok1,2024-03-01T15:00:00Z,NVDA,buy,0.8,weeks,,,\n"
        + f"{vid},2024-03-01T15:00:00Z,AMD,buy,0.8,weeks,,,\n"  # line 3
        + f"ok2,2024-03-01T15:00:00Z,AAPL,buy,0.8,weeks,,,{chan}\n"  # line 4
        + f"{'é' * MAX_CHARS['video_id']},2024-03-01T15:00:00Z,TSLA,buy,0.8,weeks,,,{'ç' * 200}\n"  # at the limits
        + "ok3,2024-03-01T15:00:00Z,MSFT,buy,0.8,weeks,,,\n"
    )
    report = import_mentions_file(runtime, path, now=NOW)
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [(3, "video_id"), (4, "channel")]
    assert "too long (65 chars, max 64)" in report.rejected[0].reason
    assert "too long (201 chars, max 200)" in report.rejected[1].reason
    assert stored_video_ids(runtime) == ["ok1", "é" * 64, "ok3"]


def test_json_integer_video_id_is_its_string_under_the_same_limit(runtime, tmp_path):
    path = tmp_path / "calls.json"
    base = {"published_at": "2024-03-01T15:00:00Z", "symbol": "NVDA", "action": "buy", "conviction": 0.8}
    path.write_text(
        "["
        + json.dumps({**base, "video_id": 12345}) + ","
        + '{"video_id": ' + "9" * 70 + ', "published_at": "2024-03-01T15:00:00Z", "symbol": "AMD", "action": "buy", "conviction": 0.8},'
        + json.dumps({**base, "video_id": "s1", "channel": 7 * 10 ** 250}) + ","
        + json.dumps({**base, "video_id": "s2", "symbol": "AAPL"})
        + "]"
    )
    report = import_mentions_file(runtime, path, now=NOW)
    assert stored_video_ids(runtime) == ["12345", "s2"]
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [(2, "video_id"), (3, "channel")]
    assert "too long (70 chars, max 64)" in report.rejected[0].reason
