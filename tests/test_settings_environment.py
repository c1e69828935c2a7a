"""settings.py is the one module that reads the process environment; its two helpers for wiring."""

from __future__ import annotations

import pytest

from kevin_pipeline.settings import environment_has, environment_without_settings


def test_environment_has_tells_set_from_unset_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPACA_API_KEY", "PKSET")
    monkeypatch.setenv("KEVIN_EMPTY_PROBE", "")
    monkeypatch.delenv("KEVIN_UNSET_PROBE", raising=False)
    assert environment_has("ALPACA_API_KEY")
    assert not environment_has("KEVIN_EMPTY_PROBE") and not environment_has("KEVIN_UNSET_PROBE")


def test_a_child_environment_carries_no_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEVIN_BROKER", "alpaca")
    monkeypatch.setenv("kevin_enable_trading", "true")  # pydantic-settings reads names in any case
    monkeypatch.setenv("ALPACA_SECRET_KEY", "SECRET")
    monkeypatch.setenv("UNRELATED_PROBE", "kept")
    env = environment_without_settings()
    assert env["UNRELATED_PROBE"] == "kept"
    assert not [k for k in env if k.upper().startswith(("KEVIN_", "ALPACA_"))]


def test_kevin_direction_reaches_the_strategy_and_a_bad_one_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from kevin_pipeline.domain.direction import Direction
    from kevin_pipeline.settings import Settings, SettingsError

    monkeypatch.setenv("KEVIN_DIRECTION", "Inverse")
    assert Settings().strategy_params().direction is Direction.INVERSE
    monkeypatch.setenv("KEVIN_DIRECTION", "short")
    with pytest.raises(SettingsError, match="KEVIN_DIRECTION"):
        Settings()
