"""`kevin doctor`: is this deployment fit to run? One `Check` per part a person would look at first —
the app database, Dagster's storage, the broker's credentials, the price source, the kill switch and
the Dagster daemon — each OK, WARN (works, but look) or FAIL (kevin cannot do its job).

Why a module at the wiring layer: it reads Dagster's instance as well as kevin's database, broker and
settings. The command (`cli/ops.py`) only prints what `run_checks` returns.

Doctor changes nothing: the schema is read, never upgraded (`open_runtime` would upgrade it), and a
SQLite file that does not exist yet is reported, not created. No secret reaches a detail: URLs are
shown with `safe_url`, and every detail passes through `scrub` (settings' secrets, URL passwords).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from kevin_pipeline.db import migrate
from kevin_pipeline.db.engine import DatabaseSetupError, check_connection, make_engine, safe_url, session_factory
from kevin_pipeline.domain.calendar import NyseCalendar, nyse_calendar
from kevin_pipeline.settings import SECRET_FIELDS, Settings, redact, secret_values

if TYPE_CHECKING:
    from dagster import DagsterInstance

OK, WARN, FAIL = "OK", "WARN", "FAIL"
DATABASE, DAGSTER, BROKER, PRICES, KILL_SWITCH, DAEMON = (
    "database", "dagster storage", "broker credentials", "price freshness", "kill switch", "daemon heartbeat")
HEARTBEAT_MAX_AGE = timedelta(minutes=2)
MAX_SESSIONS_BEHIND = 1  # yesterday's bar may not be fetched yet; more than that is stale
PG_CONNECT_TIMEOUT_S = 5  # an unreachable host must not hang the doctor
_URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^@\s]*@")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


def scrub(text: str, settings: Settings) -> str:
    """`text` without the settings' secrets (from the environment or given directly) and without the
    password of any URL in it (Dagster's PostgreSQL URL is not a kevin setting)."""
    secrets = secret_values({name: getattr(settings, name) for name in SECRET_FIELDS})
    return _URL_PASSWORD.sub(r"\1***@", redact(text, secrets))


def _not_checked(name: str, why: str) -> Check:
    return Check(name, WARN, f"not checked: {why}")


# --- 1. the app database --------------------------------------------------------------------------


def database_engine(settings: Settings) -> Engine | None:
    """An engine on kevin's database, None when it is a SQLite file that does not exist yet (connecting
    would create it). PostgreSQL gets a connect timeout so an unreachable host answers in seconds."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        name = url.database or ""
        if name and name != ":memory:" and not name.startswith("file:") and not Path(name).expanduser().exists():
            return None
        return make_engine(url)
    return make_engine(url, connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S})


def check_database(engine: Engine) -> Check:
    """Reachable, and the schema's revision against this kevin's head. OK only at head."""
    shown = safe_url(engine)
    try:
        check_connection(engine)
    except DatabaseSetupError as exc:  # its message holds no password
        return Check(DATABASE, FAIL, str(exc))
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    behind = migrate.revisions_behind(current)
    if behind is None:
        return Check(DATABASE, FAIL, f"{shown}: schema at revision {current}, unknown to this kevin (head {head}): "
                                     "a newer kevin migrated it; upgrade kevin")
    if behind:
        return Check(DATABASE, WARN, f"{shown}: schema at {current or '(empty)'}, {behind} revision(s) behind "
                                     f"head {head}: run `kevin db upgrade`")
    return Check(DATABASE, OK, f"{shown}: reachable, schema at head {head}")


# --- 2. and 6. Dagster's instance -----------------------------------------------------------------


@contextmanager
def dagster_instance(home: Path | None) -> Iterator[DagsterInstance | None]:
    """The instance in `home` (its dagster.yaml decides the storage, e.g. PostgreSQL), disposed on
    exit; None when DAGSTER_HOME is unset. Opening may fail (no such folder, storage unreachable)."""
    if home is None:
        yield None
        return
    from dagster import DagsterInstance

    folder = home.expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"DAGSTER_HOME {folder} is not a directory")
    with DagsterInstance.from_config(str(folder)) as instance:
        yield instance


def check_dagster_storage(instance: DagsterInstance | None) -> Check:
    """A cheap read of the run storage (the newest run), which is what the webserver and daemon need."""
    if instance is None:
        return Check(DAGSTER, WARN, "DAGSTER_HOME is unset: Dagster keeps no run history between processes "
                                    "(set it to a folder holding dagster.yaml; see dagster_prod.yaml)")
    runs = instance.get_runs(limit=1)
    where = f"{type(instance.run_storage).__name__} in {instance.root_directory}"
    latest = f"newest run {runs[0].run_id[:8]} ({runs[0].status.value})" if runs else "no runs yet"
    return Check(DAGSTER, OK, f"{where}: reachable, {latest}")


def check_daemon_heartbeat(instance: DagsterInstance | None, now: datetime) -> Check:
    """The newest heartbeat of any daemon (sensors, schedules, run queue) on the instance."""
    if instance is None:
        return _not_checked(DAEMON, "no Dagster instance (DAGSTER_HOME is unset)")
    beats = instance.get_daemon_heartbeats()
    if not beats:
        return Check(DAEMON, WARN, "no daemon heartbeat on this instance: is `dagster-daemon run` up?")
    newest = max(b.timestamp for b in beats.values())
    age = max(timedelta(0), now - datetime.fromtimestamp(newest, timezone.utc))
    detail = f"newest heartbeat {age.total_seconds():.0f}s ago ({len(beats)} daemons)"
    if age > HEARTBEAT_MAX_AGE:
        return Check(DAEMON, WARN, f"{detail}, older than {HEARTBEAT_MAX_AGE.total_seconds():.0f}s: "
                                   "is `dagster-daemon run` up?")
    return Check(DAEMON, OK, detail)


# --- 3. the broker --------------------------------------------------------------------------------


def check_broker(settings: Settings, now: datetime, *, url_override: str | None = None) -> Check:
    """Simulated: nothing to check. Alpaca: the adapter's own start-up checks (both keys, the paper
    endpoint over https) and one account read. `url_override`: the endpoint to test (default: the
    paper endpoint alpaca-py picks)."""
    if settings.broker == "simulated":
        return Check(BROKER, OK, "simulated paper broker: no credentials needed")
    from kevin_pipeline.brokers.alpaca import AlpacaPaperBroker
    from kevin_pipeline.brokers.base import BrokerError, ConfigurationError

    key, secret = (s.get_secret_value() if s else None for s in (settings.alpaca_api_key, settings.alpaca_secret_key))
    try:
        broker = AlpacaPaperBroker(key, secret, url_override=url_override, max_attempts=1, request_timeout=10)
        account = broker.account(now)
    except ConfigurationError as exc:
        return Check(BROKER, FAIL, str(exc))
    except BrokerError as exc:
        return Check(BROKER, FAIL, f"Alpaca paper account read failed: {exc.message}")
    return Check(BROKER, OK, f"Alpaca paper ({broker.endpoint}): keys present, account read "
                             f"(equity {account.equity:,.2f})")


# --- 4. and 5. what the database holds --------------------------------------------------------------


def newest_bar_date(settings: Settings, sessions: sessionmaker[Session]) -> date | None:
    """The newest bar the configured source has: the bundled sample's last date, else the cache's
    (`alpaca` reads through the cache it fills)."""
    if settings.price_source == "bundled":
        from kevin_pipeline.market_data.bundled import load_bundled_bars

        return load_bundled_bars()["date"].max().date()
    from kevin_pipeline.market_data.cache import newest_cached_date

    with sessions() as session:
        return newest_cached_date(session)


def check_price_freshness(settings: Settings, sessions: sessionmaker[Session], now: datetime,
                          calendar: NyseCalendar | None = None) -> Check:
    """The newest bar against the last NYSE session that closed before `now`."""
    kind = settings.price_source
    newest = newest_bar_date(settings, sessions)
    if newest is None:
        return Check(PRICES, WARN, f"source {kind}: the price cache is empty: run `kevin prices fetch`")
    cal = calendar or nyse_calendar()
    expected = cal.last_closed_session(now)
    behind = len(cal.sessions_between(newest + timedelta(days=1), expected)) if expected and newest < expected else 0
    detail = f"source {kind}: newest bar {newest}, last completed session {expected}"
    if kind == "bundled":
        return Check(PRICES, WARN, f"{detail}: bundled bars are a sample ending {newest}; "
                                   "set KEVIN_PRICE_SOURCE=alpaca for current prices")
    if behind > MAX_SESSIONS_BEHIND:
        return Check(PRICES, WARN, f"{detail}: {behind} sessions behind: run `kevin prices fetch`")
    return Check(PRICES, OK, detail)


def check_kill_switch(settings: Settings, sessions: sessionmaker[Session], now: datetime) -> Check:
    """KEVIN_ENABLE_TRADING, the runtime switch, a loss-circuit pause and a drawdown halt."""
    from kevin_pipeline.trading.controls import switches

    with sessions() as session:
        sw = switches(session, settings.enable_trading)
    return Check(KILL_SWITCH, WARN if sw.halted or sw.paused(now) else OK, sw.describe(now))


# --- all of them ------------------------------------------------------------------------------------


def _guarded(name: str, settings: Settings, run: Callable[[], Check]) -> Check:
    """One check's result, or FAIL with its error (scrubbed): one broken part must not hide the rest."""
    try:
        check = run()
    except Exception as exc:  # noqa: BLE001 — the doctor reports whatever goes wrong
        return _failure(name, exc, settings)
    return Check(check.name, check.status, scrub(check.detail, settings))


def _failure(name: str, exc: BaseException, settings: Settings, prefix: str = "") -> Check:
    """FAIL with the error's first line and its cause's (a wrapper like "too many retries" alone does
    not say what is wrong), scrubbed."""
    reasons: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(reasons) < 2:
        lines = f"{type(cause).__name__}: {cause}".strip().splitlines()
        reasons.append(lines[0])
        cause = cause.__cause__ or cause.__context__
    return Check(name, FAIL, scrub(prefix + " (because ".join(reasons) + ")" * (len(reasons) - 1), settings))


def run_checks(settings: Settings, now: datetime, *, instance: DagsterInstance | None = None,
               broker_url: str | None = None) -> list[Check]:
    """Every check, in a fixed order. `instance`: a Dagster instance to check (tests); default the one
    in `settings.dagster_home`. The database-backed checks run only on a schema at head."""
    engine = database_engine(settings)
    try:
        if engine is None:
            db = Check(DATABASE, WARN, f"{safe_url(settings.resolved_database_url)}: no database yet: "
                                       "run `kevin db upgrade`")
        else:
            db = _guarded(DATABASE, settings, lambda: check_database(engine))
        storage, daemon = _dagster_checks(settings, now, instance)
        broker = _guarded(BROKER, settings, lambda: check_broker(settings, now, url_override=broker_url))
        if engine is not None and db.status == OK:
            sessions = session_factory(engine)
            prices = _guarded(PRICES, settings, lambda: check_price_freshness(settings, sessions, now))
            switch = _guarded(KILL_SWITCH, settings, lambda: check_kill_switch(settings, sessions, now))
        else:
            why = "the database is not usable (see database)"
            prices, switch = _not_checked(PRICES, why), _not_checked(KILL_SWITCH, why)
    finally:
        if engine is not None:
            engine.dispose()
    return [db, storage, broker, prices, switch, daemon]


def _dagster_checks(settings: Settings, now: datetime, instance: DagsterInstance | None) -> list[Check]:
    """[dagster storage, daemon heartbeat] on `instance`, or on the one opened from DAGSTER_HOME."""
    def on(inst: DagsterInstance | None) -> list[Check]:
        return [_guarded(DAGSTER, settings, lambda: check_dagster_storage(inst)),
                _guarded(DAEMON, settings, lambda: check_daemon_heartbeat(inst, now))]

    if instance is not None:
        return on(instance)
    try:
        with dagster_instance(settings.dagster_home) as opened:
            return on(opened)
    except Exception as exc:  # noqa: BLE001 — the instance could not even be opened
        return [_failure(DAGSTER, exc, settings, "cannot open the Dagster instance: "),
                _not_checked(DAEMON, "the Dagster instance could not be opened (see dagster storage)")]


def exit_code(checks: Sequence[Check]) -> int:
    """0 when nothing FAILs, else 1 (WARNs do not fail the doctor)."""
    return 1 if any(c.status == FAIL for c in checks) else 0


def render(checks: Sequence[Check]) -> str:
    """One aligned line per check: name, status, detail."""
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{c.name:<{width}}  {c.status:<4}  {c.detail}" for c in checks)


__all__ = ["Check", "FAIL", "OK", "WARN", "check_broker", "check_daemon_heartbeat", "check_dagster_storage",
           "check_database", "check_kill_switch", "check_price_freshness", "exit_code", "render", "run_checks"]
