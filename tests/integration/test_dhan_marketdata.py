"""DhanMarketData over real HTTP to the emulator: expiries, chains, candles and spot parsed into the canonical
schemas equal the SyntheticMarket frames the emulator served; a documented answer parsed by hand; the requests
sent; errors and the access token at the source level."""

import logging
from datetime import date

import numpy as np
import pandas as pd
import pytest
from dhan_emulator import DhanEmulator  # noqa: E402

from optionsv4_lib.adapters.dhan.client import RATE_LIMITS
from optionsv4_lib.adapters.dhan.market_data import DhanMarketData, parse_candles
from optionsv4_lib.adapters.pacing import Rate, RetryPolicy
from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import AuthError, DataError, InputError, RateLimited
from optionsv4_lib.marketdata.schema import CANDLES, OPTION_CHAIN
from optionsv4_lib.marketdata.source import MarketDataSource
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.universe import load_universe

TRADE_DATE = date(2026, 11, 23)
TOKEN = "eyJ-market-SECRET-91c2"
NO_LIMITS = {category: Rate(1000, 0.0) for category in RATE_LIMITS}
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)
SYMBOLS = ("NIFTY", "BANKNIFTY", "RELIANCE", "TCS")

# Reference §8 (a): a constructed 3-strike answer in the documented shape, parsed by hand below.
DOCUMENTED_CHAIN = {"data": {"last_price": 23512.4, "oc": {
    "23450.000000": {
        "ce": {"average_price": 151.2, "greeks": {"delta": 0.58, "theta": -16.9, "gamma": 0.0011, "vega": 11.4},
               "implied_volatility": 13.8, "last_price": 148.5, "oi": 3120000, "previous_close_price": 171.0,
               "previous_oi": 2890000, "previous_volume": 410000, "security_id": 40101, "top_ask_price": 148.9,
               "top_ask_quantity": 750, "top_bid_price": 148.4, "top_bid_quantity": 1125, "volume": 52430000},
        "pe": {"average_price": 89.7, "greeks": {"delta": -0.42, "theta": -13.2, "gamma": 0.0011, "vega": 11.4},
               "implied_volatility": 14.6, "last_price": 86.1, "oi": 4010000, "previous_close_price": 78.3,
               "previous_oi": 3650000, "previous_volume": 520000, "security_id": 40102, "top_ask_price": 86.3,
               "top_ask_quantity": 675, "top_bid_price": 86.0, "top_bid_quantity": 900, "volume": 61200000}},
    "23500.000000": {  # an older answer's side: no average_price, no security_id; and no put at all
        "ce": {"greeks": {"delta": 0.52, "theta": -17.4, "gamma": 0.0012, "vega": 11.6},
               "implied_volatility": 13.5, "last_price": 118.2, "oi": 5230000, "previous_close_price": 139.6,
               "previous_oi": 4800000, "previous_volume": 690000, "top_ask_price": 118.4,
               "top_ask_quantity": 1500, "top_bid_price": 118.0, "top_bid_quantity": 825, "volume": 98000000}},
    "23400.000000": {  # an illiquid strike: every field 0
        "pe": {"greeks": {"delta": 0, "theta": 0, "gamma": 0, "vega": 0}, "implied_volatility": 0, "last_price": 0,
               "oi": 0, "previous_close_price": 0, "previous_oi": 0, "previous_volume": 0, "security_id": 40099,
               "top_ask_price": 0, "top_ask_quantity": 0, "top_bid_price": 0, "top_bid_quantity": 0, "volume": 0}},
}}, "status": "success"}


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket(42, TRADE_DATE)


@pytest.fixture
def emulator(market):
    with DhanEmulator(market, access_token=TOKEN) as running:
        yield running


@pytest.fixture
def source(emulator):
    return make_source(emulator)


def make_source(emulator, **options) -> DhanMarketData:
    options = {"rate_limits": NO_LIMITS, "retry": FAST_RETRY, "timeout": 2.0} | options
    return DhanMarketData(emulator.client_id, TOKEN, trade_date=TRADE_DATE, base_url=emulator.url, **options)


def bodies(emulator, endpoint: str) -> list:
    return [request.body for request in emulator.requests if request.endpoint == endpoint]


def assert_same_frame(parsed: pd.DataFrame, served: pd.DataFrame, rtol: float = 1e-12) -> None:
    """Equal columns, dtypes and values; floats within rounding (IV went through percent and back)."""
    pd.testing.assert_frame_equal(parsed, served, check_exact=False, rtol=rtol, atol=rtol)


# ---------------------------------------------------------------- the protocol and parsing


def test_is_a_market_data_source_named_dhan(source):
    assert isinstance(source, MarketDataSource)
    assert source.name == "dhan" and source.trade_date == TRADE_DATE


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_expiries_are_the_listed_ones(source, market, symbol):
    assert source.expiries(symbol) == market.expiries(symbol)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_chains_equal_the_served_synthetic_frames(source, market, emulator, symbol):
    for expiry in market.expiries(symbol)[:2]:
        parsed = source.option_chain(symbol, expiry)
        served = market.option_chain(symbol, expiry)
        assert list(parsed.columns) == [col.name for col in OPTION_CHAIN]
        # Dhan's answer carries no quote time; read on another day than the trade date the chain keeps none
        assert parsed["quoted_at"].isna().all()
        assert_same_frame(parsed.drop(columns=["security_id", "quoted_at"]),
                          served.drop(columns=["security_id", "quoted_at"]))
        expected_ids = [emulator.security_id(symbol, expiry, row.strike, row.option_type)
                        for row in parsed.itertuples()]
        assert parsed["security_id"].tolist() == expected_ids


def test_chain_lots_come_from_the_instrument_master_else_the_lot_table(emulator, market):
    """Dhan's chain has no lot: the stored instrument master's lot of that expiry wins; without one, the table's."""
    near, later = market.expiries("NIFTY")[:2]
    stored = {("NIFTY", near): 70}
    source = make_source(emulator, lots=lambda symbol, expiry: stored.get((symbol, expiry)))
    assert set(source.option_chain("NIFTY", near)["lot_size"]) == {70}
    assert set(source.option_chain("NIFTY", later)["lot_size"]) == {65}  # include/data/lot_sizes.csv


def test_chain_requests_carry_the_documented_fields(source, emulator, market):
    source.option_chain("NIFTY", market.expiries("NIFTY")[1])
    source.option_chain("RELIANCE", market.expiries("RELIANCE")[0])
    sent = [{k: v for k, v in body.items() if k != "dhanClientId"} for body in bodies(emulator, "optionchain")]
    assert sent == [
        {"UnderlyingScrip": 13, "UnderlyingSeg": "IDX_I", "Expiry": market.expiries("NIFTY")[1].isoformat()},
        {"UnderlyingScrip": 2885, "UnderlyingSeg": "NSE_FNO", "Expiry": market.expiries("RELIANCE")[0].isoformat()},
    ]


def test_a_documented_answer_parsed_by_hand(source, emulator):
    emulator.respond_next("optionchain", body=DOCUMENTED_CHAIN)
    expiry = source.expiries("NIFTY")[1]
    chain = source.option_chain("NIFTY", expiry)
    assert chain[["strike", "option_type"]].values.tolist() == [
        [23400.0, "PE"], [23450.0, "CE"], [23450.0, "PE"], [23500.0, "CE"]]
    call = chain.iloc[1]
    assert (call["bid"], call["ask"], call["ltp"], call["bid_qty"], call["ask_qty"]) == (148.4, 148.9, 148.5, 1125, 750)
    assert call["iv"] == pytest.approx(0.138, abs=1e-15)  # 13.8 % → decimal
    assert (call["delta"], call["gamma"], call["theta"], call["vega"]) == (0.58, 0.0011, -16.9, 11.4)
    assert (call["oi"], call["volume"], call["security_id"]) == (3120000, 52430000, 40101)
    assert (chain["underlying_price"] == 23512.4).all() and (chain["expiry"] == pd.Timestamp(expiry)).all()
    assert chain["security_id"].isna().tolist() == [False, False, False, True]  # missing before API v2.5
    assert np.isnan(chain.iloc[0]["iv"])  # 0 (illiquid) → unknown, not 0 %
    assert chain.iloc[0]["bid"] == 0.0 and chain.iloc[0]["oi"] == 0


def test_legacy_answers_without_security_ids(market):
    with DhanEmulator(market, access_token=TOKEN, legacy_chain=True) as legacy:
        expiry = market.expiries("NIFTY")[0]
        parsed = make_source(legacy).option_chain("NIFTY", expiry)
    assert parsed["security_id"].isna().all() and str(parsed["security_id"].dtype) == "Int64"
    assert_same_frame(parsed.drop(columns="quoted_at"), market.option_chain("NIFTY", expiry).drop(columns="quoted_at"))


@pytest.mark.parametrize(("field", "value"), [("top_bid_price", None), ("implied_volatility", "n/a"),
                                               ("oi", float("inf"))])
def test_a_bad_field_is_a_data_error_naming_it(source, emulator, field, value):
    chain = {"data": {"last_price": 23512.4, "oc": {"23450.000000": {"ce": dict(
        DOCUMENTED_CHAIN["data"]["oc"]["23450.000000"]["ce"])}}}, "status": "success"}
    chain["data"]["oc"]["23450.000000"]["ce"][field] = value
    emulator.respond_next("optionchain", body=chain)  # json.dumps writes inf as Infinity, which dhanhq reads back
    with pytest.raises(DataError, match=f"23450.000000 ce: {field}"):
        source.option_chain("NIFTY", source.expiries("NIFTY")[0])


def test_a_chain_without_underlying_price_is_a_data_error(source, emulator):
    emulator.respond_next("optionchain", body={"data": {"last_price": 0, "oc": {}}, "status": "success"})
    with pytest.raises(DataError, match="last_price 0.0 is not positive"):
        source.option_chain("NIFTY", source.expiries("NIFTY")[0])


@pytest.mark.parametrize("symbol", ["NIFTY", "INDIA VIX", "RELIANCE"])
def test_candles_equal_the_served_synthetic_frames(source, market, symbol):
    start, end = date(2025, 6, 2), date(2026, 11, 13)
    parsed = source.candles(symbol, start, end)
    assert list(parsed.columns) == [col.name for col in CANDLES]
    assert_same_frame(parsed, market.candles(symbol, start, end))


def test_candle_requests_ask_one_day_past_the_end_because_to_date_is_exclusive(source, emulator):
    source.candles("NIFTY", date(2026, 11, 2), date(2026, 11, 13))
    source.candles("INDIA VIX", date(2026, 11, 2), date(2026, 11, 13))
    source.candles("RELIANCE", date(2026, 11, 2), TRADE_DATE + pd.Timedelta(days=30))  # clipped to the trade date
    sent = [{k: v for k, v in body.items() if k in ("securityId", "exchangeSegment", "instrument", "fromDate",
                                                    "toDate")} for body in bodies(emulator, "historical")]
    assert sent == [
        {"securityId": "13", "exchangeSegment": "IDX_I", "instrument": "INDEX", "fromDate": "2026-11-02",
         "toDate": "2026-11-14"},
        {"securityId": "21", "exchangeSegment": "IDX_I", "instrument": "INDEX", "fromDate": "2026-11-02",
         "toDate": "2026-11-14"},
        {"securityId": "2885", "exchangeSegment": "NSE_EQ", "instrument": "EQUITY", "fromDate": "2026-11-02",
         "toDate": "2026-11-23"},
    ]


def test_candles_are_only_complete_sessions_before_the_trade_date(source, emulator, market):
    frame = source.candles("NIFTY", date(2026, 11, 16), TRADE_DATE)
    assert frame["date"].max() < pd.Timestamp(TRADE_DATE)
    assert source.candles("NIFTY", TRADE_DATE, TRADE_DATE).empty
    assert len(bodies(emulator, "historical")) == 1  # nothing to ask for on or after the trade date


def test_candle_timestamps_are_read_as_ist_midnights():
    # reference §8 (b): 1737311400 = 2025-01-20 00:00 IST (= 2025-01-19 18:30 UTC); float notation accepted
    columns = {"open": [23290.4, 23421.65, 23099.15], "high": [23391.1, 23426.3, 23169.55],
               "low": [23170.65, 22976.85, 22981.3], "close": [23344.75, 23024.65, 23155.35], "volume": [0, 0, 0],
               "timestamp": [1737311400, 1.7373978E9, 1737484200]}
    frame = parse_candles(columns, "NIFTY")
    assert frame["date"].dt.date.tolist() == [date(2025, 1, 20), date(2025, 1, 21), date(2025, 1, 22)]
    assert frame["close"].tolist() == [23344.75, 23024.65, 23155.35]


def test_ragged_candle_arrays_are_a_data_error(source, emulator):
    emulator.respond_next("historical", body={"open": [1.0, 2.0], "high": [1.0], "low": [1.0], "close": [1.0],
                                              "volume": [0], "timestamp": [1737311400]})
    with pytest.raises(DataError, match="different lengths"):
        source.candles("NIFTY", date(2026, 11, 2), date(2026, 11, 13))


@pytest.mark.parametrize("symbol", ["NIFTY", "INDIA VIX", "RELIANCE", "BANKNIFTY"])
def test_spot_is_the_last_price(source, market, emulator, symbol):
    assert source.spot(symbol) == market.spot(symbol)
    body = bodies(emulator, "ltp")[-1]
    assert set(body) - {"dhanClientId"} in ({"IDX_I"}, {"NSE_EQ"})


def test_the_analysis_on_the_dhan_source_equals_the_analysis_on_the_market_it_served():
    universe = load_universe()
    universe = universe[universe["symbol"].isin(["NIFTY", "RELIANCE", "TCS", "HDFCBANK"])].reset_index(drop=True)
    market = SyntheticMarket(42, TRADE_DATE, universe=universe)

    def run(source):
        return analyze_portfolio(source, universe=universe, allocations=load_allocations(), settings=Settings())

    direct = run(market)
    with DhanEmulator(market, access_token=TOKEN) as emulator:
        via_dhan = run(make_source(emulator, universe=universe))
        contracts = [emulator.contract(int(i)) for i in via_dhan.legs["security_id"]]
    assert len(direct.strategies) > 0
    for frame in ("symbols", "strategies"):
        assert_same_frame(getattr(via_dhan, frame), getattr(direct, frame), rtol=1e-9)
    assert_same_frame(via_dhan.legs.drop(columns="security_id"), direct.legs.drop(columns="security_id"), rtol=1e-9)
    # the legs now carry the contracts' security ids, which the executor needs
    legs = via_dhan.legs
    assert [(c.expiry, c.strike, c.option_type) for c in contracts] == list(
        zip(legs["expiry"].dt.date, legs["strike"], legs["instrument"], strict=True))


def test_an_auth_failure_mid_run_stops_the_analysis_instead_of_failing_each_symbol(emulator, market):
    universe = load_universe()
    universe = universe[universe["symbol"].isin(["RELIANCE", "TCS"])].reset_index(drop=True)
    source = make_source(emulator)
    source.expiries("NIFTY")  # the market context's expiry list is cached; the next one asked for is RELIANCE's
    emulator.fail_next("expirylist", status=401, error_code="DH-901")
    with pytest.raises(AuthError, match="DH-901"):
        analyze_portfolio(source, universe=universe, allocations=load_allocations(), settings=Settings())


# ---------------------------------------------------------------- bad requests and errors


def test_an_unlisted_expiry_is_a_data_error_without_asking_for_a_chain(source, emulator):
    with pytest.raises(DataError, match="no listed expiry 2026-11-24"):
        source.option_chain("NIFTY", date(2026, 11, 24))
    assert bodies(emulator, "optionchain") == []


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda s: s.expiries("INDIA VIX"), DataError, "no options"),
    (lambda s: s.option_chain("NOSUCH", date(2026, 12, 1)), DataError, "not in the universe"),
    (lambda s: s.candles("NOSUCH", date(2026, 11, 2), date(2026, 11, 13)), DataError, "not in the universe"),
    (lambda s: s.candles("NIFTY", date(2026, 11, 13), date(2026, 11, 2)), InputError, "^start:"),
    (lambda s: s.candles("NIFTY", "yesterday", date(2026, 11, 2)), InputError, "^start:"),
    (lambda s: s.option_chain("NIFTY", None), InputError, "^expiry:"),
    (lambda s: s.spot(""), InputError, "^symbol:"),
])
def test_bad_requests_raise_before_any_http(source, emulator, call, error, match):
    with pytest.raises(error, match=match):
        call(source)
    assert emulator.requests == []


def test_an_expired_token_fails_fast(emulator):
    emulator.fail_next("expirylist", status=401, error_code=807, times=3)
    with pytest.raises(AuthError, match="807"):
        make_source(emulator).expiries("NIFTY")
    assert len(bodies(emulator, "expirylist")) == 1


def test_a_429_storm_on_chains_backs_off_then_succeeds(source, emulator, market):
    emulator.fail_next("optionchain", status=429, error_code="DH-904", times=2)
    expiry = market.expiries("NIFTY")[0]
    assert_same_frame(source.option_chain("NIFTY", expiry).drop(columns=["security_id", "quoted_at"]),
                      market.option_chain("NIFTY", expiry).drop(columns=["security_id", "quoted_at"]))
    emulator.fail_next("optionchain", status=429, error_code="DH-904", times=3)
    with pytest.raises(RateLimited):
        source.option_chain("NIFTY", expiry)


def test_data_api_not_subscribed_with_http_200_is_a_data_error(source, emulator):
    emulator.fail_next("ltp", status=200, error_code=806)
    with pytest.raises(DataError, match="806"):
        source.spot("NIFTY")


def test_a_missing_price_in_the_feed_is_a_data_error(source, emulator):
    emulator.respond_next("ltp", body={"data": {"IDX_I": {}}, "status": "success"})
    with pytest.raises(DataError, match="NIFTY: no last price"):
        source.spot("NIFTY")


def test_the_token_stays_out_of_logs_and_reprs(emulator, caplog):
    caplog.set_level(logging.DEBUG)
    source = make_source(emulator, timeout=0.3, retry=RetryPolicy(attempts=2, base_delay=0.01))
    source.option_chain("NIFTY", source.expiries("NIFTY")[0])
    emulator.fail_next("historical", status=401, error_code="DH-901")
    emulator.stall_next("ltp", seconds=5.0, times=3)
    messages = [repr(source)]
    for call in (lambda: source.candles("NIFTY", date(2026, 11, 2), date(2026, 11, 13)),
                 lambda: source.spot("NIFTY")):
        with pytest.raises(Exception) as caught:
            call()
        messages += [str(caught.value), repr(caught.value)]
    messages += [record.getMessage() for record in caplog.records]
    assert len(messages) > 5 and not [text for text in messages if TOKEN in text]


def test_from_settings(emulator, migrated_database):
    settings = Settings(dhan_client_id=emulator.client_id, dhan_access_token=TOKEN, dhan_base_url=emulator.url,
                        database_url=migrated_database)  # its api_pacing table paces the requests
    source = DhanMarketData.from_settings(settings, TRADE_DATE, rate_limits=NO_LIMITS)
    assert source.spot("NIFTY") > 0
    with pytest.raises(InputError, match="^dhan_client_id:"):
        DhanMarketData.from_settings(Settings(dhan_client_id=None, dhan_access_token=None), TRADE_DATE)
