"""The labelled set and the scoring: the offline default must reach the issue's targets, and the
scores must be the arithmetic they claim to be."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.extraction.evaluate import EvaluationSetError, evaluate, format_report, load_passages
from kevin_pipeline.extraction.from_files import DEFAULT_EVALUATION_DIR, evaluation_report, extract_file
from kevin_pipeline.extraction.models import ExtractedMention
from kevin_pipeline.extraction.offline import RulesExtractor
from kevin_pipeline.transcripts.models import Transcript, TranscriptFileError

SET = Path(__file__).resolve().parents[1] / "fixtures" / "extraction"


def test_the_offline_default_reaches_the_targets_on_the_labelled_set() -> None:
    passages = load_passages(SET)
    assert len(passages) >= 40
    assert sum(not p.expected for p in passages) >= 8  # passages without a call test precision
    report = evaluate(RulesExtractor(), passages)
    pair = report.scores["symbol+action"]
    assert pair.precision is not None and pair.precision >= 0.90, format_report(report)
    assert pair.recall is not None and pair.recall >= 0.80, format_report(report)
    assert report.conviction_mae is not None and report.conviction_mae <= Decimal("0.10")


class Scripted:
    """An extractor that answers from a table: passage (video id) -> calls."""

    name, version = "scripted", "0"

    def __init__(self, answers: dict[str, list[tuple[str, str, str, str]]]) -> None:
        self.answers = answers

    def extract(
        self, transcript: Transcript, title: str | None = None, description: str | None = None
    ) -> list[ExtractedMention]:
        return [
            ExtractedMention(
                symbol=s,
                action=a,
                horizon=h,
                conviction=c,
                quote="q",
                extractor=self.name,
                extractor_version=self.version,
            )
            for s, a, h, c in self.answers.get(transcript.video_id or "", [])
        ]


def _write(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text, encoding="utf-8")


def test_scores_are_micro_averaged_set_comparisons(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "one.yaml",
        """segments: [{start: 0, text: "x"}]
expected:
  - {symbol: NVDA, action: buy, horizon: long_term, conviction: 0.9}
  - {symbol: "ON", action: sell, horizon: unspecified, conviction: 0.5}
""",
    )
    _write(tmp_path, "two.yaml", 'segments: [{start: null, text: "y"}]\nexpected: []\n')
    extractor = Scripted(
        {
            "one": [
                ("NVDA", "buy", "days", "0.7"),
                ("ON", "buy", "unspecified", "0.5"),
            ],  # ON: right stock, wrong action
            "two": [("TSLA", "sell", "unspecified", "0.6")],  # a call where there is none
        }
    )
    report = evaluate(extractor, load_passages(tmp_path))
    s, p, h = (report.scores[k] for k in ("symbol", "symbol+action", "horizon"))
    assert (s.hits, s.predicted, s.expected) == (2, 3, 2)
    assert (p.hits, p.predicted, p.expected) == (1, 3, 2)
    assert (h.hits, h.predicted, h.expected) == (0, 3, 2)
    assert (p.precision, p.recall) == (1 / 3, 0.5)
    assert report.conviction_mae == Decimal("0.200")  # NVDA: |0.7 - 0.9|; ON's actions differ
    text = format_report(report)
    assert "symbol+action       0.333     0.500      1      3         2" in text
    assert "one: missed ON/sell; extra ON/buy" in text
    assert "two: missed -; extra TSLA/sell" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'segments: [{start: 0, text: "x"}]\nexpected: [{symbol: ON, action: buy, conviction: 0.5}]\n',
            'symbol: must be a string (got True; quote YAML words like "ON")',
        ),
        (
            'segments: [{start: 0, text: "x"}]\nexpected: [{symbol: NVDA, action: hodl, conviction: 0.5}]\n',
            "action: unknown action 'hodl'",
        ),
        ("segments: [\n", "cannot read the passage"),
        ("just text\n", "expected a mapping with a 'segments' list"),
    ],
)
def test_a_bad_passage_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path, "bad.yaml", text)
    with pytest.raises(EvaluationSetError) as info:
        load_passages(tmp_path)
    assert str(info.value).startswith(str(tmp_path / "bad.yaml"))
    assert message in str(info.value)


def test_an_empty_or_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvaluationSetError, match="no passage files"):
        load_passages(tmp_path)
    with pytest.raises(EvaluationSetError, match="not a directory"):
        load_passages(tmp_path / "nope")


def test_the_cli_report_defaults_to_the_checkout_set() -> None:
    assert DEFAULT_EVALUATION_DIR == SET
    report = evaluation_report()
    assert report.startswith(f"extractor rules 1 on {len(load_passages(SET))} passages")
    assert "conviction: mean absolute error" in report


def test_extract_file_gives_the_json_fields_with_seconds_or_null(tmp_path: Path) -> None:
    vtt = tmp_path / "video.vtt"
    vtt.write_text(
        "WEBVTT\n\n00:01:02.000 --> 00:01:05.000\nI'm loading up on $AMD for the long term.\n",
        encoding="utf-8",
    )
    txt = tmp_path / "notes.txt"
    txt.write_text("Trimming Apple today.\n", encoding="utf-8")
    assert extract_file(vtt) == [
        {
            "symbol": "AMD",
            "action": "buy",
            "conviction": 0.9,
            "horizon": "long_term",
            "quote": "I'm loading up on $AMD for the long term.",
            "start_seconds": 62.0,
        }
    ]
    [row] = extract_file(txt)
    assert (row["symbol"], row["action"], row["start_seconds"]) == ("AAPL", Action.SELL.value, None)
    assert row["horizon"] == Horizon.UNSPECIFIED.value
    bad = tmp_path / "bad.vtt"
    bad.write_text("hello", encoding="utf-8")
    with pytest.raises(TranscriptFileError, match="not a WebVTT file"):
        extract_file(bad)
