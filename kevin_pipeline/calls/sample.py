"""The bundled ILLUSTRATIVE sample videos (not real videos, not real calls): what `make demo` drops
into its own inbox. yt-dlp-style `.info.json` + `.en.vtt` pairs of one made-up channel
(kevin_pipeline/data/README.md, scripts/make_sample_videos.py)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from importlib import resources
from pathlib import Path

from kevin_pipeline.db.videos import add_channel
from kevin_pipeline.domain.youtube import ChannelRef
from kevin_pipeline.runtime import Runtime


def sample_videos_dir() -> Path:
    return Path(str(resources.files("kevin_pipeline").joinpath("data/sample_videos")))


def drop_sample_videos(runtime: Runtime, inbox: Path, *, now: datetime) -> list[Path]:
    """Follow the sample's channel and copy its files into `inbox` (the demo's own, never a user's:
    made-up calls must not reach a database whose sensor trades)."""
    files = sorted(p for p in sample_videos_dir().iterdir() if p.is_file())
    first = json.loads(next(p for p in files if p.name.endswith(".info.json")).read_text(encoding="utf-8"))
    with runtime.transaction() as session:
        add_channel(session, ChannelRef(youtube_channel_id=first["channel_id"]), name=first["channel"], now=now)
    inbox.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(p, inbox / p.name)) for p in files]
