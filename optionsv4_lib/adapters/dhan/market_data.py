"""Dhan market data: expiries, option chains, daily candles and last prices from Dhan's v2 API, as canonical frames.

Every request goes through DhanClient (the official dhanhq SDK with typed errors, rate limits and retries).
Underlyings are the universe's symbols with their dhan_security_id and underlying_segment (include/data/
universe.csv), plus INDIA VIX from include/data/index_ids.csv. Indices are asked for as segment IDX_I, instrument
INDEX; stocks as NSE_EQ / EQUITY, and their option chains as segment NSE_FNO with the equity's id (community
usage; not in Dhan's docs).

Expiries are the scrip master's (the expiries of the symbol's option contracts, from the trade date on) when it was
imported at most MASTER_MAX_AGE days before the trade date and holds the symbol's options; otherwise Dhan's expiry
list (one data request per symbol). Chains come from Dhan's market-quote endpoint when the imported scrip master
(`contracts`: the `instruments` rows of the symbols' option contracts) lists the expiry's contracts: every contract
of all the wanted (symbol, expiry) pairs, and each underlying, is quoted in requests of 1,000 instruments at Dhan's
one quote request per second (`option_chains`), so the whole universe takes seconds. A quote gives bid/ask and
their quantities (depth level 1), last price, OI and volume; the underlying price is the underlying's last price in
the same batch; iv and the greeks are NaN (the analysis implies its own). A pair whose contracts are not in the
scrip master is fetched from the option-chain endpoint (one request per 3 s) instead.

Parsing: chain strike keys ("23100.000000") become float strikes; implied_volatility arrives in percent and
becomes a decimal (0 — Dhan's value for an illiquid strike — becomes NaN, "unknown"); bid/ask are
top_bid_price/top_ask_price; greeks pass through (vega per volatility point, theta per day, as the schema says);
security_id and average_price came with API v2.5 and may be missing. Dhan's chain has no lot: each contract's
lot_size is the stored instrument master's (`lots`, e.g. store.instruments.contract_lot over a connection) when it
has that expiry, else reference.lot_sizes (by symbol and expiry). Daily candles sit at 00:00 IST (epoch
seconds) and Dhan's toDate is exclusive; only complete sessions before the trade date are returned, as the source
protocol sees the market before the open.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optionsv4_lib.adapters.dhan.client import DEFAULT_TIMEOUT, PRODUCTION_BASE_URL, Category, DhanClient
from optionsv4_lib.adapters.dhan.token import settings_credentials
from optionsv4_lib.adapters.pacing import Rate, RetryPolicy
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata.schema import CANDLES, OPTION_CHAIN
from optionsv4_lib.marketdata.source import VIX_SYMBOL, as_date, as_symbol
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.reference.lot_sizes import lot_sizes
from optionsv4_lib.reference.universe import UNIVERSE, index_ids, load_universe
from optionsv4_lib.store import open_store
from optionsv4_lib.store.db import connect, database_url
from optionsv4_lib.store.instruments import CONTRACT_COLUMNS, option_contracts

if TYPE_CHECKING:
    from optionsv4_lib.config import Settings

INSTRUMENT = {"IDX_I": "INDEX", "NSE_EQ": "EQUITY"}  # candles: Dhan instrument of an underlying segment
CHAIN_SEGMENT = {"IDX_I": "IDX_I", "NSE_EQ": "NSE_FNO"}  # option chains: UnderlyingSeg of an underlying segment

_SIDES = (("ce", "CE"), ("pe", "PE"))
_QUOTE_FIELDS = {  # canonical column ← Dhan per-side field
    "bid": "top_bid_price", "ask": "top_ask_price", "ltp": "last_price",
    "bid_qty": "top_bid_quantity", "ask_qty": "top_ask_quantity", "oi": "oi", "volume": "volume",
}
_GREEKS = ("delta", "gamma", "theta", "vega")
_CANDLE_FIELDS = ("open", "high", "low", "close", "volume", "timestamp")
Chains = dict[tuple[str, date], pd.DataFrame | DataError]  # (symbol, expiry) → its chain, or why it could not be had
MASTER_MAX_AGE = 3  # days: an older scrip master may lack expiries listed since (NSE lists weeklies weeks ahead)


@dataclass(frozen=True)
class Underlying:
    """How Dhan knows a symbol: its security id and exchange segment (IDX_I or NSE_EQ)."""

    security_id: int
    segment: str


class DhanMarketData:
    """A MarketDataSource over Dhan's v2 API for `trade_date` (see the module docstring).

    client_id, access_token: the Dhan account (the token is never logged or shown). base_url: production by
    default; Dhan's sandbox or a local emulator otherwise. universe: reference.universe.UNIVERSE rows (default
    reference.load_universe()). lots: (symbol, expiry) → units per lot of those contracts from the instrument
    master, or None when it has none (then the lot table's). contracts: symbols → their option contracts in the
    imported scrip master (store.instruments.option_contracts' columns), read once for the whole universe; None:
    every chain from the option-chain endpoint. timeout, rate_limits, retry, shared_pacing, sleep: passed to DhanClient.
    `client` is public so an order broker on the same account can share its rate limits.
    """

    name = "dhan"

    def __init__(self, client_id: str, access_token: str, *, trade_date: date, base_url: str = PRODUCTION_BASE_URL,
                 universe: pd.DataFrame | None = None, lots: Callable[[str, date], int | None] | None = None,
                 contracts: Callable[[list[str]], pd.DataFrame] | None = None, timeout: float = DEFAULT_TIMEOUT,
                 rate_limits: Mapping[Category, Rate] | None = None, retry: RetryPolicy = RetryPolicy(),
                 shared_pacing: Callable[[], object] | None = None, sleep: Callable[[float], None] = time.sleep):
        self.trade_date = as_date(trade_date, "trade_date")
        self.client = DhanClient(client_id, access_token, base_url=base_url, timeout=timeout,
                                 rate_limits=rate_limits or {}, retry=retry, shared_pacing=shared_pacing, sleep=sleep)
        self.universe = load_universe() if universe is None else conform(universe, UNIVERSE, "universe")
        self._underlyings = _underlyings(self.universe)
        self._lots = lots
        self._load_contracts = contracts
        self._contracts: dict[str, pd.DataFrame] = {}  # symbol → its option contracts in the scrip master
        self._expiries: dict[str, list[date]] = {}  # symbol → its listed expiries (scrip master's or Dhan's list)
        self._listed: dict[str, list[date]] = {}  # symbol → Dhan's expiry list

    @classmethod
    def from_settings(cls, settings: "Settings", trade_date: date, **options) -> "DhanMarketData":
        """The source for config.Settings: dhan_client_id, a token good for the run (adapters.dhan.token: the
        configured one, else renewed by TOTP), dhan_base_url and dhan_chain_interval. The pipeline's database (the
        configured one, else the embedded one, opened on first use) supplies the contracts of its `instruments` table,
        whose chains come from market quotes, and shares the rate limits through its api_pacing table with every
        process. InputError when the credentials are unset, AuthError when the token is expiring and cannot be
        renewed. `options` go to the constructor."""
        credentials = settings_credentials(settings)
        options.setdefault("rate_limits", {"option_chain": Rate(1, settings.dhan_chain_interval)})
        database = PipelineDatabase(settings)
        options.setdefault("contracts", partial(stored_contracts, database))
        options.setdefault("shared_pacing", database)
        return cls(credentials.client_id, credentials.access_token, trade_date=trade_date,
                   base_url=settings.dhan_base_url, **options)

    def __repr__(self) -> str:
        return f"DhanMarketData(trade_date={self.trade_date}, {self.client!r})"

    # ---------------------------------------------------------------- MarketDataSource

    def expiries(self, symbol: str) -> list[date]:
        """Listed expiries of symbol's options, sorted (weeklies and long-dated included): the fresh scrip master's,
        else Dhan's expiry list."""
        key, _ = self._option_underlying(symbol)
        if key not in self._expiries:
            stored = self._contracts_of(key)
            fresh = stored["loaded_at"].dt.tz_convert(IST).dt.date >= self.trade_date - timedelta(days=MASTER_MAX_AGE)
            days = sorted({day for day in stored.loc[fresh, "expiry"] if day >= self.trade_date})
            self._expiries[key] = days or self._listed_expiries(key)
        return list(self._expiries[key])

    def _listed_expiries(self, symbol: str) -> list[date]:
        """Dhan's expiry list of the symbol's options (one data request, then cached)."""
        if symbol not in self._listed:
            underlying = self._underlyings[symbol]
            listed = self.client.expiry_list(underlying.security_id, CHAIN_SEGMENT[underlying.segment])
            try:
                self._listed[symbol] = sorted({date.fromisoformat(day) for day in listed})
            except ValueError as exc:
                raise DataError(f"{symbol}: expiry list holds a date that is not YYYY-MM-DD: {exc}") from exc
        return self._listed[symbol]

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        """The chain of one listed expiry as schema.OPTION_CHAIN, by strike then CE before PE (option_chains for
        one pair)."""
        pair = (as_symbol(symbol), as_date(expiry, "expiry"))
        chain = self.option_chains([pair])[pair]
        if isinstance(chain, DataError):
            raise chain
        return chain

    def option_chains(self, wanted: list[tuple[str, date]]) -> Chains:
        """The chains of many (symbol, expiry) pairs (marketdata.source.option_chains' contract): pairs whose
        contracts are in the scrip master from market quotes in batches, the others from the option-chain
        endpoint; each pair → its chain, or the DataError saying why it could not be had."""
        chains: Chains = {}
        quoted: dict[tuple[str, date], pd.DataFrame] = {}  # pair → its contracts, to be quoted
        for symbol, expiry in wanted:
            pair = (symbol, expiry)
            try:
                key, _ = self._option_underlying(symbol)
                day = as_date(expiry, "expiry")
                if day not in self.expiries(key) and day not in self._listed_expiries(key):
                    raise DataError(f"{key}: no listed expiry {day} on {self.trade_date}")
                listed = self._contracts_of(key)
                quoted[pair] = listed[listed["expiry"] == day]
            except DataError as exc:
                chains[pair] = exc
        if quoted:
            chains |= self._quoted_chains(quoted)
        for (symbol, expiry), contracts in quoted.items():
            if contracts.empty:
                try:
                    chains[(symbol, expiry)] = self._endpoint_chain(as_symbol(symbol), as_date(expiry, "expiry"))
                except DataError as exc:
                    chains[(symbol, expiry)] = exc
        return {pair: chains[pair] for pair in wanted}

    def candles(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Daily candles of the complete sessions from start to end inclusive, before the trade date."""
        key, underlying = self._underlying(symbol)
        first, last = as_date(start, "start"), as_date(end, "end")
        if first > last:
            raise InputError(f"start: {first} is after end {last}")
        until = min(last + timedelta(days=1), self.trade_date)  # Dhan's toDate is exclusive
        if first >= until:
            return parse_candles({name: [] for name in _CANDLE_FIELDS}, key)
        columns = self.client.daily_candles(underlying.security_id, underlying.segment,
                                            INSTRUMENT[underlying.segment], first.isoformat(), until.isoformat())
        frame = parse_candles(columns, key)
        inside = (frame["date"] >= pd.Timestamp(first)) & (frame["date"] < pd.Timestamp(until))
        return frame[inside].reset_index(drop=True)

    def spot(self, symbol: str) -> float:
        """Last traded price in ₹ (points for indices and INDIA VIX), from Dhan's market feed."""
        key, underlying = self._underlying(symbol)
        prices = self.client.last_prices({underlying.segment: [underlying.security_id]})
        try:
            price = float(prices[underlying.segment][str(underlying.security_id)]["last_price"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{key}: no last price in Dhan's answer ({exc!r})") from exc
        if not np.isfinite(price) or price <= 0:
            raise DataError(f"{key}: last price {price} is not a positive number")
        return price

    # ---------------------------------------------------------------- chains

    def _contracts_of(self, symbol: str) -> pd.DataFrame:
        """The symbol's option contracts in the scrip master (empty without a `contracts` loader); the first call
        loads those of every universe symbol in one request to the database."""
        if symbol not in self._contracts:
            wanted = sorted({symbol, *self.universe["symbol"]} - set(self._contracts))
            loaded = (pd.DataFrame(columns=list(CONTRACT_COLUMNS)) if self._load_contracts is None
                      else self._load_contracts(wanted))
            loaded = loaded.assign(expiry=[as_date(day, "expiry") for day in loaded["expiry"]],
                                   loaded_at=pd.to_datetime(loaded["loaded_at"], utc=True))
            by_symbol = dict(tuple(loaded.groupby("symbol", sort=False)))
            for name in wanted:
                self._contracts[name] = by_symbol.get(name, loaded.iloc[:0])
        return self._contracts[symbol]

    def _quoted_chains(self, quoted: dict[tuple[str, date], pd.DataFrame]) -> Chains:
        """Chains from one batch of market quotes: every contract of the pairs that have some, and their
        underlyings."""
        asked = {pair: contracts for pair, contracts in quoted.items() if not contracts.empty}
        if not asked:
            return {}
        underlyings = {self._underlyings[as_symbol(symbol)] for symbol, _ in asked}
        instruments: dict[str, list[int]] = {}
        for underlying in sorted(underlyings, key=lambda u: (u.segment, u.security_id)):
            instruments.setdefault(underlying.segment, []).append(underlying.security_id)
        instruments["NSE_FNO"] = [int(i) for contracts in asked.values() for i in contracts["security_id"]]
        answer = self.client.quotes(instruments)
        answered = pd.Timestamp.now(tz="UTC")
        chains: Chains = {}
        for (symbol, expiry), contracts in asked.items():
            key, day = as_symbol(symbol), as_date(expiry, "expiry")
            underlying = self._underlyings[key]
            try:
                spot = _underlying_price(answer, underlying, key)
                frame = parse_quotes(answer.get("NSE_FNO", {}), contracts, key, day, spot)
            except DataError as exc:
                chains[(symbol, expiry)] = exc
                continue
            chains[(symbol, expiry)] = self._finish(frame, key, day, answered)
        return chains

    def _endpoint_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        """One chain from the option-chain endpoint (one request per 3 s)."""
        underlying = self._underlyings[symbol]
        chain = self.client.option_chain(underlying.security_id, CHAIN_SEGMENT[underlying.segment], expiry.isoformat())
        answered = pd.Timestamp.now(tz="UTC")
        return self._finish(parse_chain(chain, symbol, expiry), symbol, expiry, answered)

    def _finish(self, frame: pd.DataFrame, symbol: str, expiry: date, answered: pd.Timestamp) -> pd.DataFrame:
        """Lots where the answer had none (the stored instrument master's lot of the expiry, else the lot table's)
        and the quote time: the moment of Dhan's answer when that falls on the trade date; a past date read today
        (a replay against an emulator) keeps no quote time, and the analysis takes the trade date's open."""
        if "lot_size" not in frame or frame["lot_size"].isna().any():
            lot = self._lots(symbol, expiry) if self._lots else None
            fallback = int(lot_sizes(symbol, [expiry])[0]) if lot is None else lot
            known = frame["lot_size"] if "lot_size" in frame else pd.Series(pd.NA, index=frame.index, dtype="Int64")
            frame["lot_size"] = known.fillna(fallback).astype("Int64")
        live = answered.tz_convert(IST).date() == self.trade_date
        frame["quoted_at"] = pd.Series(answered if live else pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
        return frame

    # ---------------------------------------------------------------- symbols

    def _underlying(self, symbol: str) -> tuple[str, Underlying]:
        key = as_symbol(symbol)
        if key not in self._underlyings:
            raise DataError(f"{key}: not in the universe (no Dhan security id)")
        return key, self._underlyings[key]

    def _option_underlying(self, symbol: str) -> tuple[str, Underlying]:
        key, underlying = self._underlying(symbol)
        if key == VIX_SYMBOL:
            raise DataError(f"{VIX_SYMBOL}: no options are listed on it")
        return key, underlying


# ---------------------------------------------------------------- parsing


def parse_chain(chain: dict, symbol: str, expiry: date) -> pd.DataFrame:
    """Dhan's {"last_price", "oc": {strike key: {"ce", "pe"}}} as schema.OPTION_CHAIN; DataError naming the field."""
    what = f"{symbol} {expiry} chain"
    spot = _number(chain.get("last_price"), f"{what}: last_price")
    if spot <= 0:
        raise DataError(f"{what}: underlying last_price {spot} is not positive")
    if not isinstance(chain.get("oc"), dict):
        raise DataError(f"{what}: missing the strike map 'oc'")
    rows = []
    for strike_key, sides in chain["oc"].items():
        strike = _number(strike_key, f"{what}: strike key")
        if not isinstance(sides, dict):
            raise DataError(f"{what} strike {strike_key}: expected an object with ce/pe, got {sides!r}")
        for side, option_type in _SIDES:
            quote = sides.get(side)
            if quote is not None:
                rows.append(_chain_row(quote, strike, option_type, f"{what} {strike_key} {side}"))
    columns = [col.name for col in OPTION_CHAIN]
    frame = pd.DataFrame(rows, columns=[c for c in columns if c not in ("symbol", "expiry", "underlying_price")])
    frame.insert(0, "symbol", symbol)
    frame.insert(1, "expiry", pd.Timestamp(expiry))
    frame["underlying_price"] = spot
    frame["iv"] = np.where(frame["iv"] > 0, frame["iv"] / 100, np.nan)  # percent → decimal; 0 = unknown
    frame = frame.sort_values(["strike", "option_type"], kind="stable").reset_index(drop=True)
    return conform(frame, OPTION_CHAIN, what)


def parse_quotes(quotes: Mapping[str, dict], contracts: pd.DataFrame, symbol: str, expiry: date,
                 spot: float) -> pd.DataFrame:
    """Market quotes of one expiry's contracts ({"<security id>": quote} of segment NSE_FNO; contracts: the scrip
    master's rows) as schema.OPTION_CHAIN: bid/ask and their quantities from depth level 1 (0 when a side is
    empty), ltp, oi, volume; iv and greeks NaN; lot_size from the contract row. Contracts Dhan did not quote are
    left out; DataError when none was, or a quote is malformed."""
    what = f"{symbol} {expiry} quotes"
    rows = []
    for contract in contracts.itertuples(index=False):
        quote = quotes.get(str(int(contract.security_id)))
        if quote is None:
            continue
        where = f"{what} {contract.strike:g} {contract.option_type} (security id {contract.security_id})"
        if not isinstance(quote, dict) or not isinstance(quote.get("depth"), dict):
            raise DataError(f"{where}: expected an object with depth, got {quote!r}")
        bid, bid_qty = _best(quote["depth"].get("buy"), f"{where}: depth.buy")
        ask, ask_qty = _best(quote["depth"].get("sell"), f"{where}: depth.sell")
        rows.append({"strike": float(contract.strike), "option_type": contract.option_type, "bid": bid, "ask": ask,
                     "ltp": _number(quote.get("last_price"), f"{where}: last_price"), "bid_qty": bid_qty,
                     "ask_qty": ask_qty, "oi": _number(quote.get("oi"), f"{where}: oi"),
                     "volume": _number(quote.get("volume"), f"{where}: volume"),
                     "security_id": int(contract.security_id), "lot_size": contract.lot_size})
    if not rows:
        raise DataError(f"{what}: Dhan quoted none of the {len(contracts)} contracts of the scrip master")
    frame = pd.DataFrame(rows)
    frame.insert(0, "symbol", symbol)
    frame.insert(1, "expiry", pd.Timestamp(expiry))
    frame = frame.assign(iv=np.nan, **{name: np.nan for name in _GREEKS}, underlying_price=spot)
    frame = frame.sort_values(["strike", "option_type"], kind="stable").reset_index(drop=True)
    return conform(frame, OPTION_CHAIN, what)


def _best(levels, where: str) -> tuple[float, float]:
    """(price, quantity) of depth level 1; (0, 0) when the side is empty."""
    if not isinstance(levels, list):
        raise DataError(f"{where}: expected a list of levels, got {levels!r}")
    if not levels:
        return 0.0, 0.0
    first = levels[0]
    if not isinstance(first, dict):
        raise DataError(f"{where}: expected an object per level, got {first!r}")
    return _number(first.get("price"), f"{where}[0].price"), _number(first.get("quantity"), f"{where}[0].quantity")


def _underlying_price(answer: Mapping[str, dict], underlying: Underlying, symbol: str) -> float:
    """The underlying's last price in a quote answer; DataError when it is missing or not positive."""
    quote = answer.get(underlying.segment, {}).get(str(underlying.security_id))
    if not isinstance(quote, dict):
        raise DataError(f"{symbol}: Dhan's quotes hold no quote of the underlying ({underlying.segment} "
                        f"{underlying.security_id})")
    price = _number(quote.get("last_price"), f"{symbol} underlying quote: last_price")
    if price <= 0:
        raise DataError(f"{symbol}: underlying last price {price} is not positive")
    return price


class PipelineDatabase:
    """Connections to the pipeline's database, opened when first needed: the first through store.open_store (the
    configured database, its schema checked; else the embedded one, started and migrated), the others straight to
    its URL."""

    def __init__(self, settings: "Settings"):
        self._settings = settings
        self._url: str | None = None

    def __call__(self):
        """A new psycopg2 connection; the caller closes it."""
        if self._url is None:
            conn = open_store(self._settings)
            self._url = database_url(self._settings, self._settings.embedded_dir)
            return conn
        return connect(self._url)


def stored_contracts(open_database: Callable[[], Any], symbols: list[str]) -> pd.DataFrame:
    """The option contracts of `symbols` in the `instruments` table of the database `open_database()` connects to."""
    conn = open_database()
    try:
        return option_contracts(conn, symbols)
    finally:
        conn.close()


def _chain_row(quote, strike: float, option_type: str, where: str) -> dict:
    if not isinstance(quote, dict):
        raise DataError(f"{where}: expected an object, got {quote!r}")
    greeks = quote.get("greeks")
    if not isinstance(greeks, dict):
        raise DataError(f"{where}: missing greeks")
    row = {"strike": strike, "option_type": option_type,
           "iv": _number(quote.get("implied_volatility"), f"{where}: implied_volatility")}
    row |= {column: _number(quote.get(field), f"{where}: {field}") for column, field in _QUOTE_FIELDS.items()}
    row |= {name: _number(greeks.get(name), f"{where}: greeks.{name}") for name in _GREEKS}
    security_id = quote.get("security_id")
    row["security_id"] = pd.NA if security_id in (None, 0, "") else int(_number(security_id, f"{where}: security_id"))
    return row


def column_arrays(columns: dict, names: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """Dhan's column arrays (a JSON object of equal-length lists) as float64 arrays by name; DataError naming `what`
    for a missing or misaligned array, or a value that is not a finite number."""
    missing = [name for name in names if not isinstance(columns.get(name), list)]
    if missing:
        raise DataError(f"{what}: missing column arrays {missing}")
    lengths = {name: len(columns[name]) for name in names}
    if len(set(lengths.values())) > 1:
        raise DataError(f"{what}: column arrays of different lengths {lengths}")
    try:
        values = {name: np.asarray(columns[name], dtype="float64") for name in names}
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: a value that is not a number: {exc}") from exc
    bad = [name for name, array in values.items() if not np.isfinite(array).all()]
    if bad:
        raise DataError(f"{what}: missing or infinite values in {bad}")
    return values


def parse_candles(columns: dict, symbol: str) -> pd.DataFrame:
    """Dhan's column arrays (open, high, low, close, volume, timestamp at 00:00 IST) as schema.CANDLES by date."""
    what = f"{symbol} candles"
    values = column_arrays(columns, _CANDLE_FIELDS, what)
    moments = pd.to_datetime(np.round(values["timestamp"]).astype("int64"), unit="s", utc=True)
    days = moments.tz_convert(IST).tz_localize(None).normalize()
    frame = pd.DataFrame({"symbol": symbol, "date": days, "open": values["open"], "high": values["high"],
                          "low": values["low"], "close": values["close"],
                          "volume": np.round(values["volume"]).astype("int64")})
    if frame["date"].duplicated().any():
        raise DataError(f"{what}: two candles on {frame['date'][frame['date'].duplicated()].iloc[0].date()}")
    return conform(frame.sort_values("date").reset_index(drop=True), CANDLES, what)


def _number(value, where: str) -> float:
    """A finite float from a JSON number or numeric string; DataError naming `where` otherwise."""
    if isinstance(value, bool):
        raise DataError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: expected a number, got {value!r}") from None
    if not np.isfinite(number):
        raise DataError(f"{where}: expected a finite number, got {value!r}")
    return number


def _underlyings(universe: pd.DataFrame) -> dict[str, Underlying]:
    """Symbol → Underlying for the universe and INDIA VIX; DataError for a segment Dhan data cannot be asked in."""
    found = {str(row.symbol): Underlying(int(row.dhan_security_id), str(row.underlying_segment))
             for row in universe.itertuples(index=False)}
    vix = index_ids().set_index("index_name").loc[VIX_SYMBOL]
    found[VIX_SYMBOL] = Underlying(int(vix["dhan_security_id"]), str(vix["dhan_segment"]))
    unknown = {symbol: u.segment for symbol, u in found.items() if u.segment not in INSTRUMENT}
    if unknown:
        raise DataError(f"universe: underlying_segment must be one of {list(INSTRUMENT)}, got {unknown}")
    return found
