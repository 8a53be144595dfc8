"""DhanClient over real HTTP to the emulator: every documented error code → its exception, retries and backoff,
bodies that are not JSON, timeouts, rate-limit pacing, order calls, and the access token never leaking."""

import logging
import time
from datetime import date

import pytest
from dhan_emulator import ERRORS, DhanEmulator  # noqa: E402

from optionsv4_lib.adapters.dhan.client import ERROR_CODES, RATE_LIMITS, DhanClient
from optionsv4_lib.adapters.pacing import Rate, RetryPolicy
from optionsv4_lib.core.errors import AuthError, BrokerError, DataError, InputError, RateLimited
from optionsv4_lib.marketdata.synthetic import SyntheticMarket

TRADE_DATE = date(2026, 11, 23)
TOKEN = "eyJ-SECRET-token-7f3a9c"  # recognisable in any log line or message
NO_LIMITS = {category: Rate(1000, 0.0) for category in RATE_LIMITS}
ATTEMPTS = 3
HTML_500 = "<html><head><title>500 Internal Server Error</title></head><body><h1>Server Error</h1></body></html>"


class SleepRecorder:
    """A sleep that records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket(42, TRADE_DATE)


@pytest.fixture
def emulator(market):
    with DhanEmulator(market, access_token=TOKEN) as running:
        yield running


def make_client(emulator, token=TOKEN, **options) -> DhanClient:
    options = {"base_url": emulator.url, "rate_limits": NO_LIMITS, "timeout": 2.0,
               "retry": RetryPolicy(attempts=ATTEMPTS, base_delay=0.01, max_delay=5.0)} | options
    return DhanClient(emulator.client_id, token, **options)


def requests_to(emulator, endpoint: str) -> int:
    return sum(request.endpoint == endpoint for request in emulator.requests)


def fetch_chain(client: DhanClient) -> dict:
    return client.option_chain(13, "IDX_I", "2026-12-01")


# ---------------------------------------------------------------- error codes


def _expected(code: str) -> tuple[type, bool]:
    """(exception type, retried?) for a documented code — written out here, not read from ERROR_CODES."""
    auth = {"DH-901", "807", "808", "809", "810"}
    rate = {"DH-904", "805"}
    inputs = {"DH-905", "804", "811", "812", "813", "814"}
    data = {"DH-907", "806"}
    server = {"DH-908", "DH-909", "800"}
    if code in auth:
        return AuthError, False
    if code in rate:
        return RateLimited, True
    if code in inputs:
        return InputError, False
    if code in data:
        return DataError, False
    return BrokerError, code in server


def _status(code: str) -> int:
    statuses = {"DH-901": 401, "DH-904": 429, "805": 429, "DH-908": 500, "DH-909": 502, "800": 500, "806": 200}
    return statuses.get(code, 400)


def test_every_documented_code_is_mapped():
    assert set(ERROR_CODES) == {str(code) for code in ERRORS}


@pytest.mark.parametrize("code", sorted(str(code) for code in ERRORS))
def test_each_documented_code_raises_its_exception_and_retries_only_transient_ones(emulator, code):
    expected, retried = _expected(code)
    emulator.fail_next("optionchain", status=_status(code), error_code=code if code.startswith("DH") else int(code),
                       times=ATTEMPTS)
    sleep = SleepRecorder()
    with pytest.raises(expected) as caught:
        fetch_chain(make_client(emulator, sleep=sleep))
    assert type(caught.value) is expected
    assert code in str(caught.value)
    assert requests_to(emulator, "optionchain") == (ATTEMPTS if retried else 1)  # auth and input fail fast
    assert len(sleep.waits) == (ATTEMPTS - 1 if retried else 0)


def test_data_error_with_http_200_is_detected(emulator):
    emulator.fail_next("historical", status=200, error_code=806)
    with pytest.raises(DataError, match="Data APIs not subscribed"):
        make_client(emulator).daily_candles(13, "IDX_I", "INDEX", "2026-11-02", "2026-11-20")


def test_failed_status_form_is_read_from_the_body_dhanhq_drops(emulator):
    # {"data": {"811": …}, "status": "failed"} with HTTP 400: dhanhq's remarks carry no code at all
    with pytest.raises(InputError, match="811"):
        make_client(emulator).option_chain(13, "IDX_I", "2026-11-24")  # not a listed expiry


def test_failed_status_rate_limit_is_retried(emulator):
    emulator.respond_next("ltp", status=200, body={"data": {"805": "Too many requests"}, "status": "failed"},
                          times=2)
    prices = make_client(emulator).last_prices({"IDX_I": [13]})
    assert requests_to(emulator, "ltp") == 3
    assert prices["IDX_I"]["13"]["last_price"] > 0


def test_input_error_names_the_field_the_server_complains_about(emulator):
    security_id = emulator.security_id("NIFTY", date(2026, 12, 1), 26000.0, "CE")
    with pytest.raises(InputError, match="^quantity: .*DH-905.*lot size 65"):
        make_client(emulator).place_order(security_id=str(security_id), exchange_segment="NSE_FNO",
                                          transaction_type="BUY", quantity=100, order_type="LIMIT",
                                          product_type="MARGIN", price=100.0)


def test_unknown_path_is_a_broker_error_with_the_status(emulator):
    client = make_client(emulator, base_url=emulator.url.replace("/v2", "/v9"))
    with pytest.raises(BrokerError, match="HTTP 404"):
        client.positions()


# ---------------------------------------------------------------- bodies that are not JSON


@pytest.mark.parametrize(("status", "body", "content_type", "error", "retried", "problem"), [
    (200, '{"data": {"last_price": 26067.05, "oc": {"2600', "application/json", DataError, False, "not JSON"),
    (500, HTML_500, "text/html", BrokerError, True, "not JSON"),
    (200, "", "application/json", DataError, False, "empty body"),
    (502, "", "text/plain", BrokerError, True, "empty body"),
    (404, "Not Found", "text/plain", DataError, False, "not JSON"),
])
def test_bodies_that_are_not_json_are_judged_by_status(emulator, status, body, content_type, error, retried,
                                                        problem):
    """A 2xx/4xx answer that is not JSON is bad data; a 5xx one is server trouble, retried for reads."""
    emulator.respond_next("optionchain", status=status, body=body, content_type=content_type, times=ATTEMPTS)
    with pytest.raises(error, match=f"HTTP {status} with .*{problem}") as caught:
        fetch_chain(make_client(emulator))
    assert type(caught.value) is error
    assert requests_to(emulator, "optionchain") == (ATTEMPTS if retried else 1)


@pytest.mark.parametrize(("body", "content_type"), [
    ("Too Many Requests", "text/plain"), ("", "application/json"), ("<html>429</html>", "text/html")])
def test_a_bare_429_without_a_dhan_error_body_is_a_rate_limit_retried_then_succeeds(emulator, body, content_type):
    emulator.respond_next("optionchain", status=429, body=body, content_type=content_type, times=2,
                          headers={"Retry-After": "0"})
    assert fetch_chain(make_client(emulator))["last_price"] == pytest.approx(26067.05)
    assert requests_to(emulator, "optionchain") == 3
    emulator.respond_next("optionchain", status=429, body=body, content_type=content_type, times=ATTEMPTS)
    with pytest.raises(RateLimited, match="HTTP 429"):
        fetch_chain(make_client(emulator))


@pytest.mark.parametrize("status", [401, 403])
def test_a_bare_401_or_403_is_an_auth_error_never_retried(emulator, status):
    emulator.respond_next("optionchain", status=status, body="Unauthorized", content_type="text/plain", times=3)
    with pytest.raises(AuthError, match=f"HTTP {status}"):
        fetch_chain(make_client(emulator))
    assert requests_to(emulator, "optionchain") == 1


def test_a_transient_html_500_is_retried_then_succeeds(emulator):
    emulator.respond_next("optionchain", status=500, body=HTML_500, content_type="text/html", times=2)
    assert fetch_chain(make_client(emulator))["last_price"] == pytest.approx(26067.05)
    assert requests_to(emulator, "optionchain") == 3


def test_an_order_placement_is_not_retried_after_a_server_error(emulator):
    emulator.respond_next("place_order", status=500, body=HTML_500, content_type="text/html")
    security_id = emulator.security_id("NIFTY", date(2026, 12, 1), 26000.0, "CE")
    with pytest.raises(BrokerError, match="HTTP 500"):
        make_client(emulator).place_order(security_id=str(security_id), exchange_segment="NSE_FNO",
                                          transaction_type="BUY", quantity=65, order_type="LIMIT",
                                          product_type="MARGIN", price=100.0, correlation_id="s1-l1-a1")
    assert requests_to(emulator, "place_order") == 1


# ---------------------------------------------------------------- rate limits and backoff


def test_429_storm_backs_off_exponentially_then_succeeds(emulator):
    emulator.fail_next("optionchain", status=429, error_code="DH-904", times=4)
    sleep = SleepRecorder()
    client = make_client(emulator, sleep=sleep, retry=RetryPolicy(attempts=6, base_delay=1.0, max_delay=30.0))
    assert "oc" in fetch_chain(client)
    assert requests_to(emulator, "optionchain") == 5
    assert len(sleep.waits) == 4
    for retry, wait in enumerate(sleep.waits, start=1):
        assert 2 ** (retry - 1) / 2 <= wait <= 2 ** (retry - 1)  # [b/2, b] with b = 1 s · 2^(n−1)


def test_429_storm_in_real_time(emulator):
    emulator.fail_next("optionchain", status=429, error_code="DH-904", times=3)
    client = make_client(emulator, retry=RetryPolicy(attempts=4, base_delay=0.04, max_delay=1.0))
    started = time.monotonic()
    assert "oc" in fetch_chain(client)
    assert time.monotonic() - started >= 0.02 + 0.04 + 0.08 - 1e-3  # the shortest waits the policy allows
    arrivals = [r.at for r in emulator.requests if r.endpoint == "optionchain"]
    assert [later - earlier >= 0.02 * 2 ** n - 1e-3 for n, (earlier, later) in
            enumerate(zip(arrivals, arrivals[1:]))] == [True, True, True]


def test_retry_after_is_honoured(emulator):
    emulator.fail_next("optionchain", status=429, error_code="DH-904", retry_after="3", times=2)
    sleep = SleepRecorder()
    fetch_chain(make_client(emulator, sleep=sleep))
    assert len(sleep.waits) == 2 and all(wait >= 3.0 for wait in sleep.waits)


def test_a_retry_after_longer_than_the_longest_wait_gives_up_at_once(emulator):
    emulator.fail_next("optionchain", status=429, error_code="DH-904", retry_after="600")
    with pytest.raises(RateLimited):
        fetch_chain(make_client(emulator))
    assert requests_to(emulator, "optionchain") == 1


def test_default_limits_are_the_documented_ones():
    assert RATE_LIMITS["option_chain"] == Rate(1, 3.0)
    assert RATE_LIMITS["data"] == Rate(5, 1.0)
    assert RATE_LIMITS["orders"] == Rate(10, 1.0)


def test_default_option_chain_pace_is_one_request_per_three_seconds(emulator):
    sleep = SleepRecorder()  # waits are recorded, not slept, on a clock that stands still between them
    client = DhanClient(emulator.client_id, TOKEN, base_url=emulator.url, sleep=sleep, clock=lambda: 100.0)
    for _ in range(3):
        fetch_chain(client)
    # slots at +3 s and +6 s, each window widened by PACING_SLACK (0.05 s) against arrival jitter
    assert sleep.waits == pytest.approx([3.05, 6.1])


def test_option_chain_requests_are_spaced_in_real_time(emulator):
    client = make_client(emulator, rate_limits={"option_chain": Rate(1, 0.15)})
    started = time.monotonic()
    for _ in range(4):
        fetch_chain(client)
    arrivals = [r.at for r in emulator.requests if r.endpoint == "optionchain"]
    # request k cannot leave before its slot, k · 0.15 s after the first: however late earlier ones arrived
    assert [at - started >= k * 0.15 - 1e-3 for k, at in enumerate(arrivals)] == [True] * 4


# ---------------------------------------------------------------- timeouts


def test_a_read_that_times_out_is_retried(emulator, market):
    emulator.stall_next("historical", seconds=5.0)
    columns = make_client(emulator, timeout=0.3).daily_candles(13, "IDX_I", "INDEX", "2026-11-02", "2026-11-20")
    assert columns["close"] == market.candles("NIFTY", date(2026, 11, 2), date(2026, 11, 19))["close"].tolist()
    assert requests_to(emulator, "historical") == 2


def test_a_read_that_never_answers_raises_broker_error(emulator):
    emulator.stall_next("historical", seconds=5.0, times=ATTEMPTS)
    with pytest.raises(BrokerError, match="no answer from Dhan.*timed out") as caught:
        make_client(emulator, timeout=0.2).daily_candles(13, "IDX_I", "INDEX", "2026-11-02", "2026-11-20")
    assert type(caught.value) is BrokerError
    assert requests_to(emulator, "historical") == ATTEMPTS


def test_an_unanswered_placement_is_not_repeated_and_is_found_by_correlation_id(emulator):
    emulator.stall_next("place_order", seconds=5.0)
    client = make_client(emulator, timeout=0.3)
    security_id = str(emulator.security_id("NIFTY", date(2026, 12, 1), 26000.0, "PE"))
    with pytest.raises(BrokerError, match="no answer"):
        client.place_order(security_id=security_id, exchange_segment="NSE_FNO", transaction_type="BUY",
                           quantity=65, order_type="LIMIT", product_type="MARGIN", price=90.0,
                           correlation_id="s7-l1-a1")
    assert requests_to(emulator, "place_order") == 1
    found = client.order_by_correlation_id("s7-l1-a1")
    assert found is not None and found["securityId"] == security_id


# ---------------------------------------------------------------- order calls


def test_order_calls_through_the_client(emulator):
    client = make_client(emulator)
    security_id = str(emulator.security_id("NIFTY", date(2026, 12, 1), 26200.0, "CE"))
    assert client.order_by_correlation_id("s1-l1-a1") is None
    assert client.kill_switch_active() is False
    funds = client.fund_limits()
    assert funds["availabelBalance"] == emulator.balance
    margin = client.basket_margin([{"securityId": security_id, "exchangeSegment": "NSE_FNO", "transactionType": "SELL",
                                    "quantity": 65, "productType": "MARGIN", "price": 80.0}])
    assert margin > 80.0 * 65
    placed = client.place_order(security_id=security_id, exchange_segment="NSE_FNO", transaction_type="SELL",
                                quantity=65, order_type="LIMIT", product_type="MARGIN", price=80.0,
                                correlation_id="s1-l1-a1")
    assert placed["orderStatus"] == "TRANSIT"
    statuses = [client.order(placed["orderId"])["orderStatus"] for _ in range(3)]
    assert statuses == ["PENDING", "TRADED", "TRADED"]
    assert client.order_by_correlation_id("s1-l1-a1")["orderId"] == placed["orderId"]
    [position] = client.positions()
    assert position["netQty"] == -65 and position["securityId"] == security_id
    with pytest.raises(BrokerError, match="DH-906"):
        client.cancel_order(placed["orderId"])  # already traded


def test_a_single_record_wrapped_in_a_list_is_accepted(emulator):
    emulator.respond_next("fundlimit", body=[{"dhanClientId": "1", "availabelBalance": 5.0}])
    assert make_client(emulator).fund_limits()["availabelBalance"] == 5.0


@pytest.mark.parametrize("correlation_id", ["x" * 26, "has space", "semi;colon", ""])
def test_a_bad_correlation_id_is_refused_before_sending(emulator, correlation_id):
    with pytest.raises(InputError, match="^correlation_id:"):
        make_client(emulator).place_order(security_id="40001", exchange_segment="NSE_FNO", transaction_type="BUY",
                                          quantity=65, order_type="LIMIT", product_type="MARGIN", price=1.0,
                                          correlation_id=correlation_id)
    assert requests_to(emulator, "place_order") == 0


# ---------------------------------------------------------------- the access token


def test_the_access_token_never_appears_in_logs_messages_or_reprs(emulator, caplog):
    caplog.set_level(logging.DEBUG)  # root: dhanhq's, requests' and urllib3's records too
    client = make_client(emulator, timeout=0.3, retry=RetryPolicy(attempts=2, base_delay=0.01))
    texts = [repr(client)]
    fetch_chain(client)
    emulator.fail_next("optionchain", status=429, error_code="DH-904", times=ATTEMPTS)
    emulator.respond_next("historical", status=500, body=f"<html>token was {TOKEN}</html>", content_type="text/html",
                          times=ATTEMPTS)
    emulator.stall_next("ltp", seconds=5.0, times=ATTEMPTS)
    emulator.respond_next("positions", status=200, body='{"broken": ')
    failing = [
        lambda: fetch_chain(client),
        lambda: client.daily_candles(13, "IDX_I", "INDEX", "2026-11-02", "2026-11-20"),
        lambda: client.last_prices({"IDX_I": [13]}),
        client.positions,
        lambda: make_client(emulator, token=TOKEN + "x").fund_limits(),  # wrong token: 401 DH-901
        lambda: DhanClient("1000000001", TOKEN + " \n", base_url=emulator.url),  # would break the header
    ]
    for call in failing:
        with pytest.raises((BrokerError, DataError, InputError)) as caught:
            call()
        texts += [str(caught.value), repr(caught.value)]
    assert any("***" in text for text in texts)  # the echoed token was masked
    assert any(record.levelno == logging.WARNING for record in caplog.records)  # retries were logged
    leaked = [text for text in texts + [record.getMessage() for record in caplog.records] if TOKEN in text]
    assert leaked == []


def test_basket_margin_reads_both_documented_answer_shapes_and_refuses_others(emulator):
    client = make_client(emulator)
    leg = {"securityId": str(emulator.security_id("NIFTY", date(2026, 12, 1), 26200.0, "CE")),
           "exchangeSegment": "NSE_FNO", "transactionType": "SELL", "quantity": 65, "productType": "MARGIN",
           "price": 0.0}
    camel = client.basket_margin([leg])
    emulator.tamper_next("margincalculator_multi", lambda p: {
        "total_margin": f"{p['totalMargin']:.2f}", "span_margin": "0", "hedge_benefit": "0"})
    before = requests_to(emulator, "margincalculator_multi")
    assert client.basket_margin([leg]) == pytest.approx(camel, abs=0.01)
    assert requests_to(emulator, "margincalculator_multi") == before + 1  # answered at once, in the snake_case shape
    for body in ({"spanMargin": 1.0}, {"totalMargin": "n/a"}, {"totalMargin": -5.0}):
        emulator.tamper_next("margincalculator_multi", lambda p, body=body: body)
        with pytest.raises(DataError, match="basket margin of 1 leg"):
            client.basket_margin([leg])
