"""The synthetic market: determinism, realism of histories and chains (checked against QuantLib), broken modes.

Also the bundled universe loader (optionsv4_lib.reference.universe), which the synthetic market is built on.
"""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import QuantLib as ql

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata.schema import CANDLES, OPTION_CHAIN
from optionsv4_lib.marketdata.source import MarketDataSource
from optionsv4_lib.marketdata.synthetic import (
    BROKEN_MODES,
    DEFAULT_BROKEN,
    INDEX_SSVI_ETA,
    INDEX_SSVI_RHO,
    MIN_HISTORY_DAYS,
    NIFTY_SSVI,
    STOCK_SSVI_ETA,
    STOCK_SSVI_RHO,
    TICK,
    VIX_BOUNDS,
    SyntheticMarket,
    ssvi_phi,
)
from optionsv4_lib.pricing.black_scholes import bs_price, implied_vol
from optionsv4_lib.reference import calendar as cal
from optionsv4_lib.reference.universe import UNIVERSE, index_ids, load_universe

TRADE_DATE = date(2026, 11, 23)  # a Monday; the Tuesday expiries of this week roll back to it (24th is a holiday)
HISTORY_FROM = date(2024, 1, 1)


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return SyntheticMarket(7, TRADE_DATE)


@pytest.fixture(scope="module")
def chains(market) -> dict[str, pd.DataFrame]:
    """Every expiry's chain of every normal (not broken) symbol, one frame per symbol."""
    return {symbol: pd.concat([market.option_chain(symbol, e) for e in market.expiries(symbol)], ignore_index=True)
            for symbol in market.universe["symbol"] if symbol not in market.broken}


def _nearest_monthly(market: SyntheticMarket, symbol: str) -> date:
    """The first monthly expiry at least a week away (the smile and OI tests want some time value)."""
    return next(e for e in market.expiries(symbol)
                if cal.is_monthly_expiry(symbol, e) and (e - market.trade_date).days >= 7)


def _years(market: SyntheticMarket, expiry) -> np.ndarray:
    return cal.years_to_expiry(market.as_of, np.asarray(expiry, dtype="datetime64[D]"))


# ---------------------------------------------------------------- protocol, determinism


def test_implements_the_source_protocol(market):
    assert isinstance(market, MarketDataSource)
    assert market.trade_date == TRADE_DATE and market.name == "synthetic(seed=7)"
    assert market.as_of.date() == TRADE_DATE and market.as_of.utcoffset() == timedelta(hours=5, minutes=30)


def test_same_seed_and_date_give_identical_frames(market):
    again = SyntheticMarket(7, TRADE_DATE)
    for symbol in [*market.universe["symbol"], "INDIA VIX"]:
        pd.testing.assert_frame_equal(market.candles(symbol, HISTORY_FROM, TRADE_DATE),
                                      again.candles(symbol, HISTORY_FROM, TRADE_DATE))
        assert market.spot(symbol) == again.spot(symbol)
        if symbol == "INDIA VIX":
            continue
        assert market.expiries(symbol) == again.expiries(symbol)
        for expiry in market.expiries(symbol):
            pd.testing.assert_frame_equal(market.option_chain(symbol, expiry), again.option_chain(symbol, expiry))


def test_a_different_seed_gives_different_data(market):
    other = SyntheticMarket(8, TRADE_DATE)
    assert market.spot("NIFTY") != other.spot("NIFTY")
    mine, theirs = (m.candles("INDIA VIX", HISTORY_FROM, TRADE_DATE)["close"].to_numpy() for m in (market, other))
    assert len(mine) == len(theirs) and np.mean(mine != theirs) > 0.9
    expiry = market.expiries("RELIANCE")[0]
    assert not market.option_chain("RELIANCE", expiry)["oi"].equals(other.option_chain("RELIANCE", expiry)["oi"])


def test_a_later_trade_date_extends_the_same_history(market):
    later = SyntheticMarket(7, date(2026, 12, 1))
    for symbol in ("NIFTY", "INDIA VIX", "DIXON"):
        pd.testing.assert_frame_equal(market.candles(symbol, HISTORY_FROM, TRADE_DATE),
                                      later.candles(symbol, HISTORY_FROM, TRADE_DATE - timedelta(days=1)))
        # the trade date's opening price (spot) is the open of that day's candle, seen the day after
        assert later.candles(symbol, TRADE_DATE, TRADE_DATE)["open"].item() == market.spot(symbol)


def test_every_frame_is_conformed(market):
    candles = market.candles("NIFTY", HISTORY_FROM, TRADE_DATE)
    pd.testing.assert_frame_equal(candles, conform(candles, CANDLES, "candles"))
    chain = market.option_chain("NIFTY", market.expiries("NIFTY")[0])
    pd.testing.assert_frame_equal(chain, conform(chain, OPTION_CHAIN, "chain"))
    assert not chain.drop(columns=["security_id"]).isna().any().any()  # iv is NaN only for expired contracts


# ---------------------------------------------------------------- histories


def test_histories_hold_the_complete_sessions_before_the_trade_date(market):
    for symbol in ("NIFTY", "INDIA VIX", "RELIANCE"):
        recent = market.candles(symbol, date(2026, 6, 1), TRADE_DATE)
        days = [stamp.date() for stamp in recent["date"]]
        assert len(days) >= MIN_HISTORY_DAYS
        assert days == cal.trading_days(date(2026, 6, 1), cal.previous_trading_day(TRADE_DATE))
        assert (recent["low"] <= recent[["open", "close"]].min(axis=1)).all()
        assert (recent["high"] >= recent[["open", "close"]].max(axis=1)).all()
        assert (recent["low"] > 0).all()
    assert (market.candles("NIFTY", HISTORY_FROM, TRADE_DATE)["volume"] == 0).all()
    assert (market.candles("RELIANCE", HISTORY_FROM, TRADE_DATE)["volume"] > 0).all()


def test_outside_the_holiday_calendar_sessions_fall_back_to_weekdays():
    market = SyntheticMarket(7, date(2027, 3, 2))
    days = pd.DatetimeIndex(market.candles("NIFTY", date(2026, 12, 20), date(2027, 3, 2))["date"])
    in_2027 = days[days.year == 2027]
    assert list(in_2027.date) == list(pd.bdate_range(date(2027, 1, 1), date(2027, 3, 1)).date)
    assert date(2026, 12, 25) not in set(days.date)  # Christmas 2026 is in the holiday file
    assert len(market.option_chain("TCS", market.expiries("TCS")[0])) > 0


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_vix_mean_reverts_within_bounds_and_moves_against_nifty(seed):
    market = SyntheticMarket(seed, TRADE_DATE)
    vix = market.candles("INDIA VIX", HISTORY_FROM, TRADE_DATE)["close"].to_numpy()
    nifty = market.candles("NIFTY", HISTORY_FROM, TRADE_DATE)["close"].to_numpy()
    assert VIX_BOUNDS[0] <= vix.min() and vix.max() <= VIX_BOUNDS[1]
    assert 11 < np.median(vix) < 17
    log_vix = np.log(vix)
    slope = np.polyfit(log_vix[:-1] - log_vix.mean(), np.diff(log_vix), 1)[0]
    assert -0.15 < slope < -0.01  # daily pull back towards the mean: an Ornstein–Uhlenbeck, not a random walk
    correlation = np.corrcoef(np.diff(np.log(nifty)), np.diff(log_vix))[0, 1]
    assert correlation < -0.4


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_nifty_has_trending_and_ranging_stretches(seed):
    closes = SyntheticMarket(seed, TRADE_DATE).candles("NIFTY", HISTORY_FROM, TRADE_DATE)["close"]
    twenty_day = np.log(closes).diff(20).dropna().abs()
    assert twenty_day.max() > 0.05 and twenty_day.min() < 0.01
    assert 0.6 < closes.iloc[-1] / 24400 < 1.5  # pulled towards the universe's approx price


# ---------------------------------------------------------------- expiries


def test_nifty_lists_weeklies_and_stocks_only_monthlies(market):
    nifty = market.expiries("NIFTY")
    assert nifty == sorted(nifty) and nifty[0] >= TRADE_DATE
    assert max(np.diff(nifty)) <= timedelta(days=8) and len(nifty) > 8
    assert nifty[0] == date(2026, 11, 23)  # Tuesday 24 Nov is a holiday: the expiry rolls back to Monday
    for symbol in ("BANKNIFTY", "RELIANCE", "M&M"):
        listed = market.expiries(symbol)
        assert len(listed) == SyntheticMarket.months_ahead
        assert all(cal.is_monthly_expiry(symbol, e) for e in listed)


# ---------------------------------------------------------------- chains


def test_quotes_are_on_the_tick_and_two_sided_quotes_are_not_crossed(chains):
    for symbol, chain in chains.items():
        for column in ("bid", "ask", "ltp"):
            ticks = chain[column].to_numpy() / TICK
            assert np.allclose(ticks, np.round(ticks), atol=1e-6), (symbol, column)
        assert ((chain["bid"] == 0) | (chain["bid"] >= TICK)).all()
        assert (chain["ask"] >= TICK).all()
        assert (chain["bid"] <= chain["ask"]).all(), symbol
        assert ((chain["bid"] <= chain["ltp"]) & (chain["ltp"] <= chain["ask"])).all(), symbol
        assert (chain.loc[chain["bid"] == 0, "bid_qty"] == 0).all()


def test_the_quote_brackets_the_quantlib_price_at_the_quoted_iv_and_greeks_agree(market, chains):
    rng = np.random.default_rng(0)
    for symbol in ("NIFTY", "BANKNIFTY", "RELIANCE", "NMDC" if "NMDC" in chains else "ONGC", "DIXON"):
        chain = chains[symbol]
        rows = chain.iloc[rng.choice(len(chain), size=40, replace=False)]
        q = market.dividend_yield(symbol)
        for row in rows.itertuples():
            T = _years(market, row.expiry.to_datetime64())
            forward, discount = row.underlying_price * np.exp((market.rate - q) * T), np.exp(-market.rate * T)
            payoff = ql.PlainVanillaPayoff(ql.Option.Call if row.option_type == "CE" else ql.Option.Put, row.strike)
            black = ql.BlackCalculator(payoff, forward, row.iv * np.sqrt(T), discount)
            assert row.bid - 1e-9 <= black.value() <= row.ask + 1e-9, (symbol, row)
            S = row.underlying_price
            assert row.delta == pytest.approx(black.delta(S), abs=1e-9)
            assert row.gamma == pytest.approx(black.gamma(S), rel=1e-7, abs=1e-12)
            assert row.vega == pytest.approx(black.vega(T) / 100, rel=1e-7, abs=1e-9)
            assert row.theta == pytest.approx(black.thetaPerDay(S, T), rel=1e-7, abs=1e-9)


def test_the_last_price_gives_back_the_quoted_iv(market, chains):
    for symbol, chain in chains.items():
        T = _years(market, chain["expiry"].to_numpy())
        iv_back = implied_vol(chain["ltp"].to_numpy(), chain["option_type"].to_numpy(), chain["underlying_price"],
                              chain["strike"].to_numpy(), T, market.rate, market.dividend_yield(symbol))
        sensitive = chain["vega"].to_numpy() * 100 > 5.0  # ₹ per unit of σ: the tick moves IV by < 0.5 pt
        rounding = (TICK / 2) / (chain["vega"].to_numpy() * 100)
        error = np.abs(iv_back - chain["iv"].to_numpy())
        assert sensitive.sum() > 20, symbol
        assert (error[sensitive] <= 1.5 * rounding[sensitive]).all(), symbol


def test_puts_are_skewed_and_the_smile_rises_towards_low_strikes(market, chains):
    for symbol, chain in chains.items():
        expiry = pd.Timestamp(_nearest_monthly(market, symbol))
        puts = chain[(chain["expiry"] == expiry) & (chain["option_type"] == "PE")]
        spot = market.spot(symbol)
        below = puts[(puts["strike"] >= 0.9 * spot) & (puts["strike"] <= spot)]
        assert len(below) >= 3, symbol
        assert (np.diff(below["iv"].to_numpy()) < 0).all(), symbol  # IV falls as the strike rises to the money
        low = puts.iloc[(puts["strike"] - 0.95 * spot).abs().argmin()]
        high = chain.iloc[((chain["strike"] - 1.05 * spot).abs() + (chain["expiry"] != expiry) * 1e9).argmin()]
        assert low["iv"] > high["iv"], symbol  # 5 % below the money is dearer than 5 % above


# ---------------------------------------------------------------- no static arbitrage

MAX_IV_OVER_ATM = 3.5  # no listed strike's IV exceeds this multiple of its expiry's ATM IV (SSVI wings grow as √|k|)
NEAR_IV_OVER_ATM = 2.0  # nor, within NEAR_MOVES standard moves of the forward, this multiple
NEAR_MOVES = 3.0  # standard moves ATM IV · √max(T, 7 days)


def _expiry_slices(market: SyntheticMarket, symbol: str):
    """(T in years, forward ₹, calls, puts) of each live expiry, in expiry order; rows sorted by strike."""
    q = market.dividend_yield(symbol)
    for expiry in market.expiries(symbol):
        T = float(_years(market, expiry))
        if T <= 0:
            continue
        chain = market.option_chain(symbol, expiry).sort_values("strike")
        forward = market.spot(symbol) * np.exp((market.rate - q) * T)
        yield T, forward, chain[chain["option_type"] == "CE"], chain[chain["option_type"] == "PE"]


def _model(market: SyntheticMarket, symbol: str, rows: pd.DataFrame, T: float) -> np.ndarray:
    """Model prices in ₹: Black–Scholes–Merton at the chain's (model) IV."""
    return bs_price(rows["option_type"].to_numpy(), rows["underlying_price"].to_numpy(), rows["strike"].to_numpy(),
                    T, market.rate, rows["iv"].to_numpy(), market.dividend_yield(symbol))


@pytest.mark.parametrize("trade_date", [date(2025, 3, 3), TRADE_DATE])
@pytest.mark.parametrize("seed", [1, 7, 42])
def test_every_chain_is_free_of_static_arbitrage(seed, trade_date):
    """The whole universe: prices monotone and convex in strike, put–call parity, total variance rising with
    the expiry at fixed log-moneyness, quotes around the model price, no runaway wings."""
    market = SyntheticMarket(seed, trade_date, broken={})
    for symbol in market.universe["symbol"]:
        S, q = market.spot(symbol), market.dividend_yield(symbol)
        previous = None  # (k, w) of the previous expiry
        for T, forward, calls, puts in _expiry_slices(market, symbol):
            K = calls["strike"].to_numpy()
            assert np.array_equal(K, puts["strike"].to_numpy()) and (np.diff(K) > 0).all()
            call, put = _model(market, symbol, calls, T), _model(market, symbol, puts, T)
            tol = 1e-9 * S
            assert (np.diff(call) <= tol).all() and (np.diff(put) >= -tol).all(), (symbol, T)  # monotone
            for price in (call, put):  # convex: slopes rise with the strike
                assert (np.diff(np.diff(price) / np.diff(K)) >= -tol / np.diff(K).max()).all(), (symbol, T)
            assert call - put == pytest.approx(S * np.exp(-q * T) - K * np.exp(-market.rate * T), abs=tol)
            assert np.array_equal(calls["iv"].to_numpy(), puts["iv"].to_numpy()), (symbol, T)

            for rows, price in ((calls, call), (puts, put)):
                bid, ask = rows["bid"].to_numpy(), rows["ask"].to_numpy()
                assert (bid <= price + 1e-9).all() and (price <= ask + 1e-9).all(), (symbol, T)
                two_sided = bid >= TICK
                assert (np.abs((bid + ask)[two_sided] / 2 - price[two_sided]) <= TICK / 2 + 1e-9).all(), (symbol, T)

            k, iv = np.log(K / forward), calls["iv"].to_numpy()
            w = iv**2 * T
            atm = np.interp(0.0, k, iv)
            near = np.abs(k) <= NEAR_MOVES * atm * np.sqrt(max(T, 7 / 365))
            assert iv.max() <= MAX_IV_OVER_ATM * atm, (symbol, T, iv.max() / atm)
            assert iv[near].max() <= NEAR_IV_OVER_ATM * atm, (symbol, T, iv[near].max() / atm)
            if previous is not None:  # calendar: at the same k, the later expiry holds more total variance
                near_k, near_w = previous
                inside = (k >= near_k[0]) & (k <= near_k[-1])
                assert (w[inside] >= np.interp(k[inside], near_k, near_w)).all(), (symbol, T)
            previous = k, w


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_nifty_puts_are_dearer_than_the_money_and_calls_cheaper(seed):
    """Index skew: IV of the 25-delta put > ATM IV > IV of the 25-delta call, a few vol points apart."""
    market = SyntheticMarket(seed, TRADE_DATE)
    for T, forward, calls, puts in _expiry_slices(market, "NIFTY"):
        if T < 7 / 365:
            continue
        atm = np.interp(0.0, np.log(calls["strike"].to_numpy() / forward), calls["iv"].to_numpy())
        put25 = np.interp(0.25, -puts["delta"].to_numpy(), puts["iv"].to_numpy())  # −delta rises with K
        call25 = np.interp(-0.25, -calls["delta"].to_numpy(), calls["iv"].to_numpy())
        assert put25 > atm > call25, (T, put25, atm, call25)
        assert 1.05 < put25 / atm < 1.4 and 0.75 < call25 / atm < 0.98, (T, put25, atm, call25)


def test_the_smile_parameters_meet_the_no_arbitrage_conditions():
    """Gatheral–Jacquier's sufficient conditions for every (ρ, η) the profiles can draw and any θ > 0:
    θφ(1+|ρ|) < 4 and θφ²(1+|ρ|) ≤ 4 (no butterfly); 0 ≤ ∂θ(θφ) ≤ (1 + √(1−ρ²))/ρ² · φ (no calendar)."""
    theta = np.geomspace(1e-7, 10, 2001)
    corners = [NIFTY_SSVI, *((rho, eta) for rho in INDEX_SSVI_RHO for eta in INDEX_SSVI_ETA),
               *((rho, eta) for rho in STOCK_SSVI_RHO for eta in STOCK_SSVI_ETA)]
    for rho, eta in corners:
        phi = ssvi_phi(theta, eta)
        assert (theta * phi * (1 + abs(rho)) < 4).all() and (theta * phi**2 * (1 + abs(rho)) <= 4).all()
        slope = np.diff(theta * phi) / np.diff(theta)
        assert (slope >= 0).all() and (slope <= (1 + np.sqrt(1 - rho**2)) / rho**2 * phi[1:]).all()


def _atm_iv(chain: pd.DataFrame, expiry, spot: float) -> float:
    rows = chain[chain["expiry"] == pd.Timestamp(expiry)]
    return float(rows.iloc[(rows["strike"] - spot).abs().argmin()]["iv"])


def test_index_iv_follows_vix_and_stock_iv_sits_in_its_band(market, chains):
    vix = market.spot("INDIA VIX")
    month = _nearest_monthly(market, "NIFTY")
    assert _atm_iv(chains["NIFTY"], month, market.spot("NIFTY")) == pytest.approx(vix / 100, rel=0.15)
    stock_ivs = [_atm_iv(chain, _nearest_monthly(market, s), market.spot(s)) for s, chain in chains.items()
                 if s not in ("NIFTY", "BANKNIFTY", "FINNIFTY")]
    assert min(stock_ivs) > 0.15 and max(stock_ivs) < 0.55 and np.std(stock_ivs) > 0.04
    assert np.median(stock_ivs) > vix / 100


def test_term_structure_slopes_up_at_low_vix_and_inverts_at_high_vix(market):
    def near_and_far(m: SyntheticMarket) -> tuple[float, float]:
        listed = m.expiries("NIFTY")
        chains = {e: m.option_chain("NIFTY", e) for e in (listed[2], listed[-1])}
        return tuple(_atm_iv(chain, e, m.spot("NIFTY")) for e, chain in chains.items())

    assert market.spot("INDIA VIX") < 16
    near, far = near_and_far(market)
    assert far > near
    vix = market.candles("INDIA VIX", HISTORY_FROM, TRADE_DATE)
    high_day = vix[vix["date"] >= pd.Timestamp(2025, 6, 1)].sort_values("close").iloc[-1]["date"].date()
    stressed = SyntheticMarket(7, cal.next_trading_day(high_day))
    assert stressed.spot("INDIA VIX") > 20, "this seed's history should hold a VIX spike after June 2025"
    near, far = near_and_far(stressed)
    assert far < near


def test_open_interest_peaks_near_the_money_and_deep_otm_quotes_thin_out(market, chains):
    no_bid_deep_otm = 0
    for symbol, chain in chains.items():
        expiry = _nearest_monthly(market, symbol)
        rows = chain[chain["expiry"] == pd.Timestamp(expiry)]
        spot, T = market.spot(symbol), _years(market, expiry)
        one_move = _atm_iv(chain, expiry, spot) * np.sqrt(T)
        by_strike = rows.groupby("strike")["oi"].sum()
        moves = np.abs(np.log(by_strike.index.to_numpy() / spot)) / one_move
        assert moves[by_strike.to_numpy().argmax()] <= 1.0, symbol
        if (moves > 2.5).any():
            assert by_strike[moves < 0.5].mean() > 5 * by_strike[moves > 2.5].mean(), symbol
        otm = np.where(chain["option_type"] == "CE", chain["strike"] > spot * 1.1, chain["strike"] < spot * 0.9)
        no_bid_deep_otm += int((chain["bid"][otm] == 0).sum())
        for column in ("oi", "volume", "bid_qty", "ask_qty"):  # whole lots of each contract
            assert (chain[column] % chain["lot_size"] == 0).all(), (symbol, column)
    assert no_bid_deep_otm > 50


def test_spreads_widen_away_from_the_money(market, chains):
    near, far = [], []
    for symbol, chain in chains.items():
        expiry = _nearest_monthly(market, symbol)
        rows = chain[(chain["expiry"] == pd.Timestamp(expiry)) & (chain["bid"] > 0)]
        spot = market.spot(symbol)
        one_move = _atm_iv(chain, expiry, spot) * np.sqrt(_years(market, expiry))
        moves = np.abs(np.log(rows["strike"] / spot)) / one_move
        relative = (rows["ask"] - rows["bid"]) / ((rows["ask"] + rows["bid"]) / 2)
        near.append(relative[moves < 0.3].median())
        far.append(relative[(moves > 1.5) & (moves < 2.5)].median())
    assert np.nanmedian(far) > 2 * np.nanmedian(near)


# ---------------------------------------------------------------- broken symbols


def test_default_broken_symbols_and_turning_them_off(market):
    assert market.broken == DEFAULT_BROKEN and 2 <= len(DEFAULT_BROKEN) <= 3
    healthy = SyntheticMarket(7, TRADE_DATE, broken={})
    for symbol in DEFAULT_BROKEN:
        chain = healthy.option_chain(symbol, healthy.expiries(symbol)[0])
        assert len(chain) > 0 and (chain["bid"] <= chain["ask"]).all() and chain["oi"].sum() > 0


@pytest.mark.parametrize("mode", BROKEN_MODES)
def test_each_broken_mode_shows_its_defect(mode):
    market = SyntheticMarket(7, TRADE_DATE, broken={"RELIANCE": mode})
    expiries = market.expiries("RELIANCE")
    chain = pd.concat([market.option_chain("RELIANCE", e) for e in expiries], ignore_index=True)
    if mode == "empty":
        assert chain.empty and list(chain.columns) == [c.name for c in OPTION_CHAIN]
    elif mode == "crossed":
        assert (chain["bid"] > chain["ask"]).mean() > 0.3
    elif mode == "illiquid":
        assert (chain[["bid", "bid_qty", "oi", "volume"]] == 0).all().all() and (chain["ask"] > 0).all()
    elif mode == "stale_expiry":
        assert expiries[0] < TRADE_DATE and expiries[1:] == SyntheticMarket(7, TRADE_DATE).expiries("RELIANCE")
        stale = market.option_chain("RELIANCE", expiries[0])
        assert len(stale) > 0 and stale["iv"].isna().all() and (stale["oi"] == 0).all()
    else:  # bad_lot
        assert len(chain) > 0 and (chain["lot_size"] == 0).all()
    if mode != "empty":
        assert len(chain) > 0
    other = market.option_chain("TCS", market.expiries("TCS")[0])  # the rest of the market stays healthy
    assert len(other) > 0 and (other["bid"] <= other["ask"]).all() and other["oi"].sum() > 0


def test_lots_belong_to_contracts_on_24_jan_2025():
    """NSE's bhavcopy of 24-Jan-2025: NIFTY's 30-Jan-2025 contract traded in lots of 25, the February weeklies
    in 75; BANKNIFTY's Jan-2025 monthly in 15, its February monthly in 30."""
    market = SyntheticMarket(7, date(2025, 1, 24))
    nifty = market.expiries("NIFTY")
    assert nifty[:5] == [date(2025, 1, 30), date(2025, 2, 6), date(2025, 2, 13), date(2025, 2, 20), date(2025, 2, 27)]
    lots = {e: set(market.option_chain("NIFTY", e)["lot_size"]) for e in nifty}
    assert lots[date(2025, 1, 30)] == {25} and all(lots[e] == {75} for e in nifty[1:])
    banknifty = {e: set(market.option_chain("BANKNIFTY", e)["lot_size"]) for e in market.expiries("BANKNIFTY")[:2]}
    assert list(banknifty.values()) == [{15}, {30}]
    near = market.option_chain("NIFTY", nifty[0])
    assert (near["oi"] % 25 == 0).all() and (near["oi"] % 75 != 0).any()


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"seed": -1}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"trade_date": date(2026, 11, 21)}, "trade_date"),  # a Saturday
    ({"trade_date": date(2026, 11, 24)}, "trade_date"),  # Guru Nanak Jayanti
    ({"trade_date": date(2024, 3, 1)}, "trade_date"),  # too little history
    ({"trade_date": "not a date"}, "trade_date"),
    ({"broken": {"RELIANCE": "on fire"}}, "broken"),
    ({"broken": {"NOSUCH": "empty"}}, "broken"),
])
def test_bad_construction_raises_input_error_naming_the_field(kwargs, field):
    with pytest.raises(InputError, match=field):
        SyntheticMarket(**{"seed": 7, "trade_date": TRADE_DATE, **kwargs})


def test_unknown_symbols_and_unlisted_expiries_raise_data_error(market):
    with pytest.raises(DataError, match="NOSUCH"):
        market.candles("NOSUCH", HISTORY_FROM, TRADE_DATE)
    with pytest.raises(DataError, match="INDIA VIX"):
        market.expiries("INDIA VIX")
    with pytest.raises(DataError, match="2026-11-25"):
        market.option_chain("NIFTY", date(2026, 11, 25))
    with pytest.raises(InputError, match="start"):
        market.candles("NIFTY", TRADE_DATE, HISTORY_FROM)
    assert market.candles("nifty", TRADE_DATE, TRADE_DATE).empty  # the trade date's session is not complete


# ---------------------------------------------------------------- the bundled universe


def test_the_bundled_universe_is_conformed_and_unique():
    universe = load_universe()
    assert len(universe) == 59 and universe["symbol"].is_unique
    pd.testing.assert_frame_equal(universe, conform(universe, UNIVERSE, "universe"))
    assert universe.set_index("symbol").at["NIFTY", "lot_size"] == 65
    universe.loc[0, "lot_size"] = 1  # callers get a copy, not the cache
    assert load_universe().at[0, "lot_size"] == 65
    assert "INDIA VIX" in set(index_ids()["index_name"])


@pytest.mark.parametrize(("edit", "message"), [
    (lambda lines: [*lines[:4], lines[4].replace(",500,", ",,"), *lines[5:]],
     r"missing lot_size at line 5 \(RELIANCE\)"),
    (lambda lines: lines + [lines[4]], r"duplicate symbol at line 5 \(RELIANCE\), line 61 \(RELIANCE\)"),
])
def test_a_bad_universe_file_names_the_file_and_line(tmp_path, edit, message):
    lines = (cal.DATA_DIR / "universe.csv").read_text().splitlines()
    path = tmp_path / "universe.csv"
    path.write_text("\n".join(edit(lines)) + "\n")
    with pytest.raises(DataError, match=message) as error:
        load_universe(path)
    assert str(path) in str(error.value)


def test_a_special_session_or_a_forced_day_is_quoted_after_the_regular_history():
    budget = SyntheticMarket(7, date(2025, 2, 1))  # Saturday Budget session, 09:15 open
    friday = SyntheticMarket(7, date(2025, 1, 31))
    assert budget.as_of.isoformat() == "2025-02-01T09:15:00+05:30"
    assert list(budget._days[:-1]) == list(friday._days) and budget._days[-1] == np.datetime64("2025-02-01")
    forced = SyntheticMarket(7, date(2025, 1, 25), forced=True)  # a plain Saturday, analysed with --force
    assert forced._days[-1] == np.datetime64("2025-01-25") and forced._days[-2] == np.datetime64("2025-01-24")
