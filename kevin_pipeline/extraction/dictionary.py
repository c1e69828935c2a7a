"""The ticker dictionary of the offline extractor: US index constituents from `pytickersymbols`
(names included) plus hand aliases for what speakers actually say.

kevin trades US listings only (Alpaca). So the dictionary holds the members of the US indices the
package ships (S&P 500, NASDAQ 100, Dow Jones, S&P 100, S&P 600) and, by hand, a few US-listed
names those miss: popular retail names (SoFi, Rivian, Snowflake), foreign companies' New York
listings (ASML, Toyota's TM, TSMC's TSM) and the index ETFs. A foreign company without a US listing
is not in it and is therefore never extracted.

The package's names ("Nike, Inc.", "The Walt Disney Company") are trimmed of legal suffixes and
matched as written, capitals included: "Target" or "Best Buy" in lower case are ordinary words.
Curated aliases (below) match in any case, since automatic captions are lower case.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pytickersymbols import PyTickerSymbols

from kevin_pipeline.domain.tickers import TickerDictionary

__all__ = ["ALIASES", "EXTRA_SYMBOLS", "WORD_TICKERS", "INDICES", "load_dictionary", "trim_name"]

INDICES: tuple[str, ...] = ("S&P 500", "NASDAQ 100", "DOW JONES", "S&P 100", "S&P 600")

# US listings the package's indices do not hold.
EXTRA_SYMBOLS: frozenset[str] = frozenset(
    {
        "SPY",
        "QQQ",
        "IWM",
        "DIA",
        "VOO",
        "VTI",
        "SOFI",
        "RIVN",
        "SNOW",
        "TM",
        "TSM",
        "NVO",
        "BABA",
        "SONY",
        "ASML",
        "SHOP",
        "GOOGL",
        "RBLX",
        "LCID",
        "NIO",
        "SNAP",
        "LYFT",
    }
)

# Spoken name -> symbol, matched in any case.
ALIASES: dict[str, str] = {
    "nvidia": "NVDA",
    "google": "GOOGL",
    "alphabet": "GOOGL",
    "meta": "META",
    "facebook": "META",
    "tesla": "TSLA",
    "amazon": "AMZN",
    "microsoft": "MSFT",
    "palantir": "PLTR",
    "amd": "AMD",
    "advanced micro devices": "AMD",
    "sofi": "SOFI",
    "netflix": "NFLX",
    "broadcom": "AVGO",
    "intel": "INTC",
    "salesforce": "CRM",
    "berkshire": "BRK.B",
    "berkshire hathaway": "BRK.B",
    "coinbase": "COIN",
    "robinhood": "HOOD",
    "rivian": "RIVN",
    "snowflake": "SNOW",
    "shopify": "SHOP",
    "asml": "ASML",
    "toyota": "TM",
    "tsmc": "TSM",
    "taiwan semiconductor": "TSM",
    "novo nordisk": "NVO",
    "alibaba": "BABA",
    "roblox": "RBLX",
    "lucid": "LCID",
    "disney": "DIS",
    "nike": "NKE",
    "lululemon": "LULU",
    "costco": "COST",
    "walmart": "WMT",
    "boeing": "BA",
    "uber": "UBER",
    "onsemi": "ON",
    "on semiconductor": "ON",
    "servicenow": "NOW",
    "allstate": "ALL",
    "at&t": "T",
    "micron": "MU",
    "supermicro": "SMCI",
    "super micro": "SMCI",
    "oracle": "ORCL",
    "adobe": "ADBE",
    "starbucks": "SBUX",
    "mcdonald's": "MCD",
    "coca-cola": "KO",
    "pepsi": "PEP",
    "jpmorgan": "JPM",
    "goldman": "GS",
    "paypal": "PYPL",
    "crowdstrike": "CRWD",
    "datadog": "DDOG",
    "qualcomm": "QCOM",
    "chipotle": "CMG",
    "lyft": "LYFT",
    "exxon": "XOM",
    "chevron": "CVX",
    "pfizer": "PFE",
    "eli lilly": "LLY",
    "carvana": "CVNA",
}

# Names that are also everyday words: matched only when written with their capitals.
PROPER_ALIASES: dict[str, str] = {
    "Apple": "AAPL",
    "Visa": "V",
    "Mastercard": "MA",
    "Ford": "F",
    "Target": "TGT",
    "Block": "XYZ",
    "Snap": "SNAP",
    "Gap": "GAP",
    "Caterpillar": "CAT",
    "Home Depot": "HD",
    "Agilent": "A",
    "Gartner": "IT",
    "Realty Income": "O",
}

# Symbols that are English words or everyday acronyms (see domain.tickers).
WORD_TICKERS: frozenset[str] = frozenset(
    """A B C D E F G H I J K L M N O P Q R S T U V W X Y Z AI ALL IT NOW ON SO GO BE HE ME OR US UP
    AM AN AS AT BY DO IF IN IS NO OF OK TV EV PE DD HD IP PM MD CC DE EL ES ARE CAN KEY LOW CAT COST
    FAST TECH PEAK WELL HAS BIG RUN PLAY EAT SAFE CASH PAY FUN LOVE HOME GOOD TRUE MAIN ONE OUT SEE
    CEO CFO EPS GDP CPI FED IPO ETF ATH YOY SEC USA USD IRA LOL DIS SNOW HOOD COIN SHOP GAP SNAP
    BALL OPEN TWO NICE CARS CARE LIFE RACE ROCK SUN WING TAP JOB HOG FIVE BOX CART AIR NET PAYX""".split()
)

_SUFFIX_RE = re.compile(
    r"(,?\s+(Inc\.?|Incorporated|Corporation|Corp\.?|Company|Co\.|plc|PLC|Ltd\.?|Limited|N\.V\.|S\.A\.|AG|SE|"
    r"Holdings?|Group|Technologies|Platforms|Markets|Class [A-C]))+$"
)


def trim_name(name: str) -> str:
    """'The Walt Disney Company' -> 'Walt Disney'; 'Nike, Inc.' -> 'Nike'."""
    trimmed = _SUFFIX_RE.sub("", name.strip())
    return trimmed[4:] if trimmed.startswith("The ") else trimmed


@lru_cache(maxsize=1)
def load_dictionary() -> TickerDictionary:
    """The dictionary (built once per process: the package parses its data on first use)."""
    tickers = PyTickerSymbols()
    symbols = set(EXTRA_SYMBOLS)
    names_seen: dict[str, set[str]] = {}
    for index in INDICES:
        for stock in tickers.get_stocks_by_index(index):
            symbol, name = stock.get("symbol"), stock.get("name")
            if not symbol or not re.fullmatch(r"[A-Z]{1,5}(\.[A-Z])?", symbol):
                continue
            symbols.add(symbol)
            for spoken in {name or "", trim_name(name or "")}:
                if len(spoken) >= 3:
                    names_seen.setdefault(spoken, set()).add(symbol)
    aliases = {k: v for k, v in ALIASES.items() if v in symbols}
    taken = {k.lower() for k in aliases} | {k.lower() for k in PROPER_ALIASES}
    # A name two symbols share (share classes: GOOG / GOOGL) is only kept through a curated alias.
    # A name that is another company's ticker ("NOW Inc." is DNOW; NOW is ServiceNow) is dropped.
    proper = {
        n: next(iter(s))
        for n, s in names_seen.items()
        if len(s) == 1 and n.lower() not in taken and (n not in symbols or n in s)
    }
    proper.update({k: v for k, v in PROPER_ALIASES.items() if v in symbols})
    return TickerDictionary(symbols, aliases, proper, WORD_TICKERS)
