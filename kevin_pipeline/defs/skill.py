"""Is each channel skilled? `call_scores` and `channel_skill`, the Dagster view of
`research.skill.skill_report` -- the same function `kevin skill` prints and the /channels page draws.

    mentions ──┬──► call_scores     one row per call and horizon: scored | open | unscored + reason
    price_bars ┘    channel_skill   the SkillReport: per channel and ticker, verdicts, event study

Both come out of ONE `skill_report` call (a multi-asset), so they always describe the same scoring.
Nothing is written to the app database: the scores are computed on demand from the stored calls
and cached bars, and the tables go through the IO manager; the metadata shows the per-channel table.

The check `call_scores_old_calls_explained`: every buy/sell/avoid call old enough for its
60-session horizon (as of the newest bar) is scored, or says why not (`domain.score_coverage`).
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from sqlalchemy import func, select

from kevin_pipeline.db.models import PriceBar
from kevin_pipeline.defs.assets import mentions, price_bars
from kevin_pipeline.defs.common import bullet_list, md_table
from kevin_pipeline.defs.resources import KevinRuntimeResource
from kevin_pipeline.domain.call_scoring import STATUS_OPEN, STATUS_SCORED, STATUS_UNSCORED
from kevin_pipeline.domain.channel_skill import N_BOOT, SEED
from kevin_pipeline.domain.score_coverage import COVERAGE_SESSIONS, score_coverage
from kevin_pipeline.research.skill import SkillInputError, load_calls, skill_report, skill_rows

CALL_SCORES, CHANNEL_SKILL = "call_scores", "channel_skill"


class SkillConfig(dg.Config):
    seed: int = SEED  # the bootstrap's seed: the same seed gives the same intervals
    n_boot: int = N_BOOT  # bootstrap draws per channel, ticker and horizon


def _status_counts(scores: pd.DataFrame) -> dict[str, int]:
    """`scored_20`, `open_20`, `unscored_20`, ... per horizon (calls, not rows)."""
    out: dict[str, int] = {}
    if scores.empty:  # no calls at all: the report's tables have no columns either
        return out
    for h, group in scores.groupby("horizon", sort=True):
        for status in (STATUS_SCORED, STATUS_OPEN, STATUS_UNSCORED):
            out[f"{status}_{h}"] = int((group["status"] == status).sum())
    return out


@dg.multi_asset(
    outs={
        CALL_SCORES: dg.AssetOut(
            group_name="research", kinds={"pandas"},
            description="Every buy/sell/avoid call scored against the benchmark at 1, 5, 20 and 60 sessions "
                        "from the first open after the video (domain.call_scoring).",
        ),
        CHANNEL_SKILL: dg.AssetOut(
            group_name="research", kinds={"pandas"},
            description="Per channel and ticker: mean abnormal return, hit rate, t, day-clustered bootstrap CI "
                        "and a verdict; the event study (research.skill.SkillReport).",
        ),
    },
    deps=[mentions, price_bars],
)
def skill_assets(
    context: dg.AssetExecutionContext, config: SkillConfig, kevin_runtime: KevinRuntimeResource
) -> Iterator[dg.Output]:
    """One scoring of the stored calls on the cached bars, yielded as both assets (on a fresh
    machine with no mentions: two empty tables, not a failure; calls without benchmark bars: a
    failure that says which bars to load)."""
    runtime = kevin_runtime.runtime
    benchmark = runtime.settings.strategy_params().benchmark_symbol
    try:
        with runtime.sessions() as session:
            report = skill_report(session, benchmark=benchmark, n_boot=config.n_boot, seed=config.seed)
    except SkillInputError as exc:
        raise dg.Failure(f"cannot score the calls: {exc}") from None
    for note in report.notes:
        context.log.warning(note)
    scores = report.scores
    reasons = scores.loc[scores["status"] == STATUS_UNSCORED, "reason"].value_counts() if not scores.empty else {}
    yield dg.Output(
        scores,
        output_name=CALL_SCORES,
        metadata={
            "calls": int(scores["mention_id"].nunique()) if not scores.empty else 0,
            "benchmark": benchmark,
            **_status_counts(scores),
            "unscored_reasons": md_table([{"reason": r, "rows": int(n)} for r, n in reasons.items()]),
            "dagster/row_count": len(scores),
        },
    )
    channels = report.channels
    verdicts = channels["verdict"].value_counts() if not channels.empty else pd.Series(dtype=int)
    yield dg.Output(
        report,
        output_name=CHANNEL_SKILL,
        metadata={
            "channels": len(channels),
            "verdicts": ", ".join(f"{v}: {int(n)}" for v, n in sorted(verdicts.items())) or "none",
            "table": md_table(skill_rows(report) if not channels.empty else [], limit=50),
            "verdict_horizon": report.verdict_horizon,
            "rule": dg.MetadataValue.md(report.rule),
            "benchmark": report.benchmark,
            "seed": config.seed,
            "n_boot": config.n_boot,
            "notes": bullet_list(report.notes),
            "dagster/row_count": len(channels),
        },
    )


@dg.asset_check(
    asset=CALL_SCORES,
    description=f"Every buy/sell/avoid call older than {COVERAGE_SESSIONS} sessions (as of the newest bar) "
                "is scored, or unscored with a reason.",
)
def call_scores_old_calls_explained(
    call_scores: pd.DataFrame, kevin_runtime: KevinRuntimeResource
) -> dg.AssetCheckResult:
    runtime = kevin_runtime.runtime
    benchmark = runtime.settings.strategy_params().benchmark_symbol
    with runtime.sessions() as session:
        calls = load_calls(session)
        symbols = {s.upper() for s in calls["symbol"]} | {benchmark}
        newest = session.scalar(select(func.max(PriceBar.date)).where(PriceBar.symbol.in_(symbols)))
    if newest is None or calls.empty:
        return dg.AssetCheckResult(passed=True, description="no calls or no bars: nothing is old enough to score")
    coverage = score_coverage(calls, call_scores, newest)
    n_bad = len(coverage.unexplained)
    return dg.AssetCheckResult(
        passed=coverage.ok,
        description=(
            f"all {coverage.old_calls} call(s) older than {COVERAGE_SESSIONS} sessions scored or explained"
            if coverage.ok else f"{n_bad} call(s) neither scored nor explained, e.g. {coverage.unexplained[0]}"
        ),
        metadata={
            "newest_bar": newest.isoformat(),
            "old_calls": coverage.old_calls,
            "scored": coverage.scored,
            "unscored_with_reason": coverage.explained,
            "unexplained": n_bad,
            "first_unexplained": bullet_list(coverage.unexplained, limit=5),
        },
    )
