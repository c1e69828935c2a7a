"""market_data.factory: the one chooser of bars sources, reading KEVIN_PRICE_SOURCE through Settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from kevin_pipeline.runtime import open_runtime
from kevin_pipeline.market_data.alpaca import AlpacaBarsSource
from kevin_pipeline.market_data.factory import cached_price_source, price_source, resolve_kind
from kevin_pipeline.market_data.source import BundledSource, CachedSource, PriceSourceError
from kevin_pipeline.settings import Settings

KEY, SECRET = "PKFACTORYKEY01", "FACTORYSECRET02"


def test_an_unset_kind_is_the_settings_price_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEVIN_PRICE_SOURCE", "CACHE")  # read (and normalised) by Settings, not here
    settings = Settings()
    assert resolve_kind(settings) == "cache" and price_source(settings) is None
    assert isinstance(price_source(Settings(price_source="bundled")), BundledSource)


def test_an_explicit_kind_wins_and_an_unknown_one_is_named() -> None:
    settings = Settings(price_source="cache")
    assert isinstance(price_source(settings, " Bundled "), BundledSource)
    with pytest.raises(PriceSourceError, match="'yahoo': use bundled, cache, alpaca"):
        price_source(settings, "yahoo")


def test_alpaca_takes_the_settings_keys_unless_given_and_never_shows_them() -> None:
    from_settings = price_source(Settings(alpaca_api_key=KEY, alpaca_secret_key=SECRET), "alpaca", alpaca_feed="sip")
    assert isinstance(from_settings, AlpacaBarsSource) and from_settings.feed.value == "sip"
    assert KEY not in repr(from_settings) and SECRET not in repr(from_settings)
    given = price_source(Settings(), "alpaca", api_key=KEY, secret_key=SECRET)
    assert isinstance(given, AlpacaBarsSource)
    with pytest.raises(PriceSourceError, match="ALPACA_API_KEY") as err:
        price_source(Settings(), "alpaca")
    assert KEY not in str(err.value)


def test_the_cached_source_reads_through_the_app_database(tmp_path: Path) -> None:
    runtime = open_runtime(Settings(state_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'k.db'}", price_source="bundled"))
    try:
        source = cached_price_source(runtime)
        assert isinstance(source, CachedSource) and isinstance(source.upstream, BundledSource)
        assert cached_price_source(runtime, "cache").upstream is None
    finally:
        runtime.close()
