"""The fast engine decides, fills and marks exactly as the engine it replaced.

The digests below were computed with the engine as it stood BEFORE the speed work (per-mention
AccountState copies, validated models, per-session scans), over three seeded synthetic universes
and three parameter sets that exercise the caps, the loss circuit, the drawdown halt and
aggregation. Any change in a trade, a decision (kind, status, reason text, size, filled qty), the
equity curve, the exposure, the benchmark, the final cash or the notes changes a digest.

If a RULE changes on purpose, these digests change with it: recompute them with `_digest` and
say so in the commit. If only the engine's speed work changed them, the engine is wrong.

Issue 10 item 7 (returns measured from the starting capital) added one point at the head of the
equity, benchmark and exposure series: the starting capital (no position) at the close before the
first session the backtest can trade. Nothing else moved, so the digests are still the reference
ones, taken over the series without that base point, which `_base_point` checks separately.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from kevin_pipeline.research.synthetic import synthetic_universe
from kevin_pipeline.domain.backtest import BacktestResult, MentionTape, run_backtest
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook

PARAM_SETS: dict[str, dict[str, object]] = {
    "default": {},
    "tight": dict(
        stop_loss_pct=Decimal("0.03"),
        take_profit_pct=Decimal("0.04"),
        daily_trade_cap=2,
        starting_equity_usd=Decimal("20000"),
        daily_loss_circuit_pct=Decimal("0.01"),
        drawdown_halt_pct=Decimal("0.97"),
    ),
    "agg24": dict(aggregation_window_hours=24.0, mention_boost_per_repeat=Decimal("0.1")),
}

REFERENCE = {
    "1-default": "3f70a5cf2444d227766cb6c5a49da92d13610b634ea2f41884c2f3f0d6761867",
    "1-tight": "c028a8c4cce3db41156db1c7387164ae33eecf6d9f55e893dd1f52aaf3dd7dab",
    "1-agg24": "e55dc7c99275be4ed9cf17ca88e87c56a7b657d4325402e81ffaf746a73d5f1b",
    "2-default": "0bdde6b37d0194408d7feaf0276ba61bd654b057a2fd457e7255c9eadafe41a0",
    "2-tight": "9ac6262dacd4df74091efee35ea66d540c91ac84aa76b569f74d0b157a1c74de",
    "2-agg24": "71ff02808bb0a9e55a12c84e64a8e9fefcab9e7b8614e83deef7d7415e5f7703",
    "3-default": "218880b9c812414c847a342d9d35e476e51ebbc1b27a3e2e7b03209b2c385f97",
    "3-tight": "135ce55d3ed2f27fa2ea0838fb961e5d68ff65d334ee9d104f888215aa6c229e",
    "3-agg24": "ad08b9bccf7be5592c38a5632c0d2a0730e0cec1ebbaff21b19b2dd1c2af4a67",
}


def _base_point(r: BacktestResult) -> None:
    """The curves open with the starting capital in cash, one session before the first trade can fill."""
    start = float(r.params.starting_equity_usd)
    assert r.equity.iloc[0] == start and r.benchmark.iloc[0] == start and not r.exposure.iloc[0]
    assert r.equity.index[0] == r.benchmark.index[0] == r.exposure.index[0] < r.equity.index[1]
    assert min(t.entry_session for t in r.trades) > r.equity.index[0]


def _canonical(r: BacktestResult) -> dict[str, object]:
    _base_point(r)
    return {
        "trades": [t.model_dump(mode="json") for t in r.trades],
        "decisions": [d.model_dump(mode="json") for d in r.decisions],
        "equity": [[str(k), round(v, 6)] for k, v in r.equity.iloc[1:].items()],
        "benchmark": [[str(k), round(v, 6)] for k, v in r.benchmark.iloc[1:].items()],
        "exposure": [[str(k), bool(v)] for k, v in r.exposure.iloc[1:].items()],
        "final_cash": str(r.final_cash),
        "notes": r.notes,
    }


def _digest(r: BacktestResult) -> str:
    return hashlib.sha256(json.dumps(_canonical(r), sort_keys=True).encode()).hexdigest()


@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda s: f"seed{s}")
def universe(request):
    u = synthetic_universe(60, 300, 1500, seed=request.param)
    return request.param, u, PriceBook.from_frame(u.bars)


@pytest.mark.parametrize("name", list(PARAM_SETS))
def test_backtest_matches_the_reference_engine(universe, name):
    seed, u, book = universe
    result = run_backtest(u.mentions, book, StrategyParams(**PARAM_SETS[name]))
    assert _digest(result) == REFERENCE[f"{seed}-{name}"]


def test_a_reused_tape_gives_the_same_results_as_a_list(universe):
    """A sweep runs every parameter set over one MentionTape: its caches must not leak between sets."""
    seed, u, book = universe
    tape = MentionTape(list(reversed(u.mentions)))  # order of the input must not matter
    for name in [*PARAM_SETS, "default"]:  # back to default after agg24: cached windows per setting
        assert _digest(run_backtest(tape, book, StrategyParams(**PARAM_SETS[name]))) == REFERENCE[f"{seed}-{name}"]


def test_decisions_built_without_validation_equal_validated_ones(universe):
    """`evaluate` builds its Decision unvalidated: it must be the model validation would build."""
    from kevin_pipeline.domain.models import AccountState, Decision
    from kevin_pipeline.domain.strategy import evaluate

    _, u, _ = universe
    params = StrategyParams()
    held = {m.symbol: Decimal("1000") for m in u.mentions[::7]}
    state = AccountState(equity=Decimal("100000"), cash=Decimal("5000"), starting_equity=Decimal("100000"), cost_basis=held)
    for m in u.mentions[:300]:
        d = evaluate(m, state, m.published_at, params)
        validated = Decision(**d.model_dump())
        assert d == validated
        assert list(d.__dict__) == list(validated.__dict__)
        assert {k: str(v) for k, v in d.__dict__.items()} == {k: str(v) for k, v in validated.__dict__.items()}
