"""Dagster resources: thin constructors of the adapters the other layers already provide.

    kevin_runtime     KevinRuntimeResource     settings + app database (kevin_pipeline.runtime.open_runtime)
    broker        BrokerResource       simulated venue (default) | Alpaca paper  -> a TradingContext
    price_source  PriceSourceResource  bundled bars (default) | the DB cache alone | Alpaca, written through the cache

Every field left at None falls back to the `KEVIN_*` environment (kevin_pipeline.settings), so the
same definitions serve the embedded default and production; only the environment differs.
Alpaca keys reach the resources as `dg.EnvVar("ALPACA_API_KEY")` / `dg.EnvVar("ALPACA_SECRET_KEY")`:
the UI shows the variable's name, never its value, and no code here logs them.

No `from __future__ import annotations` here: Dagster reads these annotations at runtime.
"""

import dataclasses

import dagster as dg
from pydantic import PrivateAttr, SecretStr

from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.brokers.base import ConfigurationError
from kevin_pipeline.market_data.bundled import bundled_symbols
from kevin_pipeline.market_data.cache import cached_symbols
from kevin_pipeline.market_data.factory import AlpacaOptions, cached_price_source, price_source, resolve_kind
from kevin_pipeline.market_data.source import CachedSource, PriceSource
from kevin_pipeline.settings import Settings, SettingsError, environment_has, load_settings
from kevin_pipeline.trading.context import TradingContext, trading_context

BROKER_KINDS = ("simulated", "alpaca")


class KevinRuntimeResource(dg.ConfigurableResource):
    """Settings and the app database. Opening the runtime upgrades the schema (a no-op at head).

    `settings_overrides` sets any other Settings field by name, as text (pydantic parses it):
    `{"min_conviction": "0.7"}`. Prefer `KEVIN_DATABASE_URL` in the environment over
    `database_url` here when the URL holds a password: resource config is shown in the UI.
    """

    database_url: str | None = None
    state_dir: str | None = None
    enable_trading: bool | None = None
    settings_overrides: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults)

    _runtime: Runtime | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        unknown = sorted(set(self.settings_overrides) - set(Settings.model_fields))
        if unknown:
            raise SettingsError(f"kevin_runtime.settings_overrides: unknown setting(s) {', '.join(unknown)}")
        values: dict[str, object] = dict(self.settings_overrides)
        for name in ("database_url", "state_dir", "enable_trading"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        return load_settings(**values)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._runtime = open_runtime(self.settings())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        """Dispose of the engine (Dagster calls this after a run; plain Python callers call it)."""
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:  # used outside a Dagster run (a plain Python call)
            self._runtime = open_runtime(self.settings())
        return self._runtime


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


class BrokerResource(dg.ConfigurableResource):
    """Which venue the live path talks to. `kind` None: `KEVIN_BROKER` (default "simulated").

    Alpaca is paper-only (the adapter refuses any other endpoint); keys default to the settings'
    ALPACA_API_KEY / ALPACA_SECRET_KEY.
    """

    kind: str | None = None  # "simulated" | "alpaca"
    alpaca_api_key: str | None = None
    alpaca_secret_key: str | None = None

    def trading_context(self, runtime: Runtime) -> TradingContext:
        update: dict[str, object] = {}
        if self.kind is not None:
            kind = self.kind.strip().lower()
            if kind not in BROKER_KINDS:
                raise ConfigurationError(f"broker kind {self.kind!r}: use {' or '.join(BROKER_KINDS)}")
            update["broker"] = kind
        if self.alpaca_api_key:
            update["alpaca_api_key"] = _secret(self.alpaca_api_key)
        if self.alpaca_secret_key:
            update["alpaca_secret_key"] = _secret(self.alpaca_secret_key)
        if update:
            runtime = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update=update))
        return trading_context(runtime)


class PriceSourceResource(dg.ConfigurableResource):
    """Where daily bars come from. `kind` None: `KEVIN_PRICE_SOURCE` (default "bundled").

    bundled: the real bars shipped with kevin; cache: only what the price_bars table holds;
    alpaca: Alpaca market data (paper keys work). Every kind is read through the DB cache, which
    asks upstream only for what it lacks.
    """

    kind: str | None = None  # "bundled" | "cache" | "alpaca"
    alpaca_api_key: str | None = None
    alpaca_secret_key: str | None = None
    alpaca_feed: str = "iex"

    def resolved_kind(self, settings: Settings | None = None) -> str:
        """`kind` if set, else the settings' `price_source` (KEVIN_PRICE_SOURCE, validated at start)."""
        return resolve_kind(settings, self.kind)

    def _alpaca(self) -> AlpacaOptions:
        return AlpacaOptions(api_key=self.alpaca_api_key, secret_key=self.alpaca_secret_key, alpaca_feed=self.alpaca_feed)

    def upstream(self, settings: Settings) -> PriceSource | None:
        return price_source(settings, self.kind, **self._alpaca())

    def cached_source(self, runtime: Runtime) -> CachedSource:
        return cached_price_source(runtime, self.kind, **self._alpaca())

    def symbols_with_bars(self, runtime: Runtime) -> set[str]:
        """Symbols whose bars are at hand: the cache's, plus the bundled set when bundled is the
        source. Empty for Alpaca: it prices every listed class, so nothing is substituted."""
        kind = self.resolved_kind(runtime.settings)
        if kind == "alpaca":
            return set()
        with runtime.sessions() as session:
            have = cached_symbols(session)
        return have | set(bundled_symbols()) if kind == "bundled" else have


def _env_secret(name: str) -> dg.EnvVar | None:
    """`dg.EnvVar(name)` when the variable is set where the definitions load, else None (the
    embedded default has no keys and must not fail on a missing variable)."""
    return dg.EnvVar(name) if environment_has(name) else None


def default_resources() -> dict[str, dg.ConfigurableResource]:
    keys = {
        "alpaca_api_key": _env_secret("ALPACA_API_KEY"),
        "alpaca_secret_key": _env_secret("ALPACA_SECRET_KEY"),
    }
    return {
        "kevin_runtime": KevinRuntimeResource(),
        "broker": BrokerResource(**keys),
        "price_source": PriceSourceResource(**keys),
    }
