"""KEVIN_EXTRACTOR chooses the extractor; the LLM's key stays a secret."""

from __future__ import annotations

import pytest

from kevin_pipeline.extraction.factory import configured_extractor
from kevin_pipeline.extraction.llm import LLMExtractor
from kevin_pipeline.extraction.offline import RulesExtractor
from kevin_pipeline.settings import Settings, SettingsError


def test_the_default_is_the_offline_rules(tmp_path):
    extractor = configured_extractor(Settings(state_dir=tmp_path))
    assert isinstance(extractor, RulesExtractor) and (extractor.name, extractor.version) == ("rules", "1")


def test_llm_builds_the_configured_provider_without_sending_anything(tmp_path):
    settings = Settings(
        state_dir=tmp_path, extractor="LLM", llm_provider="openai", llm_model="gpt-4o-mini",
        llm_base_url="http://127.0.0.1:9/v1", llm_api_key="sk-not-a-real-key",
    )
    extractor = configured_extractor(settings)
    assert isinstance(extractor, LLMExtractor)
    assert extractor.version.startswith("gpt-4o-mini/")
    assert "sk-not-a-real-key" not in repr(settings)


def test_llm_without_a_model_names_the_variable(tmp_path):
    with pytest.raises(SettingsError, match="KEVIN_LLM_MODEL"):
        configured_extractor(Settings(state_dir=tmp_path, extractor="llm"))


def test_an_unknown_extractor_is_a_settings_error(tmp_path):
    with pytest.raises(SettingsError, match="KEVIN_EXTRACTOR"):
        Settings(state_dir=tmp_path, extractor="gpt")
