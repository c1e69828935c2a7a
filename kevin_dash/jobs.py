"""Backtests started from the dashboard: run in a worker thread, polled by the page.

The "Run backtest" form must not block the page, and a Dash background-callback manager
(diskcache / Celery) is one more moving part than this needs. A `ThreadPoolExecutor` with one
worker runs the job through the same function the CLI uses (`research.backtest.run_and_store`), and
the page polls `BacktestJobs.status(job_id)` with a `dcc.Interval`.

One job at a time: a second submission while one is queued or running is refused, so a stuck
button (or a script) cannot pile up backtests on the dashboard's process. Jobs live in memory; the
finished run itself is a `backtest_runs` row (trigger "dash"), failed ones included.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research import backtest as bt

log = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "running")


class JobBusy(RuntimeError):
    """A backtest from the dashboard is already queued or running."""


@dataclass(frozen=True)
class JobStatus:
    id: str
    state: str  # queued, running, succeeded, failed
    done: int = 0  # sessions simulated so far
    total: int = 0
    run_id: int | None = None
    error: str | None = None
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def finished(self) -> bool:
        return self.state not in ACTIVE_STATES

    @property
    def percent(self) -> int:
        if self.state == "succeeded":
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class BacktestJobs:
    def __init__(self, runtime: Runtime, max_history: int = 50) -> None:
        self._runtime = runtime
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kevin-dash-backtest")
        self._lock = threading.Lock()
        self._jobs: dict[str, JobStatus] = {}
        self._futures: dict[str, Future[None]] = {}
        self._max_history = max_history

    def submit(self, params: StrategyParams, start: date | None = None, end: date | None = None) -> str:
        with self._lock:
            busy = [j for j in self._jobs.values() if j.state in ACTIVE_STATES]
            if busy:
                raise JobBusy(f"backtest job {busy[0].id} is still {busy[0].state}; wait for it to finish")
            job_id = uuid.uuid4().hex[:12]
            self._jobs[job_id] = JobStatus(id=job_id, state="queued")
            self._trim()
            self._futures[job_id] = self._pool.submit(self._run, job_id, params, start, end)
        return job_id

    def status(self, job_id: str) -> JobStatus | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus | None:
        """Block until the job ends (tests and scripts; the page polls instead)."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)
        return self.status(job_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- worker -------------------------------------------------------------------------------

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)  # type: ignore[arg-type]

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished]
        for job in sorted(finished, key=lambda j: j.submitted_at)[: max(0, len(self._jobs) - self._max_history)]:
            self._jobs.pop(job.id, None)
            self._futures.pop(job.id, None)

    def _run(self, job_id: str, params: StrategyParams, start: date | None, end: date | None) -> None:
        self._update(job_id, state="running")
        try:
            outcome = bt.run_and_store(
                self._runtime, params, trigger="dash", start=start, end=end,
                progress=lambda done, total: self._update(job_id, done=done, total=total),
            )
        except bt.BacktestError as exc:  # stored as a failed run (research.backtest's failure policy)
            self._update(job_id, state="failed", error=str(exc), run_id=exc.run_id)
            return
        except Exception as exc:  # not the backtest's: the job must still end, not hang as "running"
            log.exception("dashboard backtest job %s failed", job_id)
            self._update(job_id, state="failed", error=f"{type(exc).__name__}: {exc}")
            return
        self._update(job_id, state="succeeded", run_id=outcome.run_id)
        log.info("dashboard backtest job %s stored run %s", job_id, outcome.run_id)
