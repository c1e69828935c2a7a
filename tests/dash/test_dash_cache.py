"""The dashboard's keyed cache: one computation per key, the oldest key out first."""

from __future__ import annotations

from kevin_dash.data.cache import KeyedCache


def test_a_key_is_computed_once_and_a_new_key_computes_again() -> None:
    cache = KeyedCache(size=2)
    calls: list[str] = []

    def compute(key: str) -> str:
        calls.append(key)
        return key.upper()

    assert cache.get("a", lambda: compute("a")) == "A"
    assert cache.get("a", lambda: compute("a")) == "A"
    assert cache.get("b", lambda: compute("b")) == "B"
    assert calls == ["a", "b"] and cache.computed == 2


def test_the_least_recently_used_key_falls_out_when_full() -> None:
    cache = KeyedCache(size=2)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    cache.get("a", lambda: 1)  # a is now the most recent
    cache.get("c", lambda: 3)  # b falls out
    assert cache.get("a", lambda: -1) == 1
    assert cache.get("b", lambda: -2) == -2
    assert cache.computed == 4
