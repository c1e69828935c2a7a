"""The `mentions` asset over the drop folder never gets stuck: a file whose import fails for any
reason moves to failed/ with its reason, and the files after it are imported (SQLite and
PostgreSQL). The drop folder itself (ingest.inbox, no Dagster) is tested in tests/ingest/test_inbox.py."""

from __future__ import annotations

import dagster as dg
from defs_helpers import SMALL_CSV

from kevin_pipeline.defs.assets import mentions

HEADER = "video_id,published_at,symbol,action,conviction,time_horizon,quote,video_title,channel\n"


def _meta(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_over_long_values_are_rejected_rows_not_a_stuck_file(kevin):
    # On PostgreSQL a 65-character video_id used to fail the whole import (VARCHAR(64)), leave the
    # file in the inbox and fail the asset on every run.
    kevin.write_file("a_calls.csv", HEADER
                     + "ok1,2022-03-01T15:00:00Z,NVDA,buy,0.8,weeks,,,\n"
                     + f"{'x' * 65},2022-03-01T15:00:00Z,AMD,buy,0.8,weeks,,,\n"
                     + f"ok2,2022-03-02T15:00:00Z,AAPL,buy,0.8,weeks,,,{'c' * 201}\n"
                     + "ok3,2022-03-02T15:00:00Z,MSFT,buy,0.8,weeks,,,\n", folder=kevin.drop_dir)
    kevin.write_file("b_calls.csv", SMALL_CSV, folder=kevin.drop_dir)
    result = dg.materialize([mentions], resources=kevin.resources)
    assert result.success
    meta = _meta(result)
    assert (meta["count_new"], meta["rejected_rows"]) == (2 + 5, 2)
    assert "| a_calls.csv |      3 | video_id: too long (65 chars, max 64)" in meta["rejected"]
    assert "channel: too long (201 chars, max 200)" in meta["rejected"]
    assert sorted(p.name for p in (kevin.drop_dir / "processed").iterdir()) == ["a_calls.csv", "b_calls.csv"]
    assert kevin.mention_count() == 7


def test_a_file_whose_import_raises_moves_to_failed_and_the_next_is_imported(kevin, instance):
    # A real database refusal the parser cannot foresee: a trigger that aborts one video's insert.
    with kevin.runtime.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON videos WHEN NEW.video_id = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'video boom refused by the database'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.video_id = 'boom' THEN RAISE EXCEPTION 'video boom refused by the database'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON videos FOR EACH ROW EXECUTE FUNCTION refuse()")
    kevin.write_file("a_boom.csv", HEADER + "boom,2022-03-01T15:00:00Z,NVDA,buy,0.8,weeks,,,\n", folder=kevin.drop_dir)
    kevin.write_file("b_calls.csv", SMALL_CSV, folder=kevin.drop_dir)

    result = dg.materialize([mentions], resources=kevin.resources, instance=instance)
    assert result.success
    meta = _meta(result)
    assert meta["count_new"] == kevin.mention_count() == 5  # the next file is not stuck behind it
    assert (kevin.drop_dir / "processed" / "b_calls.csv").exists()
    assert not (kevin.drop_dir / "a_boom.csv").exists()
    assert (kevin.drop_dir / "failed" / "a_boom.csv").exists()
    reason = (kevin.drop_dir / "failed" / "a_boom.csv.reason.txt").read_text()
    assert "a_boom.csv: not imported: the import failed:" in reason and "video boom refused by the database" in reason
    assert "move it back into" in reason
    assert "a_boom.csv: the import failed" in meta["failed_files"]
    logged = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("a_boom.csv was not imported and was moved to failed/" in m for m in logged)

    # A later run has nothing left to trip over.
    again = _meta(dg.materialize([mentions], resources=kevin.resources))
    assert (again["count_new"], again["failed_files"]) == (0, "_(none)_")
