"""The one settings object: every knob of DESIGN.md, read from `KEVIN_*` environment variables.

Strategy and risk defaults live in `domain.params.StrategyParams` (inherited here) so the
backtest and the live path share them. A bad value must stop kevin at start with the variable's
name, never half-run with a default.

Secrets (the Alpaca keys, the dashboard token, the database URL, whose password is one) are
`SecretStr`, so they never render. A settings error names the variables, and every secret's
VALUE is then replaced wherever it appears in the message: pydantic's cross-field errors carry the
whole input dict, and a value can turn up anywhere (a key pasted into the wrong variable).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kevin_pipeline.domain.params import StrategyParams

ENV_PREFIX = "KEVIN_"
REDACTED = "[redacted]"
PRICE_SOURCES = ("bundled", "cache", "alpaca")


class SettingsError(ValueError):
    """A setting from the environment is invalid; the message names the variable."""


class Settings(StrategyParams, BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    state_dir: Path = Field(default_factory=lambda: Path.cwd() / ".kevin")
    # Default: SQLite file under state_dir. Secret: a PostgreSQL URL holds a password.
    database_url: SecretStr | None = None

    enable_trading: bool = False  # master kill switch; decisions are dry_run while off
    broker: Literal["simulated", "alpaca"] = "simulated"
    order_time_in_force: Literal["gtc", "day"] = "gtc"
    # Where daily bars come from when nothing more specific is configured (Dagster's price_source).
    price_source: Literal["bundled", "cache", "alpaca"] = "bundled"
    # kevin's slice of the broker account; None: the whole account minus foreign positions
    # (trading.own_slice). When set it is also the drawdown halt's starting equity.
    allocation_usd: Decimal | None = Field(None, gt=0)

    alpaca_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ALPACA_API_KEY", "KEVIN_ALPACA_API_KEY")
    )
    alpaca_secret_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ALPACA_SECRET_KEY", "KEVIN_ALPACA_SECRET_KEY")
    )

    mentions_drop_dir: Path | None = None  # default: state_dir / "inbox"
    # An imported call may be dated at most this far after the import clock (clock skew); later
    # is a typo that would otherwise trade as a fresh call when its date arrives.
    max_publish_ahead_minutes: float = Field(5, ge=0, le=24 * 60)

    dash_host: str = "127.0.0.1"
    dash_port: int = Field(8050, ge=1, le=65535)
    dash_token: SecretStr | None = None

    # Which extractor reads a transcript into calls: "rules" (offline, the default) or "llm"
    # (pydantic-ai, one provider; the key is a secret and never printed).
    extractor: Literal["rules", "llm"] = "rules"
    llm_provider: Literal["openai", "anthropic", "ollama"] = "openai"
    llm_model: str | None = None  # e.g. gpt-4o-mini, claude-sonnet-4-5, llama3.1
    llm_base_url: str | None = None  # an OpenAI-compatible server or a remote Ollama
    llm_api_key: SecretStr | None = None
    # From videos to calls (kevin_pipeline.calls): both network sources are off by default, so
    # nothing leaves the machine unless asked; yt-dlp files and caption files in the inbox always flow.
    video_feeds: bool = False  # KEVIN_VIDEO_FEEDS=on: poll every active channel's RSS feed
    feed_poll_minutes: float = Field(15, gt=0)  # how often the sensor polls the feeds when on
    transcripts_fetch: bool = False  # KEVIN_TRANSCRIPTS_FETCH=on: ask YouTube for missing captions
    transcript_languages: str = "en"  # comma-separated; a caption in another language is a reason
    # The asset check: a video older than this has a transcript or a recorded reason.
    transcript_check_hours: float = Field(24, gt=0)

    # Dagster's own home (its instance: run/event storage, daemon heartbeats); read for `kevin doctor`.
    # Dagster reads the variable itself; None: unset, Dagster then has no persistent instance.
    dagster_home: Path | None = Field(None, validation_alias=AliasChoices("DAGSTER_HOME", "dagster_home"))
    # The `kevin` command's log lines: text for a person, json (one object a line) for a collector.
    log_format: Literal["text", "json"] = "text"
    # Dagster's PostgreSQL storage (dagster_prod.yaml reads the variable itself); read here for
    # `make up-prod`, which hands it to the processes it starts. Secret: the URL holds a password.
    dagster_pg_url: SecretStr | None = Field(None, validation_alias=AliasChoices("DAGSTER_PG_URL", "dagster_pg_url"))
    # How `parameter_sweep` runs its chunks: processes on this machine, or one Kubernetes pod per
    # chunk (dagster-k8s, the `k8s` extra; the Helm values set it).
    sweep_executor: Literal["multiprocess", "k8s"] = "multiprocess"

    def __init__(self, **values: Any) -> None:
        """As pydantic-settings, but a bad value raises `SettingsError` naming the variable, with
        every secret's value redacted (never pydantic's error, which echoes every input)."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            message = describe_errors(exc, values)
        else:
            return
        raise SettingsError(message)  # outside the except: no chained error holding the inputs

    @field_validator("database_url", "dagster_home", "dagster_pg_url", mode="before")
    @classmethod
    def _blank_url_is_default(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            # imported here: SQLAlchemy costs a command that opens no database (`kevin backtest
            # --no-save` of two files) a tenth of a second at start-up
            from kevin_pipeline.db.engine import check_database_url

            check_database_url(value.get_secret_value())
        return value

    @field_validator("state_dir")
    @classmethod
    def _state_dir_is_a_directory(cls, value: Path) -> Path:
        # The nearest existing ancestor must be a directory, or nothing can be created under it.
        for path in (value, *value.parents):
            if path.exists():
                if not path.is_dir():
                    raise ValueError(f"{path} is a file, not a directory")
                break
        return value

    @field_validator("video_feeds", "transcripts_fetch", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        """`on` / `off` as well as pydantic's true/false/1/0/yes/no."""
        if isinstance(value, str) and value.strip().lower() in ("on", "off"):
            return value.strip().lower() == "on"
        return value

    @field_validator("price_source", "log_format", "extractor", "llm_provider", "sweep_executor", mode="before")
    @classmethod
    def _lower_case_choice(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def resolved_database_url(self) -> str:
        """The URL to connect with (holds the password: never print it; use `db.engine.safe_url`)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.state_dir / 'kevin.db').resolve()}"

    @property
    def languages(self) -> tuple[str, ...]:
        """KEVIN_TRANSCRIPT_LANGUAGES as codes, in order of preference (`en,de` -> ("en", "de"))."""
        return tuple(p.strip().lower() for p in self.transcript_languages.replace(" ", ",").split(",") if p.strip())

    @property
    def resolved_drop_dir(self) -> Path:
        return self.mentions_drop_dir or self.state_dir / "inbox"

    def strategy_params(self, **overrides: object) -> StrategyParams:
        """The strategy/risk subset, optionally with overrides (backtest `--set name=value`)."""
        values = {name: getattr(self, name) for name in StrategyParams.model_fields}
        values.update(overrides)
        return StrategyParams.model_validate(values)


# --- errors without secrets ----------------------------------------------------------------------


def _is_secret_field(name: str) -> bool:
    info = Settings.model_fields.get(name)
    return info is not None and "SecretStr" in str(info.annotation)


SECRET_FIELDS: tuple[str, ...] = tuple(name for name in Settings.model_fields if _is_secret_field(name))


def _env_names(field: str) -> list[str]:
    """Every environment variable (upper case) that can set `field`."""
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices):
        return [str(choice).upper() for choice in alias.choices]
    return [f"{ENV_PREFIX}{field.upper()}"]


def _field_for(key: str) -> str | None:
    """The field a loc or input key refers to: a field name or one of its env names/aliases."""
    if key in Settings.model_fields:
        return key
    upper = key.upper()
    for name in Settings.model_fields:
        if upper in _env_names(name):
            return name
    return None


def _secret_texts(field: str, value: object) -> list[str]:
    """The strings to hide for one secret field's raw value: the value itself, and for the database
    URL its password (raw and percent-decoded) rather than the whole, harmless-looking URL."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str) or not value:
        return []
    if field in ("database_url", "dagster_pg_url"):
        from kevin_pipeline.db.engine import url_passwords  # as in `_supported_url`: SQLAlchemy on demand

        return url_passwords(value)
    return [value]


def secret_values(inputs: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> set[str]:
    """Every secret value kevin could be holding: from explicit inputs and from the environment."""
    found: set[str] = set()
    environ = dict(os.environ) if environ is None else environ
    upper_env = {k.upper(): v for k, v in environ.items()}
    for field in SECRET_FIELDS:
        for env in _env_names(field):
            found.update(_secret_texts(field, upper_env.get(env)))
    for key, value in (inputs or {}).items():
        field = _field_for(str(key))
        if field in SECRET_FIELDS:
            found.update(_secret_texts(field, value))
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of every secret replaced (longest first, so a secret that
    contains another is hidden whole)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
        if repr(secret)[1:-1] != secret:  # a repr() in the message escapes backslashes, quotes
            text = text.replace(repr(secret)[1:-1], REDACTED)
    return text


def _named_fields(message: str) -> list[str]:
    """Settings fields a model-level message talks about, in order (`min_trade_usd must not ...`)."""
    seen: list[str] = []
    for word in re.findall(r"[a-z][a-z0-9_]*", message):
        if word in Settings.model_fields and word not in seen:
            seen.append(word)
    return seen


def describe_errors(exc: ValidationError, inputs: dict[str, Any] | None = None) -> str:
    """pydantic's errors as lines naming the environment variables, no secret value anywhere."""
    secrets = secret_values(inputs)
    problems = []
    for err in exc.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        loc = [str(p) for p in err["loc"] if p != "__root__"]
        field = _field_for(loc[0]) if loc else None
        value = err.get("input")
        if isinstance(value, dict):  # a model-level error: its input is every setting
            secrets |= secret_values(value, environ={})
        if field is not None:
            names = [_env_names(field)[0]]
        else:
            names = [_env_names(f)[0] for f in _named_fields(msg)] or ["KEVIN_* settings"]
        shown = ""
        if field is not None and field not in SECRET_FIELDS and not isinstance(value, dict):
            shown = f" (got {value!r})"
        problems.append(f"{', '.join(names)}: {msg}{shown}")
    text = f" {problems[0]}" if len(problems) == 1 else "\n  " + "\n  ".join(problems)
    return redact(f"invalid kevin settings:{text}", secrets)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; a bad value raises `SettingsError` naming the variable."""
    return Settings(**overrides)


# --- the process environment: read here and nowhere else in kevin ------------------------------


def environment_has(name: str) -> bool:
    """Whether the variable `name` is set (non-empty) in the process environment. For wiring that
    must decide at load time whether to reference a variable at all (Dagster's `dg.EnvVar` fails on
    a missing one), without reading its value."""
    return bool(os.environ.get(name))


def environment_without_settings() -> dict[str, str]:
    """A copy of the process environment minus every variable kevin could read as a setting
    (`KEVIN_*`, `ALPACA_*`): the base for a child process whose settings the caller sets itself."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith((ENV_PREFIX, "ALPACA_"))}


def environment_with(overrides: dict[str, str]) -> dict[str, str]:
    """A copy of the whole process environment (settings included) with `overrides` on top: for a
    child process that must see the user's settings plus a few the parent decided."""
    return {**os.environ, **overrides}
