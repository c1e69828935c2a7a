"""Caption files become timed segments; a malformed one is a clear error naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kevin_pipeline.transcripts.files import read_caption_file
from kevin_pipeline.transcripts.models import TranscriptFileError

VTT = """WEBVTT
Kind: captions
Language: en

00:00:01.500 --> 00:00:04.000
I'm buying more <c>Nvidia</c> this week

00:01:05.250 --> 00:01:08.000
and trimming Tesla
"""

# YouTube's automatic captions: every cue repeats the previous cue's last line first.
ROLLING_VTT = """WEBVTT

00:00:00.000 --> 00:00:02.000
so today I am

00:00:02.000 --> 00:00:04.000
so today I am
buying Palantir

00:00:04.000 --> 00:00:06.000
buying Palantir
for the long term
"""

SRT = """1
00:00:02,000 --> 00:00:05,000
Apple is on my watchlist

2
00:02:10,500 --> 00:02:12,000
I'm selling Amazon
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_vtt_cues_keep_their_start_second_and_lose_their_tags(tmp_path: Path) -> None:
    t = read_caption_file(_write(tmp_path, "a.vtt", VTT), video_id="abc")
    assert t.source == "vtt" and t.video_id == "abc"
    assert [(s.start_seconds, s.text) for s in t.segments] == [
        (1.5, "I'm buying more Nvidia this week"),
        (65.25, "and trimming Tesla"),
    ]


def test_rolling_auto_captions_say_each_line_once(tmp_path: Path) -> None:
    t = read_caption_file(_write(tmp_path, "roll.vtt", ROLLING_VTT))
    assert t.text == "so today I am buying Palantir for the long term"
    assert [s.start_seconds for s in t.segments] == [0.0, 2.0, 4.0]


def test_srt_blocks(tmp_path: Path) -> None:
    t = read_caption_file(_write(tmp_path, "a.srt", SRT))
    assert [(s.start_seconds, s.text) for s in t.segments] == [
        (2.0, "Apple is on my watchlist"),
        (130.5, "I'm selling Amazon"),
    ]


def test_json3_events_join_their_word_pieces(tmp_path: Path) -> None:
    doc = {
        "wireMagic": "pb3",
        "events": [
            {"tStartMs": 0, "dDurationMs": 5000, "id": 1, "wpWinPosId": 1},  # a window event: no text
            {
                "tStartMs": 1200,
                "dDurationMs": 3000,
                "segs": [{"utf8": "loading"}, {"utf8": " up on", "tOffsetMs": 400}, {"utf8": " AMD"}],
            },
            {"tStartMs": 4200, "aAppend": 1, "segs": [{"utf8": "\n"}]},
            {"tStartMs": 9800, "segs": [{"utf8": "highest conviction"}]},
        ],
    }
    t = read_caption_file(_write(tmp_path, "a.en.json3", json.dumps(doc)))
    assert [(s.start_seconds, s.text) for s in t.segments] == [
        (1.2, "loading up on AMD"),
        (9.8, "highest conviction"),
    ]


def test_plain_text_has_paragraphs_without_times(tmp_path: Path) -> None:
    t = read_caption_file(_write(tmp_path, "notes.txt", "Buying Nvidia.\nStill.\n\n\nSelling   Intel.\n"))
    assert [(s.start_seconds, s.text) for s in t.segments] == [
        (None, "Buying Nvidia. Still."),
        (None, "Selling Intel."),
    ]


SRT_BAD_TIME = "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:0x,000 -> 00:00:05,000\nbroken\n"
VTT_BAD_TIME = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\n00:00:0x.000 --> 00:00:05.000\nbroken\n"
JSON3_CUT = '{"events": [\n{"tStartMs": 0, "segs": [{"utf8": "a"}]},\n{"tStartMs": \n'
JSON3_TEXT_TIME = '{"events": [{"tStartMs": "zero", "segs": [{"utf8": "a"}]}]}'
MALFORMED = [  # (file name, content, what the error must say)
    ("bad.vtt", VTT_BAD_TIME, "line 6: malformed cue"),
    ("nohead.vtt", "00:00:01.000 --> 00:00:02.000\nhello\n", "not a WebVTT file"),
    ("bad.srt", SRT_BAD_TIME, "line 5: malformed subtitle block"),
    ("bad.json3", JSON3_CUT, "line 4: not valid JSON"),
    ("shape.json3", JSON3_TEXT_TIME, "event 0: needs a numeric 'tStartMs'"),
    ("other.json3", '{"captions": []}', "no 'events' list"),
    ("empty.srt", "\n\n", "no caption text found"),
    ("notes.doc", "buy", "unknown caption format '.doc'"),
]


@pytest.mark.parametrize(("name", "text", "expected"), MALFORMED)
def test_a_malformed_file_names_itself_and_the_fault(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(TranscriptFileError) as info:
        read_caption_file(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


def test_not_utf8_and_missing_files_are_file_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.srt"
    latin.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nSoci\xe9t\xe9 G\xe9n\xe9rale\n".encode("latin-1"))
    with pytest.raises(TranscriptFileError, match=r"latin\.srt: not UTF-8 text \(invalid byte 0xe9"):
        read_caption_file(latin)
    with pytest.raises(TranscriptFileError, match="file not found"):
        read_caption_file(tmp_path / "gone.vtt")
