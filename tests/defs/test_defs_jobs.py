"""trade_on_mentions and exit_scan_job run the live path; orders happen once, kill switch respected."""

from __future__ import annotations

from sqlalchemy import func, select

from kevin_pipeline.db.models import DecisionRecord, SimOrder
from kevin_pipeline.defs.jobs import (
    exit_scan_job,
    exit_scan_run_config,
    trade_on_mentions,
    trade_run_config,
)

# v1 (NVDA buy 0.80, weeks) was published 2022-03-01T15:00:00Z: decide it seconds later.
NOW = "2022-03-01T15:00:05Z"


def count(kevin, model) -> int:
    with kevin.runtime.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def run_trade(kevin, ids, now=NOW):
    result = trade_on_mentions.execute_in_process(run_config=trade_run_config(ids, now), resources=kevin.resources)
    assert result.success
    return result


def test_the_same_mentions_run_twice_order_once(trading_kevin):
    trading_kevin.seed_bars()
    ids = trading_kevin.seed_mentions()[:1]
    run_trade(trading_kevin, ids)
    placed = count(trading_kevin, SimOrder)
    run_trade(trading_kevin, ids)
    assert placed == 1 and count(trading_kevin, SimOrder) == 1
    assert count(trading_kevin, DecisionRecord) == 1


def test_kill_switch_off_records_dry_runs_and_orders_nothing(kevin):
    kevin.seed_bars()
    ids = kevin.seed_mentions()[:1]
    run_trade(kevin, ids)
    with kevin.runtime.sessions() as s:
        assert list(s.scalars(select(DecisionRecord.status))) == ["dry_run"]
    assert count(kevin, SimOrder) == 0


def test_only_the_ids_in_run_config_are_decided(kevin):
    kevin.seed_bars()
    ids = kevin.seed_mentions()
    run_trade(kevin, ids[1:3], now="2022-03-07T15:00:05Z")  # after every seeded call
    with kevin.runtime.sessions() as s:
        assert sorted(s.scalars(select(DecisionRecord.mention_id))) == ids[1:3]


def test_exit_scan_job_snapshots_the_account_as_paper_account(trading_kevin):
    trading_kevin.seed_bars()
    result = exit_scan_job.execute_in_process(
        run_config=exit_scan_run_config("2022-03-02T14:35:00Z"), resources=trading_kevin.resources
    )
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.materialization.asset_key.to_user_string() == "paper_account"
    assert event.materialization.metadata["equity_usd"].value == 100000.0


def test_exit_scan_job_does_nothing_on_a_holiday(trading_kevin):
    result = exit_scan_job.execute_in_process(
        run_config=exit_scan_run_config("2024-07-04T13:35:00Z"), resources=trading_kevin.resources
    )
    assert result.success and not result.get_asset_materialization_events()
