"""The switches of the videos-to-calls stage: network off unless asked, `on`/`off` words accepted."""

from __future__ import annotations

import pytest

from kevin_pipeline.settings import Settings, SettingsError


def test_network_sources_are_off_by_default(tmp_path):
    s = Settings(state_dir=tmp_path)
    assert (s.video_feeds, s.transcripts_fetch, s.languages, s.transcript_check_hours) == (False, False, ("en",), 24)


def test_on_off_and_language_lists_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KEVIN_VIDEO_FEEDS", "ON")
    monkeypatch.setenv("KEVIN_TRANSCRIPTS_FETCH", "off")
    monkeypatch.setenv("KEVIN_TRANSCRIPT_LANGUAGES", "en, DE")
    s = Settings(state_dir=tmp_path)
    assert (s.video_feeds, s.transcripts_fetch, s.languages) == (True, False, ("en", "de"))


def test_a_bad_switch_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("KEVIN_VIDEO_FEEDS", "sometimes")
    with pytest.raises(SettingsError, match="KEVIN_VIDEO_FEEDS"):
        Settings(state_dir=tmp_path)
