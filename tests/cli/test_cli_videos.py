"""`kevin channels`, `videos`, `extract`, `extract-eval` and the `--channel` filter of `backtest` and
`sweep`, as a user runs them (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import select

from kevin_pipeline.cli import main
from kevin_pipeline.db.models import Channel, Video
from kevin_pipeline.extraction.from_files import DEFAULT_EVALUATION_DIR
from tests.cli.conftest import BARS, cache_bars, count, scalar

UC = "UCabcdefghijklmnopqrstuv"
CHANNEL_CALLS = (
    "video_id,published_at,symbol,action,conviction,time_horizon,channel\n"
    "v1,2019-03-05T18:00:00-05:00,AAPL,buy,0.9,weeks,Meet Kevin\n"
    "v2,2019-03-06T12:00:00-05:00,NVDA,buy,0.8,days,Other Guy\n"
    "v3,2019-03-07T12:00:00-05:00,AAPL,hold,0.8,days,Meet Kevin\n"
)
VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
Welcome back everyone, quick market update today.

00:00:12.500 --> 00:00:16.000
I am buying more Nvidia here, this is a long term hold for me.

00:00:20.000 --> 00:00:24.000
And honestly I am selling my Tesla shares this week.
"""


def _import_channel_calls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "calls.csv"
    path.write_text(CHANNEL_CALLS)
    assert main(["import-mentions", str(path), "--now", "2024-01-01T00:00:00+00:00"]) == 0


# --- channels ----------------------------------------------------------------------------------


def test_channels_add_list_remove_keeps_videos_and_calls(kevin_env, tmp_path, capsys):
    _import_channel_calls(tmp_path)  # creates "Meet Kevin" (2 calls) and "Other Guy" (1) by name
    capsys.readouterr()
    assert main(["channels", "add", f"https://www.youtube.com/channel/{UC}", "--name", "Meet Kevin"]) == 0
    assert "updated channel" in capsys.readouterr().out  # the id attached to the named channel
    assert main(["channels", "add", "@newguy"]) == 0
    out = capsys.readouterr().out
    assert "added channel" in out and "note: stored by handle only" in out
    assert count(kevin_env, Channel) == 3

    assert main(["channels", "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    kevin_id = str(scalar(kevin_env, select(Channel.id).where(Channel.name == "Meet Kevin")))
    assert rows[kevin_id][1] == UC and rows[kevin_id][-3:] == ["yes", "2", "2"]  # active, 2 videos, 2 calls
    assert [r[-2:] for r in rows.values() if "@newguy" in r] == [["0", "0"]]

    assert main(["channels", "remove", UC]) == 0
    assert "kept its 2 videos and 2 calls" in capsys.readouterr().out
    assert scalar(kevin_env, select(Channel.active).where(Channel.name == "Meet Kevin")) is False
    assert main(["channels", "list"]) == 0
    assert "no (removed)" in capsys.readouterr().out
    assert main(["channels", "remove", "@newguy"]) == 0
    assert "kept its 0 videos and 0 calls" in capsys.readouterr().out


def test_channels_bad_inputs_exit_two(kevin_env, capsys):
    assert main(["channels", "add", "https://example.com/someone"]) == 2
    assert "is not a YouTube channel" in capsys.readouterr().err
    assert main(["channels", "add", UC, "--name", "Meet Kevin"]) == 0
    assert main(["channels", "remove", "@nobody"]) == 2
    err = capsys.readouterr().err
    assert "unknown channel '@nobody'" in err and "Meet Kevin" in err
    assert count(kevin_env, Channel) == 1


# --- videos ------------------------------------------------------------------------------------


def test_videos_add_and_list_with_status_and_reason(kevin_env, capsys):
    from kevin_pipeline.db.videos import mark_transcript_failed
    from kevin_pipeline.runtime import open_runtime

    assert main(["channels", "add", UC, "--name", "Meet Kevin"]) == 0
    assert main(["videos", "add", "https://youtu.be/abcdefghijk", "--published-at", "2024-03-05T10:00:00-05:00"]) == 0
    assert "added video abcdefghijk (published 2024-03-05 15:00 UTC)" in capsys.readouterr().out
    assert main(["videos", "add", "https://www.youtube.com/watch?v=bcdefghijkl", "--channel", UC,
                 "--published-at", "2024-03-06T10:00:00-05:00"]) == 0
    assert main(["videos", "add", "https://youtu.be/abcdefghijk", "--published-at", "2024-04-01T10:00:00Z"]) == 0
    assert "already stored" in capsys.readouterr().out
    assert count(kevin_env, Video) == 2
    published = scalar(kevin_env, select(Video.published_at).where(Video.video_id == "abcdefghijk"))
    assert published == datetime(2024, 3, 5, 15, tzinfo=timezone.utc)  # the first time stays
    with open_runtime() as runtime, runtime.transaction() as session:
        mark_transcript_failed(session, "bcdefghijkl", "captions disabled")

    assert main(["videos", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    assert [line.split()[0] for line in lines] == ["bcdefghijkl", "abcdefghijk"]  # newest first
    assert "failed" in lines[0] and "captions disabled" in lines[0] and "waiting" in lines[1]
    assert main(["videos", "list", "--status", "waiting", "--channel", "Meet Kevin"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]] == ["abcdefghijk"]
    assert main(["videos", "list", "--status", "none"]) == 0
    assert "no videos matching the filter" in capsys.readouterr().out


def test_videos_bad_inputs_exit_two_and_store_nothing(kevin_env, capsys):
    assert main(["channels", "add", UC, "--name", "Meet Kevin"]) == 0
    assert main(["channels", "add", "@otherguy"]) == 0
    capsys.readouterr()
    when = ["--published-at", "2024-03-05T10:00:00-05:00"]
    assert main(["videos", "add", "https://vimeo.com/12345", "--channel", UC, *when]) == 2
    assert "is not a YouTube video" in capsys.readouterr().err
    assert main(["videos", "add", "https://youtu.be/abcdefghijk", "--channel", "nobody", *when]) == 2
    err = capsys.readouterr().err
    assert "unknown channel 'nobody'" in err and "Meet Kevin" in err and "@otherguy" in err
    assert main(["videos", "add", "https://youtu.be/abcdefghijk", *when]) == 2  # two channels: say which
    assert "say which channel" in capsys.readouterr().err
    assert main(["videos", "add", "https://youtu.be/abcdefghijk", "--channel", UC,
                 "--published-at", "2024-03-05T10:00:00"]) == 2
    assert "give a UTC offset" in capsys.readouterr().err
    assert main(["videos", "list", "--channel", "nobody"]) == 2
    assert count(kevin_env, Video) == 0


# --- extract -----------------------------------------------------------------------------------


def test_extract_json_on_a_vtt_file_has_the_documented_shape(kevin_env, tmp_path, capsys):
    path = tmp_path / "video.vtt"
    path.write_text(VTT)
    assert main(["extract", str(path), "--json"]) == 0
    calls = json.loads(capsys.readouterr().out)
    assert [set(c) for c in calls] == [{"symbol", "action", "conviction", "horizon", "quote", "start_seconds"}] * 2
    assert [(c["symbol"], c["action"], c["horizon"], c["start_seconds"]) for c in calls] == [
        ("NVDA", "buy", "long_term", 12.5), ("TSLA", "sell", "days", 20.0)]
    assert calls[0]["conviction"] == 0.7 and calls[1]["quote"].startswith("And honestly I am selling my Tesla")

    assert main(["extract", str(path), "--json", "--published-at", "2024-03-05T10:00:00-05:00"]) == 0
    assert {c["published_at"] for c in json.loads(capsys.readouterr().out)} == {"2024-03-05T15:00:00+00:00"}
    assert main(["extract", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 calls in" in out and "nothing stored" in out and "NVDA" in out and "12.5" in out


def test_extract_json_on_plain_text_has_no_start_seconds(kevin_env, tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("Welcome back.\n\nI am buying more Nvidia here, long term.\n")
    assert main(["extract", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{
        "symbol": "NVDA", "action": "buy", "conviction": 0.7, "horizon": "long_term",
        "quote": "I am buying more Nvidia here, long term.", "start_seconds": None}]


def test_extract_malformed_or_unknown_file_exits_two_naming_file_and_problem(kevin_env, tmp_path, capsys):
    bad = tmp_path / "bad.vtt"
    bad.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:xx\nbroken cue\n")
    assert main(["extract", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and f"cannot read {bad}: line 3: malformed cue" in captured.err
    other = tmp_path / "video.mp4"
    other.write_text("x")
    assert main(["extract", str(other)]) == 2
    assert "unknown caption format '.mp4'" in capsys.readouterr().err


def test_extract_eval_prints_precision_recall_and_conviction_error(kevin_env, tmp_path, capsys):
    for name in ("01-cashtag-buy.yaml", "15-avoid.yaml"):
        shutil.copy(DEFAULT_EVALUATION_DIR / name, tmp_path / name)
    assert main(["extract-eval", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "on 2 passages" in out
    row = next(line.split() for line in out.splitlines() if line.startswith("symbol+action"))
    assert row[1:3] == ["1.000", "1.000"] and row[3] == row[5]  # every labelled call found, none extra
    assert "conviction: mean absolute error" in out

    assert main(["extract-eval", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err


# --- the channel filter of backtest and sweep --------------------------------------------------


def test_backtest_and_sweep_of_one_channel_use_only_its_calls(kevin_env, tmp_path, capsys):
    _import_channel_calls(tmp_path)
    cache_bars(pd.read_csv(BARS))
    capsys.readouterr()
    assert main(["backtest", "--channel", "Meet Kevin", "--json", "--no-save"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted((d["symbol"], d["action"]) for d in doc["decisions"]) == [("AAPL", "buy"), ("AAPL", "hold")]
    assert "the calls of channel Meet Kevin only" in doc["notes"]
    assert main(["backtest", "--json", "--no-save"]) == 0
    assert len(json.loads(capsys.readouterr().out)["decisions"]) == 3

    other_id = str(scalar(kevin_env, select(Channel.id).where(Channel.name == "Other Guy")))
    assert main(["sweep", "--channel", other_id, "--grid", "min_conviction=0.5,0.85", "--no-save"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    # Other Guy's one call (NVDA at conviction 0.8) trades above a 0.5 floor, not above 0.85.
    assert {r[-1]: r[-2] for r in rows} == {"0.5": "1", "0.85": "0"}


def test_backtest_and_sweep_of_an_unknown_channel_exit_two_listing_the_channels(kevin_env, tmp_path, capsys):
    _import_channel_calls(tmp_path)
    capsys.readouterr()
    assert main(["backtest", "--channel", "@nobody", "--no-save"]) == 2
    err = capsys.readouterr().err
    assert "unknown channel '@nobody'" in err and "Meet Kevin" in err and "Other Guy" in err
    assert main(["sweep", "--channel", "nobody", "--grid", "min_conviction=0.5", "--no-save"]) == 2
    assert "unknown channel 'nobody'" in capsys.readouterr().err
    assert main(["backtest", "--channel", "Meet Kevin", "--mentions", str(tmp_path / "calls.csv"), "--no-save"]) == 2
    assert "a --mentions file is read whole" in capsys.readouterr().err


def test_extract_eval_without_the_labelled_set_says_where_it_lives(kevin_env, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("kevin_pipeline.extraction.from_files.DEFAULT_EVALUATION_DIR", tmp_path / "absent")
    assert main(["extract-eval"]) == 2
    err = capsys.readouterr().err
    assert f"no labelled set at {tmp_path / 'absent'}" in err and "kevin extract-eval DIR" in err
