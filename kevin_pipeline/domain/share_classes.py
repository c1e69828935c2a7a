"""Share classes: one company, two tickers. A speaker says "Google"; the dictionary says GOOGL; the
bars at hand may only have GOOG. Both classes move together (same company, same earnings), so a
call on one is traded on the sibling that has prices, and the substitution is said in the quote.
A symbol with bars is never moved, and one whose siblings have no bars either is kept as said
(the asset check flags it).
"""

from __future__ import annotations

from collections.abc import Collection

# Each group: the tickers of one company's listed classes, the most traded first.
SHARE_CLASS_GROUPS: tuple[tuple[str, ...], ...] = (
    ("GOOGL", "GOOG"),
    ("BRK.B", "BRK.A"),
    ("FOXA", "FOX"),
    ("NWSA", "NWS"),
    ("UAA", "UA"),
    ("LBRDK", "LBRDA"),
    ("LEN", "LEN.B"),
    ("BF.B", "BF.A"),
    ("HEI", "HEI.A"),
    ("MOG.A", "MOG.B"),
    ("ZG", "Z"),
)

_SIBLINGS: dict[str, tuple[str, ...]] = {
    symbol: tuple(s for s in group if s != symbol) for group in SHARE_CLASS_GROUPS for symbol in group
}


def siblings(symbol: str) -> tuple[str, ...]:
    """The other share classes of `symbol`'s company (empty for a single-class company)."""
    return _SIBLINGS.get(symbol.upper(), ())


def tradable_class(symbol: str, with_bars: Collection[str]) -> str:
    """`symbol` when it has bars (or no sibling has), else the first sibling that has bars."""
    if symbol in with_bars:
        return symbol
    return next((s for s in siblings(symbol) if s in with_bars), symbol)
