"""AlpacaBarsSource against recorded market-data responses (`responses`; nothing reaches the network)."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import responses
from responses import matchers

from kevin_pipeline.market_data.alpaca import AlpacaBarsSource
from kevin_pipeline.market_data.frame import BAR_COLUMNS, validate_bars
from kevin_pipeline.market_data.source import PriceSourceError

BARS_URL = "https://data.alpaca.markets/v2/stocks/bars"
KEY, SECRET = "PKTESTKEY1234567890", "sEcReTvAlUe0987654321abcdef"


def bar(t: str, o: float, h: float, lo: float, c: float, v: int = 1000) -> dict:
    return {"t": t, "o": o, "h": h, "l": lo, "c": c, "v": v, "n": 10, "vw": (h + lo) / 2}


PAGE_1 = {
    "bars": {
        "AAPL": [
            bar("2024-05-01T04:00:00Z", 169.58, 172.71, 169.11, 169.30, 50383147),
            bar("2024-05-02T04:00:00Z", 172.51, 173.42, 170.89, 173.03, 94214915),
        ],
        "MSFT": [bar("2024-05-01T04:00:00Z", 392.61, 401.72, 390.31, 394.94, 28626465)],
    },
    "next_page_token": "QUFQTHxNfDIwMjQtMDUtMDJUMDQ6MDA6MDBa",
}
PAGE_2 = {
    "bars": {"MSFT": [bar("2024-05-02T04:00:00Z", 397.66, 399.93, 394.65, 397.84, 17709360)]},
    "next_page_token": None,
}
# The winter stamp is 05:00Z (midnight EST): still the same New York date.
WINTER = {"bars": {"SPY": [bar("2024-01-02T05:00:00Z", 472.16, 473.67, 470.49, 472.65)]}, "next_page_token": None}


def source(**kw) -> AlpacaBarsSource:
    src = AlpacaBarsSource(KEY, SECRET, **kw)
    src._client._retry = 0  # never sleep on a retry in tests
    return src


def query(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


@responses.activate
def test_fetch_follows_pages_and_returns_the_bar_shape():
    common = {"timeframe": "1Day", "adjustment": "split", "feed": "iex", "symbols": "AAPL,MSFT"}
    responses.get(BARS_URL, json=PAGE_1, match=[matchers.query_param_matcher(common, strict_match=False)])
    responses.get(
        BARS_URL,
        json=PAGE_2,
        match=[matchers.query_param_matcher({**common, "page_token": PAGE_1["next_page_token"]}, strict_match=False)],
    )
    frame = source().fetch(["msft", "AAPL", "AAPL"], date(2024, 5, 1), date(2024, 5, 2))

    assert list(frame.columns) == BAR_COLUMNS
    assert validate_bars(frame) == []
    assert frame["date"].dtype == "datetime64[ns]"
    assert list(zip(frame["symbol"], frame["date"].dt.date)) == [
        ("AAPL", date(2024, 5, 1)), ("AAPL", date(2024, 5, 2)),
        ("MSFT", date(2024, 5, 1)), ("MSFT", date(2024, 5, 2)),
    ]
    first = frame.iloc[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (169.58, 172.71, 169.11, 169.30, 50383147.0)

    assert len(responses.calls) == 2
    q1, q2 = query(responses.calls[0]), query(responses.calls[1])
    assert q1["timeframe"] == "1Day" and q1["adjustment"] == "split" and q1["feed"] == "iex"
    assert q1["symbols"] == "AAPL,MSFT" and "page_token" not in q1
    assert q2["page_token"] == PAGE_1["next_page_token"]
    # The window: midnight New York of the first day .. the last second of the last day, in UTC.
    assert pd.Timestamp(q1["start"]) == pd.Timestamp("2024-05-01T04:00:00Z")
    assert pd.Timestamp(q1["end"]) == pd.Timestamp("2024-05-03T03:59:59Z")
    # Keys travel in headers only, never in the URL.
    req = responses.calls[0].request
    assert req.headers["APCA-API-KEY-ID"] == KEY and KEY not in req.url and SECRET not in req.url


@responses.activate
def test_utc_stamps_become_new_york_session_dates_and_out_of_range_bars_are_dropped():
    responses.get(BARS_URL, json=WINTER)
    frame = source().fetch(["SPY"], date(2024, 1, 2), date(2024, 1, 2))
    assert frame["date"].dt.date.tolist() == [date(2024, 1, 2)]

    responses.replace(responses.GET, BARS_URL, json=WINTER)
    assert source().fetch(["SPY"], date(2024, 1, 3), date(2024, 1, 5)).empty


@responses.activate
def test_symbols_are_chunked_per_request():
    responses.get(BARS_URL, json={"bars": {}, "next_page_token": None})
    responses.get(BARS_URL, json={"bars": {}, "next_page_token": None})
    responses.get(BARS_URL, json={"bars": {}, "next_page_token": None})
    frame = source(chunk=2).fetch(["E", "D", "C", "B", "A"], date(2024, 5, 1), date(2024, 5, 2))
    assert frame.empty and list(frame.columns) == BAR_COLUMNS
    assert [query(c)["symbols"] for c in responses.calls] == ["A,B", "C,D", "E"]


@responses.activate
def test_malformed_bars_are_dropped_not_stored():
    bad = {"bars": {"AAPL": [bar("2024-05-01T04:00:00Z", 10, 9, 11, 10), bar("2024-05-02T04:00:00Z", 10, 11, 9, 10.5)]},
           "next_page_token": None}
    responses.get(BARS_URL, json=bad)
    frame = source().fetch(["AAPL"], date(2024, 5, 1), date(2024, 5, 2))
    assert frame["date"].dt.date.tolist() == [date(2024, 5, 2)]


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_auth_failure_is_a_price_source_error_without_the_keys(status):
    responses.get(BARS_URL, status=status, json={"code": 40110000, "message": "request is not authorized"})
    with pytest.raises(PriceSourceError) as err:
        source().fetch(["AAPL"], date(2024, 5, 1), date(2024, 5, 2))
    text = str(err.value)
    assert f"HTTP {status}" in text and "ALPACA_API_KEY" in text
    assert KEY not in text and SECRET not in text
    assert err.value.__cause__ is None and err.value.__suppress_context__


@responses.activate
def test_html_error_body_and_server_error_are_reported_cleanly():
    responses.get(BARS_URL, status=500, body="<html>oops</html>")
    with pytest.raises(PriceSourceError, match=r"HTTP 500"):
        source().fetch(["AAPL"], date(2024, 5, 1), date(2024, 5, 2))


@responses.activate
def test_recent_sip_refusal_names_the_feed():
    responses.get(BARS_URL, status=403, json={"message": "subscription does not permit querying recent SIP data"})
    with pytest.raises(PriceSourceError, match="feed='iex'") as err:
        source(feed="sip").fetch(["AAPL"], date(2024, 5, 1), date(2024, 5, 2))
    assert query(responses.calls[0])["feed"] == "sip"
    assert KEY not in str(err.value)


@pytest.mark.parametrize("key,secret", [("", "s"), ("k", ""), (None, None)])
def test_missing_keys_fail_before_any_request(key, secret):
    with pytest.raises(PriceSourceError, match="ALPACA_API_KEY"):
        AlpacaBarsSource(key, secret)


def test_unknown_feed_is_refused_and_repr_hides_keys():
    with pytest.raises(PriceSourceError, match="feed"):
        AlpacaBarsSource(KEY, SECRET, feed="nasdaq")
    assert KEY not in repr(AlpacaBarsSource(KEY, SECRET)) and SECRET not in repr(AlpacaBarsSource(KEY, SECRET))


@responses.activate
def test_connection_error_is_wrapped():
    # No URL registered: `responses` raises ConnectionError, as a dead network would.
    with pytest.raises(PriceSourceError, match="cannot reach Alpaca"):
        source().fetch(["AAPL"], date(2024, 5, 1), date(2024, 5, 2))
