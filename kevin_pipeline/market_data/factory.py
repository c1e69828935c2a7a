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

from typing import TYPE_CHECKING, TypedDict, Unpack

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


class AlpacaOptions(TypedDict, total=False):
    """What a caller may say about the Alpaca upstream; only the `alpaca` kind reads it.

    api_key / secret_key: used when given (a Dagster resource's config), else the settings'
    (`ALPACA_API_KEY`/`ALPACA_SECRET_KEY`). alpaca_feed: the market-data feed, "iex" unless given.
    """

    api_key: str | None
    secret_key: str | None
    alpaca_feed: str


def price_source(settings: Settings, kind: str | None = None, **alpaca: Unpack[AlpacaOptions]) -> PriceSource | None:
    """The upstream source for `kind` (see `resolve_kind`); None for `cache`, which has none.

    Missing Alpaca keys fail in `AlpacaBarsSource` with a message that names the variables, never a value.
    """
    name = resolve_kind(settings, kind)
    if name == "cache":
        return None
    if name == "bundled":
        return BundledSource()
    from kevin_pipeline.market_data.alpaca import AlpacaBarsSource  # alpaca-py costs a second to import

    key = alpaca.get("api_key") or (settings.alpaca_api_key.get_secret_value() if settings.alpaca_api_key else None)
    secret = alpaca.get("secret_key") or (
        settings.alpaca_secret_key.get_secret_value() if settings.alpaca_secret_key else None
    )
    return AlpacaBarsSource(key, secret, feed=alpaca.get("alpaca_feed") or "iex")


def cached_price_source(runtime: Runtime, kind: str | None = None, **alpaca: Unpack[AlpacaOptions]) -> CachedSource:
    """Bars from the runtime's `price_bars` cache, back-filled from `price_source(...)` on a miss."""
    return CachedSource(runtime, upstream=price_source(runtime.settings, kind, **alpaca))


__all__ = ["AlpacaOptions", "cached_price_source", "price_source", "resolve_kind"]
