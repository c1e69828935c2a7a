"""Benchmarks (`make bench`): figures printed against the targets, never asserted by tests.

`runner` measures the engine, the sweep and the live path's load; `latency` times a mention's way
through `dagster dev` to an order. The synthetic market they use is `research.synthetic`.
"""
