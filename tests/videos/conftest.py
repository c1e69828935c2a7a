"""Shared pieces for the video source tests: recorded feeds and a runtime on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.settings import Settings
from kevin_pipeline.videos.http import HttpResponse

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
UC = "UCabcdefghijklmnopqrstuv"
UC2 = "UCzyxwvutsrqponmlkjihgfe"


def feed_bytes(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


class RecordedGet:
    """An `HttpGet` answering from recorded responses by URL (a TimeoutError instance is raised)."""

    def __init__(self, answers: dict[str, HttpResponse | Exception]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> HttpResponse:
        self.calls.append((url, timeout))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    opened = open_runtime(Settings(database_url=db_url, state_dir=tmp_path / "state"))
    yield opened
    opened.close()
