"""Daily bars from Alpaca's market-data API (alpaca-py `StockHistoricalDataClient`).

    source = AlpacaBarsSource(api_key, secret_key)            # feed "iex": the free plan's feed
    bars = source.fetch(["AAPL", "MSFT"], date(2024, 1, 2), date(2024, 6, 28))

Requests are `GET https://data.alpaca.markets/v2/stocks/bars?timeframe=1Day&adjustment=split&feed=iex`
(alpaca-py follows `next_page_token` itself), `CHUNK` symbols per request. Daily bars are stamped at
midnight New York time written in UTC (04:00Z / 05:00Z); each stamp is converted to its New York
date, which is the session date every other source uses.

Paper keys work for market data. Auth failures and other refusals raise `PriceSourceError` whose
message never contains the keys. alpaca-py retries 429 and 504 by itself (3 x 3 s).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from pydantic import ValidationError

from kevin_pipeline.domain.calendar import NY
from kevin_pipeline.market_data.frame import BAR_COLUMNS, PRICE_COLUMNS
from kevin_pipeline.market_data.source import PriceSourceError, empty_bars, normalize_symbols

log = logging.getLogger(__name__)

CHUNK = 100
KEY_HINT = "set ALPACA_API_KEY and ALPACA_SECRET_KEY (paper keys work for market data)"


class AlpacaBarsSource:
    """A `PriceSource` over Alpaca daily bars, split-adjusted by default.

    `client` is an injected `StockHistoricalDataClient` (or anything with `get_stock_bars`); without
    one, keys are required and a client is built from them.
    """

    name = "alpaca"

    def __init__(
        self,
        api_key: str | None,
        secret_key: str | None,
        feed: str = "iex",
        client: Any | None = None,
        *,
        adjustment: str = "split",
        chunk: int = CHUNK,
    ) -> None:
        try:
            self.feed = DataFeed(str(feed).lower())
        except ValueError:
            raise PriceSourceError(
                f"unknown Alpaca data feed {feed!r} (use one of: {', '.join(f.value for f in DataFeed)})"
            ) from None
        try:
            self.adjustment = Adjustment(str(adjustment).lower())
        except ValueError:
            raise PriceSourceError(
                f"unknown Alpaca adjustment {adjustment!r} (use one of: {', '.join(a.value for a in Adjustment)})"
            ) from None
        if chunk < 1:
            raise ValueError("chunk must be >= 1")
        self.chunk = chunk
        # Kept only to scrub them out of any error text; never logged or shown.
        self._secrets = tuple(s for s in (api_key, secret_key) if s)
        if client is None:
            if not api_key or not secret_key:
                raise PriceSourceError(f"Alpaca API keys are missing: {KEY_HINT}")
            client = StockHistoricalDataClient(api_key, secret_key)
        self._client = client

    def __repr__(self) -> str:  # never show the keys
        return f"AlpacaBarsSource(feed={self.feed.value!r}, adjustment={self.adjustment.value!r})"

    # -- PriceSource -------------------------------------------------------------------------
    def fetch(self, symbols: Sequence[str], start: date, end: date) -> pd.DataFrame:
        wanted = normalize_symbols(symbols)
        if not wanted or start > end:
            return empty_bars()
        frames = [self._fetch_chunk(wanted[i : i + self.chunk], start, end) for i in range(0, len(wanted), self.chunk)]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return empty_bars()
        frame = pd.concat(frames, ignore_index=True)
        frame = frame.drop_duplicates(["symbol", "date"], keep="last")
        return frame.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)

    # -- internals ---------------------------------------------------------------------------
    def request_for(self, symbols: list[str], start: date, end: date) -> StockBarsRequest:
        # Midnight New York of `start` .. the last instant of `end` in New York, as aware datetimes
        # (alpaca-py sends them in UTC). The stamps are filtered on their New York date afterwards.
        return StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=TimeFrame.Day,
            start=datetime.combine(start, time(0, 0), tzinfo=NY),
            end=datetime.combine(end + timedelta(days=1), time(0, 0), tzinfo=NY) - timedelta(seconds=1),
            adjustment=self.adjustment,
            feed=self.feed,
        )

    def _fetch_chunk(self, symbols: list[str], start: date, end: date) -> pd.DataFrame:
        request = self.request_for(symbols, start, end)
        try:
            barset = self._client.get_stock_bars(request)
        except APIError as exc:
            raise PriceSourceError(self._api_error_text(exc)) from None
        except requests.exceptions.RequestException as exc:
            raise PriceSourceError(
                self._scrub(f"cannot reach Alpaca market data ({type(exc).__name__}): {exc}")
            ) from None
        except (ValidationError, ValueError, KeyError) as exc:
            raise PriceSourceError(self._scrub(f"unexpected Alpaca bars response: {exc}")) from None
        return self._to_frame(barset, set(symbols), start, end)

    def _api_error_text(self, exc: APIError) -> str:
        status = exc.status_code
        detail = _api_message(exc)
        if status in (401, 403):
            if "subscription" in detail.lower():
                what = f"Alpaca refused the bars request (HTTP {status}: {detail}); use feed='iex' or older data"
            else:
                what = (
                    f"Alpaca refused the market-data credentials (HTTP {status}"
                    + (f": {detail}" if detail else "")
                    + f"): {KEY_HINT}"
                )
        elif status == 429:
            what = "Alpaca market data rate limit hit (HTTP 429) after alpaca-py's retries; try again in a minute"
        else:
            what = f"Alpaca bars request failed (HTTP {status})" + (f": {detail}" if detail else "")
        return self._scrub(what)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _to_frame(self, barset: Any, wanted: set[str], start: date, end: date) -> pd.DataFrame:
        data = getattr(barset, "data", barset) or {}
        rows: list[tuple[Any, ...]] = []
        for symbol, bars in data.items():
            sym = str(symbol).upper()
            if sym not in wanted:
                continue
            for bar in bars or []:
                if isinstance(bar, dict):  # a client in raw-data mode
                    rows.append((sym, bar["t"], bar["o"], bar["h"], bar["l"], bar["c"], bar.get("v", 0.0)))
                else:
                    rows.append((sym, bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume))
        if not rows:
            return empty_bars()
        frame = pd.DataFrame(rows, columns=["symbol", "t", *PRICE_COLUMNS, "volume"])
        stamps = pd.to_datetime(frame["t"], utc=True)
        frame["date"] = stamps.dt.tz_convert(NY).dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
        for col in [*PRICE_COLUMNS, "volume"]:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
        frame["volume"] = frame["volume"].fillna(0.0)
        day = frame["date"].dt.date
        frame = frame[(day >= start) & (day <= end)]
        return _drop_bad_bars(frame[BAR_COLUMNS])


def _api_message(exc: APIError) -> str:
    """The body's "message", guarded: alpaca-py's `.message` raises on an empty or HTML body."""
    try:
        msg = exc.message
    except Exception:
        body = str(exc).strip()
        msg = body if body and not body.startswith("<") else ""
    return str(msg)[:200]


def _drop_bad_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop bars that would poison fills (missing or non-positive prices, high < low, ...), logging them."""
    p = frame[PRICE_COLUMNS]
    ok = (
        p.notna().all(axis=1)
        & (p > 0).all(axis=1)
        & (frame["high"] >= frame[["open", "close", "low"]].max(axis=1))
        & (frame["low"] <= frame[["open", "close"]].min(axis=1))
    )
    bad = int((~ok).sum())
    if bad:
        sample = ", ".join(f"{s} {d:%Y-%m-%d}" for s, d in frame.loc[~ok, ["symbol", "date"]].head(5).itertuples(index=False))
        log.warning("dropped %d malformed Alpaca bars (%s%s)", bad, sample, ", ..." if bad > 5 else "")
    return frame[ok].reset_index(drop=True)


__all__ = ["AlpacaBarsSource", "CHUNK", "PriceSourceError"]
