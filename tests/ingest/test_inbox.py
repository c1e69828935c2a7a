"""The drop folder (ingest.inbox), without Dagster: each file ends in processed/ or failed/ (with its
reason), never blocks the files after it, and an unreachable database leaves every file in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.db.engine import make_engine, session_factory
from kevin_pipeline.ingest.inbox import import_inbox
from kevin_pipeline.settings import Settings

CALLS = (
    "video_id,published_at,symbol,action,conviction,time_horizon\n"
    "v1,2022-03-01T15:00:00Z,NVDA,buy,0.8,weeks\n"
    "v1,2022-03-01T15:00:00Z,AMD,buy,0.7,days\n"
    "v2,2022-03-02T15:00:00Z,AAPL,sell,0.9,months\n"
)


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    opened = open_runtime(Settings(database_url=db_url, state_dir=tmp_path / "state"))
    yield opened
    opened.close()


def test_good_files_go_to_processed_and_an_unreadable_one_to_failed_with_its_reason(runtime: Runtime, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a_broken.json").write_text("{not json")
    (inbox / "b_calls.csv").write_text(CALLS)
    (inbox / "c_copying.csv.part").write_text(CALLS)  # a copy in progress is left alone

    report = import_inbox(runtime, inbox)

    assert (report.seen, report.new_count, list(report.failed)) == (2, 3, ["a_broken.json"])
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["b_calls.csv"]
    reason = (inbox / "failed" / "a_broken.json.reason.txt").read_text()
    assert reason.startswith("a_broken.json: not imported: ") and str(inbox) in reason
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["c_copying.csv.part"]
    assert import_inbox(runtime, inbox).seen == 0  # nothing left to trip over


def test_an_unreachable_database_leaves_the_files_for_the_next_run(runtime: Runtime, tmp_path: Path) -> None:
    # Not the file's fault: it must not be filed under failed/ (every file would be).
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "calls.csv").write_text(CALLS)
    engine = make_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    down = Runtime(settings=runtime.settings, engine=engine, sessions=session_factory(engine))
    try:
        with pytest.raises(OperationalError):
            import_inbox(down, inbox)
    finally:
        engine.dispose()
    assert (inbox / "calls.csv").exists() and not (inbox / "failed").exists()
    assert import_inbox(runtime, inbox).new_count == 3  # imported once the database is back
