"""Read a transcript's calls with rules: sentences, then clauses, then each named stock paired
with the action cue nearest to it. Pure and deterministic (the offline extractor's engine).

How a passage is read:
- Sentences end at ``. ! ?``; captions without punctuation are cut at a segment boundary once a
  sentence runs past ``MAX_SENTENCE_WORDS`` words.
- A question (``Should you buy Amazon?``) makes no call, but names the topic for the next sentence.
- A sponsor read (``this video is sponsored by...``) is skipped until ``back to the video`` (the
  rest of that sentence is read) or for ``SPONSOR_SENTENCES`` sentences, so "get a free slice of
  Apple stock" is no buy.
- Inside a sentence, clauses split at commas, semicolons, colons and ``but / while / however``. A
  stock takes the nearest cue of its clause before it, else after it (``Nvidia I'm holding, AMD I'm
  adding to``). A clause that is only a list of stocks (``$AMD, and $SOFI``) takes the cue of the
  clause before it, else after it. A stock in a clause without a cue takes the cue of a later
  clause that points back to it (``Pfizer is dead money, I'd stay away from it``).
- A sentence with a cue and no stock refers to the stock(s) of the sentence before (``Let's talk
  about Broadcom. I've been adding all week.``), at most ``TOPIC_SENTENCES`` back.
- A negated buy or a retraction (``scratch that, I'm not buying Snowflake anymore``) makes no call
  and removes the earlier buy of that stock in the same transcript.
- The same (symbol, action) said twice is one call: the first quote and second, the highest
  conviction, the first stated horizon.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from kevin_pipeline.domain.call_cues import (
    ActionCue,
    action_cues,
    conviction_for,
    horizon_in,
    is_sponsor_start,
    sponsor_end,
)
from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.domain.tickers import SymbolHit, TickerDictionary, find_symbols

__all__ = ["Call", "read_calls"]

MAX_SENTENCE_WORDS = 40
SPONSOR_SENTENCES = 6
TOPIC_SENTENCES = 2
MAX_QUOTE_CHARS = 500

_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_RE = re.compile(
    r"[,;:]|\s[-\u2013\u2014]\s|\b(?:but|while|whereas|however|although)\b", re.IGNORECASE
)
_BACK_REFERENCE_RE = re.compile(r"\b(?:it|them|both|those|these|all (?:three|of them))\b", re.IGNORECASE)
_LIST_FILLER = frozenset("and or also too plus ticker the stock stocks shares of as well & then".split())
_MASK = "\u00a7"


@dataclass(frozen=True)
class Call:
    symbol: str
    action: Action
    conviction: Decimal
    horizon: Horizon
    quote: str
    start_seconds: float | None


@dataclass(frozen=True)
class _Sentence:
    start: int
    text: str


def read_calls(pieces: Sequence[tuple[float | None, str]], dictionary: TickerDictionary) -> list[Call]:
    """The calls in a transcript given as (start second or None, text) pieces, in order of speech."""
    text, offsets, seconds = _join(pieces)
    calls: list[Call] = []
    topic: tuple[int, list[SymbolHit], _Sentence] | None = None  # (sentence number, hits, sentence)
    sponsor_left = 0
    for number, sentence in enumerate(_sentences(text, offsets)):
        if sponsor_left or is_sponsor_start(sentence.text):
            resume = sponsor_end(sentence.text)
            if resume is None:
                sponsor_left = sponsor_left - 1 if sponsor_left else SPONSOR_SENTENCES
                continue
            sponsor_left = 0  # "back to the video": what follows in this sentence is read
            sentence = _Sentence(sentence.start + resume, sentence.text[resume:])
        hits = find_symbols(sentence.text, dictionary)
        if sentence.text.rstrip().endswith("?"):
            topic = (number, hits, sentence) if hits else topic
            continue
        masked = _masked(sentence.text, hits)
        cues = action_cues(masked)
        if hits:
            pairs = _pair(masked, hits, cues)
            topic = (number, hits, sentence)
            anchor = sentence
        elif cues and topic is not None and number - topic[0] <= TOPIC_SENTENCES:
            first = next((c for c in cues if not c.weak), cues[0])
            pairs = [(h, first) for h in topic[1]]
            anchor = topic[2]
        else:
            continue
        for hit, cue in pairs:
            if cue.negated:
                calls = [c for c in calls if (c.symbol, c.action) != (hit.symbol, cue.action)]
                continue
            calls.append(
                Call(
                    symbol=hit.symbol,
                    action=cue.action,
                    conviction=conviction_for(cue.action, sentence.text),
                    horizon=horizon_in(_horizon_region(sentence.text, hit, cue, cues)) or Horizon.UNSPECIFIED,
                    quote=_quote(anchor, sentence),
                    start_seconds=_second_at(
                        anchor.start + (hit.start if anchor is sentence else 0), offsets, seconds
                    ),
                )
            )
    return _merged(calls)


# --------------------------------------------------------------------------------------------------


def _join(pieces: Sequence[tuple[float | None, str]]) -> tuple[str, list[int], list[float | None]]:
    parts, offsets, seconds = [], [], []
    position = 0
    for start, piece in pieces:
        piece = " ".join(piece.split())
        if not piece:
            continue
        offsets.append(position)
        seconds.append(start)
        parts.append(piece)
        position += len(piece) + 1
    return " ".join(parts), offsets, seconds


def _sentences(text: str, offsets: list[int]) -> list[_Sentence]:
    out = []
    start = 0
    for m in [*_SENTENCE_END_RE.finditer(text), None]:
        end = m.start() if m else len(text)
        out.extend(_cut_long(text, start, end, offsets))
        start = m.end() if m else len(text)
    return [s for s in out if s.text.strip()]


def _cut_long(text: str, start: int, end: int, offsets: list[int]) -> list[_Sentence]:
    """One sentence, or several cut at segment boundaries when it runs on (unpunctuated captions)."""
    pieces = []
    while len(text[start:end].split()) > MAX_SENTENCE_WORDS:
        words_end = start + sum(len(w) + 1 for w in text[start:end].split()[:MAX_SENTENCE_WORDS])
        cut = next((o for o in offsets if words_end <= o < end), None)
        if cut is None:
            break
        pieces.append(_Sentence(start, text[start:cut].strip()))
        start = cut
    pieces.append(_Sentence(start, text[start:end].strip()))
    return pieces


def _masked(text: str, hits: list[SymbolHit]) -> str:
    """The sentence with every named stock blanked out, so names never read as verbs or clause
    breaks ("TSX: SHOP", "ASML Holding")."""
    chars = list(text)
    for h in hits:
        chars[h.start : h.end] = _MASK * (h.end - h.start)
    return "".join(chars)


def _clauses(masked: str) -> list[tuple[int, int]]:
    bounds = [0, *(p for m in _CLAUSE_RE.finditer(masked) for p in (m.start(), m.end())), len(masked)]
    return [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]


def _pair(masked: str, hits: list[SymbolHit], cues: list[ActionCue]) -> list[tuple[SymbolHit, ActionCue]]:
    clauses = _clauses(masked)
    clause_cues = [[c for c in cues if a <= c.start < b] for a, b in clauses]
    pairs = []
    for hit in hits:
        index = bisect.bisect_right([a for a, _ in clauses], hit.start) - 1
        own = clause_cues[index]
        if own:
            pairs.append((hit, _nearest(hit, own)))
        elif _only_stocks(masked[clauses[index][0] : clauses[index][1]]):
            before = [cs for cs in clause_cues[:index] if cs]
            after = [cs for cs in clause_cues[index + 1 :] if cs]
            if before or after:
                pairs.append((hit, before[-1][-1] if before else after[0][0]))
        else:
            later = [
                clause_cues[i]
                for i in range(index + 1, len(clauses))
                if clause_cues[i] and _BACK_REFERENCE_RE.search(masked[clauses[i][0] : clauses[i][1]])
            ]
            if later:  # "Pfizer is dead money, I'd stay away from it"
                pairs.append((hit, later[0][0]))
    return pairs


def _nearest(hit: SymbolHit, cues: list[ActionCue]) -> ActionCue:
    strong = [c for c in cues if not c.weak] or cues
    before = [c for c in strong if c.start < hit.start]
    return before[-1] if before else min(strong, key=lambda c: c.start)


def _only_stocks(clause: str) -> bool:
    words = re.findall(r"[\w&']+", clause.replace(_MASK, " "))
    return all(w.lower() in _LIST_FILLER for w in words)


def _horizon_region(text: str, hit: SymbolHit, cue: ActionCue, cues: list[ActionCue]) -> str:
    """Where a stock's horizon is read: the whole sentence when all its cues agree, else from its
    cue to the next cue after it ("taking profits on X today and rotating into Y for weeks")."""
    if len({c.action for c in cues}) <= 1:
        return text
    start = min(cue.start, hit.start)
    end = min((c.start for c in cues if c.start > max(hit.start, cue.start)), default=len(text))
    return text[start:end]


def _quote(anchor: _Sentence, sentence: _Sentence) -> str:
    quote = anchor.text if anchor is sentence else f"{anchor.text} {sentence.text}"
    return quote if len(quote) <= MAX_QUOTE_CHARS else quote[: MAX_QUOTE_CHARS - 1] + "\u2026"


def _second_at(position: int, offsets: list[int], seconds: list[float | None]) -> float | None:
    index = bisect.bisect_right(offsets, position) - 1
    return seconds[max(index, 0)] if seconds else None


def _merged(calls: list[Call]) -> list[Call]:
    merged: dict[tuple[str, Action], Call] = {}
    for call in calls:
        key = (call.symbol, call.action)
        first = merged.get(key)
        if first is None:
            merged[key] = call
            continue
        horizon = first.horizon if first.horizon is not Horizon.UNSPECIFIED else call.horizon
        merged[key] = replace(first, conviction=max(first.conviction, call.conviction), horizon=horizon)
    return list(merged.values())
