"""The Dhan emulator through the raw dhanhq 2.3.0 client: documented shapes, the order lifecycle and its outcomes,
positions, funds, margin, kill switch, faults — and what dhanhq itself hides (the reason DhanClient exists)."""

import math
import re
import time
from datetime import date, datetime

import pytest
from dhan_emulator import ERRORS, EXPOSURE_RATE, SPAN_RATE, DhanEmulator  # noqa: E402
from dhanhq import DhanContext, dhanhq

from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST

TRADE_DATE = date(2026, 11, 23)
EXPIRY = date(2026, 12, 1)
LOT = 65  # NIFTY contracts expiring from Jan-2026 (include/data/lot_sizes.csv)

CHAIN_SIDE_FIELDS = {"average_price", "greeks", "implied_volatility", "last_price", "oi", "previous_close_price",
                     "previous_oi", "previous_volume", "security_id", "top_ask_price", "top_ask_quantity",
                     "top_bid_price", "top_bid_quantity", "volume"}
ORDER_FIELDS = {"dhanClientId", "orderId", "exchangeOrderId", "correlationId", "orderStatus", "transactionType",
                "exchangeSegment", "productType", "orderType", "validity", "tradingSymbol", "securityId", "quantity",
                "disclosedQuantity", "price", "triggerPrice", "afterMarketOrder", "boProfitValue", "boStopLossValue",
                "legName", "createTime", "updateTime", "exchangeTime", "drvExpiryDate", "drvOptionType",
                "drvStrikePrice", "omsErrorCode", "omsErrorDescription", "algoId", "remainingQuantity",
                "averageTradedPrice", "filledQty"}
POSITION_FIELDS = {"dhanClientId", "tradingSymbol", "securityId", "positionType", "exchangeSegment", "productType",
                   "buyAvg", "buyQty", "costPrice", "sellAvg", "sellQty", "netQty", "realizedProfit",
                   "unrealizedProfit", "rbiReferenceRate", "multiplier", "carryForwardBuyQty", "carryForwardSellQty",
                   "carryForwardBuyValue", "carryForwardSellValue", "dayBuyQty", "daySellQty", "dayBuyValue",
                   "daySellValue", "drvExpiryDate", "drvOptionType", "drvStrikePrice", "crossCurrency"}
FUND_FIELDS = {"dhanClientId", "availabelBalance", "sodLimit", "collateralAmount", "receiveableAmount",
               "utilizedAmount", "blockedPayoutAmount", "withdrawableBalance"}
MARGIN_FIELDS = {"totalMargin", "spanMargin", "exposureMargin", "availableBalance", "variableMargin",
                 "insufficientBalance", "brokerage", "leverage"}


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket(42, TRADE_DATE)


@pytest.fixture
def emulator(market):
    with DhanEmulator(market) as running:
        yield running


def connect(emulator, token=None, timeout=5.0) -> dhanhq:
    """The official client pointed at the emulator."""
    context = DhanContext(emulator.client_id, token or emulator.access_token)
    http = context.get_dhan_http()
    http.base_url, http.timeout = emulator.url, timeout
    return dhanhq(context)


@pytest.fixture
def dhan(emulator):
    return connect(emulator)


def contract_id(emulator, strike=26000.0, option_type="CE") -> str:
    return str(emulator.security_id("NIFTY", EXPIRY, strike, option_type))


def place(dhan, security_id, side="BUY", quantity=LOT, price=100.0, order_type="LIMIT", tag=None) -> dict:
    result = dhan.place_order(security_id, "NSE_FNO", side, quantity, order_type, "MARGIN", price, tag=tag)
    assert result["status"] == "success", result
    return result["data"]


def poll(dhan, order_id) -> dict:
    result = dhan.get_order_by_id(order_id)
    assert result["status"] == "success", result
    return result["data"]


# ---------------------------------------------------------------- what dhanhq returns


def test_dhanhq_hides_the_status_and_drops_non_json_bodies(emulator, dhan):
    emulator.fail_next("fundlimit", status=429, error_code="DH-904")
    limited = dhan.get_fund_limits()
    assert limited == {"status": "failure", "data": "", "remarks": {
        "error_code": "DH-904", "error_type": "Input_Exception", "error_message": ERRORS["DH-904"][1]}}
    emulator.fail_next("fundlimit", status=200, error_code=806)
    assert dhan.get_fund_limits() == {"status": "success", "remarks": "",
                                      "data": {"errorCode": 806, "errorMessage": "Data APIs not subscribed"}}
    emulator.respond_next("fundlimit", status=500, body="<html>Internal Server Error</html>", content_type="text/html")
    broken = dhan.get_fund_limits()
    assert broken["status"] == "failure" and broken["remarks"].startswith("Expecting value")  # the body is gone


def test_dhanhq_reports_a_timeout_as_a_remark(emulator):
    emulator.stall_next("positions", seconds=5.0)
    result = connect(emulator, timeout=0.2).get_positions()
    assert result["status"] == "failure" and "timed out" in result["remarks"]


def test_a_wrong_token_is_refused_with_dh_901(emulator):
    result = connect(emulator, token="not-the-token").get_positions()
    assert result["remarks"]["error_code"] == "DH-901"
    assert emulator.requests[-1].endpoint == "positions"


# ---------------------------------------------------------------- market data shapes


def test_expiry_list_and_chain_shapes(emulator, dhan, market):
    listed = dhan.expiry_list(13, "IDX_I")["data"]
    assert listed == {"data": [day.isoformat() for day in market.expiries("NIFTY")], "status": "success"}
    chain = dhan.option_chain(13, "IDX_I", EXPIRY.isoformat())["data"]
    assert chain["status"] == "success" and chain["data"]["last_price"] == market.spot("NIFTY")
    strikes = chain["data"]["oc"]
    assert all(re.fullmatch(r"\d+\.\d{6}", key) for key in strikes)
    sides = [side for pair in strikes.values() for side in pair.values()]
    assert all(set(side) == CHAIN_SIDE_FIELDS for side in sides)
    assert all(set(side["greeks"]) == {"delta", "theta", "gamma", "vega"} for side in sides)
    atm = strikes[f"{round(market.spot('NIFTY') / 50) * 50:.6f}"]["ce"]
    assert 5 < atm["implied_volatility"] < 60  # percent


def test_a_stock_chain_is_asked_for_in_nse_fno_with_the_equity_id(dhan, market):
    assert dhan.expiry_list(2885, "NSE_FNO")["data"]["data"] == [d.isoformat() for d in market.expiries("RELIANCE")]
    assert dhan.expiry_list(2885, "NSE_EQ")["remarks"]["error_code"] == "DH-905"


def test_an_unlisted_expiry_answers_in_the_failed_status_form(dhan):
    result = dhan.option_chain(13, "IDX_I", "2026-11-24")
    assert result["status"] == "failure" and result["remarks"]["error_code"] is None  # dhanhq loses the code


def test_daily_candles_sit_at_ist_midnight_and_to_date_is_exclusive(dhan, market):
    columns = dhan.historical_daily_data("13", "IDX_I", "INDEX", "2026-11-02", "2026-11-13")["data"]
    days = [datetime.fromtimestamp(stamp, IST) for stamp in columns["timestamp"]]
    assert all(day.hour == 0 and day.minute == 0 for day in days)
    expected = market.candles("NIFTY", date(2026, 11, 2), date(2026, 11, 12))
    assert [day.date() for day in days] == expected["date"].dt.date.tolist()
    assert columns["close"] == expected["close"].tolist() and set(columns["volume"]) == {0}


def test_ticker_data_shape(dhan, market):
    prices = dhan.ticker_data({"IDX_I": [13, 21], "NSE_EQ": [2885]})["data"]
    assert prices == {"data": {"IDX_I": {"13": {"last_price": market.spot("NIFTY")},
                                         "21": {"last_price": market.spot("INDIA VIX")}},
                               "NSE_EQ": {"2885": {"last_price": market.spot("RELIANCE")}}}, "status": "success"}


# ---------------------------------------------------------------- order lifecycle


def test_an_order_goes_transit_pending_traded_one_step_per_poll(emulator, dhan):
    placed = place(dhan, contract_id(emulator), price=101.5, tag="s1-l1-a1")
    assert set(placed) == {"orderId", "orderStatus"} and placed["orderStatus"] == "TRANSIT"
    statuses = [poll(dhan, placed["orderId"])["orderStatus"] for _ in range(3)]
    assert statuses == ["PENDING", "TRADED", "TRADED"]
    record = poll(dhan, placed["orderId"])
    assert set(record) == ORDER_FIELDS
    assert (record["filledQty"], record["remainingQuantity"], record["averageTradedPrice"]) == (LOT, 0, 101.5)
    assert record["exchangeOrderId"] != "0" and record["correlationId"] == "s1-l1-a1"
    assert record["tradingSymbol"] == "NIFTY-Dec2026-26000-CE" and record["drvOptionType"] == "CALL"


def test_orders_advance_with_time_when_asked(market):
    with DhanEmulator(market, step_seconds=0.05) as timed:
        dhan = connect(timed)
        placed = place(dhan, contract_id(timed))
        first = poll(dhan, placed["orderId"])["orderStatus"]
        time.sleep(0.12)
        assert (first, poll(dhan, placed["orderId"])["orderStatus"]) == ("TRANSIT", "TRADED")


def test_orders_are_found_by_correlation_id(emulator, dhan):
    placed = place(dhan, contract_id(emulator), tag="s9-l2-a1")
    found = dhan.get_order_by_correlationID("s9-l2-a1")
    assert found["status"] == "success" and found["data"]["orderId"] == placed["orderId"]
    missing = dhan.get_order_by_correlationID("s9-l2-a2")
    assert missing["status"] == "failure" and missing["remarks"]["error_code"] == "DH-907"


def test_a_26_character_correlation_id_is_refused(emulator, dhan):
    result = dhan.place_order(contract_id(emulator), "NSE_FNO", "BUY", LOT, "LIMIT", "MARGIN", 100.0, tag="x" * 26)
    assert result["remarks"]["error_code"] == "DH-905" and "correlationId" in result["remarks"]["error_message"]
    assert emulator.orders == {}


@pytest.mark.parametrize(("change", "field"), [
    ({"quantity": 100}, "quantity"), ({"security_id": "999"}, "securityId"),
    ({"exchange_segment": "NSE_EQ"}, "exchangeSegment"), ({"price": 0.0}, "price"),
])
def test_invalid_orders_are_refused_naming_the_field(emulator, dhan, change, field):
    order = {"security_id": contract_id(emulator), "exchange_segment": "NSE_FNO", "transaction_type": "BUY",
             "quantity": LOT, "order_type": "LIMIT", "product_type": "MARGIN", "price": 100.0} | change
    result = dhan.place_order(**order)
    assert result["remarks"]["error_code"] == "DH-905" and field in result["remarks"]["error_message"]


def test_leg_k_is_rejected(emulator, dhan):
    emulator.reject_leg(2, reason="RMS: insufficient margin")
    orders = [place(dhan, contract_id(emulator, strike), side)["orderId"]
              for strike, side in ((25900.0, "BUY"), (26100.0, "SELL"), (26200.0, "BUY"))]
    final = [[poll(dhan, order_id) for _ in range(2)][-1] for order_id in orders]
    assert [record["orderStatus"] for record in final] == ["TRADED", "REJECTED", "TRADED"]
    assert final[1]["omsErrorDescription"] == "RMS: insufficient margin" and final[1]["filledQty"] == 0
    assert {p["securityId"] for p in dhan.get_positions()["data"]} == {contract_id(emulator, 25900.0),
                                                                       contract_id(emulator, 26200.0)}


def test_a_partial_fill_then_cancel_keeps_the_filled_part(emulator, dhan):
    emulator.partial_fill(1, LOT)
    placed = place(dhan, contract_id(emulator), quantity=2 * LOT)
    assert [poll(dhan, placed["orderId"])["orderStatus"] for _ in range(3)] == ["PENDING", "PART_TRADED",
                                                                               "PART_TRADED"]
    assert dhan.cancel_order(placed["orderId"])["data"] == {"orderId": placed["orderId"], "orderStatus": "CANCELLED"}
    record = poll(dhan, placed["orderId"])
    assert (record["orderStatus"], record["filledQty"], record["remainingQuantity"]) == ("CANCELLED", LOT, LOT)
    [position] = dhan.get_positions()["data"]
    assert position["netQty"] == LOT


def test_an_unfilled_order_stays_pending_until_cancelled(emulator, dhan):
    emulator.leave_pending(1)
    placed = place(dhan, contract_id(emulator))
    assert {poll(dhan, placed["orderId"])["orderStatus"] for _ in range(5)} == {"PENDING"}
    assert dhan.cancel_order(placed["orderId"])["data"]["orderStatus"] == "CANCELLED"
    again = dhan.cancel_order(placed["orderId"])
    assert again["status"] == "failure" and again["remarks"]["error_code"] == "DH-906"
    assert dhan.get_positions()["data"] == []


def test_market_orders_fill_at_the_touch(emulator, dhan, market):
    chain = market.option_chain("NIFTY", EXPIRY)
    quote = chain[(chain["strike"] == 26000.0) & (chain["option_type"] == "CE")].iloc[0]
    bought = place(dhan, contract_id(emulator), "BUY", order_type="MARKET", price=0.0)
    sold = place(dhan, contract_id(emulator), "SELL", order_type="MARKET", price=0.0)
    fills = [[poll(dhan, o["orderId"]) for _ in range(2)][-1]["averageTradedPrice"] for o in (bought, sold)]
    assert fills == [quote["ask"], quote["bid"]]


def test_order_list_polls_every_order(emulator, dhan):
    ids = [place(dhan, contract_id(emulator))["orderId"] for _ in range(2)]
    assert [[o["orderStatus"] for o in dhan.get_order_list()["data"]] for _ in range(2)] == [
        ["PENDING", "PENDING"], ["TRADED", "TRADED"]]
    assert [o["orderId"] for o in dhan.get_order_list()["data"]] == ids


# ---------------------------------------------------------------- positions, funds, margin, kill switch


def fill(dhan, security_id, side, quantity, price) -> None:
    order = place(dhan, security_id, side, quantity, price)
    while poll(dhan, order["orderId"])["orderStatus"] != "TRADED":
        pass


def test_positions_are_built_from_fills(emulator, dhan, market):
    security_id = contract_id(emulator)
    fill(dhan, security_id, "BUY", 2 * LOT, 100.0)
    fill(dhan, security_id, "SELL", LOT, 110.0)
    [position] = dhan.get_positions()["data"]
    assert set(position) == POSITION_FIELDS
    ltp = emulator._contract_quote(emulator.contract(int(security_id)))["ltp"]
    assert (position["positionType"], position["netQty"], position["buyQty"], position["sellQty"]) == (
        "LONG", LOT, 2 * LOT, LOT)
    assert (position["buyAvg"], position["sellAvg"], position["costPrice"]) == (100.0, 110.0, 100.0)
    assert position["realizedProfit"] == pytest.approx(LOT * (110.0 - 100.0))
    assert position["unrealizedProfit"] == pytest.approx(LOT * (ltp - 100.0))
    fill(dhan, security_id, "SELL", LOT, 120.0)
    [closed] = dhan.get_positions()["data"]
    assert (closed["positionType"], closed["netQty"]) == ("CLOSED", 0)
    assert closed["realizedProfit"] == pytest.approx(2 * LOT * (115.0 - 100.0))  # sold at 110 and 120


def test_margin_is_span_plus_exposure_on_the_notional_for_a_sale_and_the_premium_for_a_purchase(emulator, dhan,
                                                                                                 market):
    security_id = contract_id(emulator, 26200.0)
    sale = dhan.margin_calculator(security_id, "NSE_FNO", "SELL", 2 * LOT, "MARGIN", 80.0)["data"]
    assert set(sale) == MARGIN_FIELDS
    notional = market.spot("NIFTY") * 2 * LOT
    assert sale["spanMargin"] == pytest.approx(SPAN_RATE["IDX_I"] * notional, abs=0.01)
    assert sale["totalMargin"] == pytest.approx((SPAN_RATE["IDX_I"] + EXPOSURE_RATE["IDX_I"]) * notional, abs=0.02)
    assert 0.05 < sale["totalMargin"] / notional < 0.25  # the range NSE index option sellers see
    purchase = dhan.margin_calculator(security_id, "NSE_FNO", "BUY", 2 * LOT, "MARGIN", 80.0)["data"]
    assert purchase["totalMargin"] == 80.0 * 2 * LOT
    small = DhanEmulator(market, balance=100_000.0)
    with small:
        poor = connect(small).margin_calculator(str(small.security_id("NIFTY", EXPIRY, 26200.0, "CE")), "NSE_FNO",
                                                "SELL", 2 * LOT, "MARGIN", 80.0)["data"]
    assert poor["insufficientBalance"] == pytest.approx(poor["totalMargin"] - 100_000.0)


def test_fund_limit_follows_the_margin_held_by_open_positions(emulator, dhan):
    funds = dhan.get_fund_limits()["data"]
    assert set(funds) == FUND_FIELDS and funds["availabelBalance"] == funds["sodLimit"] == emulator.balance
    security_id = contract_id(emulator, 26200.0)
    margin = dhan.margin_calculator(security_id, "NSE_FNO", "SELL", LOT, "MARGIN", 80.0)["data"]["totalMargin"]
    fill(dhan, security_id, "SELL", LOT, 80.0)
    funds = dhan.get_fund_limits()["data"]
    assert funds["utilizedAmount"] == pytest.approx(margin)
    assert funds["availabelBalance"] == pytest.approx(emulator.balance - margin)


def test_kill_switch(emulator, dhan):
    assert dhan.status_kill_switch()["data"]["killSwitchStatus"] == "DEACTIVATE"
    security_id = contract_id(emulator)
    fill(dhan, security_id, "BUY", LOT, 100.0)
    refused = dhan.kill_switch("activate")
    assert refused["remarks"]["error_code"] == "DH-906"  # an open position
    fill(dhan, security_id, "SELL", LOT, 100.0)
    activated = dhan.kill_switch("activate")["data"]
    assert activated["killSwitchStatus"] == "Kill Switch has been successfully activated"
    assert dhan.status_kill_switch()["data"]["killSwitchStatus"] == "ACTIVATE"
    blocked = dhan.place_order(security_id, "NSE_FNO", "BUY", LOT, "LIMIT", "MARGIN", 100.0)
    assert blocked["remarks"]["error_code"] == "DH-906"
    dhan.kill_switch("deactivate")
    assert dhan.status_kill_switch()["data"]["killSwitchStatus"] == "DEACTIVATE"


# ---------------------------------------------------------------- faults


def test_faults_are_consumed_in_order_then_answers_are_normal(emulator, dhan):
    emulator.fail_next("positions", status=429, error_code="DH-904", times=2)
    emulator.respond_next("positions", status=200, body="not json")
    codes = [dhan.get_positions()["remarks"] for _ in range(4)]
    assert [c["error_code"] if isinstance(c, dict) else c[:15] for c in codes] == [
        "DH-904", "DH-904", "Expecting value", ""]


def test_retry_after_header_is_sent_when_asked(emulator):
    import requests

    emulator.fail_next("positions", status=429, error_code="DH-904", retry_after="7")
    answer = requests.get(emulator.url + "/positions", headers={"access-token": emulator.access_token}, timeout=5)
    assert (answer.status_code, answer.headers["Retry-After"], answer.json()["errorCode"]) == (429, "7", "DH-904")


def test_unknown_endpoint_names_are_refused(emulator):
    with pytest.raises(ValueError, match="endpoint"):
        emulator.fail_next("option_chain", status=429, error_code="DH-904")


def test_unknown_paths_answer_404(emulator):
    import requests

    answer = requests.get(emulator.url + "/nosuch", headers={"access-token": emulator.access_token}, timeout=5)
    assert answer.status_code == 404 and set(answer.json()) == {"timestamp", "status", "error", "path"}


CONDOR = [(25_600.0, "PE", "BUY"), (25_800.0, "PE", "SELL"), (26_400.0, "CE", "SELL"), (26_600.0, "CE", "BUY")]


def test_basket_margin_is_our_span_estimate_of_the_legs_together(emulator, dhan, market):
    legs = [{"securityId": contract_id(emulator, strike, kind), "exchangeSegment": "NSE_FNO", "transactionType": side,
             "quantity": LOT, "productType": "MARGIN", "price": 0.0} for strike, kind, side in CONDOR]
    answer = dhan.margin_calculator_multi(legs)
    assert answer["status"] == "success", answer
    basket = answer["data"]["totalMargin"]
    # Hand: at ±1 price scan range (9.28 % of 26,067) one 200-point spread is fully in the money: 200 × e^{-rT} ×
    # 65 ≈ ₹12,990 to close; exposure 2 % × 26,067.05 × 130 short units = ₹67,774; ≈ ₹80,760.
    years = 8.5 / 365  # 23-Nov 09:15 to 1-Dec 15:40 IST
    hand = 200 * math.exp(-0.065 * years) * LOT + 0.02 * market.spot("NIFTY") * 2 * LOT
    assert basket == pytest.approx(hand, rel=0.10)
    alone = [dhan.margin_calculator_multi([leg])["data"]["totalMargin"] for leg in legs]
    assert basket < 0.5 * sum(alone) and answer["data"]["hedgeBenefit"] > 0
    assert emulator.requests[-1].endpoint == "margincalculator_multi"
    refused = dhan.margin_calculator_multi([{**legs[0], "securityId": "1"}])
    assert refused["status"] == "failure"


def test_orders_are_whole_lots_of_their_own_contract():
    """On 19-Dec-2025 NIFTY's December contracts traded in lots of 75 and the January-2026 ones, listed after
    NSE/FAOP/70616, in 65: 75 units of the first are an order, 65 of it refused; 65 of the second accepted."""
    day = date(2025, 12, 19)
    market = SyntheticMarket(42, day, broken={})
    with DhanEmulator(market) as running:
        dhan = connect(running)
        december, january = date(2025, 12, 23), date(2026, 1, 6)
        assert {december, january} <= set(market.expiries("NIFTY"))
        strike = float(market.option_chain("NIFTY", december)["strike"].median())
        ids = {e: str(running.security_id("NIFTY", e, strike, "CE")) for e in (december, january)}
        assert place(dhan, ids[december], quantity=75)["orderStatus"] == "TRANSIT"
        refused = dhan.place_order(ids[december], "NSE_FNO", "BUY", 65, "LIMIT", "MARGIN", 100.0)
        assert refused["remarks"]["error_code"] == "DH-905" and "lot size 75" in refused["remarks"]["error_message"]
        assert place(dhan, ids[january], quantity=65)["orderStatus"] == "TRANSIT"
