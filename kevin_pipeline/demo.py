"""`kevin demo --quick`: the backtest half of the demo, without Dagster.

Imports the bundled sample mentions and real daily bars into the DEMO's own database (SQLite at
`<state dir>/demo/kevin.db`, the one `kevin demo` and `make up-demo` use), runs the backtest with the
default settings, stores the run, and prints what the strategy decided for each call and how it
compares with the benchmark. The illustrative sample never goes into your own database
(KEVIN_DATABASE_URL): a sensor there would treat its made-up calls as real ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kevin_pipeline.runtime import open_runtime
from kevin_pipeline.db.engine import safe_url
from kevin_pipeline.ingest.importer import import_mentions_file, sample_mentions_path
from kevin_pipeline.market_data.bundled import load_bundled_bars
from kevin_pipeline.market_data.cache import cached_symbols, store_bars
from kevin_pipeline.research import backtest as bt
from kevin_pipeline.research.report import decision_table, metrics_table, top_trades_table
from kevin_pipeline.settings import load_settings


def demo_database_url(state_dir: Path) -> str:
    """The demo's own SQLite database (never the user's KEVIN_DATABASE_URL)."""
    return f"sqlite:///{(state_dir / 'demo' / 'kevin.db').resolve()}"


def run_demo(show_all: bool = False, *, database_url: str | None = None) -> int:
    """`database_url`: default the demo's own database (tests may pass another *empty* one)."""
    base = load_settings()
    if database_url is None:
        (base.state_dir / "demo").mkdir(parents=True, exist_ok=True)
        database_url = demo_database_url(base.state_dir)
    runtime = open_runtime(load_settings(database_url=database_url))
    settings = runtime.settings
    print(f"kevin demo — database {safe_url(runtime.engine)}")
    print("mentions: bundled ILLUSTRATIVE SAMPLE (not real calls); prices: real daily bars (see kevin_pipeline/data/README.md)\n")

    report = import_mentions_file(runtime, sample_mentions_path())
    print(f"import sample mentions: {report.summary()}")

    with runtime.transaction() as session:
        bundled = load_bundled_bars()
        missing = set(bundled["symbol"].unique()) - cached_symbols(session)
        if missing:
            stored = store_bars(session, bundled[bundled["symbol"].isin(missing)], source="bundled")
            print(f"price bars: cached {stored} bundled bars for {', '.join(sorted(missing))}")
        else:
            print("price bars: bundled bars already cached")

    params = settings.strategy_params()
    outcome = bt.run_and_store(runtime, params, trigger="cli")
    run_id = outcome.run_id
    trading = "ON" if settings.enable_trading else "OFF (decisions are dry runs; set KEVIN_ENABLE_TRADING=true to trade)"

    print(f"\n== What the strategy decides for each call (backtest run #{run_id}, decided at publish time) ==")
    print(decision_table(outcome, limit=None if show_all else 40))
    print(f"\n== Following the calls vs {params.benchmark_symbol} ==")
    print(metrics_table(outcome))
    print("\n== Best trades ==")
    print(top_trades_table(outcome))
    for note in outcome.result.notes:
        print(f"note: {note}")
    print(f"\nkill switch: {trading}; broker: {settings.broker}")
    print(f"engine time {outcome.engine_seconds:.3f} s; full JSON: .venv/bin/kevin backtest --json")
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
