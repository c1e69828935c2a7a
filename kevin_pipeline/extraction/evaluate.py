"""Score an extractor against a labelled set: a directory of passages, one YAML file each.

A passage file::

    note: what it tests
    segments:
      - {start: 12.5, text: "I'm buying Nvidia for the long term."}   # start: null for plain text
    expected:
      - {symbol: NVDA, action: buy, horizon: long_term, conviction: 0.8}

Scores are micro-averaged over the passages, each passage compared as sets:
- ``symbol``: the stocks named in a call;
- ``symbol+action``: the stock and what to do with it (the figure that trades);
- ``horizon``: stock, action and horizon all right;
- conviction: the mean absolute error over the calls whose stock and action match.
A symbol is quoted in YAML when it is a YAML word (``"ON"``, ``"NO"``); an unquoted one that YAML
reads as true/false is refused with the file name rather than scored as a miss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.extraction.models import Extractor
from kevin_pipeline.ingest.parse import validate_call
from kevin_pipeline.transcripts.models import Segment, Transcript

__all__ = [
    "EvaluationReport",
    "EvaluationSetError",
    "FieldScore",
    "Passage",
    "evaluate",
    "format_report",
    "load_passages",
]

FIELDS: tuple[str, ...] = ("symbol", "symbol+action", "horizon")

Key = tuple[str, ...]


class EvaluationSetError(Exception):
    """A passage file that cannot be read; the message names the file and the field."""


@dataclass(frozen=True)
class Expected:
    symbol: str
    action: Action
    horizon: Horizon
    conviction: Decimal


@dataclass(frozen=True)
class Passage:
    name: str
    note: str
    transcript: Transcript
    expected: tuple[Expected, ...]


@dataclass
class FieldScore:
    hits: int = 0
    predicted: int = 0
    expected: int = 0

    @property
    def precision(self) -> float | None:
        return self.hits / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.hits / self.expected if self.expected else None


@dataclass
class PassageResult:
    name: str
    missed: list[Key]
    extra: list[Key]


@dataclass
class EvaluationReport:
    extractor: str
    passages: int = 0
    scores: dict[str, FieldScore] = field(default_factory=lambda: {f: FieldScore() for f in FIELDS})
    conviction_errors: list[Decimal] = field(default_factory=list)
    wrong: list[PassageResult] = field(default_factory=list)  # passages whose symbol+action sets differ

    @property
    def conviction_mae(self) -> Decimal | None:
        if not self.conviction_errors:
            return None
        return (sum(self.conviction_errors) / len(self.conviction_errors)).quantize(Decimal("0.001"))


def load_passages(directory: str | Path) -> list[Passage]:
    root = Path(directory)
    if not root.is_dir():
        raise EvaluationSetError(f"{root}: not a directory")
    files = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
    if not files:
        raise EvaluationSetError(f"{root}: no passage files (*.yaml)")
    return [_passage(path) for path in files]


def evaluate(extractor: Extractor, passages: Iterable[Passage]) -> EvaluationReport:
    report = EvaluationReport(extractor=f"{extractor.name} {extractor.version}")
    for passage in passages:
        got = extractor.extract(passage.transcript)
        predicted = {(m.symbol, m.action.value, m.horizon.value): m.conviction for m in got}
        expected = {(e.symbol, e.action.value, e.horizon.value): e.conviction for e in passage.expected}
        for name, width in zip(FIELDS, (1, 2, 3), strict=True):
            _score(report.scores[name], {k[:width] for k in predicted}, {k[:width] for k in expected})
        by_call = {k[:2]: v for k, v in predicted.items()}
        for key, conviction in expected.items():
            if key[:2] in by_call:
                report.conviction_errors.append(abs(by_call[key[:2]] - conviction))
        pairs_got, pairs_expected = {k[:2] for k in predicted}, {k[:2] for k in expected}
        if pairs_got != pairs_expected:
            report.wrong.append(
                PassageResult(
                    passage.name, sorted(pairs_expected - pairs_got), sorted(pairs_got - pairs_expected)
                )
            )
        report.passages += 1
    return report


def format_report(report: EvaluationReport) -> str:
    """The printable report of `kevin extract-eval`."""
    lines = [f"extractor {report.extractor} on {report.passages} passages", ""]
    lines.append(f"{'field':<15}{'precision':>10}{'recall':>10}{'hits':>7}{'found':>7}{'labelled':>10}")
    for name in FIELDS:
        s = report.scores[name]
        lines.append(
            f"{name:<15}{_pct(s.precision):>10}{_pct(s.recall):>10}{s.hits:>7}{s.predicted:>7}{s.expected:>10}"
        )
    mae = report.conviction_mae
    lines.append("")
    lines.append(
        f"conviction: mean absolute error {mae} over {len(report.conviction_errors)} matched calls"
        if mae is not None
        else "conviction: no matched calls"
    )
    if report.wrong:
        lines.append("")
        lines.append(f"passages with a missed or extra call ({len(report.wrong)}):")
        for r in report.wrong:
            missed = ", ".join("/".join(k) for k in r.missed) or "-"
            extra = ", ".join("/".join(k) for k in r.extra) or "-"
            lines.append(f"  {r.name}: missed {missed}; extra {extra}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------


def _score(score: FieldScore, predicted: set[Key], expected: set[Key]) -> None:
    score.hits += len(predicted & expected)
    score.predicted += len(predicted)
    score.expected += len(expected)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _passage(path: Path) -> Passage:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EvaluationSetError(f"{path}: cannot read the passage ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        raise EvaluationSetError(f"{path}: expected a mapping with a 'segments' list")
    try:
        segments = tuple(Segment(start_seconds=s.get("start"), text=s["text"]) for s in doc["segments"])
        expected = tuple(_expected(e) for e in doc.get("expected") or [])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EvaluationSetError(f"{path}: {exc}") from None
    transcript = Transcript(video_id=path.stem, source="evaluation", segments=segments)
    return Passage(path.stem, str(doc.get("note", "")), transcript, expected)


def _expected(entry: Any) -> Expected:
    if not isinstance(entry.get("symbol"), str):
        raise ValueError(
            f'symbol: must be a string (got {entry.get("symbol")!r}; quote YAML words like "ON")'
        )
    symbol, action, conviction, horizon = validate_call(
        entry["symbol"], entry.get("action"), entry.get("conviction"), entry.get("horizon")
    )
    return Expected(symbol, action, horizon, conviction)
