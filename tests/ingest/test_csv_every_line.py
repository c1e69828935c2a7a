"""CSV: every physical line is either stored or reported (item 10). A quote that is never closed
must not swallow the rows after it, and an over-long multi-line field is one rejection, not hundreds.
Genuine quoted multi-line fields keep working."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from kevin_pipeline.domain.mention_rows import MentionRow, RejectedRow
from kevin_pipeline.ingest.parse import iter_parse, parse_mentions_file

HEADER = "video_id,published_at,symbol,action,conviction,time_horizon,quote,video_title,channel"
_BREAK = re.compile(r"\r\n|\r|\n")


def row(vid: str, symbol: str = "NVDA", quote: str = "", conviction: str = "0.8") -> str:
    return f"{vid},2024-01-02T15:00:00Z,{symbol},buy,{conviction},weeks,{quote},t,c"


def physical_lines(text: str) -> list[str]:
    """The file's physical lines as Python's universal newlines split them (the parser's view)."""
    parts = _BREAK.split(text)
    return parts[:-1] if parts and parts[-1] == "" else parts


def data_lines(text: str) -> tuple[set[int], set[int]]:
    """Numbers of the non-blank lines after the header, and of every line after it (a blank line
    may sit inside a quoted multi-line field). Rows of empty cells count as blank."""
    lines = physical_lines(text)
    blank = {i for i, t in enumerate(lines, start=1) if not t.replace(",", "").strip()}
    header = min(set(range(1, len(lines) + 1)) - blank)
    after = set(range(header + 1, len(lines) + 1))
    return after - blank, after


def covered(items: list[MentionRow | RejectedRow]) -> set[int]:
    out: set[int] = set()
    for it in items:
        span = set(range(it.line, (getattr(it, "end_line", None) or it.line) + 1))
        assert not (span & out), f"line(s) {sorted(span & out)} accounted for twice"
        out |= span
    return out


def assert_every_line_accounted(path: Path) -> list[MentionRow | RejectedRow]:
    """Every non-blank line after the header is in exactly one stored or reported record."""
    items = list(iter_parse(path))
    data, after_header = data_lines(path.read_text(encoding="utf-8-sig"))
    lines = covered(items)
    assert data <= lines, f"line(s) {sorted(data - lines)} neither stored nor reported"
    assert lines <= after_header
    return items


def write(tmp_path: Path, text: str, name: str = "m.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8", newline="")
    return p


def stored(items) -> list[tuple[int, str]]:
    return [(r.line, r.video_id) for r in items if isinstance(r, MentionRow)]


def rejected(items) -> list[int]:
    return [r.line for r in items if isinstance(r, RejectedRow)]


def test_an_unbalanced_quote_no_longer_swallows_the_next_row(tmp_path):
    text = "\n".join([HEADER, row("v1", quote='"adding NVDA'), row("v2", "AMD"), row("v3", "AAPL", '"ok, quoted"')]) + "\n"
    items = assert_every_line_accounted(write(tmp_path, text))
    assert stored(items) == [(3, "v2"), (4, "v3")]
    (bad,) = [r for r in items if isinstance(r, RejectedRow)]
    assert bad.line == 2 and bad.reason.startswith("row: unbalanced quote") and "line 3 reads as a row" in bad.reason


def test_an_unbalanced_quote_before_a_row_with_quoted_fields(tmp_path):
    # The next row's own opening quote would "close" the broken one: it must still be its own row.
    text = "\n".join([HEADER, row("v1", quote='"oops'), row("v2", "AMD", '"fine"'), row("v3", "AAPL")]) + "\n"
    items = assert_every_line_accounted(write(tmp_path, text))
    assert stored(items) == [(3, "v2"), (4, "v3")] and rejected(items) == [2]


def test_an_unbalanced_quote_at_the_end_of_the_file(tmp_path):
    text = "\n".join([HEADER, row("v1"), row("v2", "AMD", '"never closed'), "free text, not a row", ""]) + "\n"
    items = assert_every_line_accounted(write(tmp_path, text))
    assert stored(items) == [(2, "v1")] and rejected(items) == [3, 4]
    assert "never closed" in [r for r in items if isinstance(r, RejectedRow)][0].reason


def test_an_unbalanced_quote_before_bad_rows_reports_each_of_them(tmp_path):
    text = "\n".join([
        HEADER,
        row("v1", quote='"oops'),  # 2
        row("v2", "AMD", conviction="1.7"),  # 3: a bad row, but still a row of its own
        row("v3", "AA PL"),  # 4: bad symbol
        row("v4", "TSLA", '"q"'),  # 5
    ]) + "\n"
    items = assert_every_line_accounted(write(tmp_path, text))
    assert stored(items) == [(5, "v4")]
    reasons = {r.line: r.reason.split(":")[0] for r in items if isinstance(r, RejectedRow)}
    assert reasons == {2: "row", 3: "conviction", 4: "symbol"}


def test_an_over_long_multi_line_field_is_one_rejection_and_the_next_row_is_kept(tmp_path):
    big = "\n".join(f"line {i} of a very long transcript pasted into the quote cell" for i in range(4000))
    assert len(big) > csv.field_size_limit()
    text = "\n".join([HEADER, row("v1"), row("v2", "AMD", f'"{big}"'), row("v3", "AAPL")]) + "\n"
    items = assert_every_line_accounted(write(tmp_path, text))
    assert stored(items) == [(2, "v1"), (4003, "v3")]
    (bad,) = [r for r in items if isinstance(r, RejectedRow)]
    assert (bad.line, bad.end_line) == (3, 4002)
    assert bad.reason.startswith("row: malformed CSV record (field larger than field limit")
    assert "(record on lines 3-4002)" in bad.reason


def test_a_multi_line_quote_too_long_for_the_column_is_one_rejection(tmp_path):
    quote = "\n".join(["word " * 30] * 100)  # over the 10,000 character cap, under csv's limit
    text = "\n".join([HEADER, row("v1", quote=f'"{quote}"'), row("v2", "AMD")]) + "\n"
    items = assert_every_line_accounted(write(tmp_path, text))
    assert stored(items) == [(102, "v2")]
    (bad,) = [r for r in items if isinstance(r, RejectedRow)]
    assert (bad.line, bad.end_line) == (2, 101) and bad.reason.startswith("quote: too long")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_genuine_multi_line_fields_keep_working(tmp_path, newline):
    records = [
        HEADER,
        row("v1", quote='"first line\nsecond, with a comma\n""quoted"" third"'),
        row("v2", "AMD", '"a line with commas inside a quote:\nv9,2024-01-02T15:00:00Z,ZZ,buy\nend"'),
        '"multi\nline id",2024-01-02T15:00:00Z,AAPL,buy,0.8,weeks,,t,c',  # a first column spanning lines
        row("v4", "TSLA"),
    ]
    text = newline.join(r.replace("\n", newline) for r in records) + newline
    items = assert_every_line_accounted(write(tmp_path, text))
    assert stored(items) == [(2, "v1"), (5, "v2"), (10, "v4")]
    rows = [r for r in items if isinstance(r, MentionRow)]
    assert rows[0].quote == f'first line{newline}second, with a comma{newline}"quoted" third' and rows[0].end_line == 4
    assert rows[1].end_line == 7 and rows[2].end_line is None
    (bad,) = [r for r in items if isinstance(r, RejectedRow)]
    assert (bad.line, bad.end_line) == (8, 9) and bad.reason.startswith("video_id: contains a control character")


def test_a_multi_line_first_column_is_not_taken_for_a_row(tmp_path):
    # The last line of the quote, `0",2024-...`, has the row's width but a stray quote: not a row.
    text = "quote," + HEADER.replace(",quote", "") + "\n" + '"so\n0",v1,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks,t,c\n'
    items = assert_every_line_accounted(write(tmp_path, text))
    assert stored(items) == [(2, "v1")] and items[0].quote == "so\n0"


def test_a_quote_inside_an_unquoted_field_is_literal(tmp_path):
    text = "\n".join([HEADER, row("v1", quote='a 5" screen'), row("v2", "AMD")]) + "\n"
    result = parse_mentions_file(write(tmp_path, text))
    assert [r.quote for r in result.rows] == ['a 5" screen', None] and result.rejected == []


@pytest.mark.parametrize(
    "lines",
    [
        [row("v1", quote='"x'), row("v2", quote='"y'), row("v3", quote='"z')],  # every row broken
        [row("v1", quote='"x'), "", "", row("v2")],  # blank lines after the broken one
        ['"v1,2024-01-02T15:00:00Z,NVDA,buy,0.8,weeks,,t,c', row("v2")],  # quote opening the row
        [row("v1", quote='"x'), "just text", "more text", row("v2", quote='"closed"')],
        [row("v1", quote='"a\nb"'), row("v2", quote='"c'), row("v3")],
        [row("v1"), 'v2,"2024-01-02T15:00:00Z,NVDA,buy,0.8', row("v3"), ",,,,,", row("v4", quote='"""')],
    ],
)
def test_malformed_files_account_for_every_line(tmp_path, lines):
    items = assert_every_line_accounted(write(tmp_path, "\n".join([HEADER, *lines]) + "\n"))
    assert any(isinstance(r, RejectedRow) for r in items)


def test_the_one_trade_off_a_whole_row_inside_a_quote_is_read_as_a_row(tmp_path):
    # A quoted field holding a line that is a complete row by itself cannot be told from a quote
    # that was never closed; kevin reads the line as a row, and still accounts for every line.
    text = "\n".join([HEADER, row("v1", quote='"pasted:\nv9,2024-01-02T15:00:00Z,ZZ,buy,0.8,weeks,x,t,c\nend"'), row("v2")]) + "\n"
    items = assert_every_line_accounted(write(tmp_path, text))
    assert (3, "v9") in stored(items) and 2 in rejected(items)
