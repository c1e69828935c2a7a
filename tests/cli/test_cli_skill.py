"""`kevin skill`: the per-channel table and its JSON, with numbers known by hand (SQLite and PostgreSQL).

The prices (`tests.skill_prices`) make every number exact: a buy of AAA beats SPY by 1.01^h - 1 over
h sessions; a sell is wrong by as much.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from kevin_pipeline.cli import main
from kevin_pipeline.ingest.importer import sample_mentions_path
from kevin_pipeline.market_data.bundled import bundled_symbols, load_bundled_bars
from tests.cli.conftest import cache_bars
from tests.skill_prices import SESSIONS, published_into
from tests.skill_prices import steady_bars as bars

HEADER = "video_id,published_at,symbol,action,conviction,time_horizon,quote,video_title,channel\n"


def line(n: int, entry: int, action: str, channel: str) -> str:
    """Video n, published an hour after the close before SESSIONS[entry]: it enters that open."""
    return f"v{n},{published_into(SESSIONS[entry]).isoformat()},AAA,{action},0.8,weeks,q,t,{channel}\n"


def import_calls(tmp_path) -> None:
    rows = [line(i, i, "buy", "Alpha") for i in range(1, 36)]  # 35 buys entering sessions 1..35
    rows.append(line(36, 100, "buy", "Alpha"))  # 60 sessions from session 100: past the data
    rows += [line(40 + i, 2 * i + 1, "sell", "Beta") for i in range(5)]
    rows.append(line(50, 11, "hold", "Beta"))  # not a call
    path = tmp_path / "calls.csv"
    path.write_text(HEADER + "".join(rows))
    assert main(["import-mentions", str(path)]) == 0


def run_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["skill", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_table_shows_the_hand_computed_numbers(kevin_env, tmp_path, capsys):
    import_calls(tmp_path)
    cache_bars(bars())
    capsys.readouterr()
    assert main(["skill"]) == 0
    out = capsys.readouterr().out
    alpha = next(row for row in out.splitlines() if row.startswith("Alpha"))
    beta = next(row for row in out.splitlines() if row.startswith("Beta"))
    # calls, scored@20, mean at 1, 5, 20, 60 sessions, the CI (one point: every call the same), hit
    assert alpha.split()[:7] == ["Alpha", "36", "36", "+1.00%", "+5.10%", "+22.02%", "+81.67%"]
    assert "[+22.02%, +22.02%]" in alpha and "100%" in alpha and alpha.rstrip().endswith("skilled")
    assert beta.split()[:6] == ["Beta", "5", "5", "-1.00%", "-5.10%", "-22.02%"]
    assert beta.rstrip().endswith("too few calls")
    assert "verdict rule: Verdict on the 20-session abnormal return" in out


def test_json_has_the_same_numbers_as_fractions(kevin_env, tmp_path, capsys):
    import_calls(tmp_path)
    cache_bars(bars())
    doc = run_json(capsys)
    assert (doc["benchmark"], doc["verdict_horizon"], doc["horizons"]) == ("SPY", 20, [1, 5, 20, 60])
    channels = {c["channel"]: c for c in doc["channels"]}
    alpha, beta = channels["Alpha"], channels["Beta"]
    for h in (1, 5, 20):
        assert alpha[f"mean_{h}"] == pytest.approx(1.01**h - 1)
        assert beta[f"mean_{h}"] == pytest.approx(-(1.01**h - 1))
    assert (alpha["calls"], alpha["n_scored_60"], alpha["n_open_60"]) == (36, 35, 1)
    assert alpha["mean_60"] == pytest.approx(1.01**60 - 1)
    assert (alpha["hit_rate_20"], beta["hit_rate_20"]) == (1.0, 0.0)
    assert alpha["ci_low_20"] == pytest.approx(1.01**20 - 1) and alpha["verdict"] == "skilled"
    assert {(t["channel"], t["symbol"]) for t in doc["tickers"]} == {("Alpha", "AAA"), ("Beta", "AAA")}


def test_one_channel_and_as_of(kevin_env, tmp_path, capsys):
    import_calls(tmp_path)
    cache_bars(bars())
    assert [c["channel"] for c in run_json(capsys, "--channel", "Beta")["channels"]] == ["Beta"]
    # bars up to session 40: a call entering session e is scored at 20 when e + 19 <= 40
    [alpha] = [c for c in run_json(capsys, "--as-of", SESSIONS[40].isoformat())["channels"] if c["channel"] == "Alpha"]
    assert (alpha["n_scored_20"], alpha["n_open_20"]) == (21, 15)
    assert alpha["verdict"] == "too few calls"


def test_the_seed_moves_the_interval_not_the_mean(kevin_env, capsys):
    assert main(["import-mentions", str(sample_mentions_path())]) == 0
    cache_bars(load_bundled_bars(bundled_symbols(), date(2013, 1, 2), date(2022, 12, 28)))
    default, same, other = run_json(capsys), run_json(capsys, "--seed", "13"), run_json(capsys, "--seed", "14")
    [d], [s], [o] = default["channels"], same["channels"], other["channels"]
    assert d == s  # 13 is the default seed: the same intervals to the last digit
    assert o["mean_20"] == d["mean_20"] and o["n_scored_20"] == d["n_scored_20"] == 111
    assert o["ci_low_20"] != d["ci_low_20"]


def test_nothing_to_score_exits_two_with_the_reason(kevin_env, tmp_path, capsys):
    assert main(["skill"]) == 2
    assert "no mentions to score" in capsys.readouterr().err
    import_calls(tmp_path)
    assert main(["skill", "--channel", "Gamma"]) == 2
    assert "no mentions of channel 'Gamma' (channels: Alpha, Beta)" in capsys.readouterr().err
    cache_bars(bars(("AAA",)))
    assert main(["skill"]) == 2
    assert "no bars for the benchmark SPY" in capsys.readouterr().err
