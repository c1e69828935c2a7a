"""`call_scores` / `channel_skill` are `research.skill.skill_report` seen from Dagster: the same
tables, metadata that states the same numbers, and a check that catches a call the scoring lost."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from kevin_pipeline.defs.assets import ALL_ASSETS
from kevin_pipeline.defs.common import md_table
from kevin_pipeline.defs.skill import call_scores_old_calls_explained, skill_assets
from kevin_pipeline.domain.score_coverage import score_coverage
from kevin_pipeline.ingest.importer import sample_mentions_path
from kevin_pipeline.market_data.bundled import bundled_symbols
from kevin_pipeline.research.skill import SkillReport, skill_report, skill_rows
from tests.skill_prices import CAL, published_into

N_BOOT = 200
RUN_CONFIG = {"ops": {"skill_assets": {"config": {"n_boot": N_BOOT, "seed": 7}}}}


def seed_sample(kevin) -> None:
    kevin.seed_mentions(sample_mentions_path().read_text(), name="sample.csv")
    kevin.seed_bars(symbols=bundled_symbols(), start=date(2013, 1, 2), end=date(2022, 12, 28))


def materialize_skill(kevin, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*ALL_ASSETS, skill_assets, call_scores_old_calls_explained],
        resources=kevin.resources,
        selection=dg.AssetSelection.assets(skill_assets),
        run_config=RUN_CONFIG,
        **kwargs,
    )


def expected_report(kevin) -> SkillReport:
    with kevin.runtime.sessions() as s:
        return skill_report(s, n_boot=N_BOOT, seed=7)


def test_the_assets_are_the_research_report_and_the_metadata_says_so(kevin):
    seed_sample(kevin)
    result = materialize_skill(kevin)
    assert result.success
    expected = expected_report(kevin)

    scores = result.output_for_node("skill_assets", "call_scores")
    pd.testing.assert_frame_equal(scores, expected.scores)
    report = result.output_for_node("skill_assets", "channel_skill")
    pd.testing.assert_frame_equal(report.channels, expected.channels)
    pd.testing.assert_frame_equal(report.event, expected.event)

    meta = {m.asset_key.to_user_string(): m.metadata for m in result.get_asset_materialization_events()
            for m in [m.event_specific_data.materialization]}
    s_meta, c_meta = meta["call_scores"], meta["channel_skill"]
    # the sample's calls: every buy/sell/avoid row of the file (holds and watches are not calls)
    sample = pd.read_csv(sample_mentions_path())
    n_calls = int(sample["action"].isin(["buy", "sell", "avoid"]).sum())
    assert s_meta["calls"].value == n_calls == expected.scores["mention_id"].nunique() == 117
    for h in (1, 5, 20, 60):
        at = expected.scores[expected.scores["horizon"] == h]
        assert s_meta[f"scored_{h}"].value == int((at["status"] == "scored").sum())
        assert s_meta[f"unscored_{h}"].value == int((at["status"] == "unscored").sum())
        assert s_meta[f"open_{h}"].value == int((at["status"] == "open").sum())
    # TSLA, PLTR, MSFT, AMD have no bundled bars: their calls are unscored, each with its reason
    calls = sample[sample["action"].isin(["buy", "sell", "avoid"])]
    no_bars = calls[calls["symbol"].isin(["TSLA", "PLTR", "MSFT", "AMD"])]
    assert s_meta["unscored_60"].value >= len(no_bars) > 0
    assert "no bars for TSLA" in s_meta["unscored_reasons"].value

    assert c_meta["channels"].value == 1
    assert c_meta["table"].value == md_table(skill_rows(expected), limit=50).value
    [channel] = expected.channels.to_dict("records")
    assert c_meta["verdicts"].value == f"{channel['verdict']}: 1"
    assert (c_meta["seed"].value, c_meta["n_boot"].value) == (7, N_BOOT)
    assert c_meta["rule"].value == expected.rule


def test_the_check_passes_on_the_bundled_sample(kevin):
    seed_sample(kevin)
    [evaluation] = materialize_skill(kevin).get_asset_check_evaluations()
    assert evaluation.passed, evaluation.description
    meta = evaluation.metadata
    assert meta["newest_bar"].value == "2022-12-28"
    # every call whose 60th session is on or before the newest bar is counted: hand-count them
    expected = expected_report(kevin).scores
    at60 = expected[expected["horizon"] == 60]
    old = at60[at60["end_date"] <= pd.Timestamp("2022-12-28")]
    assert meta["old_calls"].value == len(old) > 100
    assert meta["scored"].value + meta["unscored_with_reason"].value == len(old)
    assert meta["unscored_with_reason"].value >= 1 and meta["unexplained"].value == 0


class _Stored(dg.IOManager):
    """Hands the check a call_scores table made by hand, as if the IO manager had stored it."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def handle_output(self, context, obj) -> None:  # pragma: no cover - the check writes nothing
        raise AssertionError("the check stores nothing")

    def load_input(self, context) -> pd.DataFrame:
        return self.frame


def test_the_check_fails_when_the_stored_scores_lost_a_call_or_a_reason(kevin):
    seed_sample(kevin)
    scores = expected_report(kevin).scores.copy()
    old = scores[(scores["horizon"] == 60) & (scores["status"] == "scored")]
    lost, blank = old["mention_id"].iloc[0], old["mention_id"].iloc[1]
    scores = scores[scores["mention_id"] != lost]
    scores.loc[(scores["mention_id"] == blank) & (scores["horizon"] == 20), ["status", "reason"]] = ["unscored", " "]
    result = dg.materialize(
        [*ALL_ASSETS, skill_assets, call_scores_old_calls_explained],
        resources={**kevin.resources, "io_manager": dg.IOManagerDefinition.hardcoded_io_manager(_Stored(scores))},
        selection=dg.AssetSelection.checks(call_scores_old_calls_explained),
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["unexplained"].value == 2
    listed = evaluation.metadata["first_unexplained"].value
    assert f"mention {lost} " in listed and "no score at all" in listed
    assert f"mention {blank} " in listed and "unscored at 20 sessions without a reason" in listed


def test_no_mentions_yet_is_two_empty_tables_not_a_failure(kevin):
    result = materialize_skill(kevin)
    assert result.success
    assert result.output_for_node("skill_assets", "call_scores").empty
    assert result.output_for_node("skill_assets", "channel_skill").channels.empty
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed


def test_no_benchmark_bars_fails_the_asset_with_the_reason(kevin):
    kevin.seed_mentions()
    kevin.seed_bars(symbols=("NVDA", "AMZN", "AAPL"))
    result = materialize_skill(kevin, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "no bars for the benchmark SPY" in str(failure.event_specific_data.error)


# --- the check's arithmetic (domain.score_coverage) on a hand-made case ---------------------------

NEWEST = date(2024, 6, 28)


def _case() -> tuple[pd.DataFrame, pd.DataFrame]:
    boundary = CAL.sessions_later(NEWEST, -59)  # its 60th session is NEWEST itself: old enough
    young = CAL.sessions_later(NEWEST, -58)  # one session short
    early = date(2024, 1, 3)
    calls = pd.DataFrame([
        (1, "AAA", "buy", published_into(early)),
        (2, "BBB", "sell", published_into(early)),
        (3, "CCC", "avoid", published_into(boundary)),
        (4, "DDD", "buy", published_into(boundary)),
        (5, "EEE", "buy", published_into(young)),
        (6, "FFF", "hold", published_into(early)),
        (7, "GGG", "buy", published_into(early)),
    ], columns=["mention_id", "symbol", "action", "published_at"])
    rows = []
    for h in (1, 5, 20, 60):
        rows += [(1, h, "scored", ""), (2, h, "unscored", "no bar for BBB on 2024-01-10"),
                 (3, h, "scored" if h < 60 else "open", ""), (5, h, "scored" if h < 60 else "open", ""),
                 (7, h, "unscored" if h == 20 else "scored", "" if h != 20 else None)]
        # call 4 is missing altogether
    scores = pd.DataFrame(rows, columns=["mention_id", "horizon", "status", "reason"])
    return calls, scores


def test_coverage_counts_scored_explained_and_lists_the_rest_in_publish_order():
    calls, scores = _case()
    cov = score_coverage(calls, scores, NEWEST)
    assert (cov.old_calls, cov.scored, cov.explained) == (5, 1, 1)  # 1..4 and 7; 5 is young, 6 a hold
    assert [line.split(" (")[0] for line in cov.unexplained] == ["mention 7", "mention 3", "mention 4"]
    assert cov.unexplained[0].endswith("unscored at 20 sessions without a reason")
    assert cov.unexplained[1].endswith("open at 60 sessions without a reason")
    assert cov.unexplained[2].endswith("no score at all")
    assert not cov.ok


def test_one_session_later_the_young_call_is_old_too():
    calls, scores = _case()
    cov = score_coverage(calls, scores, CAL.sessions_later(NEWEST, 1))
    assert cov.old_calls == 6 and "mention 5" in cov.unexplained[-1]


@pytest.mark.parametrize("sessions", [20, 60])
def test_horizons_beyond_the_window_are_not_looked_at(sessions):
    calls, scores = _case()
    calls = calls[calls["mention_id"] == 3]
    cov = score_coverage(calls, scores, NEWEST, sessions=sessions)
    assert cov.ok == (sessions == 20)  # at 20 sessions call 3 is scored; its 60 is still open
