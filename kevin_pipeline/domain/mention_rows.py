"""The validated shape of one imported mention row, shared by the parser and the storage layer.

A domain model, so that both adapters depend on it from below: the store does not import the
importer's types. The horizon field is `horizon`, as on `Mention`; the file column the user writes
stays `time_horizon`, and the parser maps one to the other.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from kevin_pipeline.domain.models import Action, Horizon


class MentionRow(BaseModel):
    """A row that passed validation. `line` is the 1-based line (CSV/JSONL) or element index (JSON)."""

    model_config = ConfigDict(frozen=True)

    line: int
    end_line: int | None = None  # CSV, a record over several lines (quoted newlines): its last line
    video_id: str
    published_at: AwareDatetime  # normalised to UTC
    symbol: str  # upper-cased, validated
    action: Action
    conviction: Decimal
    horizon: Horizon  # the file's time_horizon column
    quote: str | None = None
    video_title: str | None = None
    channel: str | None = None
    # set when a transcript extractor produced the row (None: typed into a file)
    extractor: str | None = None
    extractor_version: str | None = None
    start_seconds: float | None = None  # where in the video the call is made

    @property
    def natural_key(self) -> tuple[str, str, str, str]:
        """Re-importing a file must add nothing: a mention is identified by video, symbol, action, horizon."""
        return (self.video_id, self.symbol, self.action.value, self.horizon.value)


class RejectedRow(BaseModel):
    """A row that failed validation: where it is and why, in words naming the field."""

    line: int
    end_line: int | None = None  # CSV, a record over several lines: its last line
    reason: str  # names the field, e.g. "conviction: must be between 0 and 1 (got 1.7)"
