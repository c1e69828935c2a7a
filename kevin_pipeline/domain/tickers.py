"""Finding the stocks a piece of speech names: cashtags, exchange-prefixed tickers, bare tickers
and company names, checked against a dictionary of the symbols kevin can trade.

Pure: the dictionary is built elsewhere (``extraction.dictionary`` reads a package that ships one)
and handed in. Everything found is a `SymbolHit` with its character span, so the reader of calls can
tell which words are taken by a name before it looks for verbs.

Tickers that are English words (``AI``, ``ALL``, ``IT``, ``NOW``, ``ON``, single letters...) are the
trap: a bare ``ON`` in a sentence is almost always the preposition. Such a word ticker counts only
as a cashtag (``$ON``), after an exchange prefix (``NASDAQ: ON``), when the company's name is said
in the same sentence, or next to a price cue (``F under 10 bucks``, ``ticker T``, ``shares of IT``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["SymbolHit", "TickerDictionary", "find_symbols"]

# Exchanges a speaker may prefix a ticker with. The symbol after a foreign exchange counts only when
# the dictionary knows it (a company also listed in New York under the same symbol, e.g. TSX: SHOP).
EXCHANGES = (
    "NYSE",
    "NASDAQ",
    "Nasdaq",
    "AMEX",
    "NYSEARCA",
    "TSX",
    "TSXV",
    "LSE",
    "LON",
    "FRA",
    "XETRA",
    "TYO",
    "HKEX",
    "ASX",
    "EPA",
    "AMS",
    "OTC",
)
_CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z]{1,5}(?:\.[A-Za-z])?)\b")
_PREFIXED_RE = re.compile(r"\b(?:" + "|".join(EXCHANGES) + r")\s*:\s*\$?([A-Z]{1,5}(?:\.[A-Z])?)\b")
_BARE_RE = re.compile(r"(?<![\w$.&'])([A-Z]{1,5}(?:\.[A-Z])?)(?![\w&]|'[a-z])")
_PRICE_BEFORE_RE = re.compile(r"(?:\bticker|\bsymbol|\bshares of|\bstock)\s*$", re.IGNORECASE)
_PRICE_AFTER_RE = re.compile(
    r"^(?:\s*(?:stock|shares)\b|\s+(?:at|under|over|around|near|above|below|is trading at)\s+\$?\d|\s*\$\d)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SymbolHit:
    start: int
    end: int
    symbol: str
    how: str  # "cashtag", "exchange", "ticker", "name"


class TickerDictionary:
    """The symbols kevin can trade and the names a speaker uses for them.

    ``names``: a spoken name -> symbol, matched without regard to case (curated aliases such as
    "nvidia", which automatic captions write in lower case). ``proper_names``: matched only as
    written, with capitals (names that are also ordinary words: "Target", "Best Buy", "Visa").
    ``word_tickers``: symbols that are English words or common acronyms (see the module doc).
    """

    def __init__(
        self,
        symbols: Iterable[str],
        names: Mapping[str, str] | None = None,
        proper_names: Mapping[str, str] | None = None,
        word_tickers: Iterable[str] = (),
    ) -> None:
        self.symbols = frozenset(symbols)
        self.names = {k.lower(): v for k, v in (names or {}).items()}
        self.proper_names = dict(proper_names or {})
        self.word_tickers = frozenset(word_tickers) & self.symbols
        unknown = {s for s in (*self.names.values(), *self.proper_names.values()) if s not in self.symbols}
        if unknown:
            raise ValueError(f"names point at symbols not in the dictionary: {sorted(unknown)}")
        self._patterns = (
            (_alternation(self.names, re.IGNORECASE), self.names, str.lower),
            (_alternation(self.proper_names, 0), self.proper_names, str),
        )

    def name_hits(self, text: str) -> list[SymbolHit]:
        hits = []
        for regex, table, key in self._patterns:
            if regex is not None:
                hits.extend(
                    SymbolHit(m.start(), m.end(), table[key(m.group(0))], "name")
                    for m in regex.finditer(text)
                )
        return hits


def _alternation(table: Mapping[str, str], flags: int) -> re.Pattern[str] | None:
    if not table:
        return None
    words = sorted(table, key=len, reverse=True)  # the longest name wins ("Bank of America" over "Bank")
    return re.compile(r"(?<![\w$])(?:" + "|".join(re.escape(w) for w in words) + r")(?![\w&])", flags)


def find_symbols(text: str, dictionary: TickerDictionary) -> list[SymbolHit]:
    """Every symbol named in `text` (one sentence), by position, spans not overlapping."""
    hits: list[SymbolHit] = []
    for m in _PREFIXED_RE.finditer(text):
        if m.group(1) in dictionary.symbols:
            hits.append(SymbolHit(m.start(), m.end(), m.group(1), "exchange"))
    for m in _CASHTAG_RE.finditer(text):
        sym = m.group(1).upper()
        if sym in dictionary.symbols:
            hits.append(SymbolHit(m.start(), m.end(), sym, "cashtag"))
    hits.extend(dictionary.name_hits(text))
    hits = _without_overlaps(hits)
    named = {h.symbol for h in hits}
    for m in _BARE_RE.finditer(text):
        sym = m.group(1)
        if sym not in dictionary.symbols or _inside(m.start(), hits):
            continue
        if sym in dictionary.word_tickers and not (
            sym in named
            or _PRICE_BEFORE_RE.search(text[: m.start()])
            or _PRICE_AFTER_RE.match(text[m.end() :])
        ):
            continue
        hits.append(SymbolHit(m.start(), m.end(), sym, "ticker"))
    return sorted(_without_overlaps(hits), key=lambda h: h.start)


def _inside(position: int, hits: Iterable[SymbolHit]) -> bool:
    return any(h.start <= position < h.end for h in hits)


def _without_overlaps(hits: list[SymbolHit]) -> list[SymbolHit]:
    """Of overlapping hits the one that starts first, then the longest, stays."""
    kept: list[SymbolHit] = []
    for h in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if not any(k.start < h.end and h.start < k.end for k in kept):
            kept.append(h)
    return kept
