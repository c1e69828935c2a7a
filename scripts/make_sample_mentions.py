#!/usr/bin/env python
"""Generate kevin_pipeline/data/sample_mentions.csv: an ILLUSTRATIVE sample of stock calls.

Why: no offline data set of the channel's real calls exists, yet the demo, the backtest and the
tests need mentions that overlap the bundled price bars (2013-01-02 .. 2022-12-28). Everything
here is invented: the video ids, titles and quotes are made up and attributed to nobody; the
`channel` column says so on every row.

The file is deliberately shaped to exercise edge cases:
  * publish times during the session, pre-market, after the close, Friday evening, weekends,
    the evening before exchange holidays (incl. the 2018-12-05 national day of mourning) and a
    DST switch day; offsets are a mix of -05:00 / -04:00 (ET) and Z (UTC);
  * clusters of videos repeating a buy of the same symbol within 48 h (aggregation boost), one
    pair just outside 48 h, and a few videos naming the same symbol twice with different horizons;
  * mentions of symbols without bundled bars (TSLA, PLTR, AMD, MSFT) to exercise "no bars" skips.

Deterministic: a fixed seed, no clock, no network. Re-run to regenerate byte-identical output:
    .venv/bin/python scripts/make_sample_mentions.py
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "kevin_pipeline" / "data" / "sample_mentions.csv"

SEED = 20130102
ET = ZoneInfo("America/New_York")
CHANNEL = "SAMPLE (illustrative, not real calls)"
COLUMNS = ["video_id", "published_at", "symbol", "action", "conviction", "time_horizon", "quote", "video_title", "channel"]

BAR_SYMBOLS = ["META", "AMZN", "AAPL", "NFLX", "NVDA", "GOOG"]
N_VIDEOS = 90
FIRST_DAY = date(2013, 1, 7)
LAST_DAY = date(2022, 12, 16)  # leaves sessions after the last call inside the bar window

# Random draws under-weight buy because the hand-placed edge cases below are mostly buys;
# the whole file lands near 55 % buy.
ACTIONS = {"buy": 54, "sell": 22, "hold": 16, "watch": 14, "avoid": 10}
HORIZONS = {"days": 12, "weeks": 20, "months": 24, "long_term": 22, "unspecified": 16, "intraday": 6}
CONVICTION_RANGE = {
    "buy": (0.50, 1.00),
    "sell": (0.40, 0.95),
    "hold": (0.30, 0.70),
    "watch": (0.30, 0.60),
    "avoid": (0.50, 0.95),
}
# Local ET clock windows (hour, minute) per kind of publish time.
TIME_KINDS = {
    "session": ((9, 45), (15, 30)),
    "premarket": ((6, 0), (9, 15)),
    "after_close": ((16, 15), (21, 30)),
}

THEMES = {
    "NVDA": ["data-center demand", "the gaming GPU cycle", "AI chip demand", "the crypto mining hangover"],
    "AAPL": ["the services business", "the iPhone upgrade cycle", "the buyback", "the wearables line"],
    "AMZN": ["AWS margin", "Prime growth", "the ad business", "retail capex"],
    "GOOG": ["search ad pricing", "YouTube growth", "the cloud unit", "the buyback"],
    "META": ["Reels engagement", "ad targeting", "the metaverse spend", "user growth"],
    "NFLX": ["subscriber growth", "content spend", "the ad tier", "the password-sharing crackdown"],
    "TSLA": ["delivery growth", "the valuation", "margin pressure"],
    "PLTR": ["government contracts", "the valuation", "stock-based comp"],
    "AMD": ["server share gains", "the console cycle"],
    "MSFT": ["cloud growth", "the enterprise cycle"],
}
QUOTES = {
    "buy": [
        "I'm adding more {sym} here, {theme} is insane",
        "Starting a position in {sym} today, {theme} looks underrated",
        "{sym} is a buy for me on this dip, {theme} is intact",
        "I bought {sym} this morning and I'd buy more lower, {theme} says so",
        "Honestly {sym} at this price is a gift, watch {theme}",
    ],
    "sell": [
        "I'm trimming {sym}, {theme} worries me",
        "Took profits on {sym} today, {theme} is priced in",
        "Selling my {sym}, I don't like {theme} anymore",
    ],
    "hold": [
        "Not adding, not selling {sym}, just holding through {theme}",
        "{sym} stays in the portfolio, {theme} needs time",
    ],
    "watch": [
        "{sym} is on my watchlist, waiting to see {theme}",
        "Keeping an eye on {sym}, {theme} could be the catalyst",
    ],
    "avoid": [
        "Stay away from {sym} until {theme} gets sorted out",
        "I would not touch {sym} right now, {theme} is a red flag",
    ],
}
TITLES = [
    "{n} stocks I'm buying in {month}",
    "Is {sym} still a buy?",
    "What I'm doing with my portfolio right now",
    "Portfolio update ({month})",
    "My honest take on {sym}",
    "{sym} earnings reaction",
    "The market is panicking, here's my plan",
    "Weekend Q&A: your stock questions",
]


@dataclass
class Video:
    published: datetime  # aware
    utc_z: bool = False  # write as ...Z instead of the ET offset
    calls: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (symbol, action, horizon)
    title: str | None = None


def et(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ET)


def pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def fixed_videos() -> list[Video]:
    """Hand-placed edge cases; action/horizon None means 'draw at random'."""
    return [
        # Evenings before exchange holidays / closures.
        Video(et(2015, 4, 2, 18, 5), calls=[("AAPL", "buy", None)]),  # Good Friday next day
        Video(et(2016, 11, 23, 19, 30), calls=[("AMZN", "buy", None), ("NFLX", "watch", None)]),  # Thanksgiving
        Video(et(2018, 12, 4, 20, 0), calls=[("NVDA", "sell", "weeks")]),  # 2018-12-05 closed (mourning)
        Video(et(2019, 7, 3, 18, 0), calls=[("GOOG", "buy", None)]),  # Independence Day
        Video(et(2020, 12, 24, 15, 30), calls=[("META", "buy", None)]),  # after the 13:00 half-day close
        Video(et(2021, 12, 31, 18, 0), calls=[("NVDA", "buy", None), ("AAPL", "hold", None)]),  # Fri, NYE
        Video(et(2022, 6, 17, 18, 45), calls=[("AMZN", "buy", None)]),  # Juneteenth observed Monday
        Video(et(2017, 1, 14, 11, 0), calls=[("NFLX", "buy", None)]),  # Saturday before MLK Day
        # UTC 'Z' with a UTC date later than the ET date (Friday 18:30 ET).
        Video(datetime(2021, 3, 5, 23, 30, tzinfo=timezone.utc), utc_z=True, calls=[("GOOG", "buy", "months")]),
        # DST switch Sunday.
        Video(et(2020, 3, 8, 11, 0), calls=[("AAPL", "buy", None), ("NVDA", "avoid", None)]),
        # Same symbol twice in one video, different horizons.
        Video(et(2016, 2, 10, 12, 0), calls=[("NVDA", "buy", "weeks"), ("NVDA", "buy", "long_term")]),
        Video(et(2019, 10, 18, 17, 40), calls=[("AMZN", "buy", "days"), ("AMZN", "hold", "long_term")]),
        # Symbols without bundled bars.
        Video(et(2017, 9, 12, 10, 30), calls=[("AMD", "buy", None), ("NVDA", "buy", None)]),
        Video(et(2019, 6, 10, 19, 0), calls=[("TSLA", "avoid", None)]),
        Video(et(2020, 11, 24, 17, 15), calls=[("PLTR", "buy", None), ("AMZN", "watch", None)]),
        Video(et(2021, 1, 8, 8, 20), calls=[("TSLA", "buy", "days")]),
        Video(et(2021, 2, 5, 19, 10), calls=[("PLTR", "watch", None), ("MSFT", "buy", None)]),
        Video(et(2022, 1, 29, 14, 0), utc_z=True, calls=[("TSLA", "sell", None), ("NFLX", "buy", None)]),
    ]


def cluster_videos() -> list[Video]:
    """Repeated buys of one symbol across videos within 48 h, plus one pair just outside 48 h."""
    return [
        Video(et(2014, 4, 23, 17, 30), calls=[("AAPL", "buy", "months")]),
        Video(et(2014, 4, 24, 10, 30), calls=[("AAPL", "buy", "months"), ("GOOG", "hold", None)]),
        Video(et(2015, 1, 21, 18, 0), calls=[("NFLX", "buy", "weeks")]),
        Video(et(2015, 1, 23, 8, 0), calls=[("NFLX", "buy", "weeks")]),
        Video(et(2016, 5, 20, 18, 0), calls=[("NVDA", "buy", "long_term")]),  # Fri evening
        Video(et(2016, 5, 21, 12, 0), calls=[("NVDA", "buy", "long_term")]),  # Sat
        Video(et(2016, 5, 22, 19, 0), calls=[("NVDA", "buy", "months"), ("AMZN", "buy", None)]),  # Sun
        Video(et(2018, 2, 2, 11, 0), calls=[("AMZN", "buy", "months")]),
        Video(et(2018, 2, 3, 10, 0), calls=[("AMZN", "buy", "months"), ("META", "watch", None)]),
        Video(et(2019, 8, 5, 10, 0), calls=[("AMZN", "buy", "weeks")]),
        Video(et(2019, 8, 7, 12, 30), calls=[("AMZN", "buy", "weeks")]),  # 50.5 h later: no boost
        Video(et(2020, 3, 17, 13, 0), calls=[("GOOG", "buy", "long_term")]),
        Video(et(2020, 3, 18, 19, 0), calls=[("GOOG", "buy", "long_term"), ("NFLX", "buy", None)]),
        Video(et(2022, 5, 26, 16, 45), calls=[("NVDA", "buy", "months")]),
        Video(et(2022, 5, 27, 9, 0), calls=[("NVDA", "buy", "months")]),
        Video(et(2022, 10, 27, 12, 0), calls=[("META", "sell", "weeks")]),
        Video(et(2022, 10, 28, 17, 0), calls=[("META", "sell", "weeks"), ("AAPL", "buy", None)]),
    ]


def random_video(rng: random.Random) -> Video:
    day = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
    if day.weekday() >= 5 and rng.random() < 0.6:  # fewer weekend uploads than a uniform draw gives
        day += timedelta(days=7 - day.weekday())  # the following Monday
    if day.weekday() >= 5:  # weekend upload: any daytime hour
        hour, minute = rng.randint(9, 20), rng.choice([0, 15, 30, 45])
    else:
        kind = rng.choices(["session", "premarket", "after_close"], weights=[45, 15, 40])[0]
        (h0, m0), (h1, m1) = TIME_KINDS[kind]
        start, stop = h0 * 60 + m0, h1 * 60 + m1
        minutes = start + rng.randrange((stop - start) // 5 + 1) * 5
        hour, minute = divmod(minutes, 60)
    n_calls = rng.choices([1, 2, 3, 4], weights=[40, 38, 17, 5])[0]
    symbols = rng.sample(BAR_SYMBOLS, n_calls)
    return Video(
        datetime(day.year, day.month, day.day, hour, minute, tzinfo=ET),
        utc_z=rng.random() < 0.2,
        calls=[(s, None, None) for s in symbols],
    )


def build_rows() -> list[dict[str, str]]:
    rng = random.Random(SEED)
    videos = fixed_videos() + cluster_videos()
    while len(videos) < N_VIDEOS:
        videos.append(random_video(rng))
    videos.sort(key=lambda v: (v.published.astimezone(timezone.utc), v.calls[0][0]))

    rows: list[dict[str, str]] = []
    for i, video in enumerate(videos, start=1):
        video_id = f"sample-{i:04d}"  # obviously not a real YouTube id
        first_symbol = video.calls[0][0]
        month = video.published.astimezone(ET).strftime("%B %Y")
        title = rng.choice(TITLES).format(n=len(video.calls), month=month, sym=first_symbol)
        if video.utc_z:
            published = video.published.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        else:
            published = video.published.astimezone(ET).isoformat()
        seen: set[tuple[str, str, str]] = set()
        for symbol, action, horizon in video.calls:
            action = action or pick(rng, ACTIONS)
            horizon = horizon or pick(rng, HORIZONS)
            if (symbol, action, horizon) in seen:  # keep the (video, symbol, action, horizon) key unique
                continue
            seen.add((symbol, action, horizon))
            lo, hi = CONVICTION_RANGE[action]
            conviction = rng.randint(round(lo * 100), round(hi * 100)) / 100
            quote = rng.choice(QUOTES[action]).format(sym=symbol, theme=rng.choice(THEMES[symbol]))
            rows.append(
                {
                    "video_id": video_id,
                    "published_at": published,
                    "symbol": symbol,
                    "action": action,
                    "conviction": f"{conviction:.2f}",
                    "time_horizon": horizon,
                    "quote": quote,
                    "video_title": title,
                    "channel": CHANNEL,
                }
            )
    return rows


def main() -> int:
    rows = build_rows()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    n_videos = len({r["video_id"] for r in rows})
    print(f"wrote {OUT} ({len(rows)} rows, {n_videos} videos)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
