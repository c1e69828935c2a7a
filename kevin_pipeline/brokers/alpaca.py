"""Alpaca paper trading adapter for the broker port (alpaca-py 0.44, paper endpoint only).

What this adapter guarantees on top of alpaca-py (see /work/shared/ALPACA.md for the facts it relies on):

- Paper only: it refuses to start unless the trading client points at ``paper-api.alpaca.markets``
  over https, and without both keys. Key values never appear in messages or logs.
- One retry policy, ours: alpaca-py's built-in retry (429/504, ``time.sleep(3)``, including POSTs) is
  switched off (``client._retry = 0``) and every call goes through `AlpacaPaperBroker._call`:
    * connection error / timeout -> for a submit, look the order up by its client order id first (the
      POST may have reached Alpaca) and return it if found; otherwise back off and retry;
    * 429 -> wait until ``X-Ratelimit-Reset`` (epoch seconds, capped), then retry;
    * 5xx (or a non-HTTP API error) -> exponential backoff, then retry;
    * other 4xx -> `BrokerRejected` with the broker's own message, at once;
    * attempts exhausted -> reads raise `BrokerUnavailable`; a submit looks its order up once more and
      returns it if Alpaca has it, raises `BrokerRejected` (last status + broker message) when Alpaca
      answers that it does not, and `BrokerUnavailable` when even that lookup fails (outcome unknown:
      the order path must not record a rejection for an order that may be live).
- A request timeout on every HTTP call (alpaca-py passes none).
- Idempotent submits: a known client order id is returned, never re-submitted; a 422 "client_order_id
  must be unique" means "possibly placed" and is answered with the looked-up order.
- Whole shares and bracket prices come from `kevin_pipeline.domain.sizing`, as in the backtest.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlparse

import pydantic
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockLatestTradeRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest, StopLossRequest, TakeProfitRequest

from kevin_pipeline.brokers.base import (
    BrokerAccount,
    BrokerError,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    ConfigurationError,
    is_kevins,
)
from kevin_pipeline.domain.params import StrategyParams
from kevin_pipeline.domain.sizing import bracket_prices, whole_shares

log = logging.getLogger(__name__)

PAPER_HOST = "paper-api.alpaca.markets"
MAX_CLIENT_ORDER_ID = 48  # the current spec allows 128, older docs 48: keep to both (ALPACA.md §3)
ORDERS_PAGE_LIMIT = 500  # Alpaca's maximum for GET /v2/orders
MAX_RATE_LIMIT_WAIT = 60.0  # seconds; a bogus X-Ratelimit-Reset must not park the process
MAX_BACKOFF = 30.0
_MESSAGE_LIMIT = 300

T = TypeVar("T")


class _Unreachable(Exception):
    """Internal: one attempt could not be completed (connection error, timeout, 429, 5xx)."""

    def __init__(self, detail: str, status: int | None, wait: float) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.wait = wait


def _enum_str(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _int_qty(value: Any) -> int:
    d = _dec(value)
    if d is None:
        return 0
    if d != d.to_integral_value():
        log.warning("Alpaca reported a fractional quantity %s; kevin counts whole shares only", d)
    return int(d)


def _broker_message(exc: BrokerError) -> str:
    return str(getattr(exc, "broker_message", exc.message)).lower()


def _url_of(client: Any) -> str:
    base = getattr(client, "_base_url", None)
    return str(getattr(base, "value", base))


def _apply_timeout(client: Any, timeout: float) -> None:
    """alpaca-py calls ``self._session.request(method, url, **opts)`` with no timeout: add one."""
    session = getattr(client, "_session", None)
    if session is None:
        return
    request = session.request
    if isinstance(request, functools.partial):  # already wrapped (by us or a caller): keep its other arguments
        session.request = functools.partial(request.func, *request.args, **{**request.keywords, "timeout": timeout})
    else:
        session.request = functools.partial(request, timeout=timeout)


class AlpacaPaperBroker:
    """The `Broker` port on Alpaca's paper trading API."""

    name = "alpaca"

    def __init__(
        self,
        api_key: str | None,
        secret_key: str | None,
        *,
        trading_client: TradingClient | None = None,
        data_client: StockHistoricalDataClient | None = None,
        url_override: str | None = None,
        max_attempts: int = 4,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float | datetime] | None = None,
        request_timeout: float = 10.0,
        asset_cache_seconds: float = 3600,
    ) -> None:
        missing = [name for name, value in (("ALPACA_API_KEY", api_key), ("ALPACA_SECRET_KEY", secret_key))
                   if value is None or not str(value).strip()]
        if missing:
            raise ConfigurationError(
                f"Alpaca paper broker needs {' and '.join(missing)} (paper trading keys); "
                "set them or use the simulated broker"
            )
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._secrets = tuple(s for s in (str(api_key), str(secret_key)) if s)
        if url_override is not None:
            self._require_paper(url_override)
        try:
            self._trading = trading_client or TradingClient(
                api_key, secret_key, paper=True, url_override=url_override
            )
            self._data = data_client or StockHistoricalDataClient(api_key, secret_key)
        except ValueError as exc:  # alpaca-py's credential checks; their messages carry no key values
            raise ConfigurationError(self._scrub(f"Alpaca client could not start: {exc}")) from None
        self._require_paper(_url_of(self._trading))
        for client in (self._trading, self._data):
            client._retry = 0  # our retry policy is the only one (ALPACA.md §5)
            _apply_timeout(client, request_timeout)

        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._clock = clock or time.time
        self._asset_cache_seconds = asset_cache_seconds
        self._asset_cache: dict[str, tuple[bool, datetime]] = {}

    def __repr__(self) -> str:  # never show keys
        return f"AlpacaPaperBroker(endpoint={self.endpoint!r})"

    @property
    def endpoint(self) -> str:
        """The trading API's base URL (checked to be the paper one at construction)."""
        return _url_of(self._trading)

    # ------------------------------------------------------------------ safety

    def _require_paper(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.hostname != PAPER_HOST or parsed.scheme != "https":
            shown = f"{parsed.scheme}://{parsed.hostname}" if parsed.hostname else "(unparseable URL)"
            raise ConfigurationError(self._scrub(
                f"refusing non-paper Alpaca endpoint {shown}: kevin trades only on https://{PAPER_HOST}"
            ))

    def _scrub(self, text: Any) -> str:
        out = str(text)
        for secret in getattr(self, "_secrets", ()):
            out = out.replace(secret, "***")
        return out

    def _now_epoch(self) -> float:
        value = self._clock()
        return value.timestamp() if isinstance(value, datetime) else float(value)

    # ------------------------------------------------------------------ retry policy

    def _api_message(self, exc: APIError) -> str:
        """The broker's words: `message` from a JSON body, else the raw body (guarded: ALPACA.md §5)."""
        try:
            message = exc.message
        except Exception:  # JSONDecodeError on HTML/empty bodies, KeyError without "message"
            message = None
        if not message:
            message = str(exc).strip() or "no message"
        message = " ".join(str(message).split())
        if len(message) > _MESSAGE_LIMIT:
            message = message[:_MESSAGE_LIMIT] + "..."
        return self._scrub(message)

    def _rate_limit_wait(self, exc: APIError, attempt: int) -> float:
        response = exc.response
        reset = None if response is None else response.headers.get("X-Ratelimit-Reset")
        try:
            wait = float(reset) - self._now_epoch()
        except (TypeError, ValueError):
            return self._backoff_wait(attempt)
        return min(max(wait, 0.0), MAX_RATE_LIMIT_WAIT)

    def _backoff_wait(self, attempt: int) -> float:
        return min(self._backoff * (2 ** (attempt - 1)), MAX_BACKOFF)

    def _attempt(self, op: str, fn: Callable[[], T], attempt: int) -> T:
        """One try. Raises `_Unreachable` for what may be retried, `BrokerRejected` for the rest."""
        try:
            return fn()
        except requests.exceptions.RequestException as exc:  # connection error, timeout, truncated body...
            raise _Unreachable(self._scrub(f"{type(exc).__name__} reaching Alpaca"), None,
                               self._backoff_wait(attempt)) from None
        except APIError as exc:
            status = exc.status_code
            message = self._api_message(exc)
            if status == 429:
                raise _Unreachable(f"HTTP 429 rate limited: {message}", 429,
                                   self._rate_limit_wait(exc, attempt)) from None
            if status is None or status >= 500:
                raise _Unreachable(f"HTTP {status}: {message}", status, self._backoff_wait(attempt)) from None
            rejected = BrokerRejected(f"Alpaca refused {op}: HTTP {status}: {message}", status_code=status)
            rejected.broker_message = message  # the broker's words alone, for callers that match on them
            raise rejected from None
        except pydantic.ValidationError as exc:
            raise BrokerUnavailable(
                f"Alpaca answered {op} with a response kevin cannot read ({exc.error_count()} field errors)"
            ) from None

    def _call(
        self,
        op: str,
        fn: Callable[[], T],
        *,
        lookup: Callable[[], BrokerOrder | None] | None = None,
    ) -> T | BrokerOrder:
        """Run `fn` under the retry policy. `lookup` marks a submit: it is tried after a connection
        failure and before giving up, and a found order is returned instead of re-submitting."""
        last: _Unreachable | None = None
        for attempt in range(1, self._max_attempts + 1):
            try:
                return self._attempt(op, fn, attempt)
            except _Unreachable as exc:
                last = exc
            except BrokerRejected:
                # A refusal after an attempt that may have gone through (e.g. "insufficient buying
                # power" because a 504'd first POST was placed): the placed order wins.
                if lookup is not None and last is not None:
                    found = self._try_lookup(op, lookup)
                    if found is not None:
                        return found
                raise
            if lookup is not None and last.status is None and attempt < self._max_attempts:
                # the request may have reached Alpaca (the final lookup below covers the last attempt)
                found = self._try_lookup(op, lookup)
                if found is not None:
                    log.warning("Alpaca %s: %s, but the order is there (%s); not re-submitting",
                                op, last.detail, found.status)
                    return found
            if attempt < self._max_attempts:
                log.warning("Alpaca %s: %s; retry %d/%d in %.1fs",
                            op, last.detail, attempt, self._max_attempts - 1, last.wait)
                self._sleep(last.wait)
        assert last is not None
        summary = f"Alpaca {op} failed after {self._max_attempts} attempts; last: {last.detail}"
        if lookup is None:
            raise BrokerUnavailable(summary, status_code=last.status)
        try:
            found = self._attempt(f"{op} (final lookup)", lookup, self._max_attempts)
        except (_Unreachable, BrokerError) as exc:
            detail = exc.detail if isinstance(exc, _Unreachable) else exc.message
            raise BrokerUnavailable(
                f"{summary}; could not confirm whether Alpaca has the order ({detail})", status_code=last.status
            ) from None
        if found is not None:
            log.warning("Alpaca %s: gave up retrying, but the order is there (%s)", op, found.status)
            return found
        raise BrokerRejected(summary, status_code=last.status)

    def _try_lookup(self, op: str, lookup: Callable[[], BrokerOrder | None]) -> BrokerOrder | None:
        try:
            return self._attempt(f"{op} (lookup)", lookup, 1)
        except (_Unreachable, BrokerError) as exc:
            detail = exc.detail if isinstance(exc, _Unreachable) else exc.message
            log.warning("Alpaca %s: lookup by client order id failed too (%s)", op, detail)
            return None

    # ------------------------------------------------------------------ conversions

    def _to_orders(self, order: Any) -> list[BrokerOrder]:
        """An Alpaca order and its nested legs, flattened: the parent first."""
        raw = order.model_dump(mode="json")
        legs = list(order.legs or [])
        take_profit = stop = None
        leg_orders: list[BrokerOrder] = []
        for leg in legs:
            kind = _enum_str(leg.type) or _enum_str(leg.order_type)
            if kind == "limit":
                reason, leg_tp, leg_stop = "take_profit", _dec(leg.limit_price), None
                take_profit = take_profit or leg_tp
            elif kind in ("stop", "stop_limit", "trailing_stop"):
                reason, leg_tp, leg_stop = "stop", None, _dec(leg.stop_price)
                stop = stop or leg_stop
            else:
                reason, leg_tp, leg_stop = None, None, None
            leg_raw = leg.model_dump(mode="json")
            leg_raw["parent_order_id"] = str(order.id)
            leg_raw["parent_client_order_id"] = order.client_order_id
            leg_orders.append(self._simple(leg, raw=leg_raw, exit_reason=reason,
                                           take_profit_price=leg_tp, stop_price=leg_stop))
        parent = self._simple(order, raw=raw, take_profit_price=take_profit, stop_price=stop)
        return [parent, *leg_orders]

    @staticmethod
    def _simple(order: Any, *, raw: dict[str, Any], exit_reason: str | None = None,
                take_profit_price: Decimal | None = None, stop_price: Decimal | None = None,
                client_order_id: str | None = None) -> BrokerOrder:
        return BrokerOrder(
            client_order_id=client_order_id or order.client_order_id,
            broker_order_id=str(order.id),
            symbol=order.symbol or "",
            side=_enum_str(order.side) or "",
            qty=_int_qty(order.qty),
            status=_enum_str(order.status) or "",
            submitted_at=order.submitted_at,
            filled_qty=_int_qty(order.filled_qty),
            filled_avg_price=_dec(order.filled_avg_price),
            filled_at=order.filled_at,
            take_profit_price=take_profit_price,
            stop_price=stop_price,
            order_class=_enum_str(order.order_class) or "simple",
            exit_reason=exit_reason,
            raw=raw,
        )

    def _parent(self, order: Any) -> BrokerOrder:
        return self._to_orders(order)[0]

    # ------------------------------------------------------------------ reads

    def account(self, now: datetime) -> BrokerAccount:
        acct = self._call("get account", self._trading.get_account)
        return BrokerAccount(
            equity=_dec(acct.equity) or Decimal(0),
            cash=_dec(acct.cash) or Decimal(0),
            last_equity=_dec(acct.last_equity),
            as_of=now,
        )

    def positions(self, now: datetime) -> list[BrokerPosition]:
        rows = self._call("list positions", self._trading.get_all_positions)
        return [
            BrokerPosition(
                symbol=p.symbol,
                qty=_int_qty(p.qty),
                avg_entry_price=_dec(p.avg_entry_price) or Decimal(0),
                current_price=_dec(p.current_price),
                lastday_price=_dec(p.lastday_price),
            )
            for p in rows
        ]

    def _list_orders(self, status: QueryOrderStatus, symbols: list[str] | None = None) -> list[BrokerOrder]:
        request = GetOrdersRequest(status=status, nested=True, limit=ORDERS_PAGE_LIMIT, symbols=symbols)
        rows = self._call(f"list {status.value} orders", lambda: self._trading.get_orders(request))
        out: list[BrokerOrder] = []
        for order in rows:
            out.extend(self._to_orders(order))
        return out

    def _open_orders(self, symbols: list[str] | None = None) -> list[BrokerOrder]:
        """Open orders, legs included. `status=open` may leave out `held` legs and `status=all` is capped
        at the newest 500, so both are asked and merged (ALPACA.md §6)."""
        merged: dict[str, BrokerOrder] = {}
        for status in (QueryOrderStatus.OPEN, QueryOrderStatus.ALL):
            for order in self._list_orders(status, symbols):
                merged[order.broker_order_id or order.client_order_id] = order
        return [o for o in merged.values() if o.is_open]

    def orders(self, now: datetime, *, open_only: bool = False) -> list[BrokerOrder]:
        if open_only:
            return self._open_orders()
        return self._list_orders(QueryOrderStatus.ALL)

    def _lookup(self, client_order_id: str) -> BrokerOrder | None:
        """One lookup by client order id, no retries of its own: 404 -> None."""
        try:
            return self._parent(self._trading.get_order_by_client_id(client_order_id))
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise

    def get_order(self, client_order_id: str, now: datetime) -> BrokerOrder | None:
        try:
            return self._call("get order by client id", lambda: self._lookup(client_order_id))
        except BrokerRejected as exc:
            if exc.status_code == 404:
                return None
            raise

    def is_tradable(self, symbol: str, now: datetime) -> bool:
        cached = self._asset_cache.get(symbol)
        if cached is not None:
            value, at = cached
            if 0 <= (now - at).total_seconds() < self._asset_cache_seconds:
                return value
        try:
            asset = self._call(f"get asset {symbol}", lambda: self._trading.get_asset(symbol))
            value = bool(asset.tradable) and _enum_str(asset.status) == "active"
        except BrokerRejected as exc:
            if exc.status_code != 404:
                raise
            value = False
        self._asset_cache[symbol] = (value, now)
        return value

    def latest_price(self, symbol: str, now: datetime) -> Decimal | None:
        request = StockLatestTradeRequest(symbol_or_symbols=symbol, feed=DataFeed.IEX)
        try:
            trades = self._call(f"latest trade {symbol}", lambda: self._data.get_stock_latest_trade(request))
        except BrokerRejected as exc:
            if exc.status_code == 404:
                return None
            raise
        trade = trades.get(symbol) if trades else None
        price = _dec(getattr(trade, "price", None))
        return price if price is not None and price > 0 else None

    # ------------------------------------------------------------------ orders

    def submit_bracket_buy(
        self,
        *,
        client_order_id: str,
        symbol: str,
        target_usd: Decimal,
        take_profit_pct: Decimal,
        stop_loss_pct: Decimal,
        time_in_force: str,
        now: datetime,
    ) -> BrokerOrder:
        if not client_order_id or len(client_order_id) > MAX_CLIENT_ORDER_ID:
            raise ValueError(
                f"client_order_id must be 1..{MAX_CLIENT_ORDER_ID} characters (got {len(client_order_id or '')})"
            )
        tif = {"gtc": TimeInForce.GTC, "day": TimeInForce.DAY}.get(str(time_in_force).lower())
        if tif is None:
            raise ValueError(f"bracket orders take time_in_force 'gtc' or 'day' (got {time_in_force!r})")

        existing = self.get_order(client_order_id, now)
        if existing is not None:
            log.info("Alpaca already has order %s (%s); not submitting again", client_order_id, existing.status)
            return existing

        basis = self.latest_price(symbol, now)
        if basis is None:
            raise BrokerRejected(f"no latest trade price for {symbol} on IEX; cannot size the order")
        qty = whole_shares(Decimal(target_usd), basis)
        if qty < 1:
            raise BrokerRejected(f"${target_usd} buys no whole share of {symbol} at ${basis}")
        params = StrategyParams(take_profit_pct=Decimal(take_profit_pct), stop_loss_pct=Decimal(stop_loss_pct))
        take_profit, stop = bracket_prices(basis, params)
        if stop <= 0:
            raise BrokerRejected(f"stop price {stop} for {symbol} at ${basis} is not positive")

        request = MarketOrderRequest(
            symbol=symbol,
            qty=qty,
            side=OrderSide.BUY,
            time_in_force=tif,
            order_class=OrderClass.BRACKET,
            client_order_id=client_order_id,
            take_profit=TakeProfitRequest(limit_price=float(take_profit)),
            stop_loss=StopLossRequest(stop_price=float(stop)),
        )
        log.info("Alpaca bracket buy %s: %d %s at ~$%s, take profit %s, stop %s, %s",
                 client_order_id, qty, symbol, basis, take_profit, stop, tif.value)

        return self._submit(request, client_order_id, now)

    def _submit(self, request: MarketOrderRequest, client_order_id: str, now: datetime) -> BrokerOrder:
        """Submit once per client order id: a connection failure or a 422 duplicate is answered by
        looking the id up, never by sending again."""

        def lookup() -> BrokerOrder | None:
            return self._lookup(client_order_id)

        try:
            result = self._call(f"submit order {client_order_id}",
                                lambda: self._trading.submit_order(request), lookup=lookup)
        except BrokerRejected as exc:
            said = _broker_message(exc)
            if exc.status_code == 422 and "client_order_id" in said and "unique" in said:
                # Possibly placed by an earlier attempt (ours or alpaca-py's): never a rejection.
                found = self.get_order(client_order_id, now)
                if found is None:
                    raise BrokerUnavailable(
                        f"Alpaca says client order id {client_order_id} is taken but cannot find it; "
                        "outcome unknown", status_code=422,
                    ) from None
                log.warning("Alpaca: %s was already placed (%s); returning it", client_order_id, found.status)
                return found
            raise
        return result if isinstance(result, BrokerOrder) else self._parent(result)

    def _cancel(self, order: BrokerOrder) -> None:
        assert order.broker_order_id is not None
        try:
            self._call(f"cancel order {order.broker_order_id}",
                       lambda: self._trading.cancel_order_by_id(order.broker_order_id))
        except BrokerRejected as exc:
            if exc.status_code in (404, 422):  # already gone / no longer cancelable
                log.info("Alpaca order %s not cancelable (%s); ignoring", order.broker_order_id, exc.message)
                return
            raise

    def close_position(
        self, symbol: str, *, client_order_id: str, reason: str, now: datetime, at_session_open: bool = False,
        qty: int | None = None,
    ) -> BrokerOrder | None:
        """With `qty` (kevin's order path always gives it): `_sell_own`. Without: cancel the symbol's open orders (bracket legs held for orders, unfilled entries), then
        ``DELETE /v2/positions/{symbol}``. Alpaca's close takes no client order id, so the returned
        order carries ours (the liquidation's own id is in ``raw["alpaca_client_order_id"]``).
        A plain open sell already working for the symbol (an earlier close) is kept and returned."""
        if qty is not None:
            return self._sell_own(symbol, client_order_id=client_order_id, reason=reason, now=now, qty=qty)
        open_orders = [o for o in self._open_orders([symbol]) if o.symbol == symbol]
        in_flight, to_cancel = self._cancel_all_but_working_sells(open_orders)
        if in_flight:
            log.info("Alpaca: a sell of %s is already working (%s); not closing again",
                     symbol, in_flight[0].broker_order_id)
            return self._as_close(in_flight[0], client_order_id, reason, already_closing=True)

        position = self._open_position(symbol)
        if position is None:
            return None
        if _int_qty(position.qty) == 0:
            return None

        order = self._close_with_retry(symbol, cancelled=bool(to_cancel))
        if order is None:
            return None
        return self._as_close(order, client_order_id, reason)

    def _open_position(self, symbol: str) -> Any | None:
        """The account's position in `symbol`, None when it holds none (Alpaca answers 404)."""
        try:
            return self._call(f"get position {symbol}", lambda: self._trading.get_open_position(symbol))
        except BrokerRejected as exc:
            if exc.status_code == 404:
                return None
            raise

    def _cancel_all_but_working_sells(self, orders: list[BrokerOrder]) -> tuple[list[BrokerOrder], list[BrokerOrder]]:
        """Cancel `orders` (bracket legs hold the shares, unfilled entries would buy again) except a
        plain sell already working, which is an earlier close: returns (working sells, canceled)."""
        in_flight = [o for o in orders if o.side == "sell" and o.order_class == "simple" and o.exit_reason is None]
        to_cancel = [o for o in orders if o not in in_flight]
        for order in to_cancel:
            self._cancel(order)
        return in_flight, to_cancel

    def _sell_own(self, symbol: str, *, client_order_id: str, reason: str, now: datetime, qty: int) -> BrokerOrder | None:
        """Sell kevin's `qty` shares and nothing else: other shares of the symbol in the account are
        the user's. Not ``DELETE /v2/positions`` (it sells everything, or a `qty` under an id
        Alpaca makes up, so a re-send after a crash could sell the user's shares): a market sell
        under kevin's own client order id, which a re-send finds instead of selling twice. Only
        kevin's open orders (ids `kv-...`, and their bracket legs) are canceled first; a sell of
        kevin's already working is returned as the close. Never more than the position holds."""
        existing = self.get_order(client_order_id, now)
        if existing is not None:
            return self._as_close(existing, client_order_id, reason)
        own = [o for o in self._open_orders([symbol])
               if o.symbol == symbol and (is_kevins(o.client_order_id) or is_kevins(o.raw.get("parent_client_order_id")))]
        in_flight, to_cancel = self._cancel_all_but_working_sells(own)
        if in_flight:
            log.info("Alpaca: kevin's sell of %s is already working (%s); not selling again",
                     symbol, in_flight[0].client_order_id)
            return self._as_close(in_flight[0], client_order_id, reason, already_closing=True)
        if qty < 1:
            return None
        position = self._open_position(symbol)
        if position is None:
            return None
        qty = min(qty, _int_qty(position.qty))
        if qty < 1:
            return None
        request = MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.SELL, time_in_force=TimeInForce.DAY,
                                     client_order_id=client_order_id)
        log.info("Alpaca sell %s: %d %s (kevin's lots; %s)", client_order_id, qty, symbol, reason)
        order = self._while_shares_held(
            f"sell {symbol}", lambda: self._submit(request, client_order_id, now), cancelled=bool(to_cancel))
        return self._as_close(order, client_order_id, reason)

    def _close_with_retry(self, symbol: str, *, cancelled: bool) -> BrokerOrder | None:
        """DELETE the position. Cancels settle asynchronously: while the legs still hold the shares
        Alpaca answers 403 "insufficient qty available", so that answer is waited out."""
        try:
            order = self._while_shares_held(
                f"close {symbol}", lambda: self._call(f"close position {symbol}", lambda: self._trading.close_position(symbol)),
                cancelled=cancelled)
        except BrokerRejected as exc:
            if exc.status_code == 404:
                return None
            raise
        return self._parent(order)

    def _while_shares_held(self, label: str, action: Callable[[], T], *, cancelled: bool) -> T:
        """Run `action`, waiting out Alpaca's 403 "insufficient qty available": cancels settle
        asynchronously, and until they do the canceled legs still hold the shares. Only after
        kevin canceled something (`cancelled`); any other rejection is raised at once."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                return action()
            except BrokerRejected as exc:
                held = exc.status_code == 403 and "insufficient qty" in _broker_message(exc)
                if not (cancelled and held) or attempt == self._max_attempts:
                    raise
                wait = self._backoff_wait(attempt)
                log.warning("Alpaca %s: shares still held by canceled orders; retry in %.1fs", label, wait)
                self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    @staticmethod
    def _as_close(order: BrokerOrder, client_order_id: str, reason: str, *,
                  already_closing: bool = False) -> BrokerOrder:
        raw = dict(order.raw)
        raw["kevin_client_order_id"] = client_order_id
        raw["alpaca_client_order_id"] = order.client_order_id
        if already_closing:
            raw["already_closing"] = True
        return BrokerOrder(
            client_order_id=client_order_id,
            broker_order_id=order.broker_order_id,
            symbol=order.symbol,
            side="sell",
            qty=order.qty,
            status=order.status,
            submitted_at=order.submitted_at,
            filled_qty=order.filled_qty,
            filled_avg_price=order.filled_avg_price,
            filled_at=order.filled_at,
            order_class=order.order_class,
            exit_reason=reason,
            raw=raw,
        )


__all__ = ["AlpacaPaperBroker", "PAPER_HOST"]
