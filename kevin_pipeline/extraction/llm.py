"""The production extractor: a language model through pydantic-ai's structured output.

The model returns a list of calls; each goes through the same checks as a row of a mention file
(``ingest.parse.validate_call``: ticker format, action, conviction 0-1, horizon) and must name a
ticker of the dictionary (a model can make one up). A call that fails is a `RejectedCall` with the
reason, kept beside the good ones; an answer that is not valid structured output even after
pydantic-ai's retries, or a provider that fails, is an `ExtractionError` with a reason code. Nothing
the model says is trusted to be well-formed, and nothing it says crashes the pipeline.

One provider setting picks the model (`LLMConfig`): an OpenAI-compatible endpoint (OpenAI itself,
vLLM, LM Studio...), Anthropic, or a local Ollama. Tests hand in pydantic-ai's `TestModel` or
`FunctionModel` instead, and never touch the network.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_ai import Agent
from pydantic_ai.exceptions import AgentRunError, ModelAPIError, UnexpectedModelBehavior
from pydantic_ai.models import Model

from kevin_pipeline.domain.models import Action, Horizon
from kevin_pipeline.domain.tickers import TickerDictionary
from kevin_pipeline.extraction.models import ExtractedMention, ExtractionError
from kevin_pipeline.transcripts.models import Transcript

__all__ = [
    "LLMCall",
    "LLMCalls",
    "LLMConfig",
    "LLMExtractor",
    "RejectedCall",
    "build_model",
    "PROMPT_VERSION",
]

PROMPT_VERSION = "1"

INSTRUCTIONS = f"""You read the transcript of a finance YouTube video and list every stock call the
speaker makes: a stock they say they are buying, selling, holding, avoiding or watching.

For each call give:
- symbol: the US exchange ticker (Nvidia -> NVDA, Google/Alphabet -> GOOGL, Berkshire -> BRK.B).
  Only stocks and ETFs listed on a US exchange; no crypto coins, no made-up tickers.
- action: one of {", ".join(a.value for a in Action)}.
- conviction: 0 to 1, how strongly the speaker means it (0.4 hedged, 0.7 plain, 0.9 emphatic).
- horizon: one of {", ".join(h.value for h in Horizon)}.
- quote: the sentence where the call is made, verbatim.
- start_seconds: the [seconds] marker of the line the quote starts on, or null when there are none.

Not calls: sponsor reads and ads, questions to the audience, what other people (analysts, other
investors) do, history, and calls the speaker takes back later in the video. A list may be empty."""


class LLMCall(BaseModel):
    """One call as the model gives it: loose types on purpose, checked afterwards by our rules."""

    symbol: str
    action: str
    conviction: float | str
    horizon: str | None = None
    quote: str = ""
    start_seconds: float | None = None


class LLMCalls(BaseModel):
    calls: list[LLMCall] = Field(default_factory=list)


class LLMConfig(BaseModel):
    """The one provider setting. `base_url` for an OpenAI-compatible server or a remote Ollama."""

    provider: Literal["openai", "anthropic", "ollama"]
    model: str
    base_url: str | None = None
    api_key: SecretStr | None = None


@dataclass(frozen=True)
class RejectedCall:
    reason: str  # names the field: "symbol: 'ZZZZ' is not a known ticker"
    call: dict[str, Any]


@dataclass
class ExtractionResult:
    mentions: list[ExtractedMention] = field(default_factory=list)
    rejected: list[RejectedCall] = field(default_factory=list)


def build_model(config: LLMConfig) -> Model:
    """The pydantic-ai model for `config` (nothing is sent until a run)."""
    key = config.api_key.get_secret_value() if config.api_key else None
    if config.provider == "anthropic":
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        return AnthropicModel(config.model, provider=AnthropicProvider(api_key=key, base_url=config.base_url))
    if config.provider == "ollama":
        from pydantic_ai.models.ollama import OllamaModel
        from pydantic_ai.providers.ollama import OllamaProvider

        url = config.base_url or "http://localhost:11434/v1"
        return OllamaModel(config.model, provider=OllamaProvider(base_url=url, api_key=key))
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    return OpenAIChatModel(config.model, provider=OpenAIProvider(base_url=config.base_url, api_key=key))


class LLMExtractor:
    """Calls from a language model, checked by the mention-file rules and the dictionary."""

    name = "llm"

    def __init__(self, model: Model, dictionary: TickerDictionary, *, retries: int = 1) -> None:
        self.dictionary = dictionary
        self.version = f"{model.model_name}/prompt-{PROMPT_VERSION}"
        self._agent = Agent(model, output_type=LLMCalls, instructions=INSTRUCTIONS, retries=retries)

    def extract(
        self, transcript: Transcript, title: str | None = None, description: str | None = None
    ) -> list[ExtractedMention]:
        return self.run(transcript, title, description).mentions

    def _answer(self, prompt: str) -> LLMCalls:
        """The agent's answer, also when this thread already runs an event loop (a notebook, an
        async caller, a browser driver): `run_sync` cannot nest in a running loop, so the agent
        then runs on a thread of its own with a fresh loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._agent.run_sync(prompt).output
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kevin-llm") as pool:
            return pool.submit(lambda: asyncio.run(self._agent.run(prompt))).result().output

    def run(
        self, transcript: Transcript, title: str | None = None, description: str | None = None
    ) -> ExtractionResult:
        """The mentions and the rejected calls; `ExtractionError` when there is no usable answer."""
        try:
            answer = self._answer(prompt_for(transcript, title, description))
        except UnexpectedModelBehavior as exc:
            raise ExtractionError("llm_invalid_output", _short(exc)) from exc
        except ModelAPIError as exc:
            raise ExtractionError("llm_unavailable", _short(exc)) from exc
        except AgentRunError as exc:
            raise ExtractionError("llm_failed", _short(exc)) from exc
        result = ExtractionResult()
        for call in answer.calls:
            checked = self._checked(call)
            if isinstance(checked, RejectedCall):
                result.rejected.append(checked)
            else:
                result.mentions.append(checked)
        return result

    def _checked(self, call: LLMCall) -> ExtractedMention | RejectedCall:
        raw = call.model_dump()
        if call.symbol.strip().upper() not in self.dictionary.symbols:
            return RejectedCall(f"symbol: {call.symbol!r} is not a known ticker", raw)
        if not call.quote.strip():
            return RejectedCall("quote: missing", raw)
        try:
            return ExtractedMention(
                symbol=call.symbol,
                action=call.action,
                conviction=call.conviction,
                horizon=call.horizon,
                quote=call.quote.strip(),
                start_seconds=call.start_seconds,
                extractor=self.name,
                extractor_version=self.version,
            )
        except ValidationError as exc:
            return RejectedCall("; ".join(_reason(e) for e in exc.errors()), raw)


def prompt_for(transcript: Transcript, title: str | None, description: str | None) -> str:
    """The user prompt: title, description, then one transcript line per segment with its second."""
    lines: list[str] = []
    if title:
        lines.append(f"Title: {title}")
    if description:
        lines.append(f"Description: {description}")
    lines.append("Transcript:")
    for s in transcript.segments:
        lines.append(s.text if s.start_seconds is None else f"[{s.start_seconds:g}] {s.text}")
    return "\n".join(lines)


def _reason(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:limit]
