"""From videos to calls: the three steps the Dagster assets, the CLI and the demo share.

    collect.py     videos: yt-dlp metadata files in the inbox, and (KEVIN_VIDEO_FEEDS=on) the
                   active channels' RSS feeds
    transcribe.py  transcripts of the videos that lack one: a caption file in the inbox named for
                   the video wins, else YouTube (KEVIN_TRANSCRIPTS_FETCH=on); misses wait with a
                   backoff, permanent reasons fail the video
    extract.py     calls: each transcript not yet read by the configured extractor (name and
                   version) becomes mentions, stored through the mention import's validation

Each step is a plain function of a `Runtime` and an explicit clock, idempotent, and returns a report
the caller shows (Dagster metadata, CLI output, the demo summary).
"""
