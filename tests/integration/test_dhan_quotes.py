"""Whole-universe chains from Dhan's market-quote endpoint over real HTTP to the emulator (its limits enforced: one
quote request per second, 1,000 instruments): the scrip master imported into a real `instruments` table names the
contracts; the parsed chains equal the SyntheticMarket's prices; pairs the scrip master lacks fall back to the
option-chain endpoint; 429s are retried; requests never exceed 1,000 instruments; without a configured database the
embedded one serves the contracts and the shared pacing."""

import json
import math
import urllib.request
from datetime import date
from functools import partial

import numpy as np
import pandas as pd
import pytest
from dhan_emulator import QUOTE_LIMIT, DhanEmulator

from optionsv4_lib.adapters.dhan import client as client_module
from optionsv4_lib.adapters.dhan.client import QUOTE_BATCH, DhanClient
from optionsv4_lib.adapters.dhan.market_data import DhanMarketData, parse_quotes
from optionsv4_lib.adapters.pacing import Rate, RetryPolicy
from optionsv4_lib.analysis.analyze import choose_expiries
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.marketdata.schema import OPTION_CHAIN
from optionsv4_lib.marketdata.source import option_chains
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.store import EmbeddedPostgres, open_store
from optionsv4_lib.store.instruments import option_contracts, replace_instruments

TRADE_DATE = date(2026, 11, 23)
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)
UNPACED_DATA = {"data": Rate(1000, 0.0), "option_chain": Rate(1000, 0.0)}  # expiry lists and chains; quotes at 1/s
PRICES = ["strike", "option_type", "bid", "ask", "ltp", "bid_qty", "ask_qty", "oi", "volume", "underlying_price",
          "lot_size"]


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket(42, TRADE_DATE)


@pytest.fixture
def emulator(market):
    with DhanEmulator(market) as running:  # quotes: one request per second, as Dhan enforces it
        yield running


def make_source(emulator, conn, **options) -> DhanMarketData:
    options = {"contracts": partial(option_contracts, conn), "rate_limits": UNPACED_DATA, "retry": FAST_RETRY,
               "timeout": 5.0} | options
    return DhanMarketData(emulator.client_id, emulator.access_token, trade_date=TRADE_DATE, base_url=emulator.url,
                          **options)


def wanted_pairs(source, market) -> list[tuple[str, date]]:
    """Every symbol's near and far expiries as the analysis chooses them (the whole universe's data)."""
    candidates = Settings().candidates
    return [(symbol, expiry) for symbol in market.universe["symbol"]
            for expiry in choose_expiries(source.expiries(symbol), TRADE_DATE, candidates)]


def requests_to(emulator, endpoint: str) -> list:
    return [request for request in emulator.requests if request.endpoint == endpoint]


def test_whole_universe_chains_from_quotes_equal_the_market(emulator, market, db):
    replace_instruments(db, emulator.scrip_master(), "emulator")
    loads: list[list[str]] = []  # the symbols of each read of the scrip master
    source = make_source(emulator, db, contracts=lambda symbols: loads.append(symbols) or option_contracts(db, symbols))
    wanted = wanted_pairs(source, market)
    chains = option_chains(source, wanted)
    assert list(chains) == wanted
    assert loads == [sorted(market.universe["symbol"])]  # one database read for the whole universe
    contracts = 0
    for (symbol, expiry), chain in chains.items():
        served = market.option_chain(symbol, expiry)
        assert list(chain.columns) == [col.name for col in OPTION_CHAIN]
        pd.testing.assert_frame_equal(chain[PRICES], served[PRICES])
        ids = [emulator.security_id(symbol, expiry, row.strike, row.option_type) for row in chain.itertuples()]
        assert chain["security_id"].tolist() == ids
        assert chain[["iv", "delta", "gamma", "theta", "vega"]].isna().all().all()  # ours to imply
        assert chain["quoted_at"].isna().all()  # read on another day than the trade date: no quote time
        contracts += len(chain)
    quotes = requests_to(emulator, "quote")
    underlyings = market.universe["symbol"].nunique()
    assert len(quotes) == math.ceil((contracts + underlyings) / QUOTE_BATCH)  # no retry: no 429 at 1 request/s
    assert all(sum(len(ids) for key, ids in r.body.items() if key != "dhanClientId") <= QUOTE_LIMIT for r in quotes)
    assert np.diff([r.at for r in quotes]).min() >= 1.0
    # the scrip master lists no contracts where the market has none (IOC's chains are empty): those pairs, and only
    # those, are asked of the option-chain endpoint
    empty = [pair for pair in wanted if market.option_chain(*pair).empty]
    assert empty and len(requests_to(emulator, "optionchain")) == len(empty)
    # expiries are the fresh scrip master's; Dhan's expiry list is asked only for a symbol it holds no options of
    no_options = {symbol for symbol in market.universe["symbol"] if all(market.option_chain(symbol, e).empty
                                                                        for e in market.expiries(symbol))}
    assert len(requests_to(emulator, "expirylist")) == len(no_options) == 1


def test_expiries_come_from_a_fresh_scrip_master_else_from_dhans_expiry_list(emulator, market, db):
    replace_instruments(db, emulator.scrip_master(["NIFTY", "TCS"]), "emulator")
    with db.cursor() as cur:  # TCS's rows imported long before the trade date: its expiries are asked of Dhan
        cur.execute("UPDATE instruments SET loaded_at = '2026-11-01T09:00:00+05:30' WHERE underlying_symbol = 'TCS'")
    db.commit()
    source = make_source(emulator, db)
    assert source.expiries("NIFTY") == market.expiries("NIFTY") and requests_to(emulator, "expirylist") == []
    assert source.expiries("TCS") == market.expiries("TCS")
    assert [r.body["UnderlyingScrip"] for r in requests_to(emulator, "expirylist")] == [11536]


def test_a_pair_missing_from_the_scrip_master_comes_from_the_option_chain_endpoint(emulator, market, db):
    master = emulator.scrip_master(["NIFTY", "TCS"])
    near = market.expiries("TCS")[0]
    replace_instruments(db, master[~((master["underlying_symbol"] == "TCS") & (master["expiry_date"] == near))],
                        "emulator")
    source = make_source(emulator, db)
    pairs = [("NIFTY", market.expiries("NIFTY")[0]), ("TCS", near), ("TCS", market.expiries("TCS")[1])]
    chains = source.option_chains(pairs)
    for pair in pairs:
        pd.testing.assert_frame_equal(chains[pair][PRICES], market.option_chain(*pair)[PRICES])
    assert chains[("TCS", near)]["iv"].notna().any()  # the option-chain endpoint's answer: Dhan's IV kept
    assert [r.body["UnderlyingScrip"] for r in requests_to(emulator, "optionchain")] == [11536]  # TCS only
    assert len(requests_to(emulator, "quote")) == 1


def test_one_chain_reuses_the_batch_path(emulator, market, db):
    replace_instruments(db, emulator.scrip_master(["RELIANCE"]), "emulator")
    expiry = market.expiries("RELIANCE")[0]
    chain = make_source(emulator, db).option_chain("RELIANCE", expiry)
    pd.testing.assert_frame_equal(chain[PRICES], market.option_chain("RELIANCE", expiry)[PRICES])
    assert len(requests_to(emulator, "quote")) == 1 and requests_to(emulator, "optionchain") == []


def test_unknown_pairs_are_data_errors_that_cost_no_other_pair(emulator, market, db):
    replace_instruments(db, emulator.scrip_master(["NIFTY"]), "emulator")
    near = market.expiries("NIFTY")[0]
    chains = make_source(emulator, db).option_chains([("NIFTY", near), ("NIFTY", date(2026, 11, 25)),
                                                      ("INDIA VIX", near), ("NOPE", near)])
    assert isinstance(chains[("NIFTY", near)], pd.DataFrame)
    assert "no listed expiry 2026-11-25" in str(chains[("NIFTY", date(2026, 11, 25))])
    assert "no options are listed" in str(chains[("INDIA VIX", near)])
    assert "not in the universe" in str(chains[("NOPE", near)])


def test_a_429_is_retried_and_the_chains_still_arrive(emulator, market, db):
    replace_instruments(db, emulator.scrip_master(["NIFTY"]), "emulator")
    emulator.fail_next("quote", status=429, error_code="DH-904", retry_after="0")
    near = market.expiries("NIFTY")[0]
    chain = make_source(emulator, db).option_chain("NIFTY", near)
    pd.testing.assert_frame_equal(chain[PRICES], market.option_chain("NIFTY", near)[PRICES])
    assert len(requests_to(emulator, "quote")) == 2


def post_quote(emulator, body: dict) -> tuple[int, dict]:
    """(HTTP status, JSON body) of one raw /marketfeed/quote request."""
    request = urllib.request.Request(f"{emulator.url}/marketfeed/quote", json.dumps(body).encode(),
                                     {"access-token": emulator.access_token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_emulator_answers_429_to_a_quote_request_within_the_second(emulator):
    status, body = post_quote(emulator, {"IDX_I": [13]})
    assert status == 200 and body["data"]["IDX_I"]["13"]["last_price"] > 0
    status, body = post_quote(emulator, {"IDX_I": [13]})
    assert status == 429 and body["errorCode"] == "DH-904"


def test_quotes_go_1000_instruments_a_request_and_more_are_refused(emulator, market, monkeypatch):
    ids = [emulator.security_id(symbol, expiry, row.strike, row.option_type) for symbol in ("NIFTY", "BANKNIFTY")
           for expiry in market.expiries(symbol) for row in market.option_chain(symbol, expiry).itertuples()]
    assert len(ids) > 2 * QUOTE_BATCH
    client = DhanClient(emulator.client_id, emulator.access_token, base_url=emulator.url, retry=FAST_RETRY)
    answer = client.quotes({"NSE_FNO": ids[:2 * QUOTE_BATCH + 5]})
    assert len(answer["NSE_FNO"]) == 2 * QUOTE_BATCH + 5
    assert [len(r.body["NSE_FNO"]) for r in requests_to(emulator, "quote")] == [1000, 1000, 5]
    monkeypatch.setattr(client_module, "QUOTE_BATCH", QUOTE_BATCH + 1)  # a client that would ask for 1,001
    with pytest.raises(InputError, match="too many instruments"):
        client.quotes({"NSE_FNO": ids[:QUOTE_BATCH + 1]})
    assert requests_to(emulator, "quote")[-1].body["NSE_FNO"] == ids[:QUOTE_BATCH + 1]


def test_parse_quotes_reads_depth_level_one_by_hand():
    """A documented-shape answer (values made up): level 1 of each side; an empty side is 0; an unquoted contract is
    left out."""
    contracts = pd.DataFrame({"symbol": ["NIFTY"] * 3, "expiry": [date(2026, 12, 1)] * 3,
                              "strike": [24000.0, 24000.0, 24100.0], "option_type": ["CE", "PE", "CE"],
                              "security_id": [40101, 40102, 40103], "lot_size": pd.array([65, 65, 65], "Int64")})
    level = lambda price, quantity: {"price": price, "quantity": quantity, "orders": 1}  # noqa: E731
    quotes = {
        "40101": {"last_price": 210.5, "oi": 1200, "volume": 5400,
                  "depth": {"buy": [level(210.0, 650), level(209.95, 130)], "sell": [level(211.0, 325)]}},
        "40102": {"last_price": 0.8, "oi": 0, "volume": 0,
                  "depth": {"buy": [{"price": 0, "quantity": 0, "orders": 0}], "sell": [level(1.1, 65)]}},
    }
    frame = parse_quotes(quotes, contracts, "NIFTY", date(2026, 12, 1), spot=24150.0)
    assert frame[["strike", "option_type", "bid", "ask", "ltp", "bid_qty", "ask_qty", "oi", "volume",
                  "security_id"]].values.tolist() == [[24000.0, "CE", 210.0, 211.0, 210.5, 650, 325, 1200, 5400, 40101],
                                                      [24000.0, "PE", 0.0, 1.1, 0.8, 0, 65, 0, 0, 40102]]
    assert (frame["underlying_price"] == 24150.0).all() and (frame["lot_size"] == 65).all()
    with pytest.raises(DataError, match="quoted none of the 3 contracts"):
        parse_quotes({}, contracts, "NIFTY", date(2026, 12, 1), spot=24150.0)
    with pytest.raises(DataError, match=r"24000 CE \(security id 40101\): depth.sell\[0\].price"):
        parse_quotes({"40101": quotes["40101"] | {"depth": {"buy": [], "sell": [{"price": "x"}]}}}, contracts,
                     "NIFTY", date(2026, 12, 1), spot=24150.0)


def test_on_the_embedded_default_chains_come_from_quotes_paced_in_its_database(emulator, market, tmp_path_factory):
    """No database configured: from_settings opens the embedded one (its own home here) for the scrip master's
    contracts and the shared rate limits, as it does a configured one."""
    home = tmp_path_factory.mktemp("e")  # short: the server's Unix socket path has a length limit
    settings = Settings(database_url=None, embedded_dir=home, dhan_client_id=emulator.client_id,
                        dhan_access_token=emulator.access_token, dhan_base_url=emulator.url, data_dir=home)
    conn = None
    try:
        conn = open_store(settings)  # starts the embedded server and migrates it, as the pipeline does
        replace_instruments(conn, emulator.scrip_master(["NIFTY"]), "emulator")
        conn.commit()
        near = market.expiries("NIFTY")[0]
        source = DhanMarketData.from_settings(settings, TRADE_DATE, retry=FAST_RETRY)
        pd.testing.assert_frame_equal(source.option_chain("NIFTY", near)[PRICES],
                                      market.option_chain("NIFTY", near)[PRICES])
        assert len(requests_to(emulator, "quote")) == 1 and requests_to(emulator, "optionchain") == []
        with conn.cursor() as cur:
            cur.execute("SELECT key FROM api_pacing")
            assert f"dhan:{emulator.client_id}:quote" in {key for (key,) in cur.fetchall()}
    finally:
        if conn is not None:
            conn.close()
        EmbeddedPostgres(home).stop()
