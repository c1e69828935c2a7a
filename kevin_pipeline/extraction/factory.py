"""The one place the configured extractor is built (KEVIN_EXTRACTOR through Settings): the CLI,
the Dagster assets and the demo all ask here, so they can never read a transcript differently."""

from __future__ import annotations

from kevin_pipeline.extraction.dictionary import load_dictionary
from kevin_pipeline.extraction.llm import LLMConfig, LLMExtractor, build_model
from kevin_pipeline.extraction.models import Extractor
from kevin_pipeline.extraction.offline import RulesExtractor
from kevin_pipeline.settings import Settings, SettingsError


def configured_extractor(settings: Settings) -> Extractor:
    """`rules` (offline, deterministic) or `llm` (nothing is sent until a transcript is read).
    An llm choice without a model is a settings error naming the variable."""
    if settings.extractor == "rules":
        return RulesExtractor()
    if not settings.llm_model:
        raise SettingsError("KEVIN_EXTRACTOR=llm needs KEVIN_LLM_MODEL (e.g. gpt-4o-mini, claude-sonnet-4-5, llama3.1)")
    config = LLMConfig(
        provider=settings.llm_provider, model=settings.llm_model,
        base_url=settings.llm_base_url, api_key=settings.llm_api_key,
    )
    return LLMExtractor(build_model(config), load_dictionary())
