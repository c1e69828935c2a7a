"""Share classes: a call is traded on the class that has prices."""

from kevin_pipeline.domain.share_classes import siblings, tradable_class


def test_a_class_without_bars_moves_to_its_sibling_with_bars():
    assert tradable_class("GOOGL", {"GOOG", "SPY"}) == "GOOG"
    assert tradable_class("BRK.B", {"BRK.A"}) == "BRK.A"


def test_a_class_with_bars_is_never_moved():
    assert tradable_class("GOOGL", {"GOOGL", "GOOG"}) == "GOOGL"


def test_without_bars_for_any_class_the_symbol_is_kept():
    assert tradable_class("FOXA", {"SPY"}) == "FOXA"
    assert tradable_class("NVDA", {"SPY"}) == "NVDA"


def test_siblings_are_symmetric():
    assert siblings("GOOG") == ("GOOGL",) and siblings("googl") == ("GOOG",) and siblings("AAPL") == ()
