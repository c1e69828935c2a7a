"""What `kevin extract FILE [--json]` and `kevin extract-eval [DIR]` call: a caption file to calls,
and a labelled set to a printable score. Nothing is stored.

Both take the extractor to use (the configured one, chosen by the caller); the offline rules when
none is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kevin_pipeline.extraction.evaluate import evaluate, format_report, load_passages
from kevin_pipeline.extraction.models import Extractor
from kevin_pipeline.extraction.offline import RulesExtractor
from kevin_pipeline.transcripts.files import read_caption_file

__all__ = ["DEFAULT_EVALUATION_DIR", "evaluation_report", "extract_file"]

#: The labelled set of a source checkout (``tests/fixtures/extraction``).
DEFAULT_EVALUATION_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "extraction"


def extract_file(
    path: str | Path, extractor: Extractor | None = None, *, title: str | None = None
) -> list[dict[str, Any]]:
    """The calls in one caption or transcript file (.vtt, .srt, .json3, .txt), as plain dicts:
    symbol, action, conviction, horizon, quote, start_seconds (None for plain text).

    Raises `TranscriptFileError` for a file that cannot be read, and whatever the extractor raises
    for a transcript it cannot read (`ExtractionError`)."""
    transcript = read_caption_file(path, video_id=Path(path).stem)
    return [m.as_dict() for m in (extractor or RulesExtractor()).extract(transcript, title=title)]


def evaluation_report(directory: str | Path | None = None, extractor: Extractor | None = None) -> str:
    """Precision and recall per field and the conviction error of `extractor` on a labelled set.
    Raises `EvaluationSetError` for a missing directory or an unreadable passage file."""
    passages = load_passages(directory or DEFAULT_EVALUATION_DIR)
    return format_report(evaluate(extractor or RulesExtractor(), passages))
