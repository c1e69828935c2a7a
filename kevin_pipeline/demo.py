"""`make demo`: the whole embedded default, end to end, on a fresh machine.

Imports the bundled sample mentions and real daily bars into the app database (SQLite under the
state dir), runs the backtest with the default settings, stores the run, and prints what the
strategy decided for each call and how it compares with the benchmark.
"""

from __future__ import annotations

import sys

from kevin_pipeline.app import open_app
from kevin_pipeline.db.engine import safe_url
from kevin_pipeline.ingest.importer import import_mentions_file, sample_mentions_path
from kevin_pipeline.market_data.bundled import load_bundled_bars
from kevin_pipeline.market_data.cache import cached_symbols, store_bars
from kevin_pipeline.runs import backtest as bt
from kevin_pipeline.runs.report import decision_table, metrics_table, top_trades_table


def run_demo(show_all: bool = False) -> int:
    app = open_app()
    settings = app.settings
    print(f"kevin demo — database {safe_url(app.engine)}")
    print("mentions: bundled ILLUSTRATIVE SAMPLE (not real calls); prices: real daily bars (see kevin_pipeline/data/README.md)\n")

    report = import_mentions_file(app, sample_mentions_path())
    print(f"import sample mentions: {report.summary()}")

    with app.transaction() as session:
        bundled = load_bundled_bars()
        missing = set(bundled["symbol"].unique()) - cached_symbols(session)
        if missing:
            stored = store_bars(session, bundled[bundled["symbol"].isin(missing)], source="bundled")
            print(f"price bars: cached {stored} bundled bars for {', '.join(sorted(missing))}")
        else:
            print("price bars: bundled bars already cached")

    params = settings.strategy_params()
    with app.transaction() as session:
        inputs = bt.inputs_from_database(session, params)
    outcome = bt.execute(inputs, params)
    with app.transaction() as session:
        run_id = bt.save_run(session, outcome, trigger="cli")
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
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
