"""A deterministic synthetic NSE F&O market: candle histories, expiries and option chains for the whole universe.

The market is seen before the open of `trade_date`: candles cover the complete sessions before it, spot is the
trade date's opening price, and chains are quoted at the F&O open (`as_of`, IST) at that spot. Same seed and
trade date give identical frames; the daily paths start at HISTORY_START and only move forward, so a later trade
date extends the same history. Random numbers come from numpy Generators seeded by (seed, a stable BLAKE2 hash of
the symbol and the stream name), never Python's hash().

Model, per trading day (holiday calendar where include/data/nse_holidays.csv covers, weekdays elsewhere):
- INDIA VIX: Ornstein–Uhlenbeck on log VIX around VIX_LONG_RUN, with rare upward spikes; closes clipped to
  VIX_BOUNDS.
- NIFTY: daily return = regime drift (up, range, down; a Markov switch) + shock with volatility from the previous
  VIX close, correlated with the VIX shock (NIFTY_VIX_CORRELATION < 0) and falling on VIX spikes. The log level
  is pulled weakly towards the universe's approx_price_inr, so levels stay realistic on any date.
- Every other underlying: beta × the NIFTY move + an idiosyncratic shock sized from its own implied vol, with
  the same weak pull towards its approx_price_inr.
- Implied vol: an SSVI surface (Gatheral–Jacquier 2014), free of static arbitrage. The ATM level σ_ATM(T) is a
  30-day level (NIFTY = VIX/100, other indices a multiple of it, stocks 20–45 % scaled by VIX) times a term
  structure (upward when VIX is low, inverted when high); θ_T = σ_ATM(T)²·T rises strictly with T (no calendar
  arbitrage). The smile is w(k) = θ/2·(1 + ρφk + √((φk + ρ)² + 1 − ρ²)) in k = ln(K/F_T) with the power law
  φ(θ) = η / (θ^γ (1 + θ)^(1−γ)): indices with a strong put skew (ρ ≈ −0.6…−0.7), stocks milder with more curvature;
  η, ρ and γ within the sufficient no-butterfly conditions θφ(1+|ρ|) < 4 and θφ²(1+|ρ|) ≤ 4 for every θ.
  Prices and greeks are pricing.bs_price / bs_greeks (Black-76 on F_T) at that IV, so IV, greeks and the model
  price agree; bid ≤ model ≤ ask on the tick. Bid/ask widen away from the money and for cheap options; OI and
  volume peak near the money and on the near expiry.

Broken symbols (`broken`: symbol → mode, default DEFAULT_BROKEN) give filters and validation work:
"empty" (chains have no rows), "crossed" (bid > ask on about half of the quoted rows), "illiquid" (no bids, zero
OI and volume), "stale_expiry" (expiries() lists the last expiry before the trade date; its chain is priced at
expiry, IV NaN), "bad_lot" (every contract quoted with lot_size 0, as a broken instrument master would).

Lots are per contract (reference.lot_sizes, by expiry): a market on 24-Jan-2025 quotes NIFTY's 30-Jan-2025
contract in lots of 25 and its February weeklies in lots of 75; OI, volume and depth are whole lots of the
contract. The universe's lot_size (the latest lot file's) only scales the stocks' candle volume.
"""

import hashlib
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata.schema import CANDLES, OPTION_CHAIN
from optionsv4_lib.marketdata.source import MARKET_SYMBOL, VIX_SYMBOL, as_date, as_symbol
from optionsv4_lib.pricing.black_scholes import bs_greeks, bs_price
from optionsv4_lib.reference import calendar
from optionsv4_lib.reference.lot_sizes import lot_sizes
from optionsv4_lib.reference.universe import UNIVERSE, load_universe

BROKEN_MODES = ("empty", "crossed", "illiquid", "stale_expiry", "bad_lot")
DEFAULT_BROKEN: dict[str, str] = {"IOC": "empty", "BANKBARODA": "crossed", "NMDC": "illiquid"}
"""Three low-priced stocks whose chains are broken unless `broken` says otherwise (broken={} turns it off)."""

HISTORY_START = date(2024, 1, 1)  # every path starts here, so trade dates share one history
MIN_HISTORY_DAYS = 90  # complete sessions required before the trade date
TICK = 0.05  # ₹, NSE option price tick
TRADING_DAYS_PER_YEAR = 252

VIX_LONG_RUN = 14.0  # VIX points
VIX_BOUNDS = (9.0, 35.0)  # VIX points; closes are clipped to these
VIX_REVERSION = 0.05  # per trading day, on log VIX (half-life ≈ 14 days)
VIX_LOG_SHOCK = 0.06  # daily standard deviation of log-VIX shocks
VIX_SPIKE_PROBABILITY = 0.01  # per trading day
VIX_SPIKE = 0.30  # log-VIX jump of a spike
NIFTY_ON_SPIKE = -0.05  # NIFTY log return per unit of log-VIX spike
NIFTY_VIX_CORRELATION = -0.7  # between the daily NIFTY and log-VIX shocks
REGIME_SWITCH_PROBABILITY = 1 / 30  # per trading day
REGIME_DRIFTS = (0.0015, 0.0, -0.0015)  # daily log drift of the trending-up, ranging and trending-down regimes
LEVEL_REVERSION = 0.008  # per trading day, pull of every log price towards its approx_price_inr
REALIZED_TO_IMPLIED = 0.85  # realized vol as a share of implied vol
STOCK_IV_VIX_ELASTICITY = 0.6  # stock ATM IV ∝ (VIX / VIX_LONG_RUN) ** this
TERM_REFERENCE_YEARS = 30 / 365  # the ATM level applies at this maturity
SMILE_MIN_YEARS = 7 / 365  # years; the term structure and the smile's φ(θ) do not move below this maturity
SSVI_GAMMA = 0.5  # power-law exponent of φ(θ); γ = ½ makes θφ² ≤ η², so η²(1+|ρ|) ≤ 4 rules out butterflies
NIFTY_SSVI = (-0.6, 1.0)  # (ρ, η) of NIFTY: 25-delta put ≈ 3 vol points over ATM on a 14 % weekly
INDEX_SSVI_RHO = (-0.7, -0.6)  # range of ρ (the smile's skew, dimensionless) of the other indices
INDEX_SSVI_ETA = (0.8, 1.1)  # range of η (φ's scale, dimensionless) of the other indices; η²(1 + 0.7) ≤ 4
STOCK_SSVI_RHO = (-0.4, -0.2)  # stocks: a milder put skew
STOCK_SSVI_ETA = (0.8, 1.3)  # stocks: more curvature (η²(1 − ρ²) larger); η²(1 + 0.4) ≤ 4
DEEP_OTM_Z = 2.5  # this many standard moves out of the money, a quote loses its bid with the probability below
DEEP_OTM_NO_BID_PROBABILITY = 0.35


class SyntheticMarket:
    """A MarketDataSource over a synthetic market; see the module docstring for the model.

    seed: non-negative integer. trade_date: a trading day at least MIN_HISTORY_DAYS sessions after HISTORY_START
    (a special session's day is quoted after the regular history; so is any other day when `forced`, for an analysis
    forced onto a weekend or holiday).
    universe: reference.universe.UNIVERSE rows (default reference.load_universe()); must contain NIFTY.
    broken: symbol → mode from BROKEN_MODES; None means DEFAULT_BROKEN (symbols not in the universe skipped).
    """

    rate = 0.065  # risk-free rate of the synthetic world, continuously compounded decimal
    index_dividend_yield = 0.0  # decimal
    stock_dividend_yield = 0.0  # decimal; 0 like the analysis, which has no dividend data for any source
    months_ahead = 3  # monthly expiries listed (NIFTY's weeklies up to the last of them too)
    strikes_each_side_index = 40
    strikes_each_side_stock = 20

    def __init__(self, seed: int, trade_date: date, universe: pd.DataFrame | None = None,
                 broken: dict[str, str] | None = None, forced: bool = False):
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise InputError(f"seed: expected a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.trade_date = as_date(trade_date, "trade_date")
        self.name = f"synthetic(seed={self.seed})"
        base = load_universe() if universe is None else conform(universe, UNIVERSE, "universe")
        if base.empty or base["symbol"].duplicated().any():
            raise InputError("universe: expected one row per symbol, at least one")
        self._profiles = {str(row.symbol): row for row in base.itertuples(index=False)}
        if MARKET_SYMBOL not in self._profiles:
            raise InputError(f"universe: must contain {MARKET_SYMBOL}, the market factor")
        if broken is None:
            broken = {symbol: mode for symbol, mode in DEFAULT_BROKEN.items() if symbol in self._profiles}
        self.broken = _checked_broken(broken, self._profiles)
        self.universe = base

        self._days = _session_days(HISTORY_START, self.trade_date)
        if len(self._days) and self._days[-1] != np.datetime64(self.trade_date):
            if not (forced or calendar.is_trading_day(self.trade_date)):
                raise InputError(f"trade_date: {self.trade_date} is not a trading day")
            self._days = np.append(self._days, np.datetime64(self.trade_date, "D"))  # after the regular sessions
        if len(self._days) <= MIN_HISTORY_DAYS:
            raise InputError(f"trade_date: {self.trade_date} leaves fewer than {MIN_HISTORY_DAYS} sessions of "
                             f"synthetic history after {HISTORY_START}")
        open_at = calendar.session(self.trade_date, "FO")[0]
        self.as_of = datetime.combine(self.trade_date, open_at, tzinfo=calendar.IST)  # chains are quoted here
        self._vix, self._nifty_moves = self._market_factor()
        self._paths: dict[str, dict[str, np.ndarray]] = {}
        self._candles: dict[str, pd.DataFrame] = {}
        self._expiries: dict[str, list[date]] = {}
        self._chains: dict[str, pd.DataFrame] = {}

    # ---------------------------------------------------------------- MarketDataSource

    def expiries(self, symbol: str) -> list[date]:
        """Listed expiries, sorted: calendar.expiries over months_ahead months (plus a stale one if broken so)."""
        symbol = self._option_symbol(symbol)
        if symbol not in self._expiries:
            listed = calendar.expiries(symbol, self.trade_date, self.months_ahead)
            if self.broken.get(symbol) == "stale_expiry":
                earlier = calendar.expiries(symbol, self.trade_date - timedelta(days=45), self.months_ahead)
                listed = [max(day for day in earlier if day < self.trade_date), *listed]
            self._expiries[symbol] = listed
        return list(self._expiries[symbol])

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        """The chain of one listed expiry as schema.OPTION_CHAIN; DataError for an expiry that is not listed."""
        symbol = self._option_symbol(symbol)
        day = as_date(expiry, "expiry")
        if day not in self.expiries(symbol):
            raise DataError(f"{symbol}: no listed expiry {day} on {self.trade_date}")
        if symbol not in self._chains:
            self._chains[symbol] = self._chain(symbol)
        chain = self._chains[symbol]
        return chain[chain["expiry"] == pd.Timestamp(day)].reset_index(drop=True)

    def candles(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Daily candles of the complete sessions from start to end inclusive, before the trade date."""
        symbol = self._known_symbol(symbol)
        first, last = as_date(start, "start"), as_date(end, "end")
        if first > last:
            raise InputError(f"start: {first} is after end {last}")
        if symbol not in self._candles:
            self._candles[symbol] = self._candle_frame(symbol)
        frame = self._candles[symbol]
        inside = (frame["date"] >= pd.Timestamp(first)) & (frame["date"] <= pd.Timestamp(last))
        return frame[inside].reset_index(drop=True)

    def spot(self, symbol: str) -> float:
        """The trade date's opening price in ₹ (points for indices and INDIA VIX)."""
        return float(self._path(self._known_symbol(symbol))["open"][-1])

    # ---------------------------------------------------------------- model parameters

    def dividend_yield(self, symbol: str) -> float:
        """Continuous dividend yield (decimal) the chains of symbol are priced with."""
        return self.index_dividend_yield if self._is_index(self._option_symbol(symbol)) else self.stock_dividend_yield

    # ---------------------------------------------------------------- symbols

    def _known_symbol(self, symbol: str) -> str:
        key = as_symbol(symbol)
        if key != VIX_SYMBOL and key not in self._profiles:
            raise DataError(f"{key}: not in the synthetic universe")
        return key

    def _option_symbol(self, symbol: str) -> str:
        key = self._known_symbol(symbol)
        if key == VIX_SYMBOL:
            raise DataError(f"{VIX_SYMBOL}: no options are listed on it")
        return key

    def _is_index(self, symbol: str) -> bool:
        return self._profiles[symbol].underlying_segment == "IDX_I"

    # ---------------------------------------------------------------- randomness

    def _rng(self, *keys) -> np.random.Generator:
        """A Generator for (seed, keys), stable across processes and Python versions."""
        digest = hashlib.blake2b("\x1f".join(map(str, keys)).encode(), digest_size=16).digest()
        return np.random.default_rng(np.random.SeedSequence([self.seed, *np.frombuffer(digest, "<u4").tolist()]))

    def _profile(self, symbol: str) -> dict[str, float]:
        """Per-symbol constants, the same on every trade date: beta, IV level, SSVI ρ and η, liquidity."""
        u = self._rng(symbol, "profile").random(6)
        if symbol == MARKET_SYMBOL:
            rho, eta = NIFTY_SSVI
            return {"beta": 1.0, "iv": 1.0, "rho": rho, "eta": eta, "oi_lots": 150_000.0, "spread": 0.004}
        if self._is_index(symbol):  # iv: multiple of VIX / 100
            oi_lots = 20_000 + 20_000 * u[4]
            return {"beta": 1.0 + 0.2 * u[0], "iv": 1.05 + 0.2 * u[1], "rho": _within(INDEX_SSVI_RHO, u[2]),
                    "eta": _within(INDEX_SSVI_ETA, u[3]), "oi_lots": oi_lots, "spread": 0.004 + 0.002 * u[5]}
        oi_lots = 800 * 10 ** u[4]  # 800–8000 lots at the money of the near month
        return {"beta": 0.6 + 0.8 * u[0], "iv": 0.20 + 0.25 * u[1], "rho": _within(STOCK_SSVI_RHO, u[2]),
                "eta": _within(STOCK_SSVI_ETA, u[3]), "oi_lots": oi_lots,
                "spread": float(np.clip(0.012 * (3000 / oi_lots) ** 0.35 * (0.8 + 0.4 * u[5]), 0.006, 0.03))}

    # ---------------------------------------------------------------- daily paths

    def _market_factor(self) -> tuple[np.ndarray, np.ndarray]:
        """(INDIA VIX closes, NIFTY daily log moves) per session day."""
        n = len(self._days)
        vix_shock = self._rng(VIX_SYMBOL, "shocks").standard_normal(n)
        spikes = VIX_SPIKE * (self._rng(VIX_SYMBOL, "spikes").random(n) < VIX_SPIKE_PROBABILITY)
        log_gap = lfilter([1.0], [1.0, VIX_REVERSION - 1.0], VIX_LOG_SHOCK * vix_shock + spikes)
        vix = np.clip(VIX_LONG_RUN * np.exp(log_gap), *VIX_BOUNDS)

        own = self._rng(MARKET_SYMBOL, "shocks").standard_normal(n)
        rho = NIFTY_VIX_CORRELATION
        shocks = rho * vix_shock + np.sqrt(1 - rho**2) * own
        switch = self._rng(MARKET_SYMBOL, "regime_switch").random(n) < REGIME_SWITCH_PROBABILITY
        labels = (self._rng(MARKET_SYMBOL, "regime_label").random(n + 1) * len(REGIME_DRIFTS)).astype(int)
        drift = np.asarray(REGIME_DRIFTS)[labels[np.cumsum(switch)]]
        nifty_moves = drift + self._daily_vol(MARKET_SYMBOL, vix) * shocks + NIFTY_ON_SPIKE * spikes
        return vix, nifty_moves

    def _daily_vol(self, symbol: str, vix: np.ndarray) -> np.ndarray:
        """Realized daily vol of symbol per day: REALIZED_TO_IMPLIED × its ATM IV at the previous VIX close / √252."""
        previous = np.concatenate(([VIX_LONG_RUN], vix[:-1]))
        return REALIZED_TO_IMPLIED * self._atm_iv(symbol, previous) / np.sqrt(TRADING_DAYS_PER_YEAR)

    def _path(self, symbol: str) -> dict[str, np.ndarray]:
        """open, high, low, close, volume per session day (the last day is the trade date; its open is spot)."""
        if symbol in self._paths:
            return self._paths[symbol]
        n = len(self._days)
        if symbol == VIX_SYMBOL:
            closes, daily_vol, volume_scale = self._vix, np.full(n, VIX_LOG_SHOCK), 0.0
        else:
            profile, row = self._profile(symbol), self._profiles[symbol]
            market_vol, daily_vol = self._daily_vol(MARKET_SYMBOL, self._vix), self._daily_vol(symbol, self._vix)
            if symbol == MARKET_SYMBOL:
                moves = self._nifty_moves
            else:
                own_vol = np.sqrt(np.maximum(daily_vol**2 - (profile["beta"] * market_vol) ** 2,
                                             (0.25 * daily_vol) ** 2))
                own = self._rng(symbol, "shocks").standard_normal(n)
                moves = profile["beta"] * self._nifty_moves + own_vol * own
            log_gap = lfilter([1.0], [1.0, LEVEL_REVERSION - 1.0], moves)
            closes = row.approx_price_inr * np.exp(log_gap)
            volume_scale = 0.0 if self._is_index(symbol) else 5.0 * profile["oi_lots"] * row.lot_size
        self._paths[symbol] = self._ohlcv(symbol, closes, daily_vol, volume_scale)
        return self._paths[symbol]

    def _ohlcv(self, symbol: str, closes: np.ndarray, daily_vol: np.ndarray, volume_scale: float):
        """Candles around the closes: an opening gap, intraday extremes, volume rising with the move."""
        n = len(closes)
        gap, wick_up, wick_down = self._rng(symbol, "intraday").standard_normal((n, 3)).T  # day by day: prefixes agree
        previous = np.concatenate(([closes[0]], closes[:-1]))
        opens = previous * np.exp(0.3 * daily_vol * gap)
        highs = np.maximum(opens, closes) * np.exp(0.6 * daily_vol * np.abs(wick_up))
        lows = np.minimum(opens, closes) * np.exp(-0.6 * daily_vol * np.abs(wick_down))
        activity = np.exp(0.35 * self._rng(symbol, "volume").standard_normal(n))
        move = np.abs(np.log(closes / previous)) / daily_vol
        volume = np.round(volume_scale * activity * (1 + 0.3 * move)).astype(np.int64)
        step = 0.01 if symbol == VIX_SYMBOL else TICK
        ohlc = {name: _round_to(values, step) for name, values in
                (("open", opens), ("high", highs), ("low", lows), ("close", closes))}
        return {**ohlc, "volume": volume}

    def _candle_frame(self, symbol: str) -> pd.DataFrame:
        path, complete = self._path(symbol), slice(0, len(self._days) - 1)  # the trade date's session is open
        frame = pd.DataFrame({"symbol": symbol, "date": self._days[complete],
                              **{name: values[complete] for name, values in path.items()}})
        return conform(frame, CANDLES, f"{symbol} candles")

    # ---------------------------------------------------------------- option chains

    def _chain(self, symbol: str) -> pd.DataFrame:
        """Every listed expiry's chain, vectorized over expiries × strikes × (CE, PE), conformed."""
        if self.broken.get(symbol) == "empty":
            return conform(pd.DataFrame({col.name: [] for col in OPTION_CHAIN}), OPTION_CHAIN, f"{symbol} chain")
        row, profile, spot = self._profiles[symbol], self._profile(symbol), self.spot(symbol)
        q, vix = self.dividend_yield(symbol), self.spot(VIX_SYMBOL)
        expiry_days = np.array(self.expiries(symbol), dtype="datetime64[D]")
        live = expiry_days >= np.datetime64(self.trade_date)
        years = np.zeros(len(expiry_days))
        years[live] = calendar.years_to_expiry(self.as_of, expiry_days[live])

        each_side = self.strikes_each_side_index if self._is_index(symbol) else self.strikes_each_side_stock
        atm_strike = np.round(spot / row.strike_step) * row.strike_step
        strikes = atm_strike + row.strike_step * np.arange(-each_side, each_side + 1)
        strikes = strikes[strikes > 0]

        T = years[:, None, None]
        K = strikes[None, :, None]
        is_call = np.array([True, False])[None, None, :]
        shape = (len(years), len(strikes), 2)
        k = np.log(K / (spot * np.exp((self.rate - q) * T)))  # log-moneyness to the forward
        atm_iv = self._atm_iv(symbol, vix) * self._term_factor(T, vix)
        smile_theta = atm_iv**2 * np.maximum(T, SMILE_MIN_YEARS)  # θ of max(T, SMILE_MIN_YEARS): φ's argument
        phi = ssvi_phi(smile_theta, profile["eta"])
        iv = np.broadcast_to(atm_iv * np.sqrt(ssvi_variance_ratio(k, profile["rho"], phi)), shape)
        model = bs_price(is_call, spot, K, T, self.rate, iv, q)
        greeks = bs_greeks(is_call, spot, K, T, self.rate, iv, q)
        signed_z = k / np.sqrt(smile_theta)  # standard moves from the forward, > 0 above it
        otm_z = np.broadcast_to(np.where(is_call, signed_z, -signed_z), shape)  # > 0 out of the money

        rng = self._rng(symbol, "chain", self.trade_date.isoformat())
        quotes = self._quotes(model, otm_z, profile, rng)
        oi_lots, volume_lots, depth_lots = self._activity(otm_z, is_call, T, profile, rng)
        lot = lot_sizes(symbol, expiry_days)[:, None, None]  # units per lot of each expiry's contracts
        frame = pd.DataFrame({
            "symbol": symbol,
            "expiry": np.repeat(expiry_days, len(strikes) * 2),
            "strike": np.broadcast_to(K, shape).ravel(),
            "option_type": np.where(np.broadcast_to(is_call, shape), "CE", "PE").ravel(),
            "bid": quotes["bid"].ravel(), "ask": quotes["ask"].ravel(), "ltp": quotes["ltp"].ravel(),
            "bid_qty": (depth_lots[0] * lot).ravel(), "ask_qty": (depth_lots[1] * lot).ravel(),
            "iv": np.where(T > 0, iv, np.nan).ravel(),
            "delta": greeks.delta.ravel(), "gamma": greeks.gamma.ravel(),
            "theta": greeks.theta.ravel(), "vega": greeks.vega.ravel(),
            "oi": (oi_lots * lot).ravel(), "volume": (volume_lots * lot).ravel(),
            "underlying_price": spot, "lot_size": np.broadcast_to(lot, shape).ravel(),
            "quoted_at": pd.Timestamp(self.as_of).tz_convert("UTC"),
        })
        frame.loc[frame["bid"] == 0, "bid_qty"] = 0
        expired = np.repeat(~live, len(strikes) * 2)
        frame.loc[expired, ["oi", "volume"]] = 0
        frame = _break(frame, self.broken.get(symbol), rng)
        return conform(frame, OPTION_CHAIN, f"{symbol} chain")

    def _atm_iv(self, symbol: str, vix):
        """30-day ATM implied vol (decimal) at VIX level(s) vix: indices a multiple of VIX / 100, stocks their
        level scaled by (VIX / VIX_LONG_RUN) ** STOCK_IV_VIX_ELASTICITY."""
        level = self._profile(symbol)["iv"]
        if self._is_index(symbol):
            return level * vix / 100
        return level * (vix / VIX_LONG_RUN) ** STOCK_IV_VIX_ELASTICITY

    @staticmethod
    def _term_factor(T: np.ndarray, vix: float) -> np.ndarray:
        """ATM IV relative to 30 days: (T / 30 d) ** slope, slope > 0 at low VIX, < 0 (inverted) at high VIX."""
        slope = float(np.clip(0.04 - 0.08 * (vix - VIX_LONG_RUN) / 10, -0.12, 0.06))
        return (np.maximum(T, SMILE_MIN_YEARS) / TERM_REFERENCE_YEARS) ** slope

    @staticmethod
    def _quotes(model: np.ndarray, otm_z: np.ndarray, profile: dict[str, float], rng: np.random.Generator):
        """bid, ask, ltp on the tick around the model price (₹): spread widens away from the money, plus a tick;
        bid rounds down and ask up, so bid ≤ model ≤ ask."""
        half = model * profile["spread"] * (1 + np.minimum(np.abs(otm_z), 4.0)) / 2 + TICK / 2
        bid = np.floor((model - half) / TICK) * TICK
        ask = np.maximum(np.ceil((model + half) / TICK) * TICK, TICK)
        deep_otm = (otm_z > DEEP_OTM_Z) & (rng.random(model.shape) < DEEP_OTM_NO_BID_PROBABILITY)
        no_bid = (bid < TICK) | deep_otm
        bid = np.where(no_bid, 0.0, bid)
        ltp = np.maximum(np.round(model / TICK) * TICK, TICK)
        return {"bid": np.round(bid, 2), "ask": np.round(ask, 2), "ltp": np.round(ltp, 2)}

    @staticmethod
    def _activity(otm_z, is_call, T, profile, rng):
        """(OI, volume, (bid depth, ask depth)) in lots: peaked at the money, heavier out of the money and near."""
        shape, z = otm_z.shape, np.abs(otm_z)
        put_tilt = np.where(is_call, 1.0, np.exp(0.25 * rng.standard_normal()))  # moves the put–call ratio
        days = T * 365
        weight = (np.exp(-(z**2) / 2) * (1 + 0.4 * np.tanh(otm_z)) * put_tilt
                  * (0.15 + np.exp(-days / 20)))
        oi = np.round(profile["oi_lots"] * weight * np.exp(0.3 * rng.standard_normal(shape))).astype(np.int64)
        turnover = (0.2 + 1.5 * np.exp(-days / 5)) * np.exp(0.4 * rng.standard_normal(shape))
        volume = np.round(oi * turnover).astype(np.int64)
        depth = 1 + rng.poisson(20 * np.exp(-z / 2), size=(2, *shape))
        return oi, volume, depth.astype(np.int64)


# ---------------------------------------------------------------- the SSVI surface


def ssvi_phi(theta: np.ndarray, eta: float) -> np.ndarray:
    """SSVI's power law φ(θ) = η / (θ^γ (1 + θ)^(1−γ)), γ = SSVI_GAMMA; θ is ATM total variance (decimal² · years)."""
    return eta / (theta**SSVI_GAMMA * (1 + theta) ** (1 - SSVI_GAMMA))


def ssvi_variance_ratio(k: np.ndarray, rho: float, phi: np.ndarray) -> np.ndarray:
    """w(k, θ) / θ = (σ(k) / σ_ATM)² of the SSVI smile at log-moneyness k = ln(K/F_T); 1 at k = 0."""
    return (1 + rho * phi * k + np.sqrt((phi * k + rho) ** 2 + 1 - rho**2)) / 2


# ---------------------------------------------------------------- helpers


def _within(bounds: tuple[float, float], u: float) -> float:
    """The point a share u ∈ [0, 1) of the way from bounds[0] to bounds[1]."""
    return bounds[0] + (bounds[1] - bounds[0]) * u



def _checked_broken(broken: dict[str, str], profiles: dict) -> dict[str, str]:
    if not isinstance(broken, dict):
        raise InputError(f"broken: expected a dict symbol → mode, got {broken!r}")
    checked = {}
    for symbol, mode in broken.items():
        key = as_symbol(symbol, "broken")
        if key not in profiles:
            raise InputError(f"broken: {key} is not in the universe")
        if mode not in BROKEN_MODES:
            raise InputError(f"broken: unknown mode {mode!r} for {key}; expected one of {BROKEN_MODES}")
        checked[key] = mode
    return checked


def _break(frame: pd.DataFrame, mode: str | None, rng: np.random.Generator) -> pd.DataFrame:
    """The chain with the defect of a broken mode applied (modes acting elsewhere leave it unchanged)."""
    if mode == "crossed":
        swap = (frame["bid"] > 0).to_numpy() & (rng.random(len(frame)) < 0.5)
        frame.loc[swap, ["bid", "ask"]] = frame.loc[swap, ["ask", "bid"]].to_numpy()
        frame.loc[swap, ["bid_qty", "ask_qty"]] = frame.loc[swap, ["ask_qty", "bid_qty"]].to_numpy()
    elif mode == "illiquid":
        frame[["bid", "bid_qty", "oi", "volume"]] = 0
    elif mode == "bad_lot":
        frame["lot_size"] = 0
    return frame


def _session_days(start: date, end: date) -> np.ndarray:
    """Regular trading days from start to end (datetime64[D]): the NSE calendar where covered, weekdays elsewhere;
    special sessions (Muhurat, Budget on a weekend) are not part of the synthetic history."""
    weekdays = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    weekdays = weekdays[np.is_busday(weekdays)]
    cover_start, cover_end = (np.datetime64(day, "D") for day in calendar.holiday_coverage())
    covered = (weekdays >= cover_start) & (weekdays <= cover_end)
    if covered.any():
        first, last = weekdays[covered][[0, -1]].tolist()
        trading = np.array([day for day in calendar.trading_days(first, last) if calendar.special_session(day) is None],
                           dtype="datetime64[D]")
        weekdays = weekdays[~covered | np.isin(weekdays, trading)]
    return weekdays


def _round_to(values: np.ndarray, step: float) -> np.ndarray:
    return np.round(np.round(values / step) * step, 2)
