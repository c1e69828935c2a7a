"""The LLM extractor with pydantic-ai's TestModel / FunctionModel: the model's calls are checked by
the mention-file rules and the dictionary; a bad answer is a recorded reason, never a crash."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import SecretStr
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.domain.tickers import TickerDictionary
from kevin_pipeline.extraction.llm import ExtractionResult, LLMConfig, LLMExtractor, build_model, prompt_for
from kevin_pipeline.extraction.models import ExtractionError
from kevin_pipeline.transcripts.models import Segment, Transcript

DICTIONARY = TickerDictionary({"NVDA", "AMD", "TSLA"}, {"nvidia": "NVDA"})
TRANSCRIPT = Transcript(
    video_id="vid",
    source="vtt",
    segments=(
        Segment(start_seconds=0, text="welcome back"),
        Segment(start_seconds=12.5, text="I'm buying Nvidia, strong buy."),
    ),
)


def _call(**overrides: object) -> dict[str, object]:
    return {
        "symbol": "nvda",
        "action": "buy",
        "conviction": 0.9,
        "horizon": "long term",
        "quote": "I'm buying Nvidia, strong buy.",
        "start_seconds": 12.5,
        **overrides,
    }


def test_a_structured_answer_becomes_checked_mentions_with_the_extractor_recorded() -> None:
    model = TestModel(custom_output_args={"calls": [_call()]})
    result = LLMExtractor(model, DICTIONARY).run(TRANSCRIPT, title="My top pick")
    [m] = result.mentions
    assert (m.symbol, m.action, m.conviction, m.horizon, m.start_seconds) == (
        "NVDA",
        Action.BUY,
        Decimal("0.9000"),
        Horizon.LONG_TERM,
        12.5,
    )
    assert (m.extractor, m.extractor_version) == ("llm", "test/prompt-1")
    assert result.rejected == []


def test_made_up_tickers_and_bad_fields_are_rejected_with_a_reason_and_the_rest_kept() -> None:
    calls = [
        _call(symbol="ZZZQ"),  # not in the dictionary
        _call(symbol="AMD", action="short"),  # not an action
        _call(symbol="TSLA", conviction=1.7),  # out of range
        _call(symbol="AMD", horizon="next tuesday"),
        _call(symbol="AMD", quote="  "),
        _call(symbol="TSLA", action="sell", conviction=0.6, horizon=None),
    ]
    result = LLMExtractor(TestModel(custom_output_args={"calls": calls}), DICTIONARY).run(TRANSCRIPT)
    assert [(m.symbol, m.action, m.horizon) for m in result.mentions] == [
        ("TSLA", Action.SELL, Horizon.UNSPECIFIED)
    ]
    reasons = [r.reason for r in result.rejected]
    assert reasons[0] == "symbol: 'ZZZQ' is not a known ticker"
    assert reasons[1].startswith("action: unknown action 'short'")
    assert reasons[2] == "conviction: must be a number between 0 and 1 (got '1.7')"
    assert reasons[3].startswith("time_horizon: unknown horizon 'next tuesday'")
    assert reasons[4] == "quote: missing"
    assert result.rejected[0].call["symbol"] == "ZZZQ"


def _answer_with(args: str):
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    return answer


def test_an_answer_that_is_not_valid_json_is_a_recorded_reason() -> None:
    extractor = LLMExtractor(FunctionModel(_answer_with('{"calls": [{"symbol": "NVDA", ')), DICTIONARY)
    with pytest.raises(ExtractionError) as info:
        extractor.extract(TRANSCRIPT)
    assert info.value.reason == "llm_invalid_output"


def test_a_model_that_only_chats_is_a_recorded_reason() -> None:
    def chat(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart("Sure! Nvidia looks great.")])

    with pytest.raises(ExtractionError) as info:
        LLMExtractor(FunctionModel(chat), DICTIONARY).extract(TRANSCRIPT)
    assert info.value.reason == "llm_invalid_output"


def test_a_retry_that_fixes_the_answer_is_accepted() -> None:
    answers = iter(['{"calls": [', json.dumps({"calls": [_call(symbol="AMD")]})])

    def flaky(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, next(answers))])

    [m] = LLMExtractor(FunctionModel(flaky), DICTIONARY).extract(TRANSCRIPT)
    assert m.symbol == "AMD"


def test_the_prompt_carries_title_description_and_seconds() -> None:
    seen: list[str] = []

    def record(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(str(messages[-1].parts[-1].content))
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, '{"calls": []}')])

    assert LLMExtractor(FunctionModel(record), DICTIONARY).extract(TRANSCRIPT, "Title!", "Links") == []
    assert seen == [prompt_for(TRANSCRIPT, "Title!", "Links")]
    assert seen[0].splitlines() == [
        "Title: Title!",
        "Description: Links",
        "Transcript:",
        "[0] welcome back",
        "[12.5] I'm buying Nvidia, strong buy.",
    ]


@pytest.mark.parametrize(
    ("config", "class_name"),
    [
        (
            LLMConfig(
                provider="openai",
                model="gpt-4o-mini",
                base_url="http://127.0.0.1:9/v1",
                api_key=SecretStr("k"),
            ),
            "OpenAIChatModel",
        ),
        (
            LLMConfig(provider="anthropic", model="claude-sonnet-4-5", api_key=SecretStr("k")),
            "AnthropicModel",
        ),
        (LLMConfig(provider="ollama", model="llama3.1"), "OllamaModel"),
    ],
)
def test_one_provider_setting_builds_the_model_without_a_request(config: LLMConfig, class_name: str) -> None:
    model = build_model(config)
    assert type(model).__name__ == class_name
    assert model.model_name == config.model


def test_it_answers_from_inside_a_running_event_loop() -> None:
    """A notebook or an async caller already runs a loop in its thread; run_sync cannot nest in it.
    (The caller gets a thread of its own here: this test process may already run a loop, e.g. a
    browser driver's, in the main thread.)"""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def caller() -> ExtractionResult:
        return LLMExtractor(TestModel(custom_output_args={"calls": [_call()]}), DICTIONARY).run(TRANSCRIPT)

    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(asyncio.run, caller()).result()
    assert [(m.symbol, m.action) for m in result.mentions] == [("NVDA", Action.BUY)]
