"""Running a backtest for a user: gather inputs (database or files), run the engine, score it,
store the run, and shape the result for the terminal or JSON.

The engine itself is pure (`domain.backtest`); everything with I/O lives here so the CLI, the
Dagster asset and the Dash "Run backtest" form share one path: `run_and_store`.

Failure policy (`run_and_store`, the same for every caller): a run asked to be stored leaves exactly
one `backtest_runs` row -- `succeeded` with all its trades (one transaction), or `failed` with the
error -- never a half-stored run. Every failure is raised as a `BacktestError` carrying that row's
id: `BacktestInputError` when the inputs cannot be backtested (the user fixes them), or
`BacktestRunError` for anything unexpected (the cause chained). Each caller turns it into its own
surface: the CLI prints `error: ...` and exits 2 (an unexpected error keeps its traceback), the
Dagster asset fails the materialization with the message, the dashboard's job ends `failed` with
the message and the run id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kevin_pipeline.domain.backtest import BacktestResult, run_backtest
from kevin_pipeline.domain.mention_rows import RejectedRow
from kevin_pipeline.domain.metrics import Metrics, compute_metrics
from kevin_pipeline.domain.models import Mention
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.ingest.parse import parse_mentions_file
from kevin_pipeline.market_data.frame import BAR_COLUMNS, NUMBER_COLUMNS, PRICE_COLUMNS, numeric_columns, validate_bars

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from kevin_pipeline.db.models import Channel
    from kevin_pipeline.runtime import Runtime

# The database (SQLAlchemy, the models, the stored mentions and bars) is imported by the functions
# that read or write it: a backtest of two files with nothing to store (`kevin backtest --mentions F
# --bars F --no-save`) never opens a database, and should not pay for importing one.


log = logging.getLogger(__name__)


class BacktestError(Exception):
    """A backtest failed. `run_id`: the `failed` run row `run_and_store` recorded for it (None when
    the run was not to be stored, or the database refused even that row)."""

    run_id: int | None = None


class BacktestInputError(BacktestError, ValueError):
    """The inputs cannot be backtested (no mentions, unreadable bars, no benchmark)."""


class BacktestRunError(BacktestError):
    """Anything else went wrong while building, running or storing a backtest (the cause is
    chained); the message names the cause's type, as a run's stored error does."""


@dataclass
class BacktestInputs:
    mentions: list[Mention]
    bars: pd.DataFrame
    labels: dict[int, str] = field(default_factory=dict)  # mention id -> what the user calls it
    rejected: list[RejectedRow] = field(default_factory=list)
    source: str = "database"
    bar_problems: list[str] = field(default_factory=list)  # malformed bars left out, and why
    channel: str | None = None  # the channel the stored mentions were filtered to (its name)

    def label(self, mention_id: int | None) -> str | int | None:
        if mention_id is None:
            return None
        return self.labels.get(mention_id, mention_id)


@dataclass
class BacktestOutcome:
    result: BacktestResult
    metrics: Metrics | None
    engine_seconds: float
    inputs: BacktestInputs
    run_id: int | None = None


# --- inputs ----------------------------------------------------------------------------------


def mentions_from_file(path: Path) -> tuple[list[Mention], dict[int, str], list[RejectedRow]]:
    """Mentions from a file get the row's line as their id; the label is `video_id:line`.

    File mentions have no database id, so `mention_id` in the output is `<video_id>:<line>`: unique
    within the file and traceable to the row.
    """
    parsed = parse_mentions_file(path)
    mentions, labels = [], {}
    for row in parsed.rows:
        mentions.append(
            Mention(
                id=row.line,
                video_id=row.video_id,
                symbol=row.symbol,
                action=row.action,
                conviction=row.conviction,
                horizon=row.horizon,
                published_at=row.published_at,
                quote=row.quote,
            )
        )
        labels[row.line] = f"{row.video_id}:{row.line}"
    return mentions, labels, list(parsed.rejected)


def bars_from_file(path: Path) -> pd.DataFrame:
    """Bars from Parquet or CSV with the columns symbol, date, open, high, low, close[, volume]."""
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    except FileNotFoundError:
        raise BacktestInputError(f"bars file not found: {path}") from None
    except Exception as exc:  # pandas raises many types for unreadable files
        raise BacktestInputError(f"cannot read bars file {path}: {exc}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "volume" not in frame.columns:
        frame["volume"] = 0.0
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise BacktestInputError(f"bars file {path} lacks columns: {', '.join(missing)}")
    frame = frame[BAR_COLUMNS]  # copy-on-write (pandas 3): changing it below leaves the read frame as it is
    frame["symbol"] = frame["symbol"].astype(str).str.strip().str.upper()
    try:
        frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize(None).dt.normalize()
    except (ValueError, TypeError):
        # One bad cell must not cost the file: parse each date alone, unreadable ones become NaT
        # (`read_bars_file` reports and skips those rows).
        try:
            dates = pd.to_datetime(frame["date"], errors="coerce", format="mixed", utc=True)
        except (ValueError, TypeError) as exc:
            raise BacktestInputError(f"bars file {path}: unreadable date column ({exc})") from None
        frame["date"] = dates.dt.tz_localize(None).dt.normalize()
    return frame


def read_bars_file(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The bars of a `--bars` / `kevin prices import` file, with every unusable row left out and
    named (its data row number, or its symbol and date, and the field at fault)."""
    return usable_bars(bars_from_file(path))


def usable_bars(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """`clean_bars`, after leaving out (and naming by data row) the rows whose date is unreadable."""
    bad_date = frame["date"].isna()
    if not bad_date.any():  # the usual file: no copy of every row
        return clean_bars(frame)
    problems = [f"row {i + 1} ({sym}): date is missing or not a date" for i, sym in
                zip(frame.index[bad_date], frame.loc[bad_date, "symbol"])]
    bars, more = clean_bars(frame[~bad_date])
    return bars, problems + more


def clean_bars(bars: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop malformed bars (non-positive prices, high < low, ...) and say which, rather than
    letting one bad row poison a ten-year run."""
    problems = validate_bars(bars)
    if not problems:
        return bars, []
    numbers = numeric_columns(bars)  # a non-numeric cell is NaN here, so its row is dropped
    ok = (
        (numbers[PRICE_COLUMNS] > 0).all(axis=1)
        & (numbers["high"] >= numbers[["open", "close", "low"]].max(axis=1))
        & (numbers["low"] <= numbers[["open", "close"]].min(axis=1))
        & numbers[PRICE_COLUMNS].notna().all(axis=1)
        & (numbers["volume"].notna() | bars["volume"].isna())
    )
    kept = bars[ok].copy()
    kept[NUMBER_COLUMNS] = numbers[ok]
    return kept.drop_duplicates(["symbol", "date"], keep="first"), problems


def channel_filter(session: Session, channel: str | None) -> Channel | None:
    """The stored channel `--channel` names (kevin's id, YouTube id, URL, handle or name); an
    unknown one raises `BacktestInputError` listing the channels there are."""
    if channel is None:
        return None
    from kevin_pipeline.db.videos import known_channels_text, lookup_channel

    found = lookup_channel(session, channel)
    if found is None:
        raise BacktestInputError(f"unknown channel {channel!r} (channels: {known_channels_text(session)})")
    return found


def load_inputs(
    session: Session | None,
    params: StrategyParams,
    *,
    mentions_file: Path | None = None,
    bars_file: Path | None = None,
    channel: str | None = None,
) -> BacktestInputs:
    """What `kevin backtest`, `sweep` and `replay` run on: the stored mentions (of `channel` only,
    when given) and cached bars, either replaced by a file when one is given (`--mentions`,
    `--bars`). Malformed bars are left out with their reasons in `bar_problems`, rejected mention
    rows kept in `rejected`.

    One function, so the three commands can never read the same files differently. An unreadable
    file, an unknown channel, or a channel with a mentions file (a file is read whole) raises
    `BacktestInputError` (the commands' "error: ..." and exit 2).

    `session` None: no database (both files given, nothing to store); then only files are read.
    """
    from kevin_pipeline.ingest.parse import MentionFileError

    if channel is not None and mentions_file is not None:
        raise BacktestInputError("--channel filters the stored mentions; a --mentions file is read whole")
    if session is None and (mentions_file is None or bars_file is None):
        raise ValueError("load_inputs without a database needs both a mentions file and a bars file")
    if mentions_file is None:
        from kevin_pipeline.db.store import load_mentions

        chosen = channel_filter(session, channel)
        inputs = BacktestInputs(
            mentions=load_mentions(session, channel_id=chosen.id if chosen else None),
            bars=pd.DataFrame(columns=BAR_COLUMNS), channel=chosen.name if chosen else None,
        )
    else:
        try:
            mentions, labels, rejected = mentions_from_file(mentions_file)
        except MentionFileError as exc:
            raise BacktestInputError(str(exc)) from None
        inputs = BacktestInputs(mentions, pd.DataFrame(columns=BAR_COLUMNS), labels, rejected, source=str(mentions_file))
    if bars_file is None:
        from kevin_pipeline.market_data.cache import load_cached_bars

        symbols = {m.symbol for m in inputs.mentions} | {params.benchmark_symbol}
        inputs.bars, inputs.bar_problems = clean_bars(load_cached_bars(session, symbols))
    else:
        inputs.bars, inputs.bar_problems = read_bars_file(bars_file)
    return inputs


def check_runnable(inputs: BacktestInputs, params: StrategyParams, what: str = "backtest",
                   prices: PriceBook | None = None) -> PriceBook:
    """The PriceBook of `inputs`, or `BacktestInputError` when a run would prove nothing: no
    mentions, or no bars for the benchmark (the curve it is judged against)."""
    if not inputs.mentions:
        raise BacktestInputError(f"no mentions to {what}: import some with `kevin import-mentions` or pass --mentions")
    book = prices or PriceBook.from_frame(inputs.bars)
    if not book.has_symbol(params.benchmark_symbol):
        raise BacktestInputError(
            f"no bars for the benchmark {params.benchmark_symbol}: load them (kevin prices fetch, "
            "kevin prices import FILE) or pass --bars"
        )
    return book


# --- running ---------------------------------------------------------------------------------


def execute(
    inputs: BacktestInputs,
    params: StrategyParams,
    *,
    start: date | None = None,
    end: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    prices: PriceBook | None = None,
    audit: bool = True,
) -> BacktestOutcome:
    """One run and its metrics. `audit=False`: without the per-call decision rows (a sweep's light run)."""
    book = check_runnable(inputs, params, "backtest", prices)
    started = time.perf_counter()
    result = run_backtest(inputs.mentions, book, params, start=start, end=end, progress=progress, audit=audit)
    if inputs.channel is not None:
        result.notes.append(f"the calls of channel {inputs.channel} only")
    result.notes.extend(f"skipped malformed bar: {p}" for p in inputs.bar_problems[:20])
    if len(inputs.bar_problems) > 20:
        result.notes.append(f"... and {len(inputs.bar_problems) - 20} more malformed bars skipped")
    metrics = score(result)
    engine_seconds = time.perf_counter() - started
    return BacktestOutcome(result=result, metrics=metrics, engine_seconds=engine_seconds, inputs=inputs)


def score(result: BacktestResult) -> Metrics | None:
    if result.equity.empty or result.benchmark.empty:
        return None
    return compute_metrics(result.equity, result.benchmark, result.trades, result.exposure)


# --- the one path: inputs -> run -> store ------------------------------------------------------


def run_and_store(
    runtime: Runtime | None,
    params: StrategyParams,
    *,
    trigger: str,
    store: bool = True,
    mentions_file: Path | None = None,
    bars_file: Path | None = None,
    start: date | None = None,
    end: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_inputs: Callable[[BacktestInputs], None] | None = None,
    channel: str | None = None,
) -> BacktestOutcome:
    """Build the inputs (`load_inputs`), run and score the backtest (`execute`) and, with `store`,
    save it as one run (trigger `cli`, `dagster`, `dash`). The CLI, the `backtest_run` asset and the
    dashboard's job all come through here, so they fail the same way (module docstring).

    `on_inputs` sees the inputs before the run (the CLI reports rejected rows and skipped bars
    there, even when the run then fails).

    `runtime` None: no database at all, for a run of two files (`mentions_file`, `bars_file`)
    that is not stored.
    """
    if runtime is None and (store or mentions_file is None or bars_file is None):
        raise ValueError("run_and_store without a runtime: only an unstored run of a mentions and a bars file")
    started = datetime.now(timezone.utc)
    try:
        with runtime.sessions() if runtime is not None else nullcontext() as session:
            inputs = load_inputs(session, params, mentions_file=mentions_file, bars_file=bars_file, channel=channel)
        if on_inputs is not None:
            on_inputs(inputs)
        outcome = execute(inputs, params, start=start, end=end, progress=progress)
        if store:
            with runtime.transaction() as session:  # the run and its trades, all or nothing
                save_run(session, outcome, trigger=trigger, started_at=started)
        return outcome
    except BacktestInputError as exc:
        if store:
            exc.run_id = _record_failure(runtime, params, str(exc), trigger, started)
        raise
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        log.exception("%s backtest failed", trigger)
        error = BacktestRunError(message)
        if store:
            error.run_id = _record_failure(runtime, params, message, trigger, started)
        raise error from exc


def _record_failure(runtime: Runtime, params: StrategyParams, message: str, trigger: str, started: datetime) -> int | None:
    """The failed run row, or None when the database refuses it too (the original error wins)."""
    try:
        with runtime.transaction() as session:
            return record_failed_run(session, params, message, trigger=trigger, started_at=started)
    except Exception:
        log.exception("could not record the failed %s backtest run", trigger)
        return None


# --- storing ---------------------------------------------------------------------------------


def params_record(params: StrategyParams) -> dict[str, Any]:
    """Parameters as stored with a run. StrategyParams holds no secrets, by construction."""
    return params.model_dump(mode="json")


def save_run(
    session: Session,
    outcome: BacktestOutcome,
    *,
    trigger: str = "cli",
    sweep_id: str | None = None,
    started_at: datetime | None = None,
) -> int:
    from kevin_pipeline.db.models import BacktestRun
    from kevin_pipeline.db.models import BacktestTrade as TradeRecord

    result, inputs = outcome.result, outcome.inputs
    now = datetime.now(timezone.utc)
    run = BacktestRun(
        created_at=started_at or now,
        started_at=started_at or now,
        finished_at=now,
        status="succeeded",
        trigger=trigger,
        sweep_id=sweep_id,
        params=params_record(result.params),
        metrics=outcome.metrics.model_dump(mode="json") if outcome.metrics else None,
        equity_curve=_curve(result.equity),
        benchmark_curve=_curve(result.benchmark),
        decisions=[decision_json(d, inputs) for d in result.decisions],
    )
    run.trades = [
        TradeRecord(
            symbol=t.symbol,
            mention_id=t.mention_id if inputs.source == "database" else None,
            entry_at=t.entry_at,
            entry_price=t.entry_price,
            exit_at=t.exit_at,
            exit_price=t.exit_price,
            qty=Decimal(t.qty),
            pnl_usd=t.pnl_usd,
            pnl_pct=(t.pnl_pct / 100).quantize(Decimal("0.000001")),
            sessions_held=t.sessions_held,
            exit_reason=t.exit_reason.value,
        )
        for t in result.trades
    ]
    session.add(run)
    session.flush()
    outcome.run_id = run.id
    return run.id


def record_failed_run(
    session: Session, params: StrategyParams, error: str, trigger: str = "cli", started_at: datetime | None = None
) -> int:
    from kevin_pipeline.db.models import BacktestRun

    now = datetime.now(timezone.utc)
    run = BacktestRun(
        created_at=started_at or now, started_at=started_at or now, finished_at=now, status="failed", trigger=trigger,
        params=params_record(params), error=error,
    )
    session.add(run)
    session.flush()
    return run.id


def _curve(series: pd.Series) -> list[list[Any]]:
    return [[d.isoformat(), round(float(v), 4)] for d, v in series.items()]


# --- JSON ------------------------------------------------------------------------------------


def trade_json(t: Any, inputs: BacktestInputs) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "mention_id": inputs.label(t.mention_id),
        "entry_date": t.entry_session.isoformat(),
        "entry_price": float(t.entry_price),
        "exit_date": t.exit_session.isoformat() if t.exit_session else None,
        "exit_price": float(t.exit_price) if t.exit_price is not None else None,
        "qty": t.qty,
        "pnl_usd": float(t.pnl_usd),
        "pnl_pct": float(t.pnl_pct),
        "sessions_held": t.sessions_held,
        "exit_reason": t.exit_reason.value,
        "stop_price": float(t.stop_price),
        "take_profit_price": float(t.take_profit_price),
    }


def decision_json(d: Any, inputs: BacktestInputs) -> dict[str, Any]:
    return {
        "mention_id": inputs.label(d.mention_id),
        "symbol": d.symbol,
        "action": d.action.value,
        "published_at": d.published_at.isoformat(),
        "decision": d.kind.value,
        "status": d.status.value,
        "reason": d.reason,
        "effective_conviction": float(d.effective_conviction),
        "size_usd": float(d.size_usd),
        "hold_sessions": d.hold_sessions,
        "entry_date": d.entry_session.isoformat() if d.entry_session else None,
        "filled_qty": d.filled_qty,
    }


def outcome_json(outcome: BacktestOutcome) -> dict[str, Any]:
    r, inputs = outcome.result, outcome.inputs
    return {
        "run_id": outcome.run_id,
        "params": params_record(r.params),
        "metrics": outcome.metrics.model_dump(mode="json") if outcome.metrics else None,
        "trades": [trade_json(t, inputs) for t in r.trades],
        "decisions": [decision_json(d, inputs) for d in r.decisions],
        "rejected_rows": [{"line": x.line, "reason": x.reason} for x in inputs.rejected],
        "notes": r.notes,
        "engine_seconds": round(outcome.engine_seconds, 6),
    }
