"""The Dhan v2 REST API through the official dhanhq 2.3.0 SDK, with typed errors, client-side rate limits and retries.

Every request goes through dhanhq (`dhanhq(DhanContext(client_id, token))`, its HTTP object pointed at `base_url`).
dhanhq never raises on HTTP errors: it returns {"status": "success"|"failure", "remarks", "data"} and drops what
tells failures apart — the HTTP status, the headers (Retry-After) and any error body other than
{"errorCode", "errorType", "errorMessage"} (remarks then holds the JSON parser's complaint or the requests
exception text). So a response hook on dhanhq's requests session records, per thread, the status, Retry-After,
content type and raw body of the response the SDK got, and each call is judged on both:

1. no response recorded: the request got no answer (timeout, refused connection) → BrokerError;
2. a body that is not JSON (empty, plain text, an HTML error page, truncated JSON): the status decides where it
   can — 401/403 → AuthError, 429 → RateLimited, 5xx → BrokerError — and anything else is a DataError;
3. an error code wherever Dhan puts one — "errorCode" in the body with any status (HTTP 200 with
   {"errorCode": 806, ...} included) or {"status": "failed", "data": {"805": "..."}} — → ERROR_CODES;
4. otherwise a non-2xx status: 401/403 → AuthError, 429 → RateLimited, anything else → BrokerError;
5. otherwise the JSON body is the answer.

Rate limits (RateLimited) are retried with exponential backoff and jitter, honouring Retry-After; server trouble
(no answer, 5xx, DH-908/909, 800) only for calls that are safe to repeat (reads, never an order placement);
everything else fails at once. Client-side limits (RATE_LIMITS) pace requests per API category before they leave:
in this process, or — given a database connection (`shared_pacing`) — in its api_pacing table, shared by every
process on the account (adapters.pacing.SharedRateLimiter).
The access token is sent only in the access-token header: it is never logged, and messages that quote server
text have it masked.
"""

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, Literal

from dhanhq import DhanContext, dhanhq

from optionsv4_lib.adapters.pacing import Rate, RateLimiter, RetryPolicy, SharedRateLimiter
from optionsv4_lib.core.errors import AuthError, BrokerError, DataError, InputError, OptionsV4Error, RateLimited

log = logging.getLogger(__name__)

PRODUCTION_BASE_URL = "https://api.dhan.co/v2"
DEFAULT_TIMEOUT = 10.0  # s, connect and read, per request

Category = Literal["option_chain", "data", "quote", "orders", "non_trading"]
RATE_LIMITS: Mapping[Category, Rate] = {
    # Dhan v2 limits per the developer docs (as of 2026-08; /work/shared/reference/dhan-api.md §1).
    "option_chain": Rate(1, 3.0),  # /optionchain: one request per 3 s (the safe reading of "one unique request")
    "data": Rate(5, 1.0),          # /charts/*, /optionchain/expirylist
    "quote": Rate(1, 1.0),         # /marketfeed/*
    "orders": Rate(10, 1.0),       # place, modify, cancel
    "non_trading": Rate(20, 1.0),  # order status, positions, funds, margin, kill switch
}

# /charts/rollingoption (expired options; Dhan's docs, reference §3): ATM±10 strikes for index options, ATM±3 for
# the rest; at most 30 days per request (toDate exclusive); bars of these minutes.
EXPIRED_FIELDS = ("open", "high", "low", "close", "iv", "volume", "strike", "oi", "spot")
EXPIRED_WINDOW_DAYS = 30
EXPIRED_INTERVALS = (1, 5, 15, 25, 60)
EXPIRED_MAX_OFFSET = 10
_EXPIRED_STRIKE = re.compile(r"ATM(?:[+-](?:[1-9]|10))?")

ErrorKind = Literal["auth", "rate", "input", "data", "server", "refused"]
ERROR_CODES: Mapping[str, tuple[ErrorKind, str]] = {
    "DH-901": ("auth", "client ID or access token invalid or expired"),
    "DH-902": ("refused", "no Data API subscription or no Trading API access"),
    "DH-903": ("refused", "account problem, e.g. a segment not activated"),
    "DH-904": ("rate", "too many requests"),
    "DH-905": ("input", "missing or invalid fields"),
    "DH-906": ("refused", "order cannot be processed"),
    "DH-907": ("data", "bad parameters or no data"),
    "DH-908": ("server", "internal server error"),
    "DH-909": ("server", "network error at Dhan"),
    "DH-910": ("refused", "other error"),
    "800": ("server", "internal server error"),
    "804": ("input", "too many instruments"),
    "805": ("rate", "too many requests or connections"),
    "806": ("data", "Data APIs not subscribed"),
    "807": ("auth", "access token expired"),
    "808": ("auth", "authentication failed"),
    "809": ("auth", "access token invalid"),
    "810": ("auth", "client ID invalid"),
    "811": ("input", "bad expiry date"),
    "812": ("input", "bad date format"),
    "813": ("input", "bad security id"),
    "814": ("input", "bad request"),
}
_EXCEPTION: Mapping[ErrorKind, type[OptionsV4Error]] = {
    "auth": AuthError, "rate": RateLimited, "input": InputError, "data": DataError,
    "server": BrokerError, "refused": BrokerError,
}
PACING_SLACK = 0.05
"""s added to every paced window: requests granted exactly a window apart reach Dhan up to ~10 ms closer than that
(measured against the emulator), and Dhan answers 429 to a request even slightly early."""
QUOTE_BATCH = 1000  # instruments per /marketfeed/* request (Dhan's cap, reference §1)
_CORRELATION_ID = re.compile(r"[A-Za-z0-9_-]{1,25}")  # Dhan rejects 26+ characters (reference §4)
_EXCERPT = 120  # characters of a non-JSON body quoted in an error message


@dataclass(frozen=True)
class _Seen:
    """What the HTTP response behind one dhanhq call looked like."""

    status: int
    retry_after: str | None
    content_type: str
    body: bytes


@dataclass(frozen=True)
class _Failure:
    error: OptionsV4Error
    retry: Literal["always", "if_idempotent", "never"]
    retry_after: float | None = None
    not_found: bool = False


class DhanClient:
    """One Dhan account over dhanhq: typed errors, client-side rate limits per category, retries.

    base_url: e.g. PRODUCTION_BASE_URL, Dhan's sandbox or a local emulator ("http://127.0.0.1:PORT/v2").
    timeout: seconds per request. rate_limits: Category → Rate, overriding RATE_LIMITS (each window widened by
    PACING_SLACK). shared_pacing: opens a connection to the database whose api_pacing table keeps the limits for
    every process on this account (key "dhan:<client id>:<category>", one connection per category used); None keeps
    them in this client. clock, sleep and rng pace the limiter and the backoff (injectable for tests; the shared
    limiter uses the database's clock). Share one client between market data and orders so the limits hold for the
    account.
    """

    def __init__(self, client_id: str, access_token: str, *, base_url: str = PRODUCTION_BASE_URL,
                 timeout: float = DEFAULT_TIMEOUT, rate_limits: Mapping[Category, Rate] = RATE_LIMITS,
                 retry: RetryPolicy = RetryPolicy(), shared_pacing: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None):
        _check_credential(client_id, "client_id")
        _check_credential(access_token, "access_token")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InputError(f"base_url: expected an http(s) URL, got {base_url!r}")
        if not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
            raise InputError(f"timeout: expected a positive number of seconds, got {timeout!r}")
        unknown = set(rate_limits) - set(RATE_LIMITS)
        if unknown:
            raise InputError(f"rate_limits: unknown categories {sorted(unknown)}; expected some of {list(RATE_LIMITS)}")
        self.client_id = client_id
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        context = DhanContext(client_id, access_token)
        http = context.get_dhan_http()
        http.base_url, http.timeout = self.base_url, timeout
        http.session.hooks["response"].append(self._observe)
        self._dhan = dhanhq(context)
        rates = {category: Rate(rate.count, rate.per + PACING_SLACK) if rate.per > 0 else rate
                 for category, rate in {**RATE_LIMITS, **rate_limits}.items()}
        self._limiters = ({category: RateLimiter(rate, clock=clock, sleep=sleep) for category, rate in rates.items()}
                          if shared_pacing is None else
                          {category: SharedRateLimiter(rate, f"dhan:{client_id}:{category}", shared_pacing, sleep=sleep)
                           for category, rate in rates.items()})
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._seen = threading.local()
        self._secret = access_token

    def __repr__(self) -> str:
        return f"DhanClient(client_id={self.client_id!r}, base_url={self.base_url!r})"

    # ---------------------------------------------------------------- market data

    def expiry_list(self, security_id: int, segment: str) -> list[str]:
        """Listed expiries ("YYYY-MM-DD") of the options on an underlying (segment IDX_I, or NSE_FNO for stocks)."""
        body = self._call(f"expiry list {security_id}/{segment}", "data",
                          lambda: self._dhan.expiry_list(int(security_id), segment),
                          idempotent=True, fields=("UnderlyingScrip", "UnderlyingSeg"))
        listed = _envelope(body, "expiry list")
        if not isinstance(listed, list) or not all(isinstance(day, str) for day in listed):
            raise DataError(f"expiry list {security_id}/{segment}: expected a list of dates, got {_short(listed)}")
        return listed

    def option_chain(self, security_id: int, segment: str, expiry: str) -> dict:
        """The chain of one expiry: {"last_price": underlying LTP, "oc": {"<strike>.000000": {"ce": …, "pe": …}}}."""
        what = f"option chain {security_id}/{segment} {expiry}"
        body = self._call(what, "option_chain", lambda: self._dhan.option_chain(int(security_id), segment, expiry),
                          idempotent=True, fields=("UnderlyingScrip", "UnderlyingSeg", "Expiry"))
        chain = _envelope(body, what)
        if not isinstance(chain, dict) or not isinstance(chain.get("oc"), dict):
            raise DataError(f"{what}: expected an object with 'oc', got {_short(chain)}")
        return chain

    def daily_candles(self, security_id: int, segment: str, instrument: str, from_date: str, to_date: str) -> dict:
        """Daily candles as column arrays (open, high, low, close, volume, timestamp); to_date is exclusive."""
        what = f"daily candles {security_id}/{segment} {from_date}..{to_date}"
        body = self._call(what, "data", lambda: self._dhan.historical_daily_data(
            str(security_id), segment, instrument, from_date, to_date), idempotent=True,
            fields=("securityId", "exchangeSegment", "instrument", "fromDate", "toDate"))
        if not isinstance(body, dict):
            raise DataError(f"{what}: expected an object of column arrays, got {_short(body)}")
        return body

    def expired_options(self, security_id: int, segment: str, instrument: str, expiry_flag: str, expiry_code: int,
                        strike: str, option_type: str, from_date: str, to_date: str, interval: int) -> dict:
        """Dhan's rolling expired-options bars of one ATM-relative series (/charts/rollingoption): the side's column
        arrays {"open", "high", "low", "close", "volume", "oi", "iv", "strike", "spot", "timestamp"} (epoch seconds,
        each bar's start); an empty dict when Dhan has no bars (none for the side, or DH-907 "no data"). to_date is
        exclusive and at most EXPIRED_WINDOW_DAYS after from_date. InputError, before anything is sent, for a field
        outside Dhan's enums."""
        _check_expired_request(expiry_flag, expiry_code, strike, option_type, from_date, to_date, interval)
        what = f"expired options {security_id}/{segment} {expiry_flag}{expiry_code} {strike} {option_type} " \
               f"{from_date}..{to_date}"
        body = self._call(what, "data", lambda: self._dhan.expired_options_data(
            str(security_id), segment, instrument, expiry_flag, expiry_code, strike, option_type,
            list(EXPIRED_FIELDS), from_date, to_date, interval), idempotent=True,
            fields=("securityId", "exchangeSegment", "instrument", "expiryFlag", "expiryCode", "strike",
                    "drvOptionType", "requiredData", "fromDate", "toDate", "interval"), missing_ok=True)
        if body is None:
            return {}
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise DataError(f"{what}: expected {{'data': {{'ce': …, 'pe': …}}}}, got {_short(body)}")
        side = data.get("ce" if option_type == "CALL" else "pe")
        if side is None:
            return {}
        if not isinstance(side, dict):
            raise DataError(f"{what}: expected an object of column arrays, got {_short(side)}")
        return side

    def last_prices(self, instruments: Mapping[str, Sequence[int]]) -> dict[str, dict[str, dict]]:
        """Last traded prices: {segment: [security id, …]} → {segment: {"<id>": {"last_price": ₹}}}."""
        what = f"last prices {dict(instruments)}"
        body = self._call(what, "quote", lambda: self._dhan.ticker_data(
            {segment: [int(i) for i in ids] for segment, ids in instruments.items()}),
            idempotent=True, fields=tuple(instruments))
        prices = _envelope(body, what)
        if not isinstance(prices, dict):
            raise DataError(f"{what}: expected an object by segment, got {_short(prices)}")
        return prices

    def quotes(self, instruments: Mapping[str, Sequence[int]]) -> dict[str, dict[str, dict]]:
        """Market quotes (/marketfeed/quote): {segment: [security id, …]} → {segment: {"<id>": quote}}, each quote with
        last_price, depth {"buy": [{price, quantity, orders} × 5], "sell": […]}, oi, volume, ohlc, … Asked
        QUOTE_BATCH instruments a request, each request paced as the quote category; instruments Dhan does not know
        are absent from the answer."""
        pairs = [(segment, int(ident)) for segment, ids in instruments.items() for ident in ids]
        found: dict[str, dict[str, dict]] = {}
        for first in range(0, len(pairs), QUOTE_BATCH):
            chunk: dict[str, list[int]] = {}
            for segment, ident in pairs[first:first + QUOTE_BATCH]:
                chunk.setdefault(segment, []).append(ident)
            what = f"quotes of {len(pairs[first:first + QUOTE_BATCH])} instruments ({first + 1}… of {len(pairs)})"
            body = self._call(what, "quote", partial(self._dhan.quote_data, chunk), idempotent=True,
                              fields=tuple(chunk))
            answer = _envelope(body, what)
            if not isinstance(answer, dict) or not all(isinstance(v, dict) for v in answer.values()):
                raise DataError(f"{what}: expected an object by segment of objects by security id, "
                                f"got {_short(answer)}")
            for segment, quoted in answer.items():
                found.setdefault(segment, {}).update(quoted)
        return found

    # ---------------------------------------------------------------- orders and account

    def place_order(self, *, security_id: str, exchange_segment: str, transaction_type: str, quantity: int,
                    order_type: str, product_type: str, price: float, correlation_id: str | None = None,
                    validity: str = "DAY", trigger_price: float = 0.0) -> dict:
        """Place one order; returns {"orderId", "orderStatus"}. Never retried after an unanswered request: look the
        order up by its correlation id (≤ 25 characters of [A-Za-z0-9_-]) instead."""
        if correlation_id is not None and not _CORRELATION_ID.fullmatch(correlation_id):
            raise InputError(f"correlation_id: expected 1–25 characters from [A-Za-z0-9_-], got {correlation_id!r}")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise InputError(f"quantity: expected a positive number of units, got {quantity!r}")
        what = f"place order {transaction_type} {quantity} × {security_id} ({correlation_id or 'no correlation id'})"
        body = self._call(what, "orders", lambda: self._dhan.place_order(
            str(security_id), exchange_segment, transaction_type, quantity, order_type, product_type, price,
            trigger_price=trigger_price, validity=validity, tag=correlation_id),
            idempotent=False, fields=("securityId", "exchangeSegment", "transactionType", "quantity", "orderType",
                                      "productType", "price", "validity", "triggerPrice", "correlationId"))
        return _record(body, what, "orderId")

    def order(self, order_id: str) -> dict:
        """The order-book record of one order (orderStatus, filledQty, averageTradedPrice, …)."""
        what = f"order {order_id}"
        body = self._call(what, "non_trading", lambda: self._dhan.get_order_by_id(order_id), idempotent=True)
        return _record(body, what, "orderId")

    def order_by_correlation_id(self, correlation_id: str) -> dict | None:
        """The order placed with this correlation id, or None when there is none (HTTP 404 or DH-907)."""
        what = f"order by correlation id {correlation_id}"
        body = self._call(what, "non_trading", lambda: self._dhan.get_order_by_correlationID(correlation_id),
                          idempotent=True, missing_ok=True)
        if body is None or body == []:
            return None
        return _record(body, what, "orderId")

    def cancel_order(self, order_id: str) -> dict:
        """Cancel a pending order; returns {"orderId", "orderStatus"}."""
        what = f"cancel order {order_id}"
        body = self._call(what, "orders", lambda: self._dhan.cancel_order(order_id), idempotent=False)
        return _record(body, what, "orderId")

    def positions(self) -> list[dict]:
        """The day's positions (netQty, buyAvg, sellAvg, realizedProfit, …), one record per security."""
        body = self._call("positions", "non_trading", self._dhan.get_positions, idempotent=True)
        if not isinstance(body, list):
            raise DataError(f"positions: expected a list, got {_short(body)}")
        return body

    def fund_limits(self) -> dict:
        """Funds: availabelBalance (sic), sodLimit, utilizedAmount, withdrawableBalance, … in ₹."""
        return _record(self._call("fund limits", "non_trading", self._dhan.get_fund_limits, idempotent=True),
                       "fund limits", "availabelBalance")

    def basket_margin(self, legs: Sequence[dict]) -> float:
        """₹ of margin for the legs as one basket (Dhan's /margincalculator/multi, hedge benefit included), without
        the account's positions and open orders. Each leg: securityId, exchangeSegment, transactionType, quantity,
        productType, price. Dhan documents two answer shapes: totalMargin (number) or total_margin (text)."""
        what = f"basket margin of {len(legs)} leg(s)"
        body = self._call(what, "non_trading", lambda: self._dhan.margin_calculator_multi(list(legs)),
                          idempotent=True, fields=("scripList",))
        record = body if isinstance(body, dict) else {}
        try:
            total = float(record.get("totalMargin", record.get("total_margin")))
        except (TypeError, ValueError):
            total = float("nan")
        if 0 <= total < float("inf"):
            return total
        raise DataError(f"{what}: expected a totalMargin (or total_margin) ≥ 0, got {_short(body)}")

    def kill_switch_active(self) -> bool:
        """Whether the account's kill switch is on (trading disabled for the day)."""
        record = _record(self._call("kill switch status", "non_trading", self._dhan.status_kill_switch,
                                    idempotent=True), "kill switch status", "killSwitchStatus")
        status = record["killSwitchStatus"]
        if status not in ("ACTIVATE", "DEACTIVATE"):
            raise DataError(f"kill switch status: expected ACTIVATE or DEACTIVATE, got {status!r}")
        return status == "ACTIVATE"

    # ---------------------------------------------------------------- the call loop

    def _call(self, what: str, category: Category, request: Callable[[], dict], *, idempotent: bool,
              fields: Sequence[str] = (), missing_ok: bool = False) -> Any:
        """Run one dhanhq request under the category's rate limit; retry per the policy; the JSON body or raise."""
        for attempt in range(1, self.retry.attempts + 1):
            self._limiters[category].acquire()
            self._seen.response = None
            started = time.monotonic()
            result = request()
            outcome = self._judge(what, result, self._seen.response, fields)
            if not isinstance(outcome, _Failure):
                log.debug("dhan %s: ok in %.3f s (attempt %d)", what, time.monotonic() - started, attempt)
                return outcome
            if missing_ok and outcome.not_found:
                return None
            retry = outcome.retry == "always" or (outcome.retry == "if_idempotent" and idempotent)
            wait = self.retry.delay(attempt, outcome.retry_after, self._rng) if retry else None
            if wait is None or attempt == self.retry.attempts:
                if retry:
                    log.warning("dhan: giving up after %d attempt(s): %s", attempt, outcome.error)
                raise outcome.error
            log.warning("dhan: %s; retry %d in %.2f s", outcome.error, attempt, wait)
            self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _observe(self, response, *args, **kwargs) -> None:
        """requests response hook: remember this thread's latest response."""
        self._seen.response = _Seen(response.status_code, response.headers.get("Retry-After"),
                                    response.headers.get("Content-Type", ""), response.content)

    def _judge(self, what: str, result: dict, seen: _Seen | None, fields: Sequence[str]) -> Any:
        """The JSON body of a good answer, or a _Failure (see the module docstring for the rules)."""
        if seen is None:
            return _Failure(BrokerError(f"{what}: no answer from Dhan ({self._mask(str(result.get('remarks')))})"),
                            "if_idempotent")
        try:
            body = json.loads(seen.body)
        except ValueError:
            problem = "an empty body" if not seen.body.strip() else (
                f"a body that is not JSON ({seen.content_type or 'no content type'}: "
                f"{self._mask(seen.body[:_EXCERPT].decode('utf-8', 'replace'))!r})")
            return self._status_failure(what, seen, f"with {problem}", DataError)
        coded = _error_code(body)
        if coded is not None:
            return self._coded_failure(what, seen, fields, *coded)
        if 200 <= seen.status < 300:  # dhanhq parsed the same body: its data is the answer
            return result["data"]
        return self._status_failure(what, seen, self._mask(_short(body)), BrokerError)

    def _status_failure(self, what: str, seen: _Seen, detail: str, otherwise: type[OptionsV4Error]) -> _Failure:
        """A failure judged by the HTTP status alone: 401/403 auth, 429 rate limit, 5xx server trouble (retried for
        reads); any other status raises `otherwise`. detail: what the body said, already masked."""
        text = f"{what}: HTTP {seen.status} {detail}"
        if seen.status in (401, 403):
            return _Failure(AuthError(text), "never")
        if seen.status == 429:
            return _Failure(RateLimited(text), "always", _seconds(seen.retry_after))
        if seen.status >= 500:
            return _Failure(BrokerError(text), "if_idempotent")
        return _Failure(otherwise(text), "never", not_found=seen.status == 404)

    def _coded_failure(self, what: str, seen: _Seen, fields: Sequence[str], code: str, kind_name: str,
                       message: str) -> _Failure:
        kind, meaning = ERROR_CODES.get(code, ("refused", "unknown error code"))
        detail = self._mask(f"{f'{code} {kind_name}'.strip()}: {message}")
        text = f"{what}: {meaning} — {detail} (HTTP {seen.status})"
        if kind == "input":
            text = f"{_named_field(message, fields)}: {text}"
        retry = {"rate": "always", "server": "if_idempotent"}.get(kind, "never")
        return _Failure(_EXCEPTION[kind](text), retry, _seconds(seen.retry_after),
                        not_found=code == "DH-907" or seen.status == 404)

    def _mask(self, text: str) -> str:
        return text.replace(self._secret, "***")


# ---------------------------------------------------------------- helpers


def _check_credential(value, field: str) -> None:
    """Non-empty, no whitespace or control characters (requests would quote a bad header value in its error)."""
    if not isinstance(value, str) or not value or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise InputError(f"{field}: expected a non-empty string without spaces or control characters")


def _check_expired_request(expiry_flag, expiry_code, strike, option_type, from_date: str, to_date: str,
                           interval) -> None:
    """InputError naming the first field of an expired-options request outside Dhan's documented values."""
    if expiry_flag not in ("WEEK", "MONTH"):
        raise InputError(f"expiryFlag: expected WEEK or MONTH, got {expiry_flag!r}")
    if expiry_code not in (1, 2, 3) or isinstance(expiry_code, bool):
        raise InputError(f"expiryCode: expected 1 (near), 2 (next) or 3 (far), got {expiry_code!r}")
    if not isinstance(strike, str) or not _EXPIRED_STRIKE.fullmatch(strike):
        raise InputError(f"strike: expected ATM or ATM+k / ATM-k with k from 1 to {EXPIRED_MAX_OFFSET}, got {strike!r}")
    if option_type not in ("CALL", "PUT"):
        raise InputError(f"drvOptionType: expected CALL or PUT, got {option_type!r}")
    if interval not in EXPIRED_INTERVALS or isinstance(interval, bool):
        raise InputError(f"interval: expected one of {EXPIRED_INTERVALS} minutes, got {interval!r}")
    try:
        first, until = date.fromisoformat(from_date), date.fromisoformat(to_date)
    except (TypeError, ValueError):
        raise InputError(f"fromDate/toDate: expected YYYY-MM-DD dates, got {from_date!r} and {to_date!r}") from None
    if not 0 < (until - first).days <= EXPIRED_WINDOW_DAYS:
        raise InputError(f"toDate: expected 1 to {EXPIRED_WINDOW_DAYS} days after fromDate {first} (exclusive), "
                         f"got {until}")


def _error_code(body) -> tuple[str, str, str] | None:
    """(code, type, message) when the body reports an error.

    Two forms: {"errorCode", "errorType", "errorMessage"} and {"status": "failed", "data": {code: message}}.
    """
    if not isinstance(body, dict):
        return None
    if body.get("errorCode") is not None:
        return str(body["errorCode"]), str(body.get("errorType") or ""), str(body.get("errorMessage") or "")
    data = body.get("data")
    if body.get("status") in ("failed", "failure") and isinstance(data, dict) and len(data) == 1:
        code, message = next(iter(data.items()))
        return str(code), "", str(message)
    return None


def _named_field(message: str, fields: Sequence[str]) -> str:
    """The request field a server message names, else all the fields sent."""
    named = [field for field in fields if re.search(rf"\b{re.escape(field)}\b", message, re.IGNORECASE)]
    return named[0] if named else "/".join(fields) or "request"


def _seconds(retry_after: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if retry_after is None:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _envelope(body, what: str):
    """The "data" of a {"data": …, "status": "success"} answer (option chain, expiry list, market feed)."""
    if not isinstance(body, dict) or "data" not in body:
        raise DataError(f"{what}: expected {{'data': …, 'status': 'success'}}, got {_short(body)}")
    if body.get("status", "success") != "success":
        raise DataError(f"{what}: status {body.get('status')!r}: {_short(body.get('data'))}")
    return body["data"]


def _record(body, what: str, key: str) -> dict:
    """One JSON object holding `key`; Dhan sometimes wraps a single record in a one-element list."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict) or key not in body:
        raise DataError(f"{what}: expected an object with {key!r}, got {_short(body)}")
    return body


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"
