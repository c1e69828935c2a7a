"""The live-path latency bench (`python -m kevin_pipeline.bench --only latency`): how long from a
mention committed to the app database until its order is at the broker, with the Dagster daemon
doing the work exactly as in production (`dagster dev`: webserver, daemon, code server)?

Set-up, all in a temporary directory removed afterwards: a fresh SQLite app database (trading on:
KEVIN_ENABLE_TRADING=true and the runtime switch; the simulated broker; every bundled bar plus
60 sessions for one synthetic symbol per mention, so each call is tradable and ordered), its own
DAGSTER_HOME with the repository's dagster.yaml, and `dagster dev` on a free 127.0.0.1 port in its
own process group. Caps and starting equity are raised so every mention becomes an order.

Measurement: one warm-up mention first (the first run after start is reported on its own), then
`n` BUY mentions committed one at a time on a fixed cadence, each in its own transaction, with
`published_at` = the real clock (the decision refuses calls older than 48 h). The bench polls the
orders table every 50 ms. "At the broker" is the moment kevin recorded the broker's acceptance:
`orders.updated_at` when the row first leaves `pending_submit` (`orders.submitted_at` and
`sim_orders.submitted_at` carry the run's decision time, taken before the broker call, so they
are not used for the end of the interval; `submitted_at - committed` gives the sensor + queue +
run-start share instead). A mention with no order by the deadline counts as an infinite latency.

Always bounded: every wait has a deadline, and `dagster dev`'s process group is stopped (SIGTERM,
then SIGKILL) whatever happens.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from kevin_pipeline.process_groups import free_port, group_members, stop_process_group

ROOT = Path(__file__).resolve().parents[2]  # the checkout (kevin_pipeline/bench/latency.py)
CODE_LOCATION = "kevin_pipeline.definitions"
SENSOR = "new_mentions_sensor"
SENSOR_SELECTOR = f'{{repositoryLocationName: "{CODE_LOCATION}", repositoryName: "__repository__", sensorName: "{SENSOR}"}}'

DEFAULT_INTERVAL_S = 2.0
STARTUP_TIMEOUT_S = 90.0  # webserver + daemon up and the warm-up mention ordered
DRAIN_TIMEOUT_S = 30.0  # after the last commit
POLL_S = 0.05
SYMBOL_SESSIONS = 60

# The environment of `dagster dev` (and so of the daemon, the code server and every run).
BENCH_ENV = {
    "KEVIN_ENABLE_TRADING": "true",
    "KEVIN_BROKER": "simulated",
    "KEVIN_PRICE_SOURCE": "cache",
    "KEVIN_STARTING_EQUITY_USD": "10000000",  # cash for every order (each <= max_trade_usd)
    "KEVIN_DAILY_TRADE_CAP": "100000",
    "KEVIN_DAILY_ALLOC_CAP_USD": "1000000000",
    "KEVIN_MAX_PER_TICKER_USD": "1000000000",
}


@dataclass
class LatencySample:
    index: int  # 0 = warm-up
    mention_id: int
    symbol: str
    committed_at: datetime
    accepted_at: datetime | None = None  # orders.updated_at when first seen out of pending_submit
    decided_at: datetime | None = None  # orders.submitted_at (the run's decision time)
    observed_at: datetime | None = None  # when the bench's poll saw it
    status: str | None = None

    @property
    def latency(self) -> float:
        if self.accepted_at is None:
            return math.inf
        return (self.accepted_at - self.committed_at).total_seconds()

    @property
    def to_decision(self) -> float:
        if self.decided_at is None:
            return math.inf
        return (self.decided_at - self.committed_at).total_seconds()


@dataclass
class LatencyResult:
    mentions: int
    interval_s: float
    startup_s: float | None = None  # dagster dev start -> webserver answers
    warmup: LatencySample | None = None
    samples: list[LatencySample] = field(default_factory=list)  # the measured mentions (no warm-up)
    failure: str | None = None
    diagnostics: list[str] = field(default_factory=list)
    leftover_processes: int = 0

    @property
    def measured(self) -> list[LatencySample]:
        return [s for s in self.samples if s.accepted_at is not None]

    @property
    def missing(self) -> list[LatencySample]:
        return [s for s in self.samples if s.accepted_at is None]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (an observed value; infinities sort last)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# --- plumbing ------------------------------------------------------------------------------------


def _http(url: str, payload: dict | None = None, timeout: float = 2.0) -> bytes:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # loopback only
        return resp.read()


def graphql(port: int, query: str, timeout: float = 5.0) -> dict:
    return json.loads(_http(f"http://127.0.0.1:{port}/graphql", {"query": query}, timeout=timeout))


def daemon_statuses(port: int) -> dict[str, bool]:
    q = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
    out = graphql(port, q)
    rows = out["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
    return {r["daemonType"]: bool(r["healthy"]) for r in rows if r.get("required")}


def sensor_status(port: int) -> str:
    q = (
        "{ sensorOrError(sensorSelector: " + SENSOR_SELECTOR + ") { __typename "
        "... on Sensor { sensorState { status } } ... on PythonError { message } } }"
    )
    node = graphql(port, q)["data"]["sensorOrError"]
    if node["__typename"] != "Sensor":
        return f"{node['__typename']}: {node.get('message', '')}".strip()
    return str(node["sensorState"]["status"])


def recent_runs(port: int, limit: int = 8, *, failed_only: bool = False) -> list[str]:
    where = "filter: {statuses: [FAILURE, CANCELED]}, " if failed_only else ""
    q = "{ runsOrError(" + where + f"limit: {limit}) " + "{ ... on Runs { results { runId jobName status tags { key value } } } } }"
    results = graphql(port, q)["data"]["runsOrError"].get("results", [])
    out = []
    for r in results:
        tags = {t["key"]: t["value"] for t in r.get("tags", [])}
        out.append(f"{r['runId'][:8]} {r['jobName']} {r['status']} mentions={tags.get('kevin/mentions', '-')}")
    return out


def sensor_tick_problems(port: int, limit: int = 100) -> list[str]:
    """Recent ticks of the sensor that failed (with their error)."""
    q = (
        "{ sensorOrError(sensorSelector: " + SENSOR_SELECTOR + ") { ... on Sensor { sensorState { "
        f"ticks(limit: {limit}) " + "{ status timestamp cursor runKeys error { message } } } } } }"
    )
    ticks = graphql(port, q)["data"]["sensorOrError"]["sensorState"]["ticks"]
    out = []
    for tick in ticks:
        if tick["status"] != "FAILURE":
            continue
        message = ((tick.get("error") or {}).get("message") or "").strip().splitlines()
        at = datetime.fromtimestamp(tick["timestamp"], UTC).time()
        out.append(f"sensor tick {at} FAILURE (cursor {tick['cursor']}): {message[0] if message else '?'}")
    return out


def _diagnose(port: int, log_path: Path) -> list[str]:
    lines: list[str] = []
    try:
        lines += [f"failed run: {line}" for line in recent_runs(port, 20, failed_only=True)]
        lines += sensor_tick_problems(port)
        lines.append(f"sensor: {sensor_status(port)}")
    except Exception as exc:  # noqa: BLE001 (diagnostics only)
        lines.append(f"(no GraphQL diagnostics: {exc})")
    try:
        log_lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        log_lines = []
    log_lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in log_lines]
    errors = [ln for ln in log_lines if "error" in ln.lower() or "exception" in ln.lower()]
    lines += [f"dagster dev log: {ln}" for ln in (errors[-10:] or log_lines[-10:])]
    return lines


# --- the bench -----------------------------------------------------------------------------------


def seed_database(runtime, symbols: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Trading switched on; every bundled bar (SPY included) plus SYMBOL_SESSIONS recent-looking
    bars per bench symbol (AAPL's last sessions, relabelled): is_tradable needs the symbol cached."""
    import pandas as pd

    from kevin_pipeline.market_data.bundled import load_bundled_bars
    from kevin_pipeline.market_data.cache import store_bars
    from kevin_pipeline.trading.controls import set_trading_enabled

    bundled = load_bundled_bars()
    template = bundled[bundled["symbol"] == "AAPL"].sort_values("date").tail(SYMBOL_SESSIONS)
    extra = pd.concat([template.assign(symbol=sym) for sym in symbols], ignore_index=True)
    with runtime.transaction() as s:
        set_trading_enabled(s, True)
        store_bars(s, pd.concat([bundled, extra], ignore_index=True), "bench-latency")


def commit_mention(runtime, index: int, symbol: str, tag: str) -> LatencySample:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from kevin_pipeline.db.models import MentionRecord
    from kevin_pipeline.db.store import store_mentions
    from kevin_pipeline.domain.mention_rows import MentionRow
    from kevin_pipeline.domain.models import Action, Horizon

    video_id = f"latency-{tag}-{index:04d}"
    row = MentionRow(
        line=1, video_id=video_id, published_at=datetime.now(UTC), symbol=symbol, action=Action.BUY,
        conviction=Decimal("0.90"), horizon=Horizon.WEEKS, quote="bench latency call",
    )
    with runtime.transaction() as s:
        store_mentions(s, [row], "bench-latency")
    committed = datetime.now(UTC)
    with runtime.sessions() as s:
        mention_id = s.scalar(select(MentionRecord.id).where(MentionRecord.video_id == video_id))
    assert mention_id is not None
    return LatencySample(index=index, mention_id=int(mention_id), symbol=symbol, committed_at=committed)


def poll_orders(runtime, waiting: dict[str, LatencySample]) -> None:  # type: ignore[no-untyped-def]
    """Fill in every waiting sample whose entry order has left pending_submit."""
    if not waiting:
        return
    from sqlalchemy import select

    from kevin_pipeline.db.models import OrderRecord

    with runtime.sessions() as s:
        rows = s.execute(
            select(OrderRecord.client_order_id, OrderRecord.status, OrderRecord.updated_at, OrderRecord.submitted_at)
            .where(OrderRecord.client_order_id.in_(list(waiting)), OrderRecord.status != "pending_submit")
        ).all()
    seen = datetime.now(UTC)
    for coid, status, updated_at, submitted_at in rows:
        sample = waiting.pop(coid)
        sample.accepted_at, sample.decided_at, sample.observed_at, sample.status = updated_at, submitted_at, seen, status


def _explain_missing(runtime, samples: list[LatencySample]) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from kevin_pipeline.db.models import DecisionRecord, OrderRecord

    lines = []
    with runtime.sessions() as s:
        for sample in samples:
            decision = s.scalars(select(DecisionRecord).where(DecisionRecord.mention_id == sample.mention_id)).first()
            order = s.scalars(select(OrderRecord).where(OrderRecord.client_order_id == f"kv-{sample.mention_id}-b")).first()
            what = "no decision" if decision is None else f"decision {decision.status}: {decision.reason}"
            if order is not None:
                what += f"; order {order.status} {order.error or ''}".rstrip()
            lines.append(f"mention {sample.mention_id} ({sample.symbol}): {what}")
    return lines


def run_latency_bench(
    n_mentions: int = 30,
    interval_s: float = DEFAULT_INTERVAL_S,
    out: Callable[[str], None] = print,
    *,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
) -> LatencyResult:
    from kevin_pipeline.runtime import open_runtime
    from kevin_pipeline.settings import Settings, environment_without_settings

    result = LatencyResult(mentions=n_mentions, interval_s=interval_s)
    dagster = Path(sys.executable).parent / "dagster"
    if not dagster.exists():
        result.failure = f"no dagster executable next to {sys.executable}"
        return result
    tag = datetime.now(UTC).strftime("%H%M%S")
    symbols = [f"LT{i:03d}" if n_mentions < 1000 else f"LT{i:05d}" for i in range(n_mentions + 1)]
    tmp = Path(tempfile.mkdtemp(prefix="kevin-bench-latency-"))
    proc: subprocess.Popen | None = None
    port = 0
    runtime = None
    log_path = tmp / "dagster_dev.log"
    try:
        state, home = tmp / "state", tmp / "dagster_home"
        home.mkdir(parents=True)
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        db_url = f"sqlite:///{state / 'kevin.db'}"
        runtime = open_runtime(Settings(state_dir=state, database_url=db_url, enable_trading=True))
        seed_database(runtime, symbols)

        env = {k: v for k, v in environment_without_settings().items() if k != "DAGSTER_HOME"}
        env.update(BENCH_ENV, DAGSTER_HOME=str(home), KEVIN_STATE_DIR=str(state), KEVIN_DATABASE_URL=db_url,
                   PYTHONUNBUFFERED="1")
        port = free_port()
        out(f"    starting dagster dev on 127.0.0.1:{port} (DAGSTER_HOME and runtime DB under {tmp})")
        started = time.monotonic()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(dagster), "dev", "-m", CODE_LOCATION, "-h", "127.0.0.1", "-p", str(port)],
                cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        startup_deadline = started + startup_timeout_s

        # 1. The webserver answers.
        while True:
            if proc.poll() is not None:
                raise _Failure(f"dagster dev exited with {proc.returncode} during start-up")
            if time.monotonic() > startup_deadline:
                raise _Failure(f"webserver not answering after {startup_timeout_s:.0f} s")
            try:
                _http(f"http://127.0.0.1:{port}/server_info", timeout=1.0)
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.25)
        result.startup_s = time.monotonic() - started
        out(f"    webserver up after {result.startup_s:.1f} s")

        # 2. The daemons heartbeat and the sensor is running (on by default; started if not).
        health: dict[str, bool] = {}
        while time.monotonic() < startup_deadline:
            try:
                health = daemon_statuses(port)
                if health and all(health.values()):
                    break
            except (urllib.error.URLError, OSError, KeyError, TypeError, ValueError):
                pass
            if proc.poll() is not None:
                raise _Failure(f"dagster dev exited with {proc.returncode} during start-up")
            time.sleep(0.5)
        unhealthy = sorted(k for k, ok in health.items() if not ok)
        out(f"    daemons healthy after {time.monotonic() - started:.1f} s"
            if health and not unhealthy else f"    daemons not all healthy yet: {unhealthy or 'no status'}")
        try:
            status = sensor_status(port)
        except (urllib.error.URLError, OSError, KeyError, TypeError, ValueError) as exc:
            status = f"unknown ({exc})"
        if status != "RUNNING":
            out(f"    {SENSOR} is {status}: starting it")
            subprocess.run([str(dagster), "sensor", "start", SENSOR, "-m", CODE_LOCATION], cwd=tmp, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)

        # 3. Warm-up: the first mention after start proves the path and pays the first run's costs.
        warm = commit_mention(runtime, 0, symbols[0], tag)
        waiting = {f"kv-{warm.mention_id}-b": warm}
        while waiting and time.monotonic() < startup_deadline:
            if proc.poll() is not None:
                raise _Failure(f"dagster dev exited with {proc.returncode}")
            time.sleep(POLL_S)
            poll_orders(runtime, waiting)
        result.warmup = warm
        if waiting:
            result.diagnostics += _explain_missing(runtime, [warm])
            raise _Failure(f"the warm-up mention got no order within {startup_timeout_s:.0f} s of start "
                           "(is the daemon picking up mentions?)")
        out(f"    warm-up mention ordered {warm.latency:.2f} s after its commit "
            f"({time.monotonic() - started:.1f} s after start)")

        # 4. The measured mentions: one commit every interval_s, orders polled in between.
        t0 = time.monotonic()
        deadline = t0 + n_mentions * interval_s + drain_timeout_s
        next_i = 0
        while time.monotonic() < deadline:
            now = time.monotonic()
            if next_i < n_mentions and now >= t0 + next_i * interval_s:
                sample = commit_mention(runtime, next_i + 1, symbols[next_i + 1], tag)
                result.samples.append(sample)
                waiting[f"kv-{sample.mention_id}-b"] = sample
                next_i += 1
                if next_i % 10 == 0 and next_i < n_mentions:
                    out(f"    ... {next_i}/{n_mentions} mentions committed, {len(waiting)} waiting for their order")
            poll_orders(runtime, waiting)
            if next_i >= n_mentions and not waiting:
                break
            if proc.poll() is not None:
                raise _Failure(f"dagster dev exited with {proc.returncode} while measuring")
            time.sleep(POLL_S)
        if result.missing:
            result.diagnostics += _explain_missing(runtime, result.missing)
    except _Failure as exc:
        result.failure = str(exc)
    except Exception as exc:  # noqa: BLE001 (reported as the bench's failure, never a hang)
        result.failure = f"{type(exc).__name__}: {exc}"
    finally:
        if proc is not None and (result.failure or result.missing):
            result.diagnostics += _diagnose(port, log_path)
        if proc is not None:
            stop_process_group(proc)
            result.leftover_processes = len(group_members(proc.pid))
        if runtime is not None:
            runtime.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


class _Failure(Exception):
    pass
