"""domain.tickers on a hand-made dictionary: which words are stocks."""

from __future__ import annotations

import pytest

from kevin_pipeline.domain.tickers import SymbolHit, TickerDictionary, find_symbols

D = TickerDictionary(
    {"NVDA", "ON", "TGT", "BBY", "BAC", "SHOP", "F"},
    names={"nvidia": "NVDA", "onsemi": "ON", "shopify": "SHOP"},
    proper_names={"Target": "TGT", "Best Buy": "BBY", "Bank of America": "BAC", "Ford": "F"},
    word_tickers={"ON", "F", "A"},
)


def _found(text: str) -> list[tuple[str, str]]:
    return [(h.symbol, h.how) for h in find_symbols(text, D)]


def test_curated_names_match_in_any_case_proper_names_only_with_capitals() -> None:
    assert _found("NVIDIA and nvidia and Nvidia's") == [("NVDA", "name")] * 3
    assert _found("my price target is the best buy I know") == []
    assert _found("Target and Best Buy report today") == [("TGT", "name"), ("BBY", "name")]


def test_spans_point_at_the_words_and_the_longest_name_wins() -> None:
    text = "I like Bank of America."
    [hit] = find_symbols(text, D)
    assert hit == SymbolHit(7, 22, "BAC", "name") and text[hit.start : hit.end] == "Bank of America"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("$NVDA and $nvda", [("NVDA", "cashtag"), ("NVDA", "cashtag")]),
        ("$100 and $ZZZZ", []),  # a price, and a cashtag the dictionary does not know
        ("TSX: SHOP", [("SHOP", "exchange")]),
        ("FRA: ZZZ", []),
        ("NVDA is up", [("NVDA", "ticker")]),
        ("ON the other hand", []),
        ("$ON", [("ON", "cashtag")]),
        ("Onsemi, ON, again", [("ON", "name"), ("ON", "ticker")]),
        ("F at 11", [("F", "ticker")]),
        ("F-150 trucks", []),
        ("ticker F", [("F", "ticker")]),
    ],
)
def test_how_each_kind_of_mention_is_found(text: str, found: list[tuple[str, str]]) -> None:
    assert _found(text) == found


def test_a_name_must_point_at_a_known_symbol() -> None:
    with pytest.raises(ValueError, match=r"not in the dictionary: \['XYZ'\]"):
        TickerDictionary({"NVDA"}, names={"xyz corp": "XYZ"})
