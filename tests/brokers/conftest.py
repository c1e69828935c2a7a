"""The simulated broker's tests run it on a real database, as the live path does (tests/helpers/live.py)."""

from tests.helpers.live import live_factory  # noqa: F401  (a fixture)
