"""Bad input all the way into the database: generated mention files (every corruption the parser
tests use) imported through `import_mentions_file`. Never a crash; every bad row reported with its
line; every good row stored exactly once, and a re-import stores nothing.

CSV files also keep the line invariant: every non-blank physical line is stored or reported
(`assert_every_line_accounted`), in generated files and in generated files with a broken quote.

Case counts: KEVIN_FUZZ_EXAMPLES generated files per property test (default 400 here and 200 in each
of the three parser tests: ~1,000 files and ~6,000 rows per CI run; KEVIN_FUZZ_EXAMPLES=10000 runs
the full 10,000+ cases). KEVIN_BIG_FILE_MB sizes the large-file test (default 10; 100 for the
issue's 100 MB file).
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.db.engine import make_engine, session_factory
from kevin_pipeline.db.models import Base, MentionRecord
from kevin_pipeline.domain.mention_rows import MentionRow
from kevin_pipeline.ingest.importer import import_mentions_file
from kevin_pipeline.settings import Settings
from tests.ingest.test_csv_every_line import assert_every_line_accounted
from tests.ingest.test_mention_parse import generated_files, render

EXAMPLES = int(os.environ.get("KEVIN_FUZZ_EXAMPLES", "400"))
# The import clock: after every generated publish time (they run to 2100), so none is "in the future".
AFTER_ALL = datetime(2101, 1, 2, tzinfo=UTC)
BIG_FILE_MB = int(os.environ.get("KEVIN_BIG_FILE_MB", "10"))


def fresh_runtime(tmp: Path) -> Runtime:
    engine = make_engine("sqlite://")  # in memory: the schema from the models, as migrated
    Base.metadata.create_all(engine)
    return Runtime(settings=Settings(state_dir=tmp), engine=engine, sessions=session_factory(engine))


def stored(runtime: Runtime) -> int:
    with runtime.sessions() as s:
        return s.scalar(select(func.count()).select_from(MentionRecord))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), fmt=st.sampled_from(["csv", "jsonl", "json"]))
def test_generated_files_import_every_good_row_once_and_report_every_bad_one(data, fmt):
    rows = data.draw(generated_files(fmt))
    text, lines = render(rows, fmt, data)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"calls.{fmt}"
        path.write_text(text, encoding="utf-8", newline="")
        runtime = fresh_runtime(Path(d))
        try:
            report = import_mentions_file(runtime, path, now=AFTER_ALL)
            if fmt == "csv":
                assert_every_line_accounted(path)
            bad_lines = sorted(line for g, line in zip(rows, lines) if g.kind == "bad")
            assert sorted(r.line for r in report.rejected) == bad_lines
            valid_keys = {
                (g.expected["video_id"], g.expected["symbol"], g.expected["action"].value, g.expected["horizon"].value)
                for g in rows if g.kind == "valid"
            }
            assert report.imported == stored(runtime) == len(valid_keys)
            again = import_mentions_file(runtime, path, now=AFTER_ALL)
            assert again.imported == 0 and stored(runtime) == len(valid_keys)
        finally:
            runtime.close()


_PHYSICAL = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@settings(max_examples=max(EXAMPLES // 2, 1), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_broken_quote_never_loses_a_line(data):
    """Break one line of a generated CSV file (drop its last closing quote, or open a quote at its
    second field): no line goes missing, and every valid row on another line is still stored."""
    rows = data.draw(generated_files("csv"))
    text, lines = render(rows, "csv", data)
    physical = _PHYSICAL.findall(text)
    candidates = [i for i, t in enumerate(physical) if i > 0 and t.strip()]
    if not candidates:
        return
    k = data.draw(st.sampled_from(candidates))
    content = physical[k].rstrip("\r\n")
    ending = physical[k][len(content):]
    content = content[:-1] if content.endswith('"') else content.replace(",", ',"', 1)
    physical[k] = content + ending
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "calls.csv"
        path.write_text("".join(physical), encoding="utf-8", newline="")
        items = assert_every_line_accounted(path)  # and never raises
    single_line = not any("\n" in str(v) or "\r" in str(v) for g in rows for v in g.cells.values())
    if single_line:
        kept = {(r.video_id, r.symbol, r.action.value, r.horizon.value) for r in items if isinstance(r, MentionRow)}
        for g, line in zip(rows, lines):
            if g.kind == "valid" and line != k + 1:
                e = g.expected
                assert (e["video_id"], e["symbol"], e["action"].value, e["horizon"].value) in kept


def test_large_file_imports_completely(tmp_path):
    path = tmp_path / "big.csv"
    line = "{i},2024-01-02T15:00:00+01:00,S{s},buy,0.7,weeks,\"a fairly long quote about ticker S{s} number {i}, repeated to pad the file\",title {i},chan\n"
    target = BIG_FILE_MB * 1024 * 1024
    with path.open("w") as fh:
        fh.write("video_id,published_at,symbol,action,conviction,time_horizon,quote,video_title,channel\n")
        i = 0
        while fh.tell() < target:
            fh.write(line.format(i=i, s=i % 500))
            if i % 1000 == 999:
                fh.write(f"bad{i},2024-01-02T15:00:00,S1,buy,0.7,weeks,,,\n")  # naive timestamp
            i += 1
    runtime = fresh_runtime(tmp_path)
    try:
        report = import_mentions_file(runtime, path, now=AFTER_ALL)
        assert report.imported == stored(runtime) == i
        assert len(report.rejected) == i // 1000 and all("published_at" in r.reason for r in report.rejected)
    finally:
        runtime.close()
