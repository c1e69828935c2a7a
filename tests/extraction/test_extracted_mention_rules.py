"""An extracted mention obeys the same field rules as a row of a mention file."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.extraction.models import ExtractedMention
from kevin_pipeline.ingest.parse import validate_call


def test_validate_call_normalises_like_the_file_import() -> None:
    assert validate_call(" brk.b ", "BUY", 0.85, "long term") == (
        "BRK.B",
        Action.BUY,
        Decimal("0.8500"),
        Horizon.LONG_TERM,
    )
    assert validate_call("NVDA", Action.SELL, 1, None) == (
        "NVDA",
        Action.SELL,
        Decimal("1"),
        Horizon.UNSPECIFIED,
    )


@pytest.mark.parametrize(
    ("symbol", "action", "conviction", "horizon", "reason"),
    [
        ("NV DA", "buy", 0.5, None, "symbol: invalid ticker 'NV DA'"),
        ("NVDA", "yolo", 0.5, None, "action: unknown action 'yolo'"),
        ("NVDA", "buy", 1.01, None, "conviction: must be a number between 0 and 1 (got '1.01')"),
        ("NVDA", "buy", True, None, "conviction: must be a number between 0 and 1"),
        ("NVDA", "buy", 0.5, "someday", "time_horizon: unknown horizon 'someday'"),
    ],
)
def test_a_bad_field_is_named_in_the_same_words_as_for_a_file_row(
    symbol: object, action: object, conviction: object, horizon: object, reason: str
) -> None:
    with pytest.raises(ValueError) as info:
        validate_call(symbol, action, conviction, horizon)
    assert str(info.value).startswith(reason)
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        ExtractedMention(
            symbol=symbol,
            action=action,
            conviction=conviction,
            horizon=horizon,
            quote="q",
            extractor="x",
            extractor_version="1",
        )
