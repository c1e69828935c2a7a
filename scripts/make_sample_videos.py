"""Write the demo's illustrative videos: yt-dlp-style `.info.json` + `.en.vtt` caption pairs.

These are NOT real videos or real calls of any channel: short scripts written for kevin's demo in
the style of a finance YouTuber, dated inside the bundled bars (2013-2022) and naming only the
bundled symbols, so `make demo` can go caption file -> extracted calls -> backtest -> simulated
orders offline. Run: python scripts/make_sample_videos.py (rewrites kevin_pipeline/data/sample_videos/).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "kevin_pipeline" / "data" / "sample_videos"
CHANNEL_ID = "UCsampleKevinDemo000000a"  # 24 characters like a real id; clearly not a real channel
CHANNEL = "SAMPLE channel (illustrative, not real calls)"

# (video id, publish time with offset, title, [(start second, caption line), ...])
VIDEOS: list[tuple[str, str, str, list[tuple[int, str]]]] = [
    ("sample00001", "2013-03-18T11:55:00-04:00", "3 stocks I'm buying in March", [
        (0, "Hey everyone, welcome back, markets are at all-time highs again."),
        (14, "First up, Google. I bought Google this morning and honestly it's a strong buy for the next few weeks."),
        (41, "Facebook is the one I'm adding to for the next few months, I love the mobile ad numbers."),
        (77, "And Netflix, I took profits on Netflix today, I'm selling the rest of my shares."),
    ]),
    ("sample00002", "2014-04-24T10:30:00-04:00", "Apple earnings: what I'm doing now", [
        (0, "Apple just reported and the split announcement is huge."),
        (22, "I'm buying Apple with high conviction, this is a long term hold for me, years."),
        (58, "Amazon is on my watchlist, I'm watching it but not buying yet."),
        (90, "This video is sponsored by a budgeting app, link in the description."),
    ]),
    ("sample00003", "2015-07-20T16:10:00-04:00", "Amazon and Netflix before earnings", [
        (0, "Big week for earnings."),
        (12, "Amazon, I'm loading up on Amazon this week, highest conviction call I have."),
        (47, "Netflix, I'm buying more Netflix for the next few weeks, the subscriber growth is insane."),
    ]),
    ("sample00004", "2016-11-14T09:05:00-05:00", "Why I'm all in on Nvidia", [
        (0, "Let's talk about the chip that powers AI and gaming."),
        (19, "I'm all in on Nvidia, strong buy, this is a long term position for the next few years."),
        (63, "Netflix I would avoid right now, stay away until the content spend calms down."),
    ]),
    ("sample00005", "2018-10-29T12:40:00-04:00", "Buying the dip? My October moves", [
        (0, "The market is down ten percent from the highs, so what am I doing?"),
        (25, "I'm buying Facebook here, strong buy for the next few months, it's way too cheap."),
        (61, "Apple, maybe a small position, I might nibble, we'll see."),
        (95, "Nvidia I'm just watching for now."),
    ]),
    ("sample00006", "2019-06-03T15:30:00-04:00", "Antitrust headlines: my plan", [
        (0, "Big tech antitrust headlines today, scary stuff."),
        (18, "I'm buying Google on this drop, strong conviction, long term hold."),
        (52, "Apple I'm trimming, I sold some Apple today to take profits."),
    ]),
    ("sample00007", "2020-03-23T10:15:00-04:00", "I'm buying the crash", [
        (0, "This is the craziest market of my life."),
        (16, "I'm loading up on Amazon, highest conviction, everyone is shopping online now, next few months."),
        (49, "Nvidia too, I'm buying Nvidia big, strong buy for the next few months."),
        (88, "Netflix is on my watchlist, I'm watching it."),
    ]),
    ("sample00008", "2021-11-22T11:20:00-05:00", "Taking profits at the top?", [
        (0, "Valuations are stretched, so let's be careful."),
        (21, "I'm taking profits on Nvidia, selling the whole position today."),
        (55, "Meta I would avoid, stay away, the metaverse spend scares me."),
        (84, "Google I'm still buying, strong buy, long term."),
    ]),
    ("sample00009", "2022-06-13T09:50:00-04:00", "Bear market buys", [
        (0, "We're officially in a bear market."),
        (17, "I'm buying Apple here, strong buy for the next few months, the iPhone is not going anywhere."),
        (56, "Amazon I'm buying too, high conviction, for the next few weeks after the split."),
    ]),
    ("sample00010", "2022-10-17T10:05:00-04:00", "Two stocks I'm buying before earnings", [
        (0, "Earnings season is here."),
        (14, "Netflix, I'm buying Netflix before earnings, strong buy for the next few weeks."),
        (47, "Meta, I'm buying Meta too, it's extremely cheap, high conviction, next few weeks."),
    ]),
]


def _stamp(seconds: float) -> str:
    h, rem = divmod(int(seconds * 1000), 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def vtt(lines: list[tuple[int, str]]) -> str:
    cues = ["WEBVTT", "Kind: captions", "Language: en", ""]
    for i, (start, text) in enumerate(lines):
        end = lines[i + 1][0] if i + 1 < len(lines) else start + 10
        cues += [f"{_stamp(start)} --> {_stamp(end)}", text, ""]
    return "\n".join(cues)


def info(video_id: str, published: str, title: str, lines: list[tuple[int, str]]) -> dict[str, object]:
    t = datetime.fromisoformat(published)
    return {
        "id": video_id,
        "title": f"{title} (SAMPLE)",
        "description": "Illustrative sample for kevin's demo: not a real video and not real calls.",
        "channel_id": CHANNEL_ID,
        "channel": CHANNEL,
        "uploader_id": "@kevin-sample",
        "timestamp": int(t.timestamp()),
        "upload_date": t.strftime("%Y%m%d"),
        "duration": lines[-1][0] + 10,
        "webpage_url": f"https://www.youtube.com/watch?v={video_id}",
        "extractor": "youtube",
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("sample*"):
        old.unlink()
    for video_id, published, title, lines in VIDEOS:
        (OUT / f"{video_id}.info.json").write_text(json.dumps(info(video_id, published, title, lines), indent=2) + "\n")
        (OUT / f"{video_id}.en.vtt").write_text(vtt(lines))
    print(f"wrote {len(VIDEOS)} videos to {OUT}")


if __name__ == "__main__":
    main()
