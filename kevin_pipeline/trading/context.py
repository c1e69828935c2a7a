"""What the live path needs in one place: the app database, a broker, the rules, a calendar.

Built once per Dagster run / CLI command. The broker is chosen by settings (`KEVIN_BROKER`):
the simulated venue by default, Alpaca's paper API in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kevin_pipeline.runtime import Runtime
from kevin_pipeline.brokers.base import Broker, ConfigurationError
from kevin_pipeline.domain.calendar import NyseCalendar, nyse_calendar
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.prices import PriceBook
from kevin_pipeline.market_data.cache import load_cached_bars


@dataclass
class TradingContext:
    runtime: Runtime
    broker: Broker
    params: StrategyParams
    calendar: NyseCalendar = field(default_factory=nyse_calendar)

    @property
    def env_trading_enabled(self) -> bool:
        return bool(self.runtime.settings.enable_trading)

    @property
    def allocation_usd(self) -> Decimal | None:
        """`KEVIN_ALLOCATION_USD`: kevin's slice of the broker account (None: the whole account
        minus foreign positions). See trading.own_slice."""
        return getattr(self.runtime.settings, "allocation_usd", None)

    @property
    def starting_equity(self) -> Decimal:
        """What the drawdown halt measures against: the allocation when set, else the setting."""
        return self.allocation_usd if self.allocation_usd is not None else self.params.starting_equity_usd

    @property
    def time_in_force(self) -> str:
        return self.runtime.settings.order_time_in_force


class CachedPriceBook:
    """The price_bars table as a PriceBook, reloaded when asked (the simulated venue's data feed)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._book: PriceBook | None = None

    def __call__(self) -> PriceBook:
        if self._book is None:
            self.reload()
        assert self._book is not None
        return self._book

    def reload(self) -> None:
        with self._runtime.sessions() as session:
            self._book = PriceBook.from_frame(load_cached_bars(session))


def make_broker(runtime: Runtime, params: StrategyParams) -> Broker:
    settings = runtime.settings
    if settings.broker == "alpaca":
        from kevin_pipeline.brokers.alpaca import AlpacaPaperBroker

        key = settings.alpaca_api_key.get_secret_value() if settings.alpaca_api_key else None
        secret = settings.alpaca_secret_key.get_secret_value() if settings.alpaca_secret_key else None
        if not key or not secret:
            raise ConfigurationError("KEVIN_BROKER=alpaca needs ALPACA_API_KEY and ALPACA_SECRET_KEY (paper keys)")
        return AlpacaPaperBroker(key, secret)
    from kevin_pipeline.brokers.simulated import SimulatedBroker

    return SimulatedBroker(runtime.sessions, CachedPriceBook(runtime), params)


def trading_context(runtime: Runtime, broker: Broker | None = None) -> TradingContext:
    params = runtime.settings.strategy_params()
    return TradingContext(runtime=runtime, broker=broker or make_broker(runtime, params), params=params)


__all__ = ["CachedPriceBook", "TradingContext", "make_broker", "trading_context"]
