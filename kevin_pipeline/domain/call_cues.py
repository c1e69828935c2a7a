"""The words that make a sentence a call: action verbs, horizons, hedges and strong words, sponsor
reads. Pure tables and small classifiers; `domain.call_reading` puts them together.

The lists are deliberately plain English phrases a finance YouTuber uses. An action cue has a
polarity test (``I'm not buying``), a third-person test (``people were selling`` is not the
speaker's call) and a conditional test (``if it drops to 100 I would buy`` is a watch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from kevin_pipeline.domain.models import Action, Horizon

__all__ = [
    "ActionCue",
    "action_cues",
    "conviction_for",
    "horizon_in",
    "sponsor_end",
    "is_sponsor_start",
]

_I = re.IGNORECASE

# action -> phrases (regular expressions). The earlier action wins where two overlap.
_ACTION_PHRASES: dict[Action, tuple[str, ...]] = {
    Action.AVOID: (
        r"avoid(?:ing|ed)?",
        r"stay(?:ing)? (?:far )?away",
        r"steer(?:ing)? clear",
        r"(?:wouldn't|won't|don't|would not|not) (?:touch|go near)",
        r"not touching",
        r"(?:it's |that's )?a pass for me",
        r"i'll pass on",
        r"(?:on|to) the sidelines",
    ),
    Action.WATCH: (
        r"watch ?list",
        r"watching",
        r"on my radar",
        r"keep(?:ing)? an eye on",
        r"eyeing",
    ),
    Action.HOLD: (
        r"holding",
        r"still hold(?:ing)?",
        r"hold(?:ing)? on to",
        r"keeping (?:it|them|my|all)",
        r"(?:is|as) a hold",
        r"(?:i'm|i am|we're|we are|staying) long",
        r"i (?:still )?own (?:it|them|shares)",
    ),
    Action.SELL: (
        r"sell(?:ing|er)?",
        r"sold",
        r"(?:i'm|i am|we're) (?:\w+ )?out of",
        r"trim(?:ming|med)?",
        r"tak(?:e|ing) (?:some )?profits?",
        r"took (?:some )?profits?",
        r"dump(?:ing|ed)?",
        r"exit(?:ing|ed)?",
        r"cash(?:ing|ed)? out",
        r"getting out of",
        r"rotat(?:e|ing|ed) out of",
        r"clos(?:e|ed|ing) (?:it|out|the trade|the position|my position)",
        r"cutting",
        r"cut my losses on",
    ),
    Action.BUY: (
        r"buy(?:ing|s|er)?",
        r"bought",
        r"doubl(?:e|ing|ed) down on",
        r"put(?:ting)? (?:it|that|the money|the cash|them) into",
        r"add(?:ing|ed)?(?! value)",
        r"load(?:ing|ed)? up",
        r"accumulat(?:e|ing)",
        r"(?:start(?:ing|ed)?|open(?:ing|ed)?|initiat(?:e|ing|ed)) a (?:\w+ )?position",
        r"pick(?:ing|ed)? up(?: shares| some)?",
        r"scoop(?:ing|ed)? up",
        r"back(?:ing)? up the truck",
        r"all in on",
        r"going all in",
        r"rotat(?:e|ing|ed) into",
        r"day trad(?:e|ing)",
        r"averag(?:e|ing) into",
        r"position(?:ing|ed)? (?:myself )?in(?:to)?",
        r"nibbl(?:e|ing)(?: on)?",
        r"(?:i'd|i would|i'll) take",
    ),
}
_ACTION_RE = re.compile(
    "|".join(f"(?P<{a.value}>\\b(?:{'|'.join(p)})\\b)" for a, p in _ACTION_PHRASES.items()), _I
)

_NEGATION_RE = re.compile(
    r"\b(?:not|never|no longer|don't|didn't|won't|isn't|aren't|stop(?:ped)?)\s+(?:\w+\s+){0,1}$", _I
)
_THIRD_PERSON_RE = re.compile(
    r"\b(?:people|they|everyone|everybody|analysts?|investors|he|she|funds|traders|retail|institutions|wall street)"
    r"(?:'s|'re)?\s+(?:\w+\s+){0,2}$|\bsays?\s+(?:\w+\s+){0,3}$",
    _I,
)
# "don't buy X" said to the viewer (no "I" or "we" before it) is advice to avoid X.
_IMPERATIVE_NOT_RE = re.compile(r"(?:^|[^\w\s']\s*|\bdo\s+)(?:don't|do not|never)\s+$", _I)
_CONDITIONAL_RE = re.compile(r"\bif\b.*\b(?:would|could|'d|will|'ll)\s+(?:\w+\s+)?$", _I)
_PAST_BUY_RE = re.compile(r"^bought$", _I)

# Checked in this order: an intraday cue wins, then the longest stated horizon.
_HORIZON_PHRASES: dict[Horizon, str] = {
    Horizon.INTRADAY: r"day trad(?:e|ing)|intraday|into the close|by the close|scalp(?:ing)?",
    Horizon.LONG_TERM: (
        r"long[- ]term|long haul|for years|(?:next|coming) (?:few |couple (?:of )?)?years|multi[- ]year"
        r"|decades?|forever|retirement|buy and hold"
    ),
    Horizon.MONTHS: (
        r"(?:next|coming|few|couple (?:of )?) months|for months|this year|next quarter"
        r"|(?:by|into) (?:the )?(?:end of the year|year[- ]end|summer)"
    ),
    Horizon.WEEKS: r"(?:next|coming|few|couple (?:of )?) weeks|this month|next month|for weeks",
    Horizon.DAYS: (
        r"this week|next week|(?:next|few|couple (?:of )?) days|swing trade|short[- ]term|into earnings"
        r"|earnings play"
    ),
}
_HORIZON_RES = tuple((h, re.compile(rf"\b(?:{p})\b", _I)) for h, p in _HORIZON_PHRASES.items())

_STRONG_RE = re.compile(
    r"\b(?:strong buy|highest conviction|back(?:ing)? up the truck|all in|no[- ]brainer|load(?:ing|ed)? up|"
    r"screaming buy|buy of the (?:year|decade)|table[- ]pounding|a gift|a steal|like the plague)\b",
    _I,
)
_HEDGE_RE = re.compile(
    r"\b(?:maybe|might|perhaps|probably|not sure|could|small(?: position)?|starter|tiny|a little|"
    r"nibble|speculative|half|some)\b",
    _I,
)
_BASE: dict[Action, Decimal] = {
    Action.BUY: Decimal("0.70"),
    Action.SELL: Decimal("0.70"),
    Action.AVOID: Decimal("0.70"),
    Action.HOLD: Decimal("0.60"),
    Action.WATCH: Decimal("0.40"),
}
_STRONG_STEP = Decimal("0.20")
_HEDGE_STEP = Decimal("0.15")
_MAX_HEDGE = Decimal("0.35")
_FLOOR, _CEILING = Decimal("0.05"), Decimal("0.95")

_SPONSOR_START_RE = re.compile(
    r"\b(?:sponsor(?:ed|s|ing)?|brought to you by|use (?:my )?code|promo code|link in the description|free stocks?)\b",
    _I,
)
_SPONSOR_END_RE = re.compile(
    r"\b(?:back to the (?:video|stocks|market|show)|now,? back to|let's get back|anyway)\b", _I
)


@dataclass(frozen=True)
class ActionCue:
    start: int
    end: int
    action: Action
    negated: bool  # "I'm not buying X": a retraction, not a call
    weak: bool  # "bought" in the past: another cue in the same clause wins


def action_cues(text: str) -> list[ActionCue]:
    """The speaker's action cues in `text`, by position. Third-person ones are dropped; a buy
    under a condition (``if ... I would buy``) becomes a watch; a negated sell is a hold."""
    cues = []
    for m in _ACTION_RE.finditer(text):
        action = Action(m.lastgroup)
        before = text[: m.start()]
        if _THIRD_PERSON_RE.search(before):
            continue
        negated = bool(_NEGATION_RE.search(before)) and action in (Action.BUY, Action.SELL)
        if action is Action.BUY and _IMPERATIVE_NOT_RE.search(before):
            action, negated = Action.AVOID, False
        elif action is Action.BUY and _CONDITIONAL_RE.search(before):
            action, negated = Action.WATCH, False
        elif action is Action.SELL and negated:
            action, negated = Action.HOLD, False
        cues.append(ActionCue(m.start(), m.end(), action, negated, bool(_PAST_BUY_RE.match(m.group(0)))))
    return cues


def horizon_in(text: str) -> Horizon | None:
    """The horizon `text` states, if any. An intraday cue wins (a day trade is one); otherwise the
    longest stated horizon does ("buying this week, for the long term" is a long-term call)."""
    for horizon, regex in _HORIZON_RES:
        if regex.search(text):
            return horizon
    return None


def conviction_for(action: Action, text: str) -> Decimal:
    """A base per action, raised by strong words and lowered by hedges found in `text`."""
    strong = _STRONG_STEP if _STRONG_RE.search(text) else Decimal(0)
    hedges = min(_HEDGE_STEP * len(_HEDGE_RE.findall(text)), _MAX_HEDGE)
    value = _BASE[action] + strong - hedges
    return min(max(value, _FLOOR), _CEILING)


def is_sponsor_start(text: str) -> bool:
    return bool(_SPONSOR_START_RE.search(text))


def sponsor_end(text: str) -> int | None:
    """Where the talk resumes after a sponsor read ("back to the video"), if it does in `text`."""
    m = _SPONSOR_END_RE.search(text)
    return m.end() if m else None
