"""The trading tests run the live path on a real database with the simulated broker (tests/helpers/live.py)."""

from tests.helpers.live import live_factory  # noqa: F401  (a fixture)
