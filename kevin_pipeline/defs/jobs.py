"""The two live jobs. Orders are placed here, inside runs, never in a sensor or schedule body.

trade_on_mentions  aggregation -> decision -> order path for the mention ids in run config
                   (trading.order_path.process_new_mentions). The kill switch (KEVIN_ENABLE_TRADING
                   and the runtime switch: on / exits-only / off) is respected by the order path:
                   buys not allowed are recorded as dry_run; exits wait while off (catch-up). A mention is decided once (UNIQUE decision per mention,
                   deterministic client order ids), so re-running a run orders nothing twice.
exit_scan_job      the 09:35 ET scan (trading.exit_scan.run_exit_scan): planned time exits, manual
                   closes, broker sync, reconciliation and the account snapshot, reported as a
                   materialization of `paper_account`.
"""

import dagster as dg

from kevin_pipeline.defs.common import (
    account_metadata,
    bullet_list,
    latest_snapshot,
    md_table,
    parse_instant,
)
from kevin_pipeline.defs.resources import BrokerResource, KevinRuntimeResource
from kevin_pipeline.trading.exit_scan import run_exit_scan
from kevin_pipeline.trading.order_path import process_new_mentions

TRADE_OP = "decide_and_order"
EXIT_SCAN_OP = "exit_scan"


class TradeOnMentionsConfig(dg.Config):
    mention_ids: list[int] | None = None  # None: every undecided mention
    now: str | None = None  # ISO-8601 decision time (replays, the demo); default: the wall clock


class ExitScanConfig(dg.Config):
    now: str | None = None  # ISO-8601 scan time (replays, the demo); default: the wall clock


@dg.op(name=TRADE_OP, out=dg.Out(dg.Nothing))
def decide_and_order(
    context: dg.OpExecutionContext, config: TradeOnMentionsConfig, kevin_runtime: KevinRuntimeResource, broker: BrokerResource
):
    ctx = broker.trading_context(kevin_runtime.runtime)
    now = parse_instant(config.now)
    report = process_new_mentions(ctx, now, config.mention_ids)
    counts = report.counts()
    context.log.info(
        f"decided {len(report.decided)} mention(s) at {now.isoformat()}: "
        + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing new")
        + f"; orders sent {report.orders_sent} (of which recovered {report.orders_recovered})"
        + f"; already decided {report.already_decided}"
    )
    if report.recovery.waiting or report.recovery.canceled:
        context.log.warning(f"recovery: {report.recovery.describe()}")
    decisions = [
        {"mention": d.mention_id, "symbol": d.symbol, "decision": d.kind, "status": d.status, "reason": d.reason}
        for d in report.decided
    ]
    yield dg.Output(
        None,
        metadata={
            "decided": len(report.decided),
            "orders_sent": report.orders_sent,
            "orders_recovered": report.orders_recovered,
            "exits_waiting": bullet_list(report.recovery.waiting),
            "unsent_buys_canceled": bullet_list(report.recovery.canceled),
            "already_decided": report.already_decided,
            "decisions": md_table(decisions),
            "now": now.isoformat(),
        },
    )


@dg.job(
    name="trade_on_mentions",
    description="Decide (and, kill switch on, order) the mentions in run config; launched by new_mentions_sensor.",
    tags={"kevin/kind": "live"},
    executor_def=dg.in_process_executor,  # one op: no step subprocess, seconds off the latency
)
def trade_on_mentions() -> None:
    decide_and_order()


@dg.op(name=EXIT_SCAN_OP, out=dg.Out(dg.Nothing))
def exit_scan(context: dg.OpExecutionContext, config: ExitScanConfig, kevin_runtime: KevinRuntimeResource, broker: BrokerResource):
    runtime = kevin_runtime.runtime
    ctx = broker.trading_context(runtime)
    now = parse_instant(config.now)
    report = run_exit_scan(ctx, now)
    if report.skipped_reason:
        context.log.info(f"exit scan skipped: {report.skipped_reason}")
        yield dg.Output(None, metadata={"skipped": report.skipped_reason})
        return
    for line in report.reconciliation:
        context.log.warning(f"reconciliation: {line}")
    yield dg.AssetMaterialization(
        asset_key="paper_account",
        description=f"account snapshot of the {report.session} exit scan",
        metadata=account_metadata(latest_snapshot(runtime)),
    )
    yield dg.Output(
        None,
        metadata={
            "session": str(report.session),
            "trading_mode": report.trading_mode,
            "orders_sent": report.orders_sent,
            "orders_recovered": len(report.recovery.sent),
            "waiting_for_switch": bullet_list(report.waiting + report.recovery.waiting),
            "unsent_buys_canceled": bullet_list(report.recovery.canceled),
            "time_exits": bullet_list(report.time_exits),
            "manual_closes": bullet_list(report.manual_closes),
            "reconciliation": bullet_list(report.reconciliation),
            "equity_usd": float(report.equity) if report.equity is not None else "n/a",
        },
    )


@dg.job(
    name="exit_scan_job",
    description="The 09:35 ET exit scan: time exits, manual closes, reconciliation, account snapshot.",
    tags={"kevin/kind": "live"},
    executor_def=dg.in_process_executor,
)
def exit_scan_job() -> None:
    exit_scan()


def trade_run_config(mention_ids: list[int] | None, now: str | None = None) -> dict:
    config: dict = {"mention_ids": mention_ids}
    if now is not None:
        config["now"] = now
    return {"ops": {TRADE_OP: {"config": config}}}


def exit_scan_run_config(now: str | None = None) -> dict:
    return {"ops": {EXIT_SCAN_OP: {"config": {"now": now}}}}


ALL_JOBS = [trade_on_mentions, exit_scan_job]
