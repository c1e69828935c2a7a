"""The offline default extractor: the rules of `domain.call_reading` over the ticker dictionary of
`extraction.dictionary`. Deterministic, no model, no network.

Only the transcript is read. A title is one line of clickbait ("I'M BUYING THIS STOCK NOW") and a
description is mostly sponsor links and disclaimers: reading them costs more false calls than it
finds.
"""

from __future__ import annotations

from dataclasses import asdict

from kevin_pipeline.domain.call_reading import read_calls
from kevin_pipeline.domain.tickers import TickerDictionary
from kevin_pipeline.extraction.dictionary import load_dictionary
from kevin_pipeline.extraction.models import ExtractedMention
from kevin_pipeline.transcripts.models import Transcript

__all__ = ["RulesExtractor"]


class RulesExtractor:
    """Cue rules over a ticker dictionary. Bump `version` whenever a rule or the dictionary changes:
    it is stored with every mention."""

    name = "rules"
    version = "1"

    def __init__(self, dictionary: TickerDictionary | None = None) -> None:
        self._dictionary = dictionary

    @property
    def dictionary(self) -> TickerDictionary:
        if self._dictionary is None:
            self._dictionary = load_dictionary()
        return self._dictionary

    def extract(
        self, transcript: Transcript, title: str | None = None, description: str | None = None
    ) -> list[ExtractedMention]:
        pieces = [(s.start_seconds, s.text) for s in transcript.segments]
        made_by = {"extractor": self.name, "extractor_version": self.version}
        return [ExtractedMention(**asdict(call), **made_by) for call in read_calls(pieces, self.dictionary)]
