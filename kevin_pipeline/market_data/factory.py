"""The one place that chooses where daily bars come from.

    source = cached_price_source(runtime)                 # KEVIN_PRICE_SOURCE, through Settings
    upstream = price_source(settings, "alpaca")       # `kevin prices fetch --source alpaca`

Kinds: `bundled` (the real bars shipped with kevin), `cache` (only what the `price_bars` table
holds: no upstream at all), `alpaca` (Alpaca market data; paper keys work). A kind left unset is
the settings' `price_source` (`KEVIN_PRICE_SOURCE`, validated when settings load), so the CLI, the
Dagster resource and anything later pick sources the same way and nothing here reads the
environment itself.

Its own module, above `source.py` (the protocol, bundled and cached sources) and `alpaca.py` (which
imports `source.py` for the protocol's error): choosing between them used to live in `source.py`,
which made the two modules import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kevin_pipeline.market_data.source import BundledSource, CachedSource, PriceSource, PriceSourceError
from kevin_pipeline.settings import PRICE_SOURCES, Settings, load_settings

if TYPE_CHECKING:
    from kevin_pipeline.runtime import Runtime


def resolve_kind(settings: Settings | None, kind: str | None = None) -> str:
    """`kind` (any case, stripped) if given, else `settings.price_source` (settings None: loaded
    from the environment, only then); an unknown kind raises PriceSourceError naming the allowed ones."""
    name = (kind or "").strip().lower()
    if not name:
        return (settings or load_settings()).price_source
    if name not in PRICE_SOURCES:
        raise PriceSourceError(f"price source {name!r}: use {', '.join(PRICE_SOURCES)}")
    return name


def price_source(
    settings: Settings,
    kind: str | None = None,
    *,
    api_key: str | None = None,
    secret_key: str | None = None,
    alpaca_feed: str = "iex",
) -> PriceSource | None:
    """The upstream source for `kind` (see `resolve_kind`); None for `cache`, which has none.

    Alpaca keys: `api_key`/`secret_key` when given (a Dagster resource's config), else the settings'
    (`ALPACA_API_KEY`/`ALPACA_SECRET_KEY`). Missing keys fail in `AlpacaBarsSource` with a message
    that names the variables, never a value.
    """
    name = resolve_kind(settings, kind)
    if name == "cache":
        return None
    if name == "bundled":
        return BundledSource()
    from kevin_pipeline.market_data.alpaca import AlpacaBarsSource  # alpaca-py costs a second to import

    key = api_key or (settings.alpaca_api_key.get_secret_value() if settings.alpaca_api_key else None)
    secret = secret_key or (settings.alpaca_secret_key.get_secret_value() if settings.alpaca_secret_key else None)
    return AlpacaBarsSource(key, secret, feed=alpaca_feed)


def cached_price_source(
    runtime: Runtime,
    kind: str | None = None,
    *,
    api_key: str | None = None,
    secret_key: str | None = None,
    alpaca_feed: str = "iex",
) -> CachedSource:
    """Bars from the runtime's `price_bars` cache, back-filled from `price_source(...)` on a miss."""
    upstream = price_source(runtime.settings, kind, api_key=api_key, secret_key=secret_key, alpaca_feed=alpaca_feed)
    return CachedSource(runtime, upstream=upstream)


__all__ = ["cached_price_source", "price_source", "resolve_kind"]
