"""The extractor port and what it produces.

An `ExtractedMention` holds the fields of a mention that the video itself gives; the publish time
and channel come from the video when the pipeline stores it. Its fields are checked by the same
rules as a row of a mention file (``ingest.parse.validate_call``), whichever extractor made it, and
every mention names the extractor and version that produced it, so a change of rules or model can
be told apart in the data.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.ingest.parse import validate_call
from kevin_pipeline.transcripts.models import Transcript

__all__ = ["ExtractedMention", "Extractor", "ExtractionError"]


class ExtractedMention(BaseModel):
    model_config = ConfigDict(frozen=True)

    symbol: str
    action: Action
    conviction: Decimal = Field(ge=0, le=1)
    horizon: Horizon = Horizon.UNSPECIFIED
    quote: str
    start_seconds: float | None = Field(default=None, ge=0)
    extractor: str
    extractor_version: str

    @model_validator(mode="before")
    @classmethod
    def _as_a_file_row(cls, data: Any) -> Any:
        """Symbol, action, conviction and horizon pass the mention-file rules (ValueError naming
        the field otherwise)."""
        if not isinstance(data, dict):
            return data
        symbol, action, conviction, horizon = validate_call(
            data.get("symbol"), data.get("action"), data.get("conviction"), data.get("horizon")
        )
        return {**data, "symbol": symbol, "action": action, "conviction": conviction, "horizon": horizon}

    def as_dict(self) -> dict[str, Any]:
        """The shape `kevin extract --json` prints."""
        return {
            "symbol": self.symbol,
            "action": self.action.value,
            "conviction": float(self.conviction),
            "horizon": self.horizon.value,
            "quote": self.quote,
            "start_seconds": self.start_seconds,
        }


class ExtractionError(Exception):
    """An extractor could not produce mentions for a transcript; ``reason`` is recorded with the
    video (e.g. "llm_invalid_output: ...") and the next transcript still flows."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class Extractor(Protocol):
    name: str
    version: str

    def extract(
        self, transcript: Transcript, title: str | None = None, description: str | None = None
    ) -> list[ExtractedMention]: ...
