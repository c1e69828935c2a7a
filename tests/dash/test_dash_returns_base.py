"""The strategy page says what returns are measured from: the starting capital (issue 10 item 7)."""

from __future__ import annotations

from pathlib import Path

from dash_harness import DashHarness, text_of

from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.research import backtest as bt

from tests.research.test_backtest_returns import BARS, MENTIONS  # the hand-computed run


def test_final_equity_card_is_from_the_starting_capital(harness: DashHarness, tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text(MENTIONS)
    (tmp_path / "b.csv").write_text(BARS)
    mentions, labels, _ = bt.mentions_from_file(tmp_path / "m.csv")
    bars = bt.bars_from_file(tmp_path / "b.csv")
    outcome = bt.execute(bt.BacktestInputs(mentions, bars, labels, source="file"), StrategyParams())
    with harness.kapp.transaction() as session:
        bt.save_run(session, outcome)
    page = text_of(harness.call({"_pages_location.pathname": "/strategy", "_pages_location.search": ""}))
    assert "from $100,000.00 starting capital" in page  # it said "from $100,027.55"
    assert "$100,143.55" in page and "+0.14%" in page
