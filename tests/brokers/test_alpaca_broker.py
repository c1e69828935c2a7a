"""AlpacaPaperBroker against hand-written Alpaca responses (`responses`; nothing reaches the network).

Every test runs inside a RequestsMock that fails on an unregistered URL (ConnectionError) and on a
registered response that was never used, so a request the adapter should not make, or one it
forgot, shows up as a failure.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from alpaca.trading.client import TradingClient
from responses import matchers

from kevin_pipeline.brokers.alpaca import AlpacaPaperBroker
from kevin_pipeline.brokers.base import (
    Broker,
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
    ConfigurationError,
)

PAPER = "https://paper-api.alpaca.markets"
DATA = "https://data.alpaca.markets"
BY_CLIENT_ID = f"{PAPER}/v2/orders:by_client_order_id"
ORDERS = f"{PAPER}/v2/orders"
LATEST_TRADE = f"{DATA}/v2/stocks/trades/latest"

KEY = "PKZZTESTKEY0123456789"
SECRET = "sEcReT0123456789abcdefTESTONLYxyz"
NOW = datetime(2024, 5, 1, 14, 5, tzinfo=timezone.utc)
EPOCH = 1_714_572_300.0  # what the injected clock says "now" is, in epoch seconds
CID = "kevin-d42-buy"

FIXTURES = Path(__file__).parent / "fixtures" / "alpaca"
TP_LEG_ID = "8f0c7d7e-2b1a-4c55-9f5e-1d2a3b4c5d6e"
STOP_LEG_ID = "3c4d5e6f-7a8b-4c9d-8e0f-a1b2c3d4e5f6"
PARENT_ID = "61e69015-8549-4bfd-b9c3-01e75843f47d"
NOT_FOUND = {"code": 40410000, "message": "order not found"}


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def accepted_order(client_order_id: str = CID, qty: str = "40") -> dict:
    """What POST /v2/orders answers for a fresh bracket buy: accepted, legs held."""
    order = fixture("bracket_order_filled_nested.json")
    order.update(client_order_id=client_order_id, status="accepted", filled_qty="0", filled_avg_price=None,
                 filled_at=None, qty=qty)
    for leg in order["legs"]:
        leg.update(status="held", qty=qty)
    return order


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def sleeps() -> Recorder:
    return Recorder()


@pytest.fixture
def broker(sleeps: Recorder) -> AlpacaPaperBroker:
    return AlpacaPaperBroker(KEY, SECRET, sleep=sleeps, clock=lambda: EPOCH)


def calls(rsps, method: str, url_prefix: str) -> list:
    return [c for c in rsps.calls if c.request.method == method and c.request.url.startswith(url_prefix)]


def add_latest_trade(rsps, price: float = 123.45, symbol: str = "AAPL") -> None:
    body = fixture("latest_trade_aapl.json")
    body["trades"] = {symbol: {**body["trades"]["AAPL"], "p": price}}
    rsps.get(LATEST_TRADE, json=body,
             match=[matchers.query_param_matcher({"symbols": symbol, "feed": "iex"})])


def add_lookup(rsps, *, found: dict | None = None, client_order_id: str = CID) -> None:
    match = [matchers.query_param_matcher({"client_order_id": client_order_id})]
    if found is None:
        rsps.get(BY_CLIENT_ID, status=404, json=NOT_FOUND, match=match)
    else:
        rsps.get(BY_CLIENT_ID, json=found, match=match)


def bracket_body(qty: int, take_profit: float, stop: float, tif: str = "gtc", client_order_id: str = CID) -> dict:
    return {"symbol": "AAPL", "qty": qty, "side": "buy", "type": "market", "time_in_force": tif,
            "order_class": "bracket", "client_order_id": client_order_id,
            "take_profit": {"limit_price": take_profit}, "stop_loss": {"stop_price": stop}}


def submit(broker: AlpacaPaperBroker, target: str = "5000", tif: str = "gtc", client_order_id: str = CID):
    return broker.submit_bracket_buy(
        client_order_id=client_order_id, symbol="AAPL", target_usd=Decimal(target),
        take_profit_pct=Decimal("0.20"), stop_loss_pct=Decimal("0.08"), time_in_force=tif, now=NOW,
    )


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("key, secret", [(None, SECRET), (KEY, None), ("", SECRET), (KEY, "  "), (None, None)])
def test_refuses_to_start_without_keys(key, secret):
    with pytest.raises(ConfigurationError) as err:
        AlpacaPaperBroker(key, secret)
    message = str(err.value)
    assert "ALPACA_" in message
    assert KEY not in message and SECRET not in message


@pytest.mark.parametrize("url", ["https://api.alpaca.markets", "http://paper-api.alpaca.markets",
                                 "https://paper-api.alpaca.markets.evil.example", "https://localhost:8080"])
def test_refuses_a_non_paper_url_override(url):
    with pytest.raises(ConfigurationError, match="non-paper"):
        AlpacaPaperBroker(KEY, SECRET, url_override=url)


def test_refuses_an_injected_live_client():
    live = TradingClient(KEY, SECRET, paper=False)
    with pytest.raises(ConfigurationError, match="api.alpaca.markets") as err:
        AlpacaPaperBroker(KEY, SECRET, trading_client=live)
    assert KEY not in str(err.value) and SECRET not in str(err.value)


def test_accepts_the_paper_url_override_and_is_a_broker(rsps):
    b = AlpacaPaperBroker(KEY, SECRET, url_override="https://paper-api.alpaca.markets")
    assert isinstance(b, Broker) and b.name == "alpaca"
    assert KEY not in repr(b) and SECRET not in repr(b)


def test_disables_alpaca_retry_and_sets_a_request_timeout(rsps, broker):
    assert broker._trading._retry == 0 and broker._data._retry == 0
    rsps.get(f"{PAPER}/v2/account", json=fixture("account.json"),
             match=[matchers.request_kwargs_matcher({"timeout": 10.0})])
    broker.account(NOW)
    AlpacaPaperBroker(KEY, SECRET, trading_client=broker._trading, request_timeout=3.0)  # re-wrapping replaces it
    rsps.get(f"{PAPER}/v2/account", json=fixture("account.json"),
             match=[matchers.request_kwargs_matcher({"timeout": 3.0})])
    broker.account(NOW)


# --------------------------------------------------------------------------- reads


def test_account_and_positions(rsps, broker):
    rsps.get(f"{PAPER}/v2/account", json=fixture("account.json"))
    rsps.get(f"{PAPER}/v2/positions", json=fixture("positions.json"))
    acct = broker.account(NOW)
    assert (acct.equity, acct.cash, acct.last_equity, acct.as_of) == (
        Decimal("100250.5"), Decimal("95012.34"), Decimal("99800.25"), NOW)
    [pos] = broker.positions(NOW)
    assert (pos.symbol, pos.qty, pos.avg_entry_price, pos.current_price) == (
        "AAPL", 40, Decimal("123.5"), Decimal("130.95"))


def test_orders_flattens_a_nested_bracket(rsps, broker):
    rsps.get(ORDERS, json=[fixture("bracket_order_filled_nested.json")],
             match=[matchers.query_param_matcher({"status": "all", "nested": "True", "limit": "500"})])
    parent, tp, stop = broker.orders(NOW)
    assert (parent.client_order_id, parent.broker_order_id, parent.side, parent.qty, parent.status) == (
        CID, PARENT_ID, "buy", 40, "filled")
    assert (parent.order_class, parent.filled_qty, parent.filled_avg_price) == ("bracket", 40, Decimal("123.5"))
    assert (parent.take_profit_price, parent.stop_price) == (Decimal("148.14"), Decimal("113.57"))
    assert parent.exit_reason is None and parent.is_filled
    assert (tp.broker_order_id, tp.side, tp.exit_reason, tp.take_profit_price, tp.status, tp.qty) == (
        TP_LEG_ID, "sell", "take_profit", Decimal("148.14"), "new", 40)
    assert (stop.broker_order_id, stop.side, stop.exit_reason, stop.stop_price, stop.status) == (
        STOP_LEG_ID, "sell", "stop", Decimal("113.57"), "held")
    assert tp.is_open and stop.is_open
    assert stop.raw["parent_client_order_id"] == CID and stop.raw["parent_order_id"] == PARENT_ID
    json.dumps(parent.raw)  # storable as JSON


def test_open_orders_asks_open_and_all_and_keeps_held_legs(rsps, broker):
    # status=open leaves out the filled parent and (as reported) the held stop leg; status=all has them.
    tp_only = fixture("bracket_order_filled_nested.json")["legs"][0]
    rsps.get(ORDERS, json=[tp_only], match=[matchers.query_param_matcher(
        {"status": "open", "nested": "True", "limit": "500"})])
    rsps.get(ORDERS, json=[fixture("bracket_order_filled_nested.json")], match=[matchers.query_param_matcher(
        {"status": "all", "nested": "True", "limit": "500"})])
    open_orders = broker.orders(NOW, open_only=True)
    assert sorted(o.broker_order_id for o in open_orders) == sorted([TP_LEG_ID, STOP_LEG_ID])


def test_get_order_by_client_id_and_404_is_none(rsps, broker):
    add_lookup(rsps, found=fixture("bracket_order_filled_nested.json"))
    add_lookup(rsps, client_order_id="never-sent")
    order = broker.get_order(CID, NOW)
    assert order is not None and order.broker_order_id == PARENT_ID and order.stop_price == Decimal("113.57")
    assert broker.get_order("never-sent", NOW) is None


def test_is_tradable_is_cached(rsps, sleeps):
    broker = AlpacaPaperBroker(KEY, SECRET, sleep=sleeps, asset_cache_seconds=3600)
    rsps.get(f"{PAPER}/v2/assets/AAPL", json=fixture("asset_aapl.json"))
    assert broker.is_tradable("AAPL", NOW) is True
    assert broker.is_tradable("AAPL", NOW + timedelta(minutes=59)) is True
    assert len(calls(rsps, "GET", f"{PAPER}/v2/assets/AAPL")) == 1
    assert broker.is_tradable("AAPL", NOW + timedelta(hours=1, seconds=1)) is True  # expired: asks again
    assert len(calls(rsps, "GET", f"{PAPER}/v2/assets/AAPL")) == 2


def test_is_tradable_false_for_unknown_or_inactive(rsps, broker):
    rsps.get(f"{PAPER}/v2/assets/NOPE", status=404, json={"code": 40410000, "message": "asset not found for NOPE"})
    rsps.get(f"{PAPER}/v2/assets/OLD", json={**fixture("asset_aapl.json"), "symbol": "OLD", "status": "inactive"})
    rsps.get(f"{PAPER}/v2/assets/HALT", json={**fixture("asset_aapl.json"), "symbol": "HALT", "tradable": False})
    assert broker.is_tradable("NOPE", NOW) is False
    assert broker.is_tradable("NOPE", NOW) is False  # cached
    assert broker.is_tradable("OLD", NOW) is False
    assert broker.is_tradable("HALT", NOW) is False
    assert len(rsps.calls) == 3


def test_latest_price(rsps, broker):
    add_latest_trade(rsps, 123.45)
    rsps.get(LATEST_TRADE, json={"trades": {}}, match=[matchers.query_param_matcher({"symbols": "ZZZZ", "feed": "iex"})])
    assert broker.latest_price("AAPL", NOW) == Decimal("123.45")
    assert broker.latest_price("ZZZZ", NOW) is None


def test_reads_give_up_as_unavailable_after_max_attempts(rsps, broker, sleeps):
    rsps.get(f"{PAPER}/v2/account", body=requests.exceptions.ConnectionError("connection refused"))
    with pytest.raises(BrokerUnavailable, match="after 4 attempts"):
        broker.account(NOW)
    assert len(rsps.calls) == 4 and sleeps.sleeps == [1.0, 2.0, 4.0]


def test_reads_retry_timeouts_and_5xx_then_succeed(rsps, broker, sleeps):
    rsps.get(f"{PAPER}/v2/account", body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.get(f"{PAPER}/v2/account", status=503, body="<html>Service Unavailable</html>")
    rsps.get(f"{PAPER}/v2/account", json=fixture("account.json"))
    assert broker.account(NOW).equity == Decimal("100250.5")
    assert sleeps.sleeps == [1.0, 2.0]


# --------------------------------------------------------------------------- submit


@pytest.mark.parametrize(
    "price, target, qty, take_profit, stop",
    [(123.45, "5000", 40, 148.14, 113.57),   # 5000/123.45 = 40.5 -> 40; 113.574 -> 113.57
     (101.37, "5000", 49, 121.64, 93.26),    # 49.3 -> 49; 121.644 -> 121.64; 93.2604 -> 93.26
     (0.05, "500", 10000, 0.06, 0.04)],      # penny stock: stop kept a cent below the basis
)
def test_bracket_buy_payload(rsps, broker, price, target, qty, take_profit, stop):
    add_lookup(rsps)  # idempotency check: not placed yet
    add_latest_trade(rsps, price)
    rsps.post(ORDERS, json=accepted_order(qty=str(qty)),
              match=[matchers.json_params_matcher(bracket_body(qty, take_profit, stop))])
    order = submit(broker, target)
    assert (order.client_order_id, order.broker_order_id, order.symbol, order.side, order.qty) == (
        CID, PARENT_ID, "AAPL", "buy", qty)
    assert (order.status, order.order_class, order.is_open) == ("accepted", "bracket", True)
    assert [c.request.method for c in rsps.calls] == ["GET", "GET", "POST"]


def test_bracket_buy_day_time_in_force(rsps, broker):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, json=accepted_order(), match=[matchers.json_params_matcher(
        bracket_body(40, 148.14, 113.57, tif="day"))])
    assert submit(broker, tif="day").status == "accepted"


def test_bracket_buy_below_one_share_is_rejected_without_posting(rsps, broker):
    add_lookup(rsps)
    add_latest_trade(rsps, 612.30)
    with pytest.raises(BrokerRejected, match=r"buys no whole share of AAPL at \$612.3"):
        submit(broker, "500")
    assert not calls(rsps, "POST", ORDERS)


def test_bracket_buy_without_a_price_is_rejected(rsps, broker):
    add_lookup(rsps)
    rsps.get(LATEST_TRADE, json={"trades": {}})
    with pytest.raises(BrokerRejected, match="no latest trade price"):
        submit(broker)


@pytest.mark.parametrize("bad", ["x" * 49, ""])
def test_client_order_id_longer_than_48_is_refused(rsps, broker, bad):
    with pytest.raises(ValueError, match="48"):
        submit(broker, client_order_id=bad)
    assert not rsps.calls


def test_existing_client_order_id_returns_it_without_posting(rsps, broker):
    add_lookup(rsps, found=fixture("bracket_order_filled_nested.json"))
    order = submit(broker)
    assert order.broker_order_id == PARENT_ID and order.status == "filled"
    assert len(rsps.calls) == 1 and not calls(rsps, "POST", ORDERS)


def test_422_duplicate_client_order_id_returns_the_placed_order(rsps, broker, sleeps):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=422, json={"code": 40010001, "message": "client_order_id must be unique"})
    add_lookup(rsps, found=accepted_order())
    order = submit(broker)
    assert order.broker_order_id == PARENT_ID and order.status == "accepted"
    assert len(calls(rsps, "POST", ORDERS)) == 1 and sleeps.sleeps == []


def test_connection_error_on_post_then_lookup_finds_the_order(rsps, broker):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, body=requests.exceptions.ConnectionError("connection reset by peer"))
    add_lookup(rsps, found=accepted_order())
    order = submit(broker)
    assert order.client_order_id == CID and order.broker_order_id == PARENT_ID
    assert len(calls(rsps, "POST", ORDERS)) == 1  # never a second POST
    assert len(calls(rsps, "GET", BY_CLIENT_ID)) == 2


def test_timeout_then_lookup_404_then_retry_succeeds(rsps, broker, sleeps):
    add_lookup(rsps)  # idempotency check
    add_latest_trade(rsps)
    rsps.post(ORDERS, body=requests.exceptions.ConnectTimeout("connect timed out"))
    add_lookup(rsps)  # after the failure: not placed
    rsps.post(ORDERS, json=accepted_order(), match=[matchers.json_params_matcher(bracket_body(40, 148.14, 113.57))])
    order = submit(broker)
    assert order.status == "accepted"
    assert len(calls(rsps, "POST", ORDERS)) == 2 and sleeps.sleeps == [1.0]
    assert [c.request.method for c in rsps.calls] == ["GET", "GET", "POST", "GET", "POST"]


def test_429_waits_for_the_rate_limit_reset_then_succeeds(rsps, broker, sleeps):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=429, json={"message": "too many requests."},
              headers={"X-Ratelimit-Limit": "200", "X-Ratelimit-Remaining": "0",
                       "X-Ratelimit-Reset": str(int(EPOCH) + 7)})
    rsps.post(ORDERS, json=accepted_order())
    assert submit(broker).status == "accepted"
    assert sleeps.sleeps == [7.0]
    assert len(calls(rsps, "POST", ORDERS)) == 2
    assert len(calls(rsps, "GET", BY_CLIENT_ID)) == 1  # a 429 was refused, not placed: no lookup


def test_429_wait_is_capped_and_falls_back_to_backoff(rsps, broker, sleeps):
    rsps.get(f"{PAPER}/v2/account", status=429, body="", headers={"X-Ratelimit-Reset": str(int(EPOCH) + 86_400)})
    rsps.get(f"{PAPER}/v2/account", status=429, body="")  # no header
    rsps.get(f"{PAPER}/v2/account", json=fixture("account.json"))
    broker.account(NOW)
    assert sleeps.sleeps == [60.0, 2.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_then_rejected_with_the_status(rsps, broker, sleeps, status):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=status, body="<html><body>upstream trouble</body></html>")
    add_lookup(rsps)  # the final check: Alpaca does not have it
    with pytest.raises(BrokerRejected) as err:
        submit(broker)
    assert f"HTTP {status}" in err.value.message and "upstream trouble" in err.value.message
    assert err.value.status_code == status
    assert len(calls(rsps, "POST", ORDERS)) == 4 and sleeps.sleeps == [1.0, 2.0, 4.0]


def test_5xx_exhausted_but_the_order_is_there(rsps, broker):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=504, json={"message": "gateway timeout"})
    add_lookup(rsps, found=accepted_order())
    assert submit(broker).broker_order_id == PARENT_ID


def test_5xx_exhausted_and_lookup_unreachable_is_unavailable_not_rejected(rsps, broker):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=502, body="")
    rsps.get(BY_CLIENT_ID, body=requests.exceptions.ConnectionError("down"))
    with pytest.raises(BrokerUnavailable, match="could not confirm"):
        submit(broker)


def test_a_refusal_after_a_504_that_was_placed_returns_the_order(rsps, broker):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=504, body="")  # it did reach Alpaca...
    rsps.post(ORDERS, status=403, json={"code": 40310000, "message": "insufficient buying power"})  # ...so this
    add_lookup(rsps, found=accepted_order())
    assert submit(broker).broker_order_id == PARENT_ID
    assert len(calls(rsps, "POST", ORDERS)) == 2


def test_403_insufficient_buying_power_is_rejected_at_once(rsps, broker, sleeps):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=403, json={"code": 40310000, "message": "insufficient buying power"})
    with pytest.raises(BrokerRejected, match="insufficient buying power") as err:
        submit(broker)
    assert err.value.status_code == 403
    assert len(calls(rsps, "POST", ORDERS)) == 1 and sleeps.sleeps == []


def test_4xx_with_a_non_json_body_keeps_the_body(rsps, broker):
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=422, body="sub-penny increment does not fulfill minimum pricing criteria")
    with pytest.raises(BrokerRejected, match="sub-penny increment"):
        submit(broker)


# --------------------------------------------------------------------------- close


def add_open_orders(rsps, orders: list[dict], symbol: str = "AAPL") -> None:
    for status in ("open", "all"):
        rsps.get(ORDERS, json=orders, match=[matchers.query_param_matcher(
            {"status": status, "nested": "True", "limit": "500", "symbols": symbol})])


def test_close_cancels_the_legs_then_closes_the_position(rsps, broker):
    add_open_orders(rsps, [fixture("bracket_order_filled_nested.json")])
    rsps.delete(f"{ORDERS}/{TP_LEG_ID}", status=204)
    rsps.delete(f"{ORDERS}/{STOP_LEG_ID}", status=422, json={"code": 42210000, "message": "order is not cancelable"})
    rsps.get(f"{PAPER}/v2/positions/AAPL", json=fixture("positions.json")[0])
    rsps.delete(f"{PAPER}/v2/positions/AAPL", json=fixture("liquidation_order.json"))

    order = broker.close_position("AAPL", client_order_id="kevin-d42-time", reason="time", now=NOW)

    assert order is not None
    assert (order.client_order_id, order.side, order.qty, order.exit_reason, order.status) == (
        "kevin-d42-time", "sell", 40, "time", "accepted")
    assert order.broker_order_id == "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
    assert order.raw["kevin_client_order_id"] == "kevin-d42-time"
    assert order.raw["alpaca_client_order_id"] == "c0ffee00-1111-4222-8333-444455556666"
    sequence = [(c.request.method, c.request.url.split("?")[0]) for c in rsps.calls]
    close_at = sequence.index(("DELETE", f"{PAPER}/v2/positions/AAPL"))
    assert sequence.index(("DELETE", f"{ORDERS}/{TP_LEG_ID}")) < close_at
    assert sequence.index(("DELETE", f"{ORDERS}/{STOP_LEG_ID}")) < close_at
    assert ("DELETE", f"{ORDERS}/{PARENT_ID}") not in sequence  # the filled parent is not open


def test_close_also_cancels_an_unfilled_entry(rsps, broker):
    add_open_orders(rsps, [accepted_order()])  # entry accepted, legs held
    rsps.delete(f"{ORDERS}/{PARENT_ID}", status=204)
    for order_id in (TP_LEG_ID, STOP_LEG_ID):  # canceled with the group already
        rsps.delete(f"{ORDERS}/{order_id}", status=404, json=NOT_FOUND)
    rsps.get(f"{PAPER}/v2/positions/AAPL", status=404, json={"code": 40410000, "message": "position does not exist"})
    assert broker.close_position("AAPL", client_order_id="kevin-d43-sell", reason="sell", now=NOW) is None
    assert len(calls(rsps, "DELETE", ORDERS)) == 3


def test_close_with_no_position_is_none(rsps, broker):
    add_open_orders(rsps, [])
    rsps.get(f"{PAPER}/v2/positions/AAPL", status=404, json={"code": 40410000, "message": "position does not exist"})
    assert broker.close_position("AAPL", client_order_id="kevin-d44-avoid", reason="avoid", now=NOW) is None
    assert not calls(rsps, "DELETE", PAPER)


def test_close_waits_while_canceled_legs_still_hold_the_shares(rsps, broker, sleeps):
    add_open_orders(rsps, [fixture("bracket_order_filled_nested.json")])
    rsps.delete(f"{ORDERS}/{TP_LEG_ID}", status=204)
    rsps.delete(f"{ORDERS}/{STOP_LEG_ID}", status=204)
    rsps.get(f"{PAPER}/v2/positions/AAPL", json=fixture("positions.json")[0])
    rsps.delete(f"{PAPER}/v2/positions/AAPL", status=403, json={
        "code": 40310000, "message": "insufficient qty available for order (requested: 40, available: 0)"})
    rsps.delete(f"{PAPER}/v2/positions/AAPL", json=fixture("liquidation_order.json"))
    order = broker.close_position("AAPL", client_order_id="kevin-d42-stop", reason="manual", now=NOW)
    assert order is not None and order.exit_reason == "manual"
    assert sleeps.sleeps == [1.0]


def test_close_keeps_a_sell_already_working(rsps, broker):
    add_open_orders(rsps, [fixture("liquidation_order.json")])
    order = broker.close_position("AAPL", client_order_id="kevin-d42-time", reason="time", now=NOW)
    assert order is not None and order.client_order_id == "kevin-d42-time"
    assert order.broker_order_id == "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d" and order.raw["already_closing"]
    assert not calls(rsps, "DELETE", PAPER)


def test_close_position_vanishing_between_check_and_close_is_none(rsps, broker):
    add_open_orders(rsps, [])
    rsps.get(f"{PAPER}/v2/positions/AAPL", json=fixture("positions.json")[0])
    rsps.delete(f"{PAPER}/v2/positions/AAPL", status=404, json={"code": 40410000, "message": "position not found"})
    assert broker.close_position("AAPL", client_order_id="c", reason="sell", now=NOW) is None


def kevins_bracket(qty: str = "5") -> dict:
    """kevin's own filled bracket entry (client id kv-...), its two legs still working."""
    order = fixture("bracket_order_filled_nested.json")
    order.update(client_order_id="kv-7-b", qty=qty, filled_qty=qty)
    order["legs"][0].update(status="new", qty=qty)
    order["legs"][1].update(status="held", qty=qty)
    return order


def users_limit_sell() -> dict:
    """The user's own open limit sell of their shares, placed in Alpaca's UI."""
    order = fixture("liquidation_order.json")
    order.update(id="5b5b5b5b-0000-4000-8000-000000000001", client_order_id="d2f1c0de-aaaa-4bbb-8ccc-123456789abc",
                 type="limit", order_type="limit", limit_price="150", qty="10", time_in_force="gtc")
    return order


def test_close_with_qty_sells_only_kevins_shares_under_its_own_id(rsps, broker):
    """kevin holds 5 AAPL from its own bracket, the user 10 more: the close sells exactly 5 as a
    market sell with kevin's client order id; the user's open order is never canceled."""
    add_lookup(rsps, client_order_id="kv-9-c")
    add_open_orders(rsps, [kevins_bracket(), users_limit_sell()])
    rsps.delete(f"{ORDERS}/{TP_LEG_ID}", status=204)
    rsps.delete(f"{ORDERS}/{STOP_LEG_ID}", status=204)
    rsps.get(f"{PAPER}/v2/positions/AAPL", json={**fixture("positions.json")[0], "qty": "15", "qty_available": "15"})
    sold = {**fixture("liquidation_order.json"), "client_order_id": "kv-9-c", "qty": "5"}
    rsps.post(ORDERS, json=sold, match=[matchers.json_params_matcher(
        {"symbol": "AAPL", "qty": 5.0, "side": "sell", "type": "market", "time_in_force": "day",
         "client_order_id": "kv-9-c"})])

    order = broker.close_position("AAPL", client_order_id="kv-9-c", reason="sell", now=NOW, qty=5)

    assert order is not None
    assert (order.client_order_id, order.side, order.qty, order.exit_reason) == ("kv-9-c", "sell", 5, "sell")
    deleted = {c.request.url.split("?")[0] for c in calls(rsps, "DELETE", PAPER)}
    assert deleted == {f"{ORDERS}/{TP_LEG_ID}", f"{ORDERS}/{STOP_LEG_ID}"}  # kevin's legs only
    assert not calls(rsps, "DELETE", f"{PAPER}/v2/positions")  # never "close the whole position"


def test_close_with_qty_waits_while_kevins_canceled_legs_still_hold_the_shares(rsps, broker, sleeps):
    """Cancels settle asynchronously: Alpaca answers 403 "insufficient qty" until kevin's canceled
    legs release the shares; the sell of kevin's 5 is tried again, not given up."""
    add_lookup(rsps, client_order_id="kv-9-c")
    add_open_orders(rsps, [kevins_bracket()])
    rsps.delete(f"{ORDERS}/{TP_LEG_ID}", status=204)
    rsps.delete(f"{ORDERS}/{STOP_LEG_ID}", status=204)
    rsps.get(f"{PAPER}/v2/positions/AAPL", json={**fixture("positions.json")[0], "qty": "15", "qty_available": "10"})
    rsps.post(ORDERS, status=403, json={
        "code": 40310000, "message": "insufficient qty available for order (requested: 5, available: 0)"})
    rsps.post(ORDERS, json={**fixture("liquidation_order.json"), "client_order_id": "kv-9-c", "qty": "5"})

    order = broker.close_position("AAPL", client_order_id="kv-9-c", reason="stop", now=NOW, qty=5)

    assert order is not None and (order.client_order_id, order.qty) == ("kv-9-c", 5)
    assert sleeps.sleeps == [1.0]
    assert len(calls(rsps, "POST", ORDERS)) == 2


def test_close_with_qty_sent_again_after_a_crash_finds_its_sell_and_sells_nothing_more(rsps, broker):
    sold = {**fixture("liquidation_order.json"), "client_order_id": "kv-9-c", "qty": "5"}
    add_lookup(rsps, found=sold, client_order_id="kv-9-c")
    order = broker.close_position("AAPL", client_order_id="kv-9-c", reason="sell", now=NOW, qty=5)
    assert order is not None and order.qty == 5
    assert not calls(rsps, "POST", ORDERS) and not calls(rsps, "DELETE", PAPER)


def test_close_with_qty_ignores_a_working_sell_that_is_not_kevins(rsps, broker):
    """A user's open sell is not kevin's close: kevin still sells its own shares."""
    add_lookup(rsps, client_order_id="kv-9-c")
    add_open_orders(rsps, [users_limit_sell()])
    rsps.get(f"{PAPER}/v2/positions/AAPL", json={**fixture("positions.json")[0], "qty": "15"})
    rsps.post(ORDERS, json={**fixture("liquidation_order.json"), "client_order_id": "kv-9-c", "qty": "5"})
    order = broker.close_position("AAPL", client_order_id="kv-9-c", reason="sell", now=NOW, qty=5)
    assert order is not None and order.raw.get("already_closing") is None
    assert json.loads(calls(rsps, "POST", ORDERS)[0].request.body)["qty"] == 5


def test_close_with_qty_zero_cancels_kevins_orders_and_sells_nothing(rsps, broker):
    add_lookup(rsps, client_order_id="kv-9-c")
    add_open_orders(rsps, [users_limit_sell()])
    assert broker.close_position("AAPL", client_order_id="kv-9-c", reason="sell", now=NOW, qty=0) is None
    assert not calls(rsps, "POST", ORDERS) and not calls(rsps, "DELETE", PAPER)


# --------------------------------------------------------------------------- secrets


def test_secrets_never_in_logs_or_errors(rsps, caplog, sleeps):
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []

    for key, secret in ((KEY, None), (None, SECRET)):
        with pytest.raises(ConfigurationError) as err:
            AlpacaPaperBroker(key, secret)
        messages.append(str(err.value))
    with pytest.raises(ConfigurationError) as err:
        AlpacaPaperBroker(KEY, SECRET, url_override=f"https://{KEY}:{SECRET}@api.alpaca.markets")
    messages.append(str(err.value))

    broker = AlpacaPaperBroker(KEY, SECRET, sleep=sleeps, clock=lambda: EPOCH)
    messages.append(repr(broker))
    # a broker that echoes the key back in its error body
    rsps.get(f"{PAPER}/v2/account", status=401, json={"code": 40110000, "message": f"invalid key id {KEY}"})
    rsps.get(f"{PAPER}/v2/positions", body=requests.exceptions.ConnectionError(f"boom {SECRET}"))
    add_lookup(rsps)
    add_latest_trade(rsps)
    rsps.post(ORDERS, status=500, body=f"<html>{SECRET}</html>")
    add_lookup(rsps)
    for call in (lambda: broker.account(NOW), lambda: broker.positions(NOW), lambda: submit(broker)):
        with pytest.raises(BrokerError) as err:
            call()
        messages.append(str(err.value))
        messages.append(err.value.message)

    # the headers did carry the keys (so the test would notice a leak of them)
    assert rsps.calls[0].request.headers["APCA-API-KEY-ID"] == KEY
    assert caplog.records, "expected retry warnings to be logged"
    for text in [caplog.text, *messages, *(r.getMessage() for r in caplog.records)]:
        assert KEY not in text and SECRET not in text
