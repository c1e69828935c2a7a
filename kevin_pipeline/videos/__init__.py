"""Where videos come from: the sources behind one port, and storing what they find.

    source.py     the port: a `VideoSource` reads a `SourceBatch` of `VideoInfo` (or raises
                  `VideoSourceError` with the reason nothing could be read)
    feed.py       a channel's public RSS feed (newest uploads), through an injectable HTTP getter
    http.py       that getter: one GET with a timeout (urllib), answers as `HttpResponse`
    info_json.py  yt-dlp metadata: `--dump-json` lines or `.info.json` files (backfill)
    manual.py     one video by URL, with its publish time given
    collect.py    store a batch under its channel; poll every active channel's feed
    inbox.py      yt-dlp metadata files dropped in the inbox (processed/ or rejected/ + .reason)
"""
