"""The offline extractor, one rule per test, on the real dictionary (pytickersymbols + aliases)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.extraction.dictionary import load_dictionary, trim_name
from kevin_pipeline.extraction.offline import RulesExtractor
from kevin_pipeline.transcripts.models import Segment, Transcript

EXTRACTOR = RulesExtractor()


def _calls(*texts: str | tuple[float | None, str]) -> list[tuple[str, str, str]]:
    return [(m.symbol, m.action.value, m.horizon.value) for m in _mentions(*texts)]


def _mentions(*texts: str | tuple[float | None, str]):
    segments = [
        Segment(start_seconds=t[0], text=t[1]) if isinstance(t, tuple) else Segment(text=t) for t in texts
    ]
    return EXTRACTOR.extract(Transcript(source="test", segments=tuple(segments)))


def test_the_dictionary_holds_us_index_members_their_names_and_the_aliases() -> None:
    d = load_dictionary()
    assert len(d.symbols) > 1000
    assert {"NVDA", "GOOGL", "BRK.B", "ON", "NOW", "SHOP", "ASML", "SOFI", "SPY"} <= d.symbols
    assert d.proper_names["Morgan Stanley"] == "MS"  # from the package, trimmed of nothing
    assert d.proper_names["Walt Disney"] == "DIS"  # "The Walt Disney Company" trimmed
    assert "NOW" not in d.proper_names  # DNOW's name "NOW Inc." is ServiceNow's ticker: dropped
    assert {"ON", "NOW", "ALL", "IT", "A", "F", "T"} <= d.word_tickers
    assert trim_name("Nike, Inc.") == "Nike" and trim_name("ASML Holding") == "ASML"


def test_every_mention_records_the_extractor_and_the_second_it_is_said() -> None:
    [m] = _mentions((0.0, "Welcome back."), (42.5, "Today I'm adding to $NVDA."))
    assert (m.symbol, m.action, m.start_seconds) == ("NVDA", Action.BUY, 42.5)
    assert (m.extractor, m.extractor_version) == ("rules", "1")
    assert m.quote == "Today I'm adding to $NVDA."


@pytest.mark.parametrize(
    "text",
    [
        "AI is the theme and IT budgets are growing.",
        "ON Monday I'm buying, NOW is the time, ALL in on the theme.",
        "A lot of people are buying T-bills.",
    ],
)
def test_word_tickers_alone_are_not_stocks(text: str) -> None:
    assert _calls(text) == []


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("I'm buying $ON here.", "ON"),
        ("Onsemi, ON, I'm buying it.", "ON"),
        ("I'm buying shares of IT this week.", "IT"),
        ("I'm buying T at 17 dollars.", "T"),
        ("NASDAQ: ON is a buy for me.", "ON"),
    ],
)
def test_a_word_ticker_counts_as_a_cashtag_next_to_its_name_or_a_price_cue(text: str, symbol: str) -> None:
    assert [c[:2] for c in _calls(text)] == [(symbol, "buy")]


def test_several_calls_in_one_sentence_take_their_own_verbs() -> None:
    assert sorted(_calls("I'm buying AMD and Microsoft, but I'm trimming Tesla.")) == [
        ("AMD", "buy", "unspecified"),
        ("MSFT", "buy", "unspecified"),
        ("TSLA", "sell", "unspecified"),
    ]
    assert sorted(_calls("Nvidia I'm holding, AMD I'm adding to, and Intel I'm dumping.")) == [
        ("AMD", "buy", "unspecified"),
        ("INTC", "sell", "unspecified"),
        ("NVDA", "hold", "unspecified"),
    ]


def test_a_retracted_buy_is_removed_and_a_negated_buy_is_no_call() -> None:
    assert _calls("I'm buying Tesla today.", "Actually, scratch that, I'm not buying Tesla anymore.") == []
    assert _calls("I'm not buying Palantir at these prices.") == []


def test_a_sponsor_read_makes_no_call_and_the_video_resumes_after_it() -> None:
    assert _calls(
        "This video is sponsored by SoFi.",
        "Sign up with the link in the description and get free stock when you start buying Apple.",
        "Okay, back to the video.",
        "I'm selling Netflix.",
    ) == [("NFLX", "sell", "unspecified")]


def test_questions_and_other_peoples_trades_are_not_calls() -> None:
    assert _calls("Should you buy Amazon before earnings?") == []
    assert _calls("Analysts are buying Uber hand over fist.") == []
    assert _calls("Cathie says she's selling Tesla.") == []


def test_a_cue_in_the_next_sentence_refers_to_the_stock_just_named() -> None:
    assert _calls("Let's talk about Broadcom.", "I've been adding to it all week.") == [
        ("AVGO", "buy", "unspecified")
    ]
    # ...but not three sentences later
    assert _calls("Let's talk about Broadcom.", "Great company.", "Huge moat.", "I've been adding.") == []


@pytest.mark.parametrize(
    ("text", "horizon"),
    [
        ("I'm day trading Tesla into the close.", Horizon.INTRADAY),
        ("I'm buying Tesla as a swing trade this week.", Horizon.DAYS),
        ("I'm buying Tesla for the next few weeks.", Horizon.WEEKS),
        ("I'm buying Tesla for the next few months.", Horizon.MONTHS),
        ("I'm buying Tesla this week for the long term.", Horizon.LONG_TERM),
        ("I'm buying Tesla.", Horizon.UNSPECIFIED),
    ],
)
def test_horizon_cues(text: str, horizon: Horizon) -> None:
    [m] = _mentions(text)
    assert m.horizon is horizon


def test_hedges_lower_and_strong_words_raise_conviction() -> None:
    plain, hedged, strong = (
        _mentions(t)[0].conviction
        for t in (
            "I'm buying Amazon.",
            "Maybe I'll buy a small position in Amazon.",
            "Amazon is a strong buy, I'm all in.",
        )
    )
    assert (plain, hedged, strong) == (Decimal("0.70"), Decimal("0.40"), Decimal("0.90"))


def test_a_conditional_buy_is_a_watch_and_dont_buy_is_an_avoid() -> None:
    assert _calls("If Nvidia drops to 100 I would buy more.") == [("NVDA", "watch", "unspecified")]
    assert _calls("Whatever you do, don't buy Carvana here.") == [("CVNA", "avoid", "unspecified")]


def test_a_foreign_listing_counts_only_when_the_dictionary_has_a_us_symbol() -> None:
    assert _calls("TSX: SHOP, I'm buying it.") == [("SHOP", "buy", "unspecified")]
    assert _calls("I'm buying LVMH in Paris and FRA: RHM in Frankfurt.") == []


def test_unpunctuated_captions_are_read_in_bounded_stretches() -> None:
    chatter = [(float(i), "and then we talked about the market for a while you know") for i in range(8)]
    mentions = _mentions(*chatter, (99.0, "i am loading up on nvidia"), (101.0, "seriously"))
    assert [(m.symbol, m.action, m.start_seconds) for m in mentions] == [("NVDA", Action.BUY, 99.0)]
    assert len(mentions[0].quote) < 400  # not the whole transcript


def test_a_sponsor_read_that_ends_mid_sentence_lets_the_rest_be_read() -> None:
    captions = [
        (0.0, "this video is brought to you by webull get free stocks"),
        (3.0, "ok back to the video im buying more nvidia"),
    ]
    assert _calls(*captions) == [("NVDA", "buy", "unspecified")]


def test_a_later_clause_pointing_back_gives_the_stock_its_verb() -> None:
    assert _calls("Pfizer is dead money, I'd stay away from it.") == [("PFE", "avoid", "unspecified")]
    assert _calls("Pfizer is dead money, I'd stay away.") == []  # nothing points back: no guess
