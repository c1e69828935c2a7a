"""Tests for kevin_pipeline.ingest.parse: the pure mention-file parser (CSV, JSON, JSON Lines)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import types
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kevin_pipeline.domain.mention_rows import MentionRow, RejectedRow
from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.ingest.parse import (
    MentionFileError,
    ParseResult,
    iter_parse,
    parse_mentions_file,
)

HEADER = "video_id,published_at,symbol,action,conviction,time_horizon,quote,video_title,channel"
GOOD = "vid1,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks,Great chips,NVDA to the moon,Kevin"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8", newline="")
    return p


def csv_file(tmp_path: Path, *lines: str, name: str = "m.csv") -> Path:
    return write(tmp_path, name, "\n".join(lines) + "\n")


def only_rejection(result: ParseResult) -> RejectedRow:
    assert len(result.rejected) == 1, result.rejected
    return result.rejected[0]


# --------------------------------------------------------------------------------------------------
# happy path


def test_csv_good_rows_are_normalised(tmp_path: Path) -> None:
    p = csv_file(
        tmp_path,
        HEADER + ",extra_col",
        "vid1,2024-01-02T15:00:00Z,nvda,BUY,0.8,weeks,Great chips,NVDA to the moon,Kevin,ignored",
        " vid2 ,2024-01-02T15:00:00+05:30, brk.b ,  Sell ,1,Long-Term,,,,x",
        "vid3,2024-01-02T15:00:00-04:00,BF-B,hold,0,long term,  spaced  ,,,",
        "vid4,2024-01-02 15:00:00.5+00:00,T,watch,.12345,,,,,",
        "vid5,2024-01-02T15:00:00+00:00,A1,avoid,0.00005,INTRADAY,,,,",
    )
    result = parse_mentions_file(p)
    assert result.rejected == [] and result.duplicates_in_file == 0
    r1, r2, r3, r4, r5 = result.rows
    assert r1 == MentionRow(
        line=2,
        video_id="vid1",
        published_at=datetime(2024, 1, 2, 15, tzinfo=timezone.utc),
        symbol="NVDA",
        action=Action.BUY,
        conviction=Decimal("0.8000"),
        horizon=Horizon.WEEKS,
        quote="Great chips",
        video_title="NVDA to the moon",
        channel="Kevin",
    )
    assert (r2.line, r2.video_id, r2.symbol, r2.action, r2.horizon) == (
        3, "vid2", "BRK.B", Action.SELL, Horizon.LONG_TERM
    )
    assert r2.published_at == datetime(2024, 1, 2, 9, 30, tzinfo=timezone.utc)
    assert r2.published_at.utcoffset() == timedelta(0)
    assert (r2.quote, r2.video_title, r2.channel) == (None, None, None)
    assert r2.conviction == Decimal("1.0000")
    assert r3.published_at == datetime(2024, 1, 2, 19, tzinfo=timezone.utc)
    assert (r3.symbol, r3.horizon, r3.conviction, r3.quote) == (
        "BF-B", Horizon.LONG_TERM, Decimal("0"), "spaced"
    )
    assert r4.horizon == Horizon.UNSPECIFIED
    assert r4.conviction == Decimal("0.1234")  # ROUND_HALF_EVEN: 0.12345 -> 0.1234
    assert r4.published_at == datetime(2024, 1, 2, 15, 0, 0, 500000, tzinfo=timezone.utc)
    assert r5.horizon == Horizon.INTRADAY and r5.conviction == Decimal("0.0000")


@pytest.mark.parametrize(
    ("stamp", "utc"),
    [
        ("2024-03-10T12:00:00Z", datetime(2024, 3, 10, 12, tzinfo=timezone.utc)),
        ("2024-03-10T12:00:00z", datetime(2024, 3, 10, 12, tzinfo=timezone.utc)),
        ("2024-03-10T12:00:00+05:30", datetime(2024, 3, 10, 6, 30, tzinfo=timezone.utc)),
        ("2024-03-10T01:00:00+05:30", datetime(2024, 3, 9, 19, 30, tzinfo=timezone.utc)),
        ("2024-03-10T20:00:00-08:00", datetime(2024, 3, 11, 4, tzinfo=timezone.utc)),
    ],
)
def test_offsets_normalise_to_utc(tmp_path: Path, stamp: str, utc: datetime) -> None:
    p = csv_file(tmp_path, HEADER, f"v,{stamp},NVDA,buy,0.8,days,,,")
    (row,) = parse_mentions_file(p).rows
    assert row.published_at == utc
    assert row.published_at.tzinfo == timezone.utc


def test_bom_and_case_insensitive_headers(tmp_path: Path) -> None:
    header = " Video_ID ,PUBLISHED_AT,Symbol,  Action,Conviction ,Time Horizon,QUOTE"
    text = "\ufeff" + header + "\r\n" + "vid1,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks,hi\r\n"
    p = write(tmp_path, "m.csv", text)
    result = parse_mentions_file(p)
    assert result.rejected == []
    (row,) = result.rows
    assert (row.video_id, row.horizon, row.quote, row.line) == ("vid1", Horizon.WEEKS, "hi", 2)


def test_missing_time_horizon_column_means_unspecified(tmp_path: Path) -> None:
    p = csv_file(tmp_path, "video_id,published_at,symbol,action,conviction", "v,2024-01-02T15:00:00Z,NVDA,buy,0.8")
    (row,) = parse_mentions_file(p).rows
    assert row.horizon == Horizon.UNSPECIFIED


# --------------------------------------------------------------------------------------------------
# rejections: one bad row on line 3 (a good row on line 2, another good row on line 4)

BAD_CASES = [
    # (column, bad cell, exact reason)
    ("conviction", "1.7", "conviction: must be a number between 0 and 1 (got '1.7')"),
    ("conviction", "-0.1", "conviction: must be a number between 0 and 1 (got '-0.1')"),
    ("conviction", "1.00001", "conviction: must be a number between 0 and 1 (got '1.00001')"),
    ("conviction", "NaN", "conviction: must be a number between 0 and 1 (got 'NaN')"),
    ("conviction", "inf", "conviction: must be a number between 0 and 1 (got 'inf')"),
    ("conviction", "high", "conviction: must be a number between 0 and 1 (got 'high')"),
    ("conviction", "1e400", "conviction: must be a number between 0 and 1 (got '1e400')"),
    ("conviction", "0_5", "conviction: must be a number between 0 and 1 (got '0_5')"),
    ("conviction", "70%", "conviction: must be a number between 0 and 1 (got '70%')"),
    ("conviction", "", "conviction: missing"),
    (
        "published_at",
        "2024-01-02T10:00:00",
        "published_at: timestamp has no UTC offset (got '2024-01-02T10:00:00')",
    ),
    ("published_at", "2024-01-02", "published_at: timestamp has no UTC offset (got '2024-01-02')"),
    ("published_at", "yesterday", "published_at: not an ISO-8601 timestamp (got 'yesterday')"),
    (
        "published_at",
        "2024-02-30T10:00:00Z",
        "published_at: not an ISO-8601 timestamp (got '2024-02-30T10:00:00Z')",
    ),
    (
        "published_at",
        "1985-01-02T10:00:00Z",
        "published_at: year out of range 1990-2100 (got '1985-01-02T10:00:00Z')",
    ),
    (
        "published_at",
        "2101-01-01T03:00:00+05:00",  # 2100-12-31T22:00Z: in range once converted to UTC
        None,
    ),
    (
        "published_at",
        "2150-06-01T10:00:00+00:00",
        "published_at: year out of range 1990-2100 (got '2150-06-01T10:00:00+00:00')",
    ),
    (
        "published_at",
        "0001-01-01T00:00:00+05:00",
        "published_at: year out of range 1990-2100 (got '0001-01-01T00:00:00+05:00')",
    ),
    ("published_at", "", "published_at: missing"),
    (
        "action",
        "strong buy",
        "action: unknown action 'strong buy' (expected buy, sell, hold, avoid, watch)",
    ),
    ("action", "", "action: missing"),
    ("symbol", "NV DA", "symbol: invalid ticker 'NV DA'"),
    ("symbol", "1ABC", "symbol: invalid ticker '1ABC'"),
    ("symbol", "$NVDA", "symbol: invalid ticker '$NVDA'"),
    ("symbol", "ABCDEFGHIJK", "symbol: invalid ticker 'ABCDEFGHIJK'"),
    ("symbol", "BRK.", "symbol: invalid ticker 'BRK.'"),
    ("symbol", "NVD\u0410", "symbol: invalid ticker 'NVD\\u0410' (non-ASCII characters)"),  # Cyrillic А
    (
        "symbol",
        "\uff2e\uff36\uff24\uff21",  # fullwidth NVDA
        "symbol: invalid ticker '\\uff2e\\uff36\\uff24\\uff21' (non-ASCII characters)",
    ),
    ("symbol", "stra\u00dfe", "symbol: invalid ticker 'stra\\xdfe' (non-ASCII characters)"),
    ("symbol", "", "symbol: missing"),
    ("video_id", "", "video_id: missing"),
    ("video_id", "   ", "video_id: missing"),
    (
        "time_horizon",
        "years",
        "time_horizon: unknown horizon 'years' "
        "(expected intraday, days, weeks, months, long_term, unspecified)",
    ),
    ("quote", "a\x00b", "quote: contains a NUL character (got 'a\\x00b')"),
    (
        "quote",
        "q" * 10_001,
        "quote: too long (10001 chars, max 10000) (got '" + "q" * 40 + "'…(10001 chars))",
    ),
    ("video_title", "t" * 1_001, None),  # checked by prefix below
]


@pytest.mark.parametrize(("column", "cell", "reason"), BAD_CASES)
def test_csv_rejection_reasons(tmp_path: Path, column: str, cell: str, reason: str | None) -> None:
    fields = HEADER.split(",")
    bad = GOOD.split(",")
    bad[0] = "vid2" if column != "video_id" else cell
    bad[fields.index(column)] = cell
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([fields, GOOD.split(","), bad, ["vid3"] + GOOD.split(",")[1:]])
    p = write(tmp_path, "m.csv", out.getvalue())
    result = parse_mentions_file(p)
    if reason is None and column == "published_at":
        assert result.rejected == [] and len(result.rows) == 3
        return
    rej = only_rejection(result)
    assert rej.line == 3
    if reason is None:
        assert rej.reason.startswith(f"{column}: too long (1001 chars, max 1000)")
    else:
        assert rej.reason == reason
    assert [r.line for r in result.rows] == [2, 4]


def test_long_bad_values_are_truncated_and_escaped_in_reasons(tmp_path: Path) -> None:
    long_action = "really really really strong buy with a cherry on top, newline\nand more"
    p = write(tmp_path, "m.jsonl", json.dumps({**json.loads(_good_json()), "action": long_action}) + "\n")
    (rej,) = parse_mentions_file(p).rejected
    assert rej.line == 1
    assert rej.reason.startswith("action: unknown action 'really really really strong buy with a c'…(70 chars) (expected ")
    assert "\n" not in rej.reason


def test_csv_multiline_quoted_field_keeps_line_numbers(tmp_path: Path) -> None:
    text = (
        HEADER + "\n"
        + 'vid1,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks,"line one\nline two, with comma\n""quoted""",t,c\n'  # 2-4
        + "\n"  # 5: blank
        + "vid2,2024-01-02T15:00:00Z,AAPL,buy,9,weeks,,,\n"  # 6: bad conviction
        + 'vid3,2024-01-02T15:00:00Z,MSFT,buy,0.7,days,"a\r\nb",,\n'  # 7-8
        + "vid4,2024-01-02T15:00:00Z,NV DA,buy,0.7,days,,,\n"  # 9: bad symbol
        + "vid5,2024-01-02T15:00:00Z,TSLA,sell,0.7,days,,,\n"  # 10
    )
    result = parse_mentions_file(write(tmp_path, "m.csv", text))
    assert [(r.line, r.video_id) for r in result.rows] == [(2, "vid1"), (7, "vid3"), (10, "vid5")]
    assert result.rows[0].quote == 'line one\nline two, with comma\n"quoted"'
    assert result.rows[1].quote == "a\r\nb"
    assert [(r.line, r.reason.split(":")[0]) for r in result.rejected] == [(6, "conviction"), (9, "symbol")]


def test_csv_wrong_field_count_is_rejected_not_misread(tmp_path: Path) -> None:
    p = csv_file(
        tmp_path,
        HEADER,
        "vid1,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks,I like it, a lot,t,c",  # unquoted comma
        "vid2,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks",  # truncated row
        "vid3,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks,q,t,c,,",  # trailing empty cells: fine
        ",,,,,,,,",  # a row of empty cells: skipped like a blank line
    )
    result = parse_mentions_file(p)
    assert [r.line for r in result.rows] == [4]
    assert [(r.line, r.reason) for r in result.rejected] == [
        (2, "row: has 10 fields but the header has 9 (an unquoted comma?)"),
        (3, "row: has 6 fields but the header has 9"),
    ]


def test_csv_oversized_field_is_a_rejected_row(tmp_path: Path) -> None:
    huge = "x" * 200_000  # over csv.field_size_limit()
    text = HEADER + "\n" + f'vid1,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks,"{huge}",,\n' + GOOD + "\n"
    result = parse_mentions_file(write(tmp_path, "m.csv", text))
    rej = only_rejection(result)
    assert rej.line == 2 and rej.reason.startswith("row: malformed CSV record")
    assert [r.line for r in result.rows] == [3]


def test_duplicates_keep_first_and_are_counted(tmp_path: Path) -> None:
    p = csv_file(
        tmp_path,
        HEADER,
        GOOD,
        "vid1,2024-01-02T15:00:00Z,nvda,BUY,0.9,Weeks,other quote,,",  # same natural key
        "vid1,2024-01-02T15:00:00Z,NVDA,buy,0.8,days,,,",  # different horizon: not a duplicate
        GOOD,
        "vid1,2024-01-02T15:00:00Z,NVDA,buy,7,weeks,,,",  # rejected, not a duplicate
    )
    result = parse_mentions_file(p)
    assert [(r.line, r.conviction) for r in result.rows] == [(2, Decimal("0.8000")), (4, Decimal("0.8000"))]
    assert result.duplicates_in_file == 2
    assert [r.line for r in result.rejected] == [6]


# --------------------------------------------------------------------------------------------------
# JSON and JSON Lines


def _good_json(**over: object) -> str:
    obj: dict[str, object] = {
        "video_id": "vid1",
        "published_at": "2024-01-02T15:00:00Z",
        "symbol": "NVDA",
        "action": "buy",
        "conviction": 0.8,
        "time_horizon": "weeks",
    }
    obj.update(over)
    return json.dumps(obj)


def test_json_array(tmp_path: Path) -> None:
    items = [
        json.loads(_good_json()),
        json.loads(_good_json(video_id=12345, conviction="0.65", time_horizon=None, quote=None)),
        [1, 2, 3],
        json.loads(_good_json(video_id="vid3", conviction=True)),
        json.loads(_good_json(video_id="vid4", conviction=1.5)),
        "just a string",
        json.loads(_good_json(video_id="vid6", published_at=1704189600)),
        json.loads(_good_json(video_id="vid7", symbol=None)),
        json.loads(_good_json(video_id=1.5)),
        {"Video_ID": "vid9", "PUBLISHED_AT": "2024-01-02T15:00:00+05:30", "Symbol": "aapl",
         "action": "Watch", "conviction": 1, "video_title": 1984},
        json.loads(_good_json(video_id="vid10", quote=["a"])),
        json.loads(_good_json(video_id="vid11", time_horizon=3)),
    ]
    p = write(tmp_path, "m.json", json.dumps(items))
    result = parse_mentions_file(p)
    assert [(r.line, r.video_id) for r in result.rows] == [(1, "vid1"), (2, "12345"), (10, "vid9")]
    assert result.rows[0].conviction == Decimal("0.8000")
    assert result.rows[1].horizon == Horizon.UNSPECIFIED and result.rows[1].quote is None
    r = result.rows[2]
    assert (r.symbol, r.action, r.conviction, r.video_title) == ("AAPL", Action.WATCH, Decimal("1.0000"), "1984")
    assert r.published_at == datetime(2024, 1, 2, 9, 30, tzinfo=timezone.utc)
    assert [(r.line, r.reason) for r in result.rejected] == [
        (3, "row: expected a JSON object, got array"),
        (4, "conviction: must be a number between 0 and 1 (got True)"),
        (5, "conviction: must be a number between 0 and 1 (got 1.5)"),
        (6, "row: expected a JSON object, got string"),
        (7, "published_at: must be a string (got number 1704189600)"),
        (8, "symbol: missing"),
        (9, "video_id: must be a string or an integer (got 1.5)"),
        (11, "quote: must be a string or null (got array)"),
        (12, "time_horizon: must be a string (got number 3)"),
    ]


def test_json_object_with_mentions_array(tmp_path: Path) -> None:
    doc = {"source": "export", "Mentions": [json.loads(_good_json()), json.loads(_good_json(video_id="v2"))]}
    result = parse_mentions_file(write(tmp_path, "m.json", "\ufeff" + json.dumps(doc, indent=2)))
    assert [(r.line, r.video_id) for r in result.rows] == [(1, "vid1"), (2, "v2")]


def test_json_huge_numbers_and_nan_are_rejected_not_fatal(tmp_path: Path) -> None:
    big = "1" + "0" * 5000  # beyond Python's int-digit limit for int()
    raw = [big, "NaN", "1e999", "0.5"]
    text = "[" + ", ".join(
        _good_json(video_id=f"v{i}", conviction="@@").replace('"@@"', r) for i, r in enumerate(raw)
    ) + "]"
    result = parse_mentions_file(write(tmp_path, "m.json", text))
    assert [r.line for r in result.rows] == [4]
    reasons = [r.reason for r in result.rejected]
    assert [r.line for r in result.rejected] == [1, 2, 3]
    assert reasons[0].startswith("conviction: must be a number between 0 and 1 (got 1000000000")
    assert len(reasons[0]) < 120
    assert reasons[1] == "conviction: must be a number between 0 and 1 (got NaN)"
    assert reasons[2] == "conviction: must be a number between 0 and 1 (got 1E+999)"


def test_json_duplicate_keys_in_one_object_are_rejected(tmp_path: Path) -> None:
    text = '[{"video_id": "v", "published_at": "2024-01-02T15:00:00Z", "symbol": "NVDA", "Symbol": "AAPL",' \
           ' "action": "buy", "conviction": 0.8}]'
    (rej,) = parse_mentions_file(write(tmp_path, "m.json", text)).rejected
    assert (rej.line, rej.reason) == (1, "symbol: given more than once in the same object")


def test_jsonl_blank_and_broken_lines(tmp_path: Path) -> None:
    lines = [
        _good_json(),  # 1
        "",  # 2 blank
        "   ",  # 3 blank
        '{"video_id": "v2", "published_at": ',  # 4 broken
        _good_json(video_id="v5", conviction="1.7"),  # 5 bad conviction
        "[1, 2]",  # 6 not an object
        _good_json(video_id="v7", time_horizon="long-term"),  # 7
        "null",  # 8
        _good_json(),  # 9 duplicate of line 1
    ]
    p = write(tmp_path, "m.jsonl", "\r\n".join(lines))  # no trailing newline, CRLF
    result = parse_mentions_file(p)
    assert [(r.line, r.video_id) for r in result.rows] == [(1, "vid1"), (7, "v7")]
    assert result.rows[1].horizon == Horizon.LONG_TERM
    assert result.duplicates_in_file == 1
    got = [(r.line, r.reason) for r in result.rejected]
    assert got[0][0] == 4 and got[0][1].startswith("row: not valid JSON (")
    assert got[1:] == [
        (5, "conviction: must be a number between 0 and 1 (got '1.7')"),
        (6, "row: expected a JSON object, got array"),
        (8, "row: expected a JSON object, got null"),
    ]


def test_ndjson_extension_and_fmt_override(tmp_path: Path) -> None:
    assert len(parse_mentions_file(write(tmp_path, "m.ndjson", _good_json() + "\n")).rows) == 1
    p = write(tmp_path, "export.txt", HEADER + "\n" + GOOD + "\n")
    with pytest.raises(MentionFileError, match="extension"):
        parse_mentions_file(p)
    assert len(parse_mentions_file(p, fmt="csv").rows) == 1
    assert len(parse_mentions_file(p, fmt="CSV").rows) == 1
    with pytest.raises(MentionFileError, match="unknown format"):
        parse_mentions_file(p, fmt="xlsx")
    # the override beats the extension
    q = write(tmp_path, "m.json", _good_json() + "\n" + _good_json(video_id="v2") + "\n")
    assert [r.video_id for r in parse_mentions_file(q, fmt="jsonl").rows] == ["vid1", "v2"]


# --------------------------------------------------------------------------------------------------
# empty files and file-level errors


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("m.csv", ""),
        ("m.csv", "\ufeff"),
        ("m.csv", "\n\n"),
        ("m.csv", HEADER + "\n"),
        ("m.csv", HEADER),
        ("m.json", ""),
        ("m.json", "[]"),
        ("m.json", '{"mentions": []}'),
        ("m.jsonl", ""),
        ("m.jsonl", "\n  \n"),
    ],
)
def test_empty_files_give_empty_results(tmp_path: Path, name: str, text: str) -> None:
    result = parse_mentions_file(write(tmp_path, name, text))
    assert result == ParseResult(rows=[], rejected=[], duplicates_in_file=0)


def test_missing_column_is_a_file_error_naming_the_columns(tmp_path: Path) -> None:
    p = csv_file(tmp_path, "video_id,symbol,action", "v,NVDA,buy")
    with pytest.raises(MentionFileError, match="missing required column.*published_at, conviction"):
        parse_mentions_file(p)
    # also for a header-only file
    with pytest.raises(MentionFileError, match="published_at"):
        parse_mentions_file(csv_file(tmp_path, "video_id,symbol,action,conviction", name="h.csv"))
    # a semicolon-separated file gets a hint
    semi = csv_file(tmp_path, HEADER.replace(",", ";"), GOOD.replace(",", ";"), name="s.csv")
    with pytest.raises(MentionFileError, match="comma-separated"):
        parse_mentions_file(semi)


def test_duplicate_known_column_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(MentionFileError, match="'symbol' appears more than once"):
        parse_mentions_file(csv_file(tmp_path, HEADER + ",Symbol", GOOD + ",AAPL"))


def test_missing_file_and_directory_are_file_errors(tmp_path: Path) -> None:
    with pytest.raises(MentionFileError, match="not found"):
        parse_mentions_file(tmp_path / "nope.csv")
    d = tmp_path / "dir.csv"
    d.mkdir()
    with pytest.raises(MentionFileError):
        parse_mentions_file(d)


@pytest.mark.parametrize("name", ["m.csv", "m.jsonl", "m.json"])
def test_not_utf8_is_a_file_error(tmp_path: Path, name: str) -> None:
    body = (HEADER + "\n" + GOOD[:-1] + "caf\xe9\n") if name == "m.csv" else '[{"quote": "caf\xe9"}]'
    p = write(tmp_path, name, body.encode("latin-1"))
    with pytest.raises(MentionFileError, match="UTF-8"):
        parse_mentions_file(p)


@pytest.mark.parametrize(
    "text",
    ["[{", '{"video_id": "v"}', "42", '{"mentions": {"a": 1}}', '{"mentions": null}', "not json at all"],
)
def test_json_document_errors_are_file_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(MentionFileError):
        parse_mentions_file(write(tmp_path, "m.json", text))


def test_iter_parse_streams(tmp_path: Path) -> None:
    p = csv_file(tmp_path, HEADER, GOOD, "vid2,2024-01-02T15:00:00Z,NV DA,buy,0.8,weeks,,,", GOOD)
    gen = iter_parse(p)
    assert isinstance(gen, types.GeneratorType)
    first = next(gen)
    assert isinstance(first, MentionRow) and first.line == 2
    rest = list(gen)
    assert isinstance(rest[0], RejectedRow) and rest[0].line == 3
    assert isinstance(rest[1], MentionRow) and rest[1].line == 4  # iter_parse does not de-duplicate
    with pytest.raises(MentionFileError):
        next(iter_parse(tmp_path / "missing.jsonl"))


def test_many_rows(tmp_path: Path) -> None:
    n = 5_000
    lines = [HEADER] + [
        f"v{i},2024-01-02T15:00:00+01:00,S{i % 100},buy,0.{i % 10},days,quote {i},t,c" for i in range(n)
    ]
    result = parse_mentions_file(csv_file(tmp_path, *lines))
    assert len(result.rows) == n and result.rows[-1].line == n + 1


# --------------------------------------------------------------------------------------------------
# property test: random mixes of valid, duplicate and corrupted rows, in all three formats

FUZZ_EXAMPLES = int(os.environ.get("KEVIN_FUZZ_EXAMPLES", "200"))
COLUMNS = ["video_id", "published_at", "symbol", "action", "conviction", "time_horizon", "quote", "video_title", "channel"]
HORIZON_SPELLINGS = {
    "intraday": Horizon.INTRADAY,
    "Days": Horizon.DAYS,
    "WEEKS": Horizon.WEEKS,
    "months": Horizon.MONTHS,
    "long_term": Horizon.LONG_TERM,
    "Long-Term": Horizon.LONG_TERM,
    "long term": Horizon.LONG_TERM,
    "unspecified": Horizon.UNSPECIFIED,
    "": Horizon.UNSPECIFIED,
}
BAD_VALUES: dict[str, list[object]] = {
    "video_id": ["", "  ", "bad\x00id"],
    "published_at": [
        "2024-01-02T10:00:00", "2024-01-02", "yesterday", "2024-13-01T00:00:00Z",
        "1985-06-01T00:00:00Z", "2150-01-01T00:00:00+00:00", "", "10:00",
    ],
    "symbol": ["NV DA", "NVD\u0410", "\uff2e\uff36\uff24\uff21", "1ABC", "ABCDEFGHIJK", "$NVDA", "", "BRK.", "\u00df"],
    "action": ["strong buy", "", "BUY!", "b uy", "short", "sell\x00"],
    "time_horizon": ["years", "forever", "1d", "long--term!", "week"],
    "conviction": ["1.7", "-0.1", "NaN", "inf", "-Infinity", "abc", "", "1e400", "1.00001", "0_5", "true", "70%"],
    "quote": ["x" * 10_001, "a\x00b"],
    "video_title": ["t" * 1_001],
    "channel": ["c" * 1_001],
}
JSON_ONLY_BAD: dict[str, list[object]] = {
    "conviction": [True, False, 1.5, -1, [0.5], {"v": 0.5}, None],
    "symbol": [123, ["NVDA"]],
    "published_at": [1704189600, None],
    "action": [1, None],
    "video_id": [1.5, None, True],
    "quote": [["a"], {"a": 1}, False],
    "time_horizon": [1, ["weeks"]],
}

safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)


@dataclass
class GenRow:
    cells: dict[str, object]  # what goes into the file (None = empty cell / JSON null / absent)
    kind: str  # "valid", "dup" or "bad"
    bad_field: str | None = None  # "row" = structural (wrong field count, not JSON, not an object)
    expected: dict[str, object] | None = None


@st.composite
def valid_cells(draw: st.DrawFn, index: int) -> tuple[dict[str, object], dict[str, object]]:
    vid = f"v{index}-" + draw(st.text(alphabet="abcXYZ019_-", max_size=8))
    symbol = draw(st.from_regex(r"[A-Z](?:[A-Z0-9.\-]{0,8}[A-Z0-9])?", fullmatch=True))
    action = draw(st.sampled_from(list(Action)))
    horizon_text = draw(st.sampled_from(sorted(HORIZON_SPELLINGS)))
    conviction = draw(st.decimals(min_value=0, max_value=1, places=draw(st.integers(0, 6))))
    local = draw(st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2100, 12, 30)))
    offset = timezone(timedelta(minutes=draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))))
    stamp = local.replace(tzinfo=offset).isoformat(sep=draw(st.sampled_from(["T", " "])))
    if stamp.endswith("+00:00") and draw(st.booleans()):
        stamp = stamp[:-6] + "Z"
    pad = draw(st.sampled_from(["", " ", "  \t"]))
    quote, title, channel = draw(st.one_of(st.none(), safe_text)), draw(st.one_of(st.none(), safe_text)), draw(
        st.one_of(st.none(), safe_text)
    )
    action_text = draw(st.sampled_from([action.value, action.value.upper(), action.value.title()]))
    cells: dict[str, object] = {
        "video_id": pad + vid + pad,
        "published_at": pad + stamp,
        "symbol": pad + draw(st.sampled_from([symbol, symbol.lower()])) + pad,
        "action": action_text + pad,
        "conviction": conviction,
        "time_horizon": horizon_text,
        "quote": quote,
        "video_title": title,
        "channel": channel,
    }
    expected = {
        "video_id": vid,
        "published_at": local.replace(tzinfo=offset).astimezone(timezone.utc),
        "symbol": symbol,
        "action": action,
        "conviction": conviction.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN),
        "horizon": HORIZON_SPELLINGS[horizon_text],
        "quote": (quote.strip() or None) if quote is not None else None,
        "video_title": (title.strip() or None) if title is not None else None,
        "channel": (channel.strip() or None) if channel is not None else None,
    }
    return cells, expected


@st.composite
def generated_files(draw: st.DrawFn, fmt: str) -> list[GenRow]:
    rows: list[GenRow] = []
    for i in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["valid", "valid", "dup", "bad", "bad"]))
        valid_so_far = [r for r in rows if r.kind == "valid"]
        if kind == "dup" and valid_so_far:
            orig = draw(st.sampled_from(valid_so_far))
            cells = dict(orig.cells)
            cells["conviction"] = draw(st.decimals(min_value=0, max_value=1, places=2))  # still the same key
            cells["quote"] = draw(st.one_of(st.none(), safe_text))
            rows.append(GenRow(cells, "dup"))
            continue
        cells, expected = draw(valid_cells(i))
        if kind != "bad":
            rows.append(GenRow(cells, "valid", expected=expected))
            continue
        fields = sorted(BAD_VALUES) + ["row"]
        field_name = draw(st.sampled_from(fields))
        if field_name == "row":
            rows.append(GenRow(cells, "bad", "row"))
            continue
        choices = list(BAD_VALUES[field_name])
        if fmt != "csv":
            choices += JSON_ONLY_BAD.get(field_name, [])
        cells[field_name] = draw(st.sampled_from(choices))
        rows.append(GenRow(cells, "bad", field_name))
    return rows


def _json_value(v: object) -> object:
    if isinstance(v, Decimal):
        return float(v) if v == v.to_integral_value() or len(str(v)) < 12 else str(v)
    return v


def _json_obj(cells: dict[str, object], drop_nones: bool) -> dict[str, object]:
    return {k: _json_value(v) for k, v in cells.items() if not (drop_nones and v is None)}


def render(rows: list[GenRow], fmt: str, data: st.DataObject) -> tuple[str, list[int]]:
    """Serialise rows; return the file text and each row's expected line (or element index)."""
    n_breaks = re.compile(r"\r\n|\r|\n")
    lines: list[int] = []
    if fmt == "json":
        items: list[object] = []
        for r in rows:
            if r.bad_field == "row":
                items.append(data.draw(st.sampled_from([[1, 2], "str", 3, None, True])))
            else:
                items.append(_json_obj(r.cells, drop_nones=data.draw(st.booleans())))
            lines.append(len(items))
        return json.dumps(items, ensure_ascii=data.draw(st.booleans()), indent=data.draw(st.sampled_from([None, 1]))), lines
    out: list[str] = []
    line = 1
    if fmt == "csv":
        order = data.draw(st.permutations(COLUMNS + ["extra"]))
        header = [data.draw(st.sampled_from([c, c.upper(), f" {c.title()} "])) for c in order]
        term = data.draw(st.sampled_from(["\r\n", "\n"]))
        quoting = csv.QUOTE_MINIMAL if term == "\r\n" else csv.QUOTE_ALL  # bare \r in a field needs quotes

        def record(cells: list[str]) -> str:
            buf = io.StringIO()
            csv.writer(buf, lineterminator=term, quoting=quoting).writerow(cells)
            return buf.getvalue()

        text = record(header)
        out.append(text)
        line += len(n_breaks.findall(text))
    for r in rows:
        while data.draw(st.integers(0, 4)) == 0:  # sprinkle blank lines
            out.append("\n" if fmt == "csv" else data.draw(st.sampled_from(["\n", "  \n"])))
            line += 1
        lines.append(line)
        if fmt == "csv":
            cells = ["" if r.cells.get(c) is None else str(r.cells[c]) for c in order if c != "extra"]
            cells.insert(order.index("extra"), "x")
            if r.bad_field == "row":
                cells.append(data.draw(st.sampled_from(["surplus", "a,b"])))  # extra non-empty field
            text = record(cells)
        else:
            if r.bad_field == "row":
                text = data.draw(st.sampled_from(['{"video_id": "x", ', "[1, 2]", "nul", '"str"', "{]"])) + "\n"
            else:
                text = json.dumps(_json_obj(r.cells, drop_nones=data.draw(st.booleans())), ensure_ascii=False) + "\n"
        out.append(text)
        line += len(n_breaks.findall(text))
    return "".join(out), lines


def check(rows: list[GenRow], fmt: str, data: st.DataObject) -> None:
    text, lines = render(rows, fmt, data)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"m.{fmt}"
        p.write_text(text, encoding="utf-8", newline="")
        result = parse_mentions_file(p)  # must never raise
    assert len(result.rows) + len(result.rejected) + result.duplicates_in_file == len(rows)
    assert result.duplicates_in_file == sum(r.kind == "dup" for r in rows)
    by_line_ok = {r.line: r for r in result.rows}
    by_line_bad = {r.line: r for r in result.rejected}
    assert len(by_line_ok) == len(result.rows) and len(by_line_bad) == len(result.rejected)
    for g, line in zip(rows, lines):
        if g.kind == "valid":
            got = by_line_ok.pop(line)
            made_by = {"extractor", "extractor_version", "start_seconds"}  # a file row: none of them
            assert got.model_dump(exclude={"line", "end_line", *made_by}) == g.expected
            assert got.model_dump(include=made_by) == dict.fromkeys(made_by)
            assert got.published_at.utcoffset() == timedelta(0)
        elif g.kind == "bad":
            rej = by_line_bad.pop(line)
            assert rej.reason.split(":", 1)[0] == g.bad_field, rej.reason
    assert by_line_ok == {} and by_line_bad == {}


fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@fuzz
@given(data=st.data())
def test_property_csv(data: st.DataObject) -> None:
    check(data.draw(generated_files("csv")), "csv", data)


@fuzz
@given(data=st.data())
def test_property_jsonl(data: st.DataObject) -> None:
    check(data.draw(generated_files("jsonl")), "jsonl", data)


@fuzz
@given(data=st.data())
def test_property_json(data: st.DataObject) -> None:
    check(data.draw(generated_files("json")), "json", data)
