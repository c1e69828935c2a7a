"""The fast engine decides, fills and marks exactly as the engine it replaced.

The digests below were computed with the engine as it stood BEFORE the speed work (per-mention
AccountState copies, validated models, per-session scans), over three seeded synthetic universes
and three parameter sets that exercise the caps, the loss circuit, the drawdown halt and
aggregation. Any change in a trade, a decision (kind, status, reason text, size, filled qty), the
equity curve, the exposure, the benchmark, the final cash or the notes changes a digest.

If a RULE changes on purpose, these digests change with it: recompute them with `_digest` and
say so in the commit. If only the engine's speed work changed them, the engine is wrong.

A digest alone says only THAT something moved. The reference engine's canonical records are
stored beside this file (`fixtures/backtest_reference.json.xz`, 270 kB, proven to be the reference
by hashing to the digests below), so a failing case also says WHAT moved: the summary metrics that
changed and, per section, how many records differ and the first one field by field. After an
intended rule change, rewrite both with `python -m tests.domain.test_backtest_speed_equivalence`
and paste the digests it prints into REFERENCE.

Issue 10 item 7 (returns measured from the starting capital) added one point at the head of the
equity, benchmark and exposure series: the starting capital (no position) at the close before the
first session the backtest can trade. Nothing else moved, so the digests are still the reference
ones, taken over the series without that base point, which `_base_point` checks separately.
"""

from __future__ import annotations

import hashlib
import json
import lzma
from collections import Counter
from decimal import Decimal
from functools import cache
from pathlib import Path

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


Canonical = dict[str, object]
RECORDS = Path(__file__).parent / "fixtures" / "backtest_reference.json.xz"


def _digest(r: BacktestResult | Canonical) -> str:
    records = r if isinstance(r, dict) else _canonical(r)
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()


@cache
def _reference_records() -> dict[str, Canonical]:
    """Case key ("1-tight") -> the reference engine's canonical records."""
    return json.loads(lzma.decompress(RECORDS.read_bytes()))


def _summary(c: Canonical) -> dict[str, object]:
    """The run at a glance: what a reader checks first when a case moves."""
    trades, decisions = c["trades"], c["decisions"]
    return {
        "trades": len(trades),
        "decisions": len(decisions),
        "final_cash": c["final_cash"],
        "final_equity": c["equity"][-1][1] if c["equity"] else None,
        "final_benchmark": c["benchmark"][-1][1] if c["benchmark"] else None,
        "total_pnl_usd": str(sum((Decimal(t["pnl_usd"]) for t in trades), Decimal(0))),
        "sessions_exposed": sum(1 for _, held in c["exposure"] if held),
        "notes": len(c["notes"]),
        **{f"exit_reason={k}": n for k, n in sorted(Counter(t["exit_reason"] for t in trades).items())},
        **{f"decision={k}": n for k, n in sorted(Counter(f"{d['kind']}/{d['status']}" for d in decisions).items())},
    }


def _record_change(was: object, now: object) -> str:
    if isinstance(was, dict) and isinstance(now, dict):
        return "; ".join(f"{k}: {was.get(k)!r} -> {now.get(k)!r}" for k in sorted({*was, *now}) if was.get(k) != now.get(k))
    if isinstance(was, list) and isinstance(now, list) and len(was) == len(now) == 2 and was[0] == now[0]:
        return f"{was[0]}: {was[1]!r} -> {now[1]!r}"  # a curve point: same session, another value
    return f"{was!r} -> {now!r}"


SECTIONS = ("trades", "equity", "benchmark", "exposure", "decisions", "notes")


def _label(record: object) -> str:
    """" (NVDA, mention 12)" for a trade or a decision, so a reader can find it in the run."""
    return f" ({record['symbol']}, mention {record['mention_id']})" if isinstance(record, dict) else ""


def describe_change(case: str, was: Canonical, now: Canonical) -> str:
    """What moved between two canonical runs, metric by metric and section by section."""
    lines = [f"backtest {case} is not the reference engine's run (reference -> now):"]
    before, after = _summary(was), _summary(now)
    moved = [f"  {k}: {before.get(k)} -> {after.get(k)}" for k in {**before, **after} if before.get(k) != after.get(k)]
    lines += moved or ["  no summary metric moved"]
    for section in SECTIONS:  # final_cash, the one scalar, is in the summary
        a, b = was[section], now[section]
        differ = [i for i in range(max(len(a), len(b))) if i >= len(a) or i >= len(b) or a[i] != b[i]]
        if not differ:
            continue
        i = differ[0]
        first = (
            f"#{i}{_label(a[i])} only in the reference: {a[i]!r}" if i >= len(b)
            else f"#{i}{_label(b[i])} is new: {b[i]!r}" if i >= len(a)
            else f"#{i}{_label(a[i])}: {_record_change(a[i], b[i])}"
        )
        lines.append(f"{section}: {len(differ)} of {len(a)} records differ ({len(a)} -> {len(b)}); first {first}")
    return "\n".join(lines)


def assert_matches_reference(result: BacktestResult, case: str) -> None:
    now = _canonical(result)
    digest = _digest(now)
    message = "" if digest == REFERENCE[case] else describe_change(case, _reference_records()[case], now)
    assert digest == REFERENCE[case], message


@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda s: f"seed{s}")
def universe(request):
    u = synthetic_universe(60, 300, 1500, seed=request.param)
    return request.param, u, PriceBook.from_frame(u.bars)


@pytest.mark.parametrize("name", list(PARAM_SETS))
def test_backtest_matches_the_reference_engine(universe, name):
    seed, u, book = universe
    assert_matches_reference(run_backtest(u.mentions, book, StrategyParams(**PARAM_SETS[name])), f"{seed}-{name}")


def test_the_stored_records_are_the_reference_runs():
    """The file the failure messages diff against hashes to the reference digests, case by case."""
    assert {case: _digest(records) for case, records in _reference_records().items()} == REFERENCE


def test_a_changed_run_is_described_metric_by_metric_and_record_by_record():
    was = _reference_records()["1-default"]
    now = json.loads(json.dumps(was))
    now["trades"][3]["exit_reason"], now["trades"][3]["pnl_usd"] = "stop", "-1.00"
    now["equity"][10][1] += 5.0
    now["decisions"].pop()
    text = describe_change("1-default", was, now)
    trade = was["trades"][3]
    assert f"  total_pnl_usd: {_summary(was)['total_pnl_usd']} -> " in text
    assert f"trades: 1 of 562 records differ (562 -> 562); first #3 ({trade['symbol']}, mention {trade['mention_id']}): exit_reason: {trade['exit_reason']!r} -> 'stop'; " \
           f"pnl_usd: {trade['pnl_usd']!r} -> '-1.00'" in text
    point = was["equity"][10]
    assert f"equity: 1 of 299 records differ (299 -> 299); first #10: {point[0]}: {point[1]!r} -> {point[1] + 5.0!r}" in text
    assert "decisions: 1 of 1500 records differ (1500 -> 1499); first #1499 (" in text and " only in the reference: {" in text
    sections = [line.split(":")[0] for line in text.splitlines()[1:] if not line.startswith(" ")]
    assert sections == ["trades", "equity", "decisions"]
    assert "benchmark" not in text and "final_cash" not in text


def test_a_reused_tape_gives_the_same_results_as_a_list(universe):
    """A sweep runs every parameter set over one MentionTape, with the decisions that need no account
    worked out before (as `run_sweep` does): its caches must not leak between sets."""
    seed, u, book = universe
    tape = MentionTape(list(reversed(u.mentions)))  # order of the input must not matter
    assert tape.decided_without_the_account(StrategyParams(), compute=False) is None  # a lone run does not pay for it
    for name in PARAM_SETS:
        assert tape.decided_without_the_account(StrategyParams(**PARAM_SETS[name])) is not None
    for name in [*PARAM_SETS, "default"]:  # back to default after agg24: cached windows per setting
        assert_matches_reference(run_backtest(tape, book, StrategyParams(**PARAM_SETS[name])), f"{seed}-{name}")
        light = run_backtest(tape, book, StrategyParams(**PARAM_SETS[name]), audit=False)
        assert _digest(_canonical(light)) == _digest(dict(_reference_records()[f"{seed}-{name}"], decisions=[]))


@pytest.mark.parametrize("name", list(PARAM_SETS))
def test_a_run_without_audit_rows_trades_exactly_as_the_reference(universe, name):
    """A sweep's light runs skip the per-call decision rows; everything else is the reference run."""
    seed, u, book = universe
    light = _canonical(run_backtest(u.mentions, book, StrategyParams(**PARAM_SETS[name]), audit=False))
    assert light["decisions"] == []
    reference = dict(_reference_records()[f"{seed}-{name}"], decisions=[])
    assert _digest(light) == _digest(reference)


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
        assert d.model_fields_set == validated.model_fields_set == set(Decision.model_fields)
    # the rows share one fields-set: assigning a field (as the engine amends its audit rows) leaves
    # every row's fields-set whole, and a dump of one row is unaffected by another
    first, second = (evaluate(m, state, m.published_at, params) for m in u.mentions[:2])
    first.reason = "amended"
    assert second.model_fields_set == set(Decision.model_fields) and second.reason != "amended"
    assert Decision(**second.model_dump()) == second


def write_reference_records() -> dict[str, str]:
    """Rewrite `backtest_reference.json.xz` from the engine as it is; returns the new digests."""
    runs: dict[str, Canonical] = {}
    for seed in (1, 2, 3):
        u = synthetic_universe(60, 300, 1500, seed=seed)
        book = PriceBook.from_frame(u.bars)
        for name, overrides in PARAM_SETS.items():
            runs[f"{seed}-{name}"] = _canonical(run_backtest(u.mentions, book, StrategyParams(**overrides)))
    RECORDS.write_bytes(lzma.compress(json.dumps(runs, sort_keys=True).encode(), preset=9 | lzma.PRESET_EXTREME))
    return {case: _digest(records) for case, records in runs.items()}


if __name__ == "__main__":
    print(json.dumps(write_reference_records(), indent=4))
