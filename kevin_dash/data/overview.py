"""What the database holds, in counts: both pages read it to tell an empty database (guidance on
what to run) from an empty panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kevin_pipeline.db.models import AccountSnapshot, BacktestRun, DecisionRecord, MentionRecord, Position, PriceBar

SAMPLE_SOURCE = "sample_mentions.csv"


@dataclass(frozen=True)
class Overview:
    mentions: int
    sample_mentions: int
    price_bars: int
    runs: int
    succeeded_runs: int
    snapshots: int
    positions: int
    decisions: int

    @property
    def empty(self) -> bool:
        return not (self.mentions or self.price_bars or self.runs or self.snapshots or self.positions)


def overview(session: Session) -> Overview:
    def count(stmt: Any) -> int:
        return int(session.execute(stmt).scalar_one())

    return Overview(
        mentions=count(select(func.count()).select_from(MentionRecord)),
        sample_mentions=count(select(func.count()).select_from(MentionRecord).where(MentionRecord.source == SAMPLE_SOURCE)),
        price_bars=count(select(func.count()).select_from(PriceBar)),
        runs=count(select(func.count()).select_from(BacktestRun)),
        succeeded_runs=count(select(func.count()).select_from(BacktestRun).where(BacktestRun.status == "succeeded")),
        snapshots=count(select(func.count()).select_from(AccountSnapshot)),
        positions=count(select(func.count()).select_from(Position)),
        decisions=count(select(func.count()).select_from(DecisionRecord)),
    )

