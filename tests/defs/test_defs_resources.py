"""Resources: settings from the environment or fields; Alpaca keys by EnvVar name, never by value."""

from __future__ import annotations

import dagster as dg
import pytest

from kevin_pipeline.defs.resources import (
    BrokerResource,
    KevinRuntimeResource,
    PriceSourceResource,
    default_resources,
)
from kevin_pipeline.market_data.source import PriceSourceError
from kevin_pipeline.settings import SettingsError

KEY, SECRET = "PKTESTKEY0001", "SECRETVALUE0002"


def test_alpaca_keys_are_wired_as_env_vars_not_values(monkeypatch):
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    resources = default_resources()
    for name in ("broker", "price_source"):
        assert isinstance(resources[name].alpaca_api_key, dg.EnvVar)
        assert KEY not in repr(resources[name]) and SECRET not in repr(resources[name])


def test_without_keys_the_embedded_default_needs_no_env_vars(monkeypatch):
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    assert default_resources()["broker"].alpaca_api_key is None


def test_the_alpaca_broker_kind_builds_the_paper_adapter_without_leaking_keys(tmp_path):
    runtime_resource = KevinRuntimeResource(state_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path / 'k.db'}")
    try:
        ctx = BrokerResource(kind="alpaca", alpaca_api_key=KEY, alpaca_secret_key=SECRET).trading_context(runtime_resource.runtime)
        assert ctx.broker.name == "alpaca"
        assert "paper-api.alpaca.markets" in repr(ctx.broker)
        assert KEY not in repr(ctx.broker) and SECRET not in repr(ctx.runtime.settings)
    finally:
        runtime_resource.close()


def test_the_broker_defaults_to_the_simulated_venue(tmp_path, monkeypatch):
    monkeypatch.delenv("KEVIN_BROKER", raising=False)
    runtime_resource = KevinRuntimeResource(state_dir=str(tmp_path), database_url=f"sqlite:///{tmp_path / 'k.db'}")
    try:
        assert BrokerResource().trading_context(runtime_resource.runtime).broker.name == "simulated"
    finally:
        runtime_resource.close()


def test_unknown_settings_overrides_are_refused():
    with pytest.raises(SettingsError, match="min_convicton"):
        KevinRuntimeResource(settings_overrides={"min_convicton": "0.7"}).settings()


def test_price_source_kind_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("KEVIN_PRICE_SOURCE", "cache")
    assert PriceSourceResource().resolved_kind() == "cache"
    monkeypatch.setenv("KEVIN_PRICE_SOURCE", "yahoo")
    with pytest.raises(SettingsError, match="KEVIN_PRICE_SOURCE"):  # a setting like any other
        PriceSourceResource().resolved_kind()
    with pytest.raises(PriceSourceError, match="yahoo"):
        PriceSourceResource(kind="yahoo").resolved_kind()
