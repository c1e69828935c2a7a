"""The one settings object: every knob of DESIGN.md, read from `KEVIN_*` environment variables.

Strategy and risk defaults live in `domain.params.StrategyParams` (inherited here) so the
backtest and the live path share them. A bad value must stop kevin at start with the variable's
name, never half-run with a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from kevin_pipeline.domain.params import StrategyParams

ENV_PREFIX = "KEVIN_"


class SettingsError(ValueError):
    """A setting from the environment is invalid; the message names the variable."""


class Settings(StrategyParams, BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, validate_default=True
    )

    state_dir: Path = Field(default_factory=lambda: Path.cwd() / ".kevin")
    database_url: str | None = None  # default: SQLite file under state_dir

    enable_trading: bool = False  # master kill switch; decisions are dry_run while off
    broker: Literal["simulated", "alpaca"] = "simulated"
    order_time_in_force: Literal["gtc", "day"] = "gtc"

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

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.state_dir / 'kevin.db').resolve()}"

    @property
    def resolved_drop_dir(self) -> Path:
        return self.mentions_drop_dir or self.state_dir / "inbox"

    def strategy_params(self, **overrides: object) -> StrategyParams:
        """The strategy/risk subset, optionally with overrides (backtest `--set name=value`)."""
        values = {name: getattr(self, name) for name in StrategyParams.model_fields}
        values.update(overrides)
        return StrategyParams.model_validate(values)


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning pydantic's error into one naming the variables."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"] if p != "__root__"]
            name = _env_name(loc[0]) if loc else "KEVIN_* settings"
            value = err.get("input")
            shown = "" if "SECRET" in name or "KEY" in name or "TOKEN" in name else f" (got {value!r})"
            problems.append(f"{name}: {err['msg']}{shown}")
        raise SettingsError("invalid kevin settings:\n  " + "\n  ".join(problems)) from None
