"""The whole graph, in process, on the embedded default: what `make demo` shows.

    result = materialize_demo()            # a fresh demo database under <state dir>/demo
    print(format_demo(result))
    python -m kevin_pipeline.defs.demo     # the same, printed

Steps, each a Dagster materialization or job run on one DagsterInstance (ephemeral by default):
1. materialize channel_videos -> transcripts -> extracted_mentions -> mentions -> aggregated_signals
   -> price_bars -> backtest_run, with their checks: the bundled ILLUSTRATIVE sample videos
   (yt-dlp `.info.json` + `.en.vtt` captions of a made-up channel, dropped in the demo's own inbox)
   become transcripts, the offline rules extractor reads their calls, which are backtested on the
   bundled real daily bars;
2. run `trade_on_mentions` for every extracted call (or the `newest` ones) with the kill switch ON:
   KEVIN_ENABLE_TRADING=true in the demo's own settings and the runtime switch set in the demo's
   own database, so only the demo's simulated account ever trades;
3. run `exit_scan_job` at 09:35 New York time of the sessions where it has work, then once more at
   the first session after the last call;
4. materialize ticker_scorecard and paper_account at that session's close.

Why these clocks. The simulated broker fills at the open of the first session after an order's
`now`, from the bundled bars, which end on 2022-12-28; a decision also refuses calls older than
48 h at `now`. With today's date every sample call would be stale and nothing could fill, and a
single `now` after the last call would leave only that last video fresh (in the sample, a call
below the conviction floor). So each video's calls are decided at its publish time + 5 s, as the
sensor would do seconds after the video appears; and the exit scan runs on the simulated clock
where the daemon's 09:35 schedule would: the session after an order (to sync its fill), the
session a position is due to exit, and the first session after the last call, so at least one
fill, and usually an exit, show in the account. Stops and take-profits fill inside the simulated
broker as its clock passes each bar. Sessions with nothing open, pending or due are not scanned:
there a scan could change nothing.

The demo never touches the user's own state: it forces its own SQLite database and drop folder,
the simulated broker, the bundled prices, the offline rules extractor and no network (feeds and
transcript fetching off), whatever KEVIN_DATABASE_URL, KEVIN_BROKER, KEVIN_MENTIONS_DROP_DIR,
KEVIN_EXTRACTOR, KEVIN_VIDEO_FEEDS or KEVIN_TRANSCRIPTS_FETCH say. It is also the only way the bundled sample enters a database: the demo
follows the sample's channel and drops a copy of its videos into its own inbox, which the video
assets read like any user's files (they never fall back to the sample, so an empty production
database stays empty). `kevin demo --quick` still replays the older mention-file sample (CSV).
"""

import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from sqlalchemy import select
from tabulate import tabulate

from kevin_pipeline.brokers.base import FINAL_STATUSES
from kevin_pipeline.calls.sample import drop_sample_videos
from kevin_pipeline.db.engine import safe_url
from kevin_pipeline.db.models import (
    DecisionRecord,
    ManualCloseRequest,
    MentionRecord,
    OrderRecord,
    Position,
    Video,
)
from kevin_pipeline.defs.assets import (
    aggregated_signals,
    backtest_run,
    mentions,
    paper_account,
    price_bars,
    ticker_scorecard,
)
from kevin_pipeline.defs.calls import CALL_ASSETS
from kevin_pipeline.defs.checks import ALL_CHECKS
from kevin_pipeline.defs.common import latest_dagster_run, latest_snapshot
from kevin_pipeline.defs.jobs import (
    exit_scan_job,
    exit_scan_run_config,
    trade_on_mentions,
    trade_run_config,
)
from kevin_pipeline.defs.resources import (
    BrokerResource,
    KevinRuntimeResource,
    PriceSourceResource,
)
from kevin_pipeline.domain.calendar import NY, ny_date, nyse_calendar
from kevin_pipeline.domain.metrics import Metrics
from kevin_pipeline.research.scorecard import run_trades
from kevin_pipeline.settings import load_settings
from kevin_pipeline.trading.controls import set_trading_enabled

DECISION_DELAY = timedelta(seconds=5)  # the sensor's reaction time after a video appears
SCAN_TIME = time(9, 35)  # exit_scan_schedule's wall time, New York
NON_LEG_PURPOSES = ("entry", "exit_time", "exit_sell", "exit_avoid", "exit_manual")


@dataclass
class DemoResult:
    state_dir: Path
    database: str
    mentions_new: int
    mentions_total: int
    backtest_run_id: int
    metrics: Metrics | None
    top_trades: pd.DataFrame
    checks: list[dict[str, Any]]
    scorecard: pd.DataFrame
    decisions: pd.DataFrame  # the calls traded: mention, decision, status, reason, size
    videos: pd.DataFrame  # per video: title, published, calls extracted, decisions, orders
    positions: pd.DataFrame  # lots the demo's paper account opened (and closed)
    account: dict[str, Any]  # equity, cash, positions_value, positions, taken_at
    runs: list[dict[str, Any]] = field(default_factory=list)  # job runs: job, now, success


def _reset(state_dir: Path) -> None:
    for name in ("kevin.db", "kevin.db-wal", "kevin.db-shm"):
        (state_dir / name).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "inbox", ignore_errors=True)


def _check_rows(result: dg.ExecuteInProcessResult) -> list[dict[str, Any]]:
    return [
        {"check": c.check_name, "asset": c.asset_key.to_user_string(), "passed": c.passed,
         "severity": c.severity.value, "description": c.description or ""}
        for c in result.get_asset_check_evaluations()
    ]


def _iso(t: datetime) -> str:
    return t.isoformat()


def _scan_needed(runtime: Any, session_day: date) -> bool:
    """Would the 09:35 scan of `session_day` have work: a position due, an order awaiting its fill
    (the scan syncs it), or a pending manual close."""
    with runtime.sessions() as s:
        due = select(Position.id).where(Position.status == "open", Position.planned_exit_session <= session_day)
        working = select(OrderRecord.id).where(
            OrderRecord.status.notin_(tuple(FINAL_STATUSES)), OrderRecord.purpose.in_(NON_LEG_PURPOSES)
        )
        manual = select(ManualCloseRequest.id).where(ManualCloseRequest.status == "pending")
        return any(s.scalar(stmt.limit(1)) is not None for stmt in (due, working, manual))


def materialize_demo(
    state_dir: Path | None = None,
    *,
    database_url: str | None = None,
    newest: int | None = None,
    instance: dg.DagsterInstance | None = None,
    reset: bool = True,
    log_level: str = "WARNING",
    **settings_overrides: object,
) -> DemoResult:
    """Run the demo (see the module docstring). `settings_overrides`: any Settings field, e.g.
    `min_conviction=0.7`. `reset` deletes a previous demo's SQLite database and inbox first (with a
    `database_url`, give an empty database). `newest`: trade only the newest N calls (None: all).
    `log_level`: Dagster's console log level for the runs."""
    base = load_settings()
    state_dir = Path(state_dir) if state_dir is not None else base.state_dir / "demo"
    state_dir.mkdir(parents=True, exist_ok=True)
    if reset and database_url is None:
        _reset(state_dir)
    overrides = {k: str(v) for k, v in settings_overrides.items()}
    inbox = state_dir / "inbox"
    # its own inbox and broker; and no network: the sample channel is made up
    overrides.update({"mentions_drop_dir": str(inbox), "broker": "simulated",
                      "video_feeds": "off", "transcripts_fetch": "off", "extractor": "rules"})
    kevin_runtime = KevinRuntimeResource(
        database_url=database_url or f"sqlite:///{(state_dir / 'kevin.db').resolve()}",
        state_dir=str(state_dir),
        enable_trading=True,
        settings_overrides=overrides,
    )
    resources = {
        "kevin_runtime": kevin_runtime,
        "broker": BrokerResource(kind="simulated"),
        "price_source": PriceSourceResource(kind="bundled"),
    }
    instance = instance or dg.DagsterInstance.ephemeral()
    quiet = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    cal = nyse_calendar()
    runtime = kevin_runtime.runtime
    try:
        drop_sample_videos(runtime, inbox, now=datetime.now(UTC))  # the demo's own inbox: the sample's only way in
        # 1. videos -> calls, and the research half of the graph
        graph = [*CALL_ASSETS, mentions, aggregated_signals, price_bars, backtest_run]
        research = dg.materialize([*graph, *ALL_CHECKS], resources=resources, instance=instance, run_config=quiet,
                                  selection=dg.AssetSelection.assets(*graph) | dg.AssetSelection.checks_for_assets(*graph))
        meta = {
            e.materialization.asset_key.to_user_string(): e.materialization.metadata
            for e in research.get_asset_materialization_events()
        }
        checks = _check_rows(research)

        # 2. + 3. the live half, on the simulated clock
        with runtime.transaction() as s:
            set_trading_enabled(s, True)
        newest_first = select(MentionRecord.id, MentionRecord.published_at).order_by(
            MentionRecord.published_at.desc(), MentionRecord.id.desc()
        )
        with runtime.sessions() as s:
            calls = list(s.execute(newest_first if newest is None else newest_first.limit(newest)))
        calls.sort(key=lambda row: (row[1], row[0]))
        videos: dict[datetime, list[int]] = {}
        for mention_id, published_at in calls:
            videos.setdefault(published_at, []).append(mention_id)
        runs: list[dict[str, Any]] = []

        def run_job(job: dg.JobDefinition, run_config: dict, now: datetime) -> None:
            res = job.execute_in_process(run_config={**run_config, **quiet}, resources=resources, instance=instance)
            runs.append({"job": job.name, "now": _iso(now), "success": res.success, "run_id": res.run_id})

        def scan(day: date) -> None:
            at = datetime.combine(day, SCAN_TIME, tzinfo=NY)
            run_job(exit_scan_job, exit_scan_run_config(_iso(at)), at)

        if videos:
            pending = sorted(videos.items())
            last_call = pending[-1][0]
            final_session = cal.next_open_after(last_call)
            day = cal.next_session_on_or_after(ny_date(pending[0][0]))
            while day <= final_session:
                scan_at = datetime.combine(day, SCAN_TIME, tzinfo=NY)
                while pending and pending[0][0] + DECISION_DELAY < scan_at:
                    published_at, ids = pending.pop(0)
                    now = published_at + DECISION_DELAY
                    run_job(trade_on_mentions, trade_run_config(ids, _iso(now)), now)
                if day == final_session or _scan_needed(runtime, day):
                    scan(day)
                day = cal.sessions_later(day, 1)
            mark_at = cal.session_close(final_session) + timedelta(minutes=1)
        else:
            mark_at = datetime.now(NY)

        # 4. the scorecard (with live status) and the account at the close
        final = dg.materialize(
            [ticker_scorecard, paper_account], resources=resources, instance=instance,
            run_config={"ops": {"paper_account": {"config": {"now": _iso(mark_at)}}}, **quiet},
        )
        scorecard = final.asset_value("ticker_scorecard")
        return DemoResult(
            state_dir=state_dir,
            database=safe_url(runtime.engine),
            mentions_new=int(meta["extracted_mentions"]["new_mentions"].value),
            mentions_total=int(meta["mentions"]["count_total"].value),
            backtest_run_id=int(meta["backtest_run"]["run_id"].value),
            checks=checks,
            scorecard=scorecard,
            runs=runs,
            **_read_back(runtime, [mid for mid, _ in calls]),
        )
    finally:
        kevin_runtime.close()


def _read_back(runtime: Any, mention_ids: list[int]) -> dict[str, Any]:
    with runtime.sessions() as s:
        run = latest_dagster_run(s)
        metrics = Metrics.model_validate(run.metrics) if run and run.metrics else None
        trades = run_trades(s, run.id) if run else pd.DataFrame()
        rows = s.execute(
            select(MentionRecord, DecisionRecord)
            .outerjoin(DecisionRecord, DecisionRecord.mention_id == MentionRecord.id)
            .where(MentionRecord.id.in_(mention_ids))
            .order_by(MentionRecord.published_at, MentionRecord.id)
        ).all()
        decisions = pd.DataFrame([
            {
                "mention_id": m.id, "published_at": m.published_at, "symbol": m.symbol, "action": m.action,
                "conviction": float(m.conviction),
                "decision": d.kind if d else None, "status": d.status if d else None,
                "reason": d.reason if d else "not decided",
                "size_usd": float(d.size_usd) if d else 0.0,
                "effective_conviction": float(d.effective_conviction) if d else None,
            }
            for m, d in rows
        ])
        lots = pd.DataFrame([
            {
                "symbol": p.symbol, "qty": float(p.qty), "entry_at": p.entry_at, "entry_price": float(p.entry_price),
                "status": p.status, "planned_exit": p.planned_exit_session,
                "exit_at": p.exit_at, "exit_price": float(p.exit_price) if p.exit_price is not None else None,
                "exit_reason": p.exit_reason,
                "realized_pnl": float(p.realized_pnl) if p.realized_pnl is not None else None,
            }
            for p in s.scalars(select(Position).order_by(Position.id))
        ])
        videos = _videos_to_orders(s)
    snap = latest_snapshot(runtime)
    account = (
        {"taken_at": snap.taken_at, "equity": float(snap.equity), "cash": float(snap.cash),
         "positions_value": float(snap.positions_value), "positions": list(snap.positions or [])}
        if snap else {}
    )
    top = trades.sort_values("pnl_usd", ascending=False).head(10) if not trades.empty else trades
    return {"metrics": metrics, "top_trades": top, "decisions": decisions, "positions": lots, "account": account,
            "videos": videos}


def _videos_to_orders(s: Any) -> pd.DataFrame:
    """Per video: the path from it to the simulated broker (calls extracted, decided, ordered)."""
    rows = s.execute(
        select(Video.video_id, Video.title, Video.published_at, MentionRecord.symbol, MentionRecord.action,
               DecisionRecord.id, OrderRecord.id)
        .join(MentionRecord, MentionRecord.video_pk == Video.id, isouter=True)
        .join(DecisionRecord, DecisionRecord.mention_id == MentionRecord.id, isouter=True)
        .join(OrderRecord, OrderRecord.decision_id == DecisionRecord.id, isouter=True)
        .order_by(Video.published_at, Video.id, MentionRecord.id)
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for video_id, title, published_at, symbol, action, decision_id, order_id in rows:
        v = out.setdefault(video_id, {"video_id": video_id, "title": title or "", "published_at": published_at,
                                      "calls": [], "decided": set(), "orders": set()})
        if symbol is not None and f"{action} {symbol}" not in v["calls"]:
            v["calls"].append(f"{action} {symbol}")
        if decision_id is not None:
            v["decided"].add(decision_id)
        if order_id is not None:
            v["orders"].add(order_id)
    return pd.DataFrame(
        [{**v, "calls": ", ".join(v["calls"]), "decided": len(v["decided"]), "orders": len(v["orders"])} for v in out.values()],
        columns=["video_id", "title", "published_at", "calls", "decided", "orders"],
    )


# --- printing ---------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f} %"


def _printable(frame: pd.DataFrame, text: str, width: int) -> pd.DataFrame:
    """Publish times to the minute, and the `text` column cut to `width` characters."""
    return frame.assign(
        published_at=frame["published_at"].map(lambda t: f"{t:%Y-%m-%d %H:%M}"),
        **{text: frame[text].map(lambda r: r if len(r) <= width else r[: width - 1] + "…")},
    )


def format_demo(result: DemoResult, scorecard_rows: int = 10) -> str:
    out = [
        f"kevin demo (Dagster) — database {result.database}",
        "videos: bundled ILLUSTRATIVE SAMPLE captions (not real videos or calls); prices: real daily bars (bundled)",
        f"calls extracted from the videos' captions: {result.mentions_new} new, {result.mentions_total} in all",
        "",
        "== From videos to orders (each video's calls decided at its publish time + 5 s) ==",
    ]
    if result.videos.empty:
        out.append("(no videos)")
    else:
        v = _printable(result.videos, "title", 40)
        out.append(tabulate(
            v[["video_id", "published_at", "title", "calls", "decided", "orders"]],
            headers=["video", "published (UTC)", "title", "calls extracted", "decided", "orders"],
            showindex=False,
        ))
    out += [
        "",
        f"== Backtest run #{result.backtest_run_id} vs the benchmark ==",
    ]
    m = result.metrics
    if m is None:
        out.append("no metrics (no session in range)")
    else:
        out.append(tabulate(
            [
                ["period", f"{m.start_date} .. {m.end_date} ({m.sessions} sessions)", ""],
                ["total return", _pct(m.total_return_pct), _pct(m.benchmark_total_return_pct)],
                ["CAGR", _pct(m.cagr_pct), _pct(m.benchmark_cagr_pct)],
                ["alpha vs benchmark", f"{m.alpha_vs_benchmark_pct:,.2f} pts", ""],
                ["Sharpe", "n/a" if m.sharpe is None else f"{m.sharpe:.2f}", ""],
                ["max drawdown", _pct(m.max_drawdown_pct), ""],
                ["trades (closed / open)", f"{m.trade_count} / {m.open_trade_count}", ""],
                ["win rate", _pct(m.win_rate_pct), ""],
                ["final equity", f"{m.final_equity:,.2f} $", ""],
            ],
            headers=["metric", "strategy", "benchmark buy & hold"],
        ))
    out += ["", "== Asset checks =="]
    out.append(tabulate(
        [[c["check"], "PASS" if c["passed"] else ("WARN" if c["severity"] == "WARN" else "FAIL"), c["description"]]
         for c in result.checks],
        headers=["check", "result", "detail"],
    ))
    out += ["", f"== Ticker scorecard (top {scorecard_rows} by backtest P&L) =="]
    card = result.scorecard.sort_values("bt_pnl_usd", ascending=False).head(scorecard_rows)
    card = card.assign(hit_rate_pct=card["hit_rate_pct"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.1f}"))
    out.append(tabulate(
        card[["symbol", "mentions", "last_action", "last_date", "hit_rate_pct", "bt_trades", "bt_pnl_usd", "live_status"]],
        headers="keys", showindex=False, floatfmt=".2f",
    ))
    out += ["", "== Decisions on the videos' calls (kill switch ON for the demo's simulated account) =="]
    if result.decisions.empty:
        out.append("(no mentions)")
    else:
        d = _printable(result.decisions, "reason", 60)
        out.append(tabulate(
            d[["mention_id", "published_at", "symbol", "action", "conviction", "decision", "status", "size_usd", "reason"]],
            headers=["mention", "published (UTC)", "symbol", "call", "conv", "decision", "status", "size $", "reason"],
            showindex=False, floatfmt=".2f",
        ))
    out += ["", "== Paper account (simulated broker) =="]
    a = result.account
    if a:
        out.append(f"as of {a['taken_at']:%Y-%m-%d %H:%M} UTC: equity {a['equity']:,.2f} $, cash {a['cash']:,.2f} $, "
                   f"positions {a['positions_value']:,.2f} $")
    if not result.positions.empty:
        p = result.positions.assign(
            entry_at=result.positions["entry_at"].map(lambda t: f"{t:%Y-%m-%d}"),
            exit_at=result.positions["exit_at"].map(lambda t: f"{t:%Y-%m-%d}" if pd.notna(t) else ""),
        )
        out.append(tabulate(
            p[["symbol", "qty", "entry_at", "entry_price", "status", "planned_exit", "exit_at", "exit_price", "exit_reason", "realized_pnl"]],
            headers="keys", showindex=False, floatfmt=".2f",
        ))
    else:
        out.append("no positions were opened")
    ok = sum(r["success"] for r in result.runs)
    out.append(f"\nDagster runs: {ok}/{len(result.runs)} job runs succeeded "
               f"({sum(r['job'] == 'trade_on_mentions' for r in result.runs)} trade_on_mentions, "
               f"{sum(r['job'] == 'exit_scan_job' for r in result.runs)} exit_scan_job)")
    out.append("Next: `make up-demo` serves the Dagster UI (http://127.0.0.1:3000) and the dashboard "
               "(http://127.0.0.1:8050) over this demo's database; `make up` does the same over your own "
               "(.kevin/kevin.db or KEVIN_DATABASE_URL), where `.venv/bin/kevin import-mentions FILE` adds your calls.")
    return "\n".join(out)


def main() -> int:
    print(format_demo(materialize_demo()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
