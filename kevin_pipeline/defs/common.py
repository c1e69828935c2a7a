"""Small helpers shared by the Dagster modules: clock parsing, Markdown metadata, stored-row lookups."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import dagster as dg
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.db.models import AccountSnapshot, BacktestRun

MAX_MD_ROWS = 20


def parse_instant(text: str | None) -> datetime:
    """An ISO-8601 instant from run config (`2022-10-28T21:00:05Z`), or the wall clock when None.

    A time without an offset is refused: kevin never guesses a timezone."""
    if text is None or not str(text).strip():
        return datetime.now(UTC)
    raw = str(text).strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise dg.Failure(f"now={text!r} is not an ISO-8601 instant (e.g. 2022-10-28T21:00:05Z)") from None
    if value.tzinfo is None:
        raise dg.Failure(f"now={text!r} has no timezone offset; add Z or +00:00")
    return value.astimezone(UTC)


def md_table(rows: Sequence[Mapping[str, Any]] | pd.DataFrame, limit: int = MAX_MD_ROWS) -> dg.MetadataValue:
    """Rows as a Markdown table for the UI (at most `limit` rows, with a note when cut)."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        return dg.MetadataValue.md("_(none)_")
    shown = frame.head(limit).map(_plain)
    text = shown.to_markdown(index=False)
    if len(frame) > limit:
        text += f"\n\n_... {len(frame) - limit} more rows_"
    return dg.MetadataValue.md(text)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


def bullet_list(items: Iterable[str], limit: int = MAX_MD_ROWS) -> dg.MetadataValue:
    items = list(items)
    if not items:
        return dg.MetadataValue.md("_(none)_")
    text = "\n".join(f"- {item}" for item in items[:limit])
    if len(items) > limit:
        text += f"\n- ... {len(items) - limit} more"
    return dg.MetadataValue.md(text)


def latest_dagster_run(session: Session) -> BacktestRun | None:
    """The newest successful backtest stored by the `backtest_run` asset (trigger "dagster")."""
    stmt = (
        select(BacktestRun)
        .where(BacktestRun.trigger == "dagster", BacktestRun.status == "succeeded")
        .order_by(BacktestRun.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def latest_snapshot(runtime: Runtime) -> AccountSnapshot | None:
    with runtime.sessions() as session:
        snap = session.scalars(select(AccountSnapshot).order_by(AccountSnapshot.id.desc()).limit(1)).first()
        if snap is not None:
            session.expunge(snap)
        return snap


def account_metadata(snap: AccountSnapshot | None) -> dict[str, Any]:
    """Equity, cash and positions of an account snapshot, as asset metadata."""
    if snap is None:
        return {"snapshot": "none"}
    positions = list(snap.positions or [])
    return {
        "taken_at": snap.taken_at.isoformat(),
        "broker": snap.source,
        "equity_usd": dg.MetadataValue.float(float(snap.equity)),
        "cash_usd": dg.MetadataValue.float(float(snap.cash)),
        "positions_value_usd": dg.MetadataValue.float(float(snap.positions_value)),
        "day_pnl_usd": dg.MetadataValue.float(float(snap.day_pnl)) if snap.day_pnl is not None else "n/a",
        "positions_count": len(positions),
        "positions": md_table(positions),
    }
