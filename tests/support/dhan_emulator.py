"""A local emulator of the Dhan v2 REST API for tests: the real dhanhq client talks to it over HTTP.

    with DhanEmulator(SyntheticMarket(42, date(2026, 11, 23))) as emulator:
        context = DhanContext(emulator.client_id, emulator.access_token)
        context.get_dhan_http().base_url = emulator.url          # http://127.0.0.1:PORT/v2

Endpoints (shapes from /work/shared/reference/dhan-api.md), each with a name used for fault injection:
  expirylist        POST /optionchain/expirylist    {"data": ["YYYY-MM-DD", …], "status": "success"}
  optionchain       POST /optionchain               {"data": {"last_price", "oc": {"<strike>.000000": {"ce", "pe"}}}, …}
  historical        POST /charts/historical         {"open": […], …, "timestamp": […]} (00:00 IST); toDate exclusive
  rollingoption     POST /charts/rollingoption      {"data": {"ce": {"open": […], …, "timestamp": […]}, "pe": null}} (or
                    the other side): expired options by ATM offset, at most 30 days per request (toDate exclusive)
  ltp               POST /marketfeed/ltp            {"data": {segment: {"<id>": {"last_price"}}}, "status": "success"}
  quote             POST /marketfeed/quote          {"data": {segment: {"<id>": {"last_price", "depth": {"buy": [5 ×
                    {"price", "quantity", "orders"}], "sell": […]}, "oi", "volume", "ohlc", …}}}, "status": "success"};
                    at most 1,000 instruments (else 400, data-API error 804)
  place_order       POST /orders                    {"orderId", "orderStatus": "TRANSIT"}
  order_list        GET /orders                     [order record, …]
  get_order         GET /orders/{id}                order record
  order_by_correlation_id  GET /orders/external/{correlationId}   order record; 404 DH-907 when unknown
  cancel_order      DELETE /orders/{id}             {"orderId", "orderStatus": "CANCELLED"}
  positions         GET /positions                  [position record, …] built from fills
  fundlimit         GET /fundlimit                  {"availabelBalance" (sic), "sodLimit", "utilizedAmount", …}
  margincalculator  POST /margincalculator          {"totalMargin", "spanMargin", "exposureMargin", …}
  margincalculator_multi  POST /margincalculator/multi  {"totalMargin", "spanMargin", "exposure", "foMargin", …}:
                    our SPAN-style estimate of the legs as one basket (optionsv4_lib.execution.margin_estimate)
  killswitch_status GET /killswitch                 {"dhanClientId", "killSwitchStatus": "ACTIVATE"|"DEACTIVATE"}
  killswitch        POST /killswitch?killSwitchStatus=ACTIVATE|DEACTIVATE

Market data come from the SyntheticMarket (spot = its spot, chains = its chains, candles = its candles), so a
parsed answer can be compared with the frames the market gives. Option contracts get security ids (from 40001, in
the order chains are first served or `security_id()` is asked); orders trade those (segment NSE_FNO, quantity a
multiple of the lot size and at most the underlying's freeze quantity, else DH-905 as NSE's freeze rejects it).
Every request needs the access-token header (else 401 DH-901). `scrip_master()` lists every option contract of the
market as `instruments` rows (the imported scrip master the quote path reads).

Rate limits as Dhan enforces them: `intervals` maps an endpoint name to the seconds that must separate two requests
it accepts (default: quote 1 s, Dhan's one quote request per second); a request sooner is answered 429 DH-904 and
not served (it does not move the window). Dhan counts its quote limit over every /marketfeed/* endpoint; here each
listed endpoint counts alone (ltp is unlimited unless listed).

Order lifecycle: placed TRANSIT; each read of the order (get_order, order_by_correlation_id, order_list) moves it
one step along its path — TRANSIT → PENDING → TRADED by default — or, with `step_seconds`, one step per that
many seconds since placement. Per placement number k (1-based, counted from start): reject_leg(k) → TRANSIT →
REJECTED; partial_fill(k, quantity) → … → PART_TRADED with that many units filled; leave_pending(k) → stays
PENDING. Cancel moves any open order (TRANSIT, PENDING, PART_TRADED) to CANCELLED. LIMIT orders fill at their price,
MARKET orders at the ask (BUY) or bid (SELL; the LTP when there is no bid).

Faults, consumed one request at a time per endpoint name (before the auth check); with symbol="TCS" only by
requests about that underlying (expirylist, optionchain, historical), which take their own faults before the
endpoint's:
  fail_next(name, status=429, error_code="DH-904", times=3, retry_after="2")   a documented Dhan error body
  respond_next(name, status=500, body="<html>…", content_type="text/html")      any raw answer
  stall_next(name, seconds=5)                                                   answer late (client timeouts)
  tamper_next(name, transform, symbol="TCS")   the normal JSON payload, passed through transform (which returns
                                               the payload to send, or raw bytes/str)
"""

import base64
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from optionsv4_lib.execution.broker import Contract as BrokerContract
from optionsv4_lib.execution.margin_estimate import estimate_basket_margin
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.core.errors import OptionsV4Error
from optionsv4_lib.reference.calendar import IST, nth_expiry, session, trading_days
from optionsv4_lib.reference.freeze_quantities import freeze_quantity
from optionsv4_lib.reference.universe import index_ids
from optionsv4_lib.store.instruments import COLUMNS as INSTRUMENT_COLUMNS

# Documented messages (reference §1): DH-* codes come as {"errorType", "errorCode", "errorMessage"}, the data-API
# 8xx codes as {"errorCode": <int>, "errorMessage"} (the shape of the recorded HTTP-200 806 answer).
ERRORS = {
    "DH-901": ("Invalid_Authentication", "Client ID or user generated access token is invalid or expired."),
    "DH-902": ("Invalid_Access", "User has not subscribed to Data APIs or does not have access to Trading APIs."),
    "DH-903": ("User_Account", "Errors related to the user's account, e.g. a segment not activated."),
    "DH-904": ("Input_Exception", "Too many requests on server from single user breaching rate limits. "
                                  "Try throttling API calls."),
    "DH-905": ("Input_Exception", "Missing required fields, bad values for parameters etc."),
    "DH-906": ("Order_Error", "Incorrect request for order and cannot be processed."),
    "DH-907": ("Data_Error", "System is unable to fetch data due to incorrect parameters or no data present."),
    "DH-908": ("Internal_Server_Error", "Server was not able to process API request."),
    "DH-909": ("Network_Error", "Network error: the API could not reach the backend."),
    "DH-910": ("Others", "Error originating from other reasons."),
    800: (None, "Internal Server Error"),
    804: (None, "Requested number of instruments exceeds limit"),
    805: (None, "Too many requests or connections. Further requests may result in the user being blocked."),
    806: (None, "Data APIs not subscribed"),
    807: (None, "Access token is expired"),
    808: (None, "Authentication Failed - Client ID or Access Token invalid"),
    809: (None, "Access token is invalid"),
    810: (None, "Client ID is invalid"),
    811: (None, "Invalid Expiry Date"),
    812: (None, "Invalid Date Format"),
    813: (None, "Invalid SecurityId"),
    814: (None, "Invalid Request"),
}

def jwt_token(client_id: str, expiry: datetime) -> str:
    """An unsigned JWT shaped like Dhan's access tokens (header.payload.signature, `exp` in epoch seconds)."""
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"dhanClientId": client_id, "tokenConsumerType": "SELF", "exp": int(expiry.timestamp())}
    return ".".join((part({"typ": "JWT", "alg": "HS512"}), part(claims), "emulator"))


ROUTES = (  # (method, path pattern under /v2, endpoint name)
    ("POST", r"/optionchain/expirylist", "expirylist"),
    ("POST", r"/optionchain", "optionchain"),
    ("POST", r"/charts/historical", "historical"),
    ("POST", r"/charts/rollingoption", "rollingoption"),
    ("POST", r"/marketfeed/ltp", "ltp"),
    ("POST", r"/marketfeed/quote", "quote"),
    ("POST", r"/orders", "place_order"),
    ("GET", r"/orders", "order_list"),
    ("GET", r"/orders/external/(?P<key>[^/]+)", "order_by_correlation_id"),
    ("GET", r"/orders/(?P<key>[^/]+)", "get_order"),
    ("DELETE", r"/orders/(?P<key>[^/]+)", "cancel_order"),
    ("GET", r"/positions", "positions"),
    ("GET", r"/fundlimit", "fundlimit"),
    ("POST", r"/margincalculator", "margincalculator"),
    ("POST", r"/margincalculator/multi", "margincalculator_multi"),
    ("GET", r"/killswitch", "killswitch_status"),
    ("POST", r"/killswitch", "killswitch"),
)
ENDPOINTS = frozenset(name for _, _, name in ROUTES)
SYMBOL_ENDPOINTS = frozenset({"expirylist", "optionchain", "historical"})  # requests about one underlying

OPEN_STATUSES = ("TRANSIT", "PENDING", "PART_TRADED")
FIRST_CONTRACT_ID = 40001
QUOTE_LIMIT = 1000  # instruments per /marketfeed/* request (reference §1)
DEPTH = 5  # levels of market depth per side in a quote
TICK = 0.05  # ₹ between the emulated depth levels
DEFAULT_INTERVALS = {"quote": 1.0}  # s between accepted requests (Dhan: one quote request per second)
SPAN_RATE = {"IDX_I": 0.09, "NSE_EQ": 0.15}  # share of the underlying notional; plausible NSE levels, not exact
EXPOSURE_RATE = {"IDX_I": 0.02, "NSE_EQ": 0.035}
BROKERAGE = 20.0  # ₹ per order
CORRELATION_ID = re.compile(r"[A-Za-z0-9 _-]{1,25}")
ENUMS = {
    "transactionType": ("BUY", "SELL"),
    "exchangeSegment": ("NSE_FNO",),
    "productType": ("CNC", "INTRADAY", "MARGIN", "MTF"),
    "orderType": ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_MARKET"),
    "validity": ("DAY", "IOC"),
}


@dataclass(frozen=True)
class Answer:
    """One HTTP answer."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Fault:
    """What to do instead of (answer), before (stall seconds) or after (transform) the normal handling of one
    request."""

    answer: Answer | None = None
    stall: float = 0.0
    transform: Callable[[object], object] | None = None


@dataclass(frozen=True)
class Request:
    """One request the emulator received (for tests of pacing and payloads)."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    endpoint: str | None
    body: object


@dataclass(frozen=True)
class Contract:
    symbol: str
    expiry: date
    strike: float
    option_type: str
    lot_size: int
    segment: str  # the underlying's segment (IDX_I or NSE_EQ)


@dataclass(frozen=True)
class _BasketLeg:
    """One leg of a basket-margin request, as execution.margin_estimate reads it."""

    contract: BrokerContract
    side: str
    quantity: int
    price: float


@dataclass
class Order:
    """An order (its order-book record) and its planned path of statuses; `step` indexes the path."""

    record: dict
    contract: Contract
    path: tuple[str, ...]
    placed_at: float
    fill_quantity: int
    fill_price: float
    reason: str = ""  # omsErrorDescription if it is rejected
    step: int = 0


class ApiError(Exception):
    """Raised inside a handler to answer with `answer` instead."""

    def __init__(self, answer: Answer):
        super().__init__(answer.status)
        self.answer = answer


def refuse(status: int, code: str, message: str) -> ApiError:
    """A documented Dhan error with a message naming the field."""
    return ApiError(error_answer(status, code, message))


def json_answer(payload, status: int = 200) -> Answer:
    return Answer(status, json.dumps(payload).encode())


def error_answer(status: int, code: str | int, message: str | None = None, retry_after: str | None = None) -> Answer:
    """A Dhan error body for a documented code (message defaults to the documented one)."""
    error_type, default = ERRORS[code]
    body = {"errorType": error_type, "errorCode": code, "errorMessage": message or default}
    if error_type is None:
        del body["errorType"]
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Answer(status, json.dumps(body).encode(), headers=headers)


class DhanEmulator:
    """The emulator: an http.server.ThreadingHTTPServer on 127.0.0.1 (free port), state in memory, thread-safe.

    market: the SyntheticMarket behind the data endpoints. balance: ₹ start-of-day limit. step_seconds: None to
    advance orders on each read, else one step per that many seconds. legacy_chain: serve chains without
    security_id and average_price (answers before API v2.5). freeze: units per order by symbol (NSE's quantity
    freeze; default: include/data/freeze_quantities.csv in force on the market's trade date). rate: the risk-free
    rate of the basket-margin estimate (decimal). pin, totp_secret: the account's, for the auth host's
    `POST /app/generateAccessToken` (served at the root, `auth_url`): a right PIN and current TOTP get a new 24-hour
    JWT access token, which replaces the old one.
    """

    def __init__(self, market: SyntheticMarket, *, client_id: str = "1000000001",
                 access_token: str = "emulator-access-token", balance: float = 10_000_000.0,
                 step_seconds: float | None = None, legacy_chain: bool = False, freeze: dict[str, int] | None = None,
                 rate: float = 0.065, pin: str | None = None, totp_secret: str | None = None,
                 intervals: dict[str, float] | None = None):
        self.market, self.client_id, self.access_token = market, client_id, access_token
        self.pin, self.totp_secret = pin, totp_secret  # the auth host's TOTP flow (None: it refuses)
        self.balance, self.step_seconds, self.legacy_chain = balance, step_seconds, legacy_chain
        self.freeze, self.rate = freeze, rate
        self.intervals = dict(DEFAULT_INTERVALS if intervals is None else intervals)
        unknown = set(self.intervals) - ENDPOINTS
        if unknown:
            raise ValueError(f"intervals: unknown endpoints {sorted(unknown)}")
        self._accepted: dict[str, float] = {}  # endpoint → monotonic time of the last request accepted
        self.kill_switch = False
        self.requests: list[Request] = []
        self.orders: dict[str, Order] = {}
        self._faults: dict[tuple[str, str | None], deque[Fault]] = defaultdict(deque)  # (endpoint, symbol)
        self._outcomes: dict[int, tuple] = {}  # placement number → ("reject", reason) | ("partial", qty) | ("pending",)
        self._placed = 0
        self._contracts: dict[int, Contract] = {}
        self._contract_ids: dict[tuple, int] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._underlyings = self._underlying_ids()
        self._past_markets: dict[date, SyntheticMarket | None] = {}
        self._server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- life cycle

    def start(self) -> "DhanEmulator":
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="dhan-emulator",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases stalled requests
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "DhanEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to set on dhanhq's HTTP object: http://127.0.0.1:PORT/v2."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v2"

    @property
    def auth_url(self) -> str:
        """The auth host's base URL (Dhan: https://auth.dhan.co)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---------------------------------------------------------------- faults and outcomes

    def respond_next(self, endpoint: str, *, status: int = 200, body: bytes | str | dict | list = b"",
                     content_type: str = "application/json", headers: dict[str, str] | None = None,
                     times: int = 1, symbol: str | None = None) -> None:
        """Answer the next `times` requests to endpoint (about symbol) with this raw answer (dict/list bodies are
        JSON-encoded)."""
        fault = Fault(Answer(status, _raw(body), content_type, tuple((headers or {}).items())))
        self._queue(endpoint, fault, times, symbol)

    def fail_next(self, endpoint: str, *, status: int, error_code: str | int, message: str | None = None,
                  retry_after: str | None = None, times: int = 1, symbol: str | None = None) -> None:
        """Answer the next `times` requests to endpoint (about symbol) with a documented Dhan error (HTTP 200
        allowed, as with 806)."""
        self._queue(endpoint, Fault(error_answer(status, error_code, message, retry_after)), times, symbol)

    def stall_next(self, endpoint: str, *, seconds: float = 30.0, times: int = 1, symbol: str | None = None) -> None:
        """Hold the next `times` requests to endpoint (about symbol) for `seconds` before answering normally (until
        stop())."""
        self._queue(endpoint, Fault(stall=seconds), times, symbol)

    def tamper_next(self, endpoint: str, transform: Callable[[object], object], *, times: int = 1,
                    symbol: str | None = None) -> None:
        """Answer the next `times` requests to endpoint (about symbol) with transform(the normal payload): a payload
        to JSON-encode, or raw bytes/str. The payload is a fresh copy; transform may edit it in place."""
        self._queue(endpoint, Fault(transform=transform), times, symbol)

    def reject_leg(self, k: int, reason: str = "RMS: margin exceeds available balance") -> None:
        """The k-th order placed (1-based, since start) goes TRANSIT → REJECTED with this omsErrorDescription."""
        self._outcomes[k] = ("reject", reason)

    def partial_fill(self, k: int, quantity: int) -> None:
        """The k-th order placed ends PART_TRADED with `quantity` units filled (until cancelled)."""
        self._outcomes[k] = ("partial", quantity)

    def leave_pending(self, k: int) -> None:
        """The k-th order placed stays PENDING (unfilled) until cancelled."""
        self._outcomes[k] = ("pending",)

    def _queue(self, endpoint: str, fault: Fault, times: int, symbol: str | None) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint: unknown {endpoint!r}; expected one of {sorted(ENDPOINTS)}")
        if symbol is not None and endpoint not in SYMBOL_ENDPOINTS:
            raise ValueError(f"symbol: faults by symbol apply to {sorted(SYMBOL_ENDPOINTS)}, not {endpoint!r}")
        if symbol is not None and symbol not in self._underlyings.values():
            raise ValueError(f"symbol: {symbol!r} is not in the emulated universe")
        with self._lock:
            self._faults[(endpoint, symbol)].extend([fault] * times)

    def _next_fault(self, endpoint: str | None, body) -> Fault | None:
        """The fault queued for this request's underlying, else for its endpoint (called under the lock)."""
        for key in ((endpoint, self._request_symbol(endpoint, body)), (endpoint, None)):
            if self._faults.get(key):
                return self._faults[key].popleft()
        return None

    def _request_symbol(self, endpoint: str | None, body) -> str | None:
        """The underlying a market-data request is about (None when there is none or it is unknown)."""
        if endpoint not in SYMBOL_ENDPOINTS or not isinstance(body, dict):
            return None
        if endpoint == "historical":
            segment, ident = body.get("exchangeSegment"), body.get("securityId")
        else:
            segment, ident = body.get("UnderlyingSeg"), body.get("UnderlyingScrip")
        try:
            return self._underlyings.get((segment, int(ident)))
        except (TypeError, ValueError):
            return None

    # ---------------------------------------------------------------- contracts

    def security_id(self, symbol: str, expiry: date, strike: float, option_type: str) -> int:
        """The security id of an option contract (assigned when its chain is first built)."""
        key = (symbol, expiry, float(strike), option_type)
        with self._lock:
            if key not in self._contract_ids:
                self._chain_json(symbol, expiry)
            return self._contract_ids[key]

    def contract(self, security_id: int) -> Contract:
        return self._contracts[int(security_id)]

    def scrip_master(self, symbols: list[str] | None = None) -> pd.DataFrame:
        """Every option contract of `symbols` (default: the whole universe), all listed expiries, as `instruments`
        rows (store.instruments.COLUMNS; source "detailed"), with the ids the emulator quotes and trades."""
        rows = []
        with self._lock:
            for symbol in symbols or list(self.market.universe["symbol"]):
                underlying = next(ident for (segment, ident), name in self._underlyings.items()
                                  if name == symbol and segment != "NSE_FNO")
                for expiry in self.market.expiries(symbol):
                    self._chain_json(symbol, expiry)
                    for (name, day, strike, option_type), ident in self._contract_ids.items():
                        if name != symbol or day != expiry:
                            continue
                        contract = self._contracts[ident]
                        rows.append({
                            "exchange": "NSE", "segment": "D", "security_id": ident, "exchange_segment": "NSE_FNO",
                            "instrument": "OPTIDX" if contract.segment == "IDX_I" else "OPTSTK",
                            "underlying_symbol": symbol, "underlying_security_id": underlying,
                            "trading_symbol": _trading_symbol(contract), "display_name": None,
                            "symbol_name": _trading_symbol(contract), "isin": None, "instrument_type": "OP",
                            "series": None, "lot_size": float(contract.lot_size), "expiry_date": expiry,
                            "strike": strike, "option_type": option_type, "tick_size": TICK, "expiry_flag": None,
                            "source": "detailed"})
        return pd.DataFrame(rows, columns=list(INSTRUMENT_COLUMNS))

    # ---------------------------------------------------------------- dispatch

    def handle(self, method: str, raw_path: str, headers, raw_body: bytes) -> tuple[Answer, float]:
        """(answer, seconds to stall first) for one request."""
        arrived = time.monotonic()
        parts = urlsplit(raw_path)
        if method == "POST" and parts.path == "/app/generateAccessToken":
            with self._lock:
                self.requests.append(Request(time.monotonic(), method, parts.path, "generate_access_token", None))
                return self._generate_access_token(parse_qs(parts.query)), 0.0
        path = parts.path[len("/v2"):] if parts.path.startswith("/v2/") else None
        endpoint, key = None, None
        for route_method, pattern, name in ROUTES:
            match = re.fullmatch(pattern, path or "")
            if route_method == method and match:
                endpoint, key = name, match.groupdict().get("key")
                break
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = raw_body
        with self._lock:
            self.requests.append(Request(arrived, method, parts.path, endpoint, body))
            fault = self._next_fault(endpoint, body)
        if fault is not None and fault.answer is not None:
            return fault.answer, 0.0
        stall = fault.stall if fault is not None else 0.0
        if endpoint is None:
            not_found = {"timestamp": datetime.now(IST).isoformat(), "status": 404, "error": "Not Found",
                         "path": parts.path}
            return json_answer(not_found, 404), stall
        if headers.get("access-token") != self.access_token:
            return error_answer(401, "DH-901"), stall
        if endpoint in self.intervals:
            with self._lock:  # judged by arrival time, so a busy server does not shorten the gap it sees
                if arrived - self._accepted.get(endpoint, -float("inf")) < self.intervals[endpoint]:
                    return error_answer(429, "DH-904"), stall
                self._accepted[endpoint] = arrived
        if isinstance(body, bytes):
            return error_answer(400, "DH-905", "Request body is not valid JSON"), stall
        try:
            with self._lock:
                handler = getattr(self, f"_{endpoint}")
                payload = handler(body or {}, key, parse_qs(parts.query))
            if fault is not None and fault.transform is not None:
                return Answer(200, _raw(fault.transform(json.loads(json.dumps(payload))))), stall
            return json_answer(payload), stall
        except ApiError as exc:
            return exc.answer, stall

    # ---------------------------------------------------------------- the auth host

    def _generate_access_token(self, query: dict[str, list[str]]) -> Answer:
        """Dhan's TOTP token flow: the client id, PIN and the TOTP of this 30-second step → a new access token."""
        from optionsv4_lib.adapters.dhan.token import totp

        given = {name: (query.get(name) or [""])[0] for name in ("dhanClientId", "pin", "totp")}
        now = datetime.now(timezone.utc)
        valid = (self.totp_secret is not None and given["dhanClientId"] == self.client_id and given["pin"] == self.pin
                 and given["totp"] == totp(self.totp_secret, now))
        if not valid:
            return json_answer({"status": "error", "message": "Invalid client id, PIN or TOTP"}, 401)
        expiry = now + timedelta(hours=24)
        self.access_token = jwt_token(self.client_id, expiry)
        return json_answer({"dhanClientId": self.client_id, "accessToken": self.access_token,
                            "expiryTime": expiry.astimezone(IST).replace(tzinfo=None).isoformat(timespec="seconds")})

    # ---------------------------------------------------------------- market data

    def _underlying_ids(self) -> dict[tuple[str, int], str]:
        """(segment, security id) → symbol, for candles and LTP (NSE_FNO + equity id for stock option chains)."""
        found = {}
        for row in self.market.universe.itertuples(index=False):
            found[(row.underlying_segment, int(row.dhan_security_id))] = row.symbol
            if row.underlying_segment == "NSE_EQ":
                found[("NSE_FNO", int(row.dhan_security_id))] = row.symbol
        vix = index_ids().set_index("index_name").loc["INDIA VIX"]
        found[(str(vix["dhan_segment"]), int(vix["dhan_security_id"]))] = "INDIA VIX"
        return found

    def _option_symbol(self, body: dict) -> str:
        segment, scrip = body.get("UnderlyingSeg"), body.get("UnderlyingScrip")
        symbol = self._underlyings.get((segment, scrip)) if isinstance(scrip, int) else None
        if symbol is None or symbol == "INDIA VIX" or segment not in ("IDX_I", "NSE_FNO"):
            raise refuse(400, "DH-905", f"Invalid UnderlyingScrip {scrip!r} / UnderlyingSeg {segment!r}")
        return symbol

    def _expirylist(self, body: dict, key, query) -> dict:
        symbol = self._option_symbol(body)
        return {"data": [day.isoformat() for day in self.market.expiries(symbol)], "status": "success"}

    def _optionchain(self, body: dict, key, query) -> dict:
        symbol = self._option_symbol(body)
        try:
            expiry = date.fromisoformat(str(body.get("Expiry")))
        except ValueError:
            raise refuse(400, "DH-905", f"Invalid Expiry {body.get('Expiry')!r}") from None
        if expiry not in self.market.expiries(symbol):  # the data-API form {"data": {code: text}, "status": "failed"}
            raise ApiError(json_answer({"data": {"811": ERRORS[811][1]}, "status": "failed"}, 400))
        return {"data": self._chain_json(symbol, expiry), "status": "success"}

    def _chain_json(self, symbol: str, expiry: date) -> dict:
        """The chain of the synthetic market in Dhan's shape; assigns contract ids on first sight."""
        chain = self.market.option_chain(symbol, expiry)
        profile = self.market.universe.set_index("symbol").loc[symbol]
        oc: dict[str, dict] = {}
        for row in chain.itertuples(index=False):
            contract = Contract(symbol, expiry, float(row.strike), row.option_type, int(row.lot_size),
                                str(profile["underlying_segment"]))  # the contract's own lot
            ident = self._contract_ids.setdefault((symbol, expiry, contract.strike, row.option_type),
                                                  FIRST_CONTRACT_ID + len(self._contract_ids))
            self._contracts[ident] = contract
            side = {"greeks": {name: _finite(getattr(row, name)) for name in ("delta", "theta", "gamma", "vega")},
                    "implied_volatility": _finite(row.iv * 100), "last_price": float(row.ltp),
                    "oi": int(row.oi), "previous_close_price": round(float(row.ltp) * 1.02, 2),
                    "previous_oi": int(row.oi * 0.9), "previous_volume": int(row.volume * 0.8),
                    "volume": int(row.volume), "top_bid_price": float(row.bid), "top_bid_quantity": int(row.bid_qty),
                    "top_ask_price": float(row.ask), "top_ask_quantity": int(row.ask_qty)}
            if not self.legacy_chain:
                side |= {"average_price": float(row.ltp), "security_id": ident}
            oc.setdefault(f"{contract.strike:.6f}", {})[row.option_type.lower()] = side
        return {"last_price": float(self.market.spot(symbol)), "oc": oc}

    def _historical(self, body: dict, key, query) -> dict:
        segment, instrument = body.get("exchangeSegment"), body.get("instrument")
        try:
            symbol = self._underlyings.get((segment, int(body.get("securityId"))))
        except (TypeError, ValueError):
            symbol = None
        if symbol is None or segment == "NSE_FNO":
            raise refuse(400, "DH-905", f"Invalid securityId {body.get('securityId')!r} in {segment!r}")
        if instrument != {"IDX_I": "INDEX", "NSE_EQ": "EQUITY"}[segment]:
            raise refuse(400, "DH-905", f"Invalid instrument {instrument!r} for {segment}")
        try:
            first, until = (date.fromisoformat(str(body.get(name))) for name in ("fromDate", "toDate"))
        except ValueError:
            raise refuse(400, "DH-905", "Invalid fromDate or toDate: expected YYYY-MM-DD") from None
        candles = (self.market.candles(symbol, first, until - timedelta(days=1)) if first < until
                   else pd.DataFrame(columns=["date", "open", "high", "low", "close", "volume"]))
        stamps = [pd.Timestamp(day).tz_localize(IST).timestamp() for day in candles["date"]]
        columns = {name: [float(v) for v in candles[name]] for name in ("open", "high", "low", "close")}
        return {**columns, "volume": [int(v) for v in candles["volume"]], "timestamp": stamps}

    def _rollingoption(self, body: dict, key, query) -> dict:
        """Expired options of one ATM-relative series: each trading day of the window is the SyntheticMarket of that
        day (quoted at its open), held through the session's bars (o = h = l = c = the LTP, the day's volume spread
        over the bars); the contract is the calendar's nth_expiry for the flag and code at ATM + k strike steps, ATM
        the strike nearest the spot. A day the synthetic market cannot quote (too little history, no rule) has no
        bars. Fields not in requiredData come as empty arrays, as in Dhan's documented answer."""
        symbol, profile = self._rolling_underlying(body)
        flag, code, strike, side = (body.get(name) for name in ("expiryFlag", "expiryCode", "strike", "drvOptionType"))
        limit = 10 if profile["underlying_segment"] == "IDX_I" else 3
        offset = re.fullmatch(r"ATM(?:([+-]\d+))?", strike) if isinstance(strike, str) else None
        wanted = body.get("requiredData")
        fields = ("open", "high", "low", "close", "iv", "volume", "strike", "oi", "spot")
        interval = int(body["interval"]) if str(body.get("interval")) in ("1", "5", "15", "25", "60") else None
        for name, bad in (("expiryFlag", flag not in ("WEEK", "MONTH")), ("expiryCode", code not in (1, 2, 3)),
                          ("strike", offset is None or abs(int(offset.group(1) or 0)) > limit),
                          ("drvOptionType", side not in ("CALL", "PUT")), ("interval", interval is None),
                          ("requiredData", not isinstance(wanted, list) or not set(wanted) <= set(fields))):
            if bad:
                raise refuse(400, "DH-905", f"Invalid {name} {body.get(name)!r}")
        try:
            first, until = (date.fromisoformat(str(body.get(name))) for name in ("fromDate", "toDate"))
        except ValueError:
            raise refuse(400, "DH-905", "Invalid fromDate or toDate: expected YYYY-MM-DD") from None
        if not 0 < (until - first).days <= 30:
            raise refuse(400, "DH-905", f"Invalid toDate {until}: at most 30 days after fromDate {first}")
        columns: dict[str, list] = {name: [] for name in (*fields, "timestamp")}
        for day in trading_days(first, until - timedelta(days=1)):
            market = self._past_market(day)
            try:
                expiry = nth_expiry(symbol, day, "weekly" if flag == "WEEK" else "monthly", code)
                chain = market.option_chain(symbol, expiry) if market is not None else None
            except OptionsV4Error:
                chain = None
            if chain is None:
                continue
            spot, step = market.spot(symbol), float(profile["strike_step"])
            place = round(spot / step) * step + int(offset.group(1) or 0) * step
            row = chain[(chain["strike"] == place) & (chain["option_type"] == ("CE" if side == "CALL" else "PE"))]
            if row.empty:
                continue
            row = row.iloc[0]
            opens, closes = session(day)
            start = datetime.combine(day, opens, tzinfo=IST)
            bars = int(((closes.hour * 60 + closes.minute) - (opens.hour * 60 + opens.minute) - 1) // interval) + 1
            volume = np.diff(np.round(np.linspace(0, int(row["volume"]), bars + 1)).astype(int))
            for n in range(bars):
                values = {"open": float(row["ltp"]), "high": float(row["ltp"]), "low": float(row["ltp"]),
                          "close": float(row["ltp"]), "iv": _finite(row["iv"] * 100), "volume": int(volume[n]),
                          "strike": place, "oi": int(row["oi"]), "spot": spot}
                for name in wanted:
                    columns[name].append(values[name])
                columns["timestamp"].append(int((start + timedelta(minutes=n * interval)).timestamp()))
        answer = columns if columns["timestamp"] else None
        return {"data": {"ce": answer, "pe": None} if side == "CALL" else {"ce": None, "pe": answer}}

    def _rolling_underlying(self, body: dict) -> tuple[str, pd.Series]:
        """The underlying of an expired-options request (segment NSE_FNO, instrument OPTIDX or OPTSTK)."""
        universe = self.market.universe.set_index("symbol")
        try:
            ident = int(body.get("securityId"))
        except (TypeError, ValueError):
            ident = None
        found = universe[universe["dhan_security_id"] == ident]
        if body.get("exchangeSegment") != "NSE_FNO" or found.empty:
            raise refuse(400, "DH-905", f"Invalid securityId {body.get('securityId')!r} in "
                                        f"{body.get('exchangeSegment')!r}")
        profile = found.iloc[0]
        if body.get("instrument") != {"IDX_I": "OPTIDX", "NSE_EQ": "OPTSTK"}[profile["underlying_segment"]]:
            raise refuse(400, "DH-905", f"Invalid instrument {body.get('instrument')!r}")
        return str(found.index[0]), profile

    def _past_market(self, day: date) -> SyntheticMarket | None:
        """The synthetic market of a past trading day (same seed, universe and broken symbols); None when it cannot
        be built (fewer sessions of history than it needs)."""
        if day not in self._past_markets:
            try:
                self._past_markets[day] = SyntheticMarket(self.market.seed, day, universe=self.market.universe,
                                                          broken=self.market.broken)
            except OptionsV4Error:
                self._past_markets[day] = None
        return self._past_markets[day]

    def _ltp(self, body: dict, key, query) -> dict:
        prices: dict[str, dict] = {}
        for segment, ids in body.items():
            if segment == "dhanClientId":
                continue
            for ident in ids if isinstance(ids, list) else []:
                price = self._last_price(segment, ident)
                if price is not None:
                    prices.setdefault(segment, {})[str(ident)] = {"last_price": price}
        return {"data": prices, "status": "success"}

    def _quote(self, body: dict, key, query) -> dict:
        """Full quotes: options from the synthetic chain (depth level 1 = its bid/ask and quantities, deeper levels a
        tick apart), underlyings with their last price and an empty book."""
        asked = {segment: ids for segment, ids in body.items() if segment != "dhanClientId"}
        count = sum(len(ids) if isinstance(ids, list) else 1 for ids in asked.values())
        if count > QUOTE_LIMIT:
            raise ApiError(error_answer(400, 804, f"Requested number of instruments {count} exceeds limit "
                                                  f"{QUOTE_LIMIT}"))
        quotes: dict[str, dict] = {}
        books: dict[tuple[str, date], dict] = {}  # (symbol, expiry) → {(strike, type): chain row}, built once
        for segment, ids in asked.items():
            for ident in ids if isinstance(ids, list) else []:
                quote = self._full_quote(segment, ident, books)
                if quote is not None:
                    quotes.setdefault(segment, {})[str(ident)] = quote
        return {"data": quotes, "status": "success"}

    def _full_quote(self, segment: str, ident, books: dict) -> dict | None:
        if segment == "NSE_FNO" and ident in self._contracts:
            contract = self._contracts[ident]
            chain_key = (contract.symbol, contract.expiry)
            if chain_key not in books:
                chain = self.market.option_chain(*chain_key)
                books[chain_key] = {(row.strike, row.option_type): row for row in chain.itertuples(index=False)}
            row = books[chain_key][(contract.strike, contract.option_type)]
            last, oi, volume = float(row.ltp), int(row.oi), int(row.volume)
            buy = _depth(float(row.bid), int(row.bid_qty), -TICK)
            sell = _depth(float(row.ask), int(row.ask_qty), TICK)
        else:
            price = self._last_price(segment, ident)
            if price is None:
                return None
            last, oi, volume = price, 0, 0
            buy = sell = [{"quantity": 0, "orders": 0, "price": 0.0}] * DEPTH
        return {"average_price": last, "buy_quantity": sum(level["quantity"] for level in buy),
                "sell_quantity": sum(level["quantity"] for level in sell), "depth": {"buy": buy, "sell": sell},
                "last_price": last, "last_quantity": 0,
                "last_trade_time": datetime.now(IST).strftime("%d/%m/%Y %H:%M:%S"),
                "lower_circuit_limit": 0.05, "upper_circuit_limit": round(last * 2 + 1, 2), "net_change": 0.0,
                "ohlc": {"open": last, "close": last, "high": last, "low": last}, "oi": oi, "oi_day_high": oi,
                "oi_day_low": oi, "volume": volume}

    def _last_price(self, segment: str, ident) -> float | None:
        symbol = self._underlyings.get((segment, ident))
        if symbol is not None and segment != "NSE_FNO":
            return float(self.market.spot(symbol))
        if segment == "NSE_FNO" and ident in self._contracts:
            return self._contract_quote(self._contracts[ident])["ltp"]
        return None

    def _contract_quote(self, contract: Contract) -> dict:
        chain = self.market.option_chain(contract.symbol, contract.expiry)
        row = chain[(chain["strike"] == contract.strike) & (chain["option_type"] == contract.option_type)].iloc[0]
        return {"bid": float(row["bid"]), "ask": float(row["ask"]), "ltp": float(row["ltp"]),
                "spot": float(row["underlying_price"])}

    # ---------------------------------------------------------------- orders

    def _place_order(self, body: dict, key, query) -> dict:
        for name, allowed in ENUMS.items():
            if body.get(name) not in allowed:
                raise refuse(400, "DH-905", f"Invalid {name} {body.get(name)!r}: expected one of {list(allowed)}")
        try:
            contract = self._contracts[int(body.get("securityId"))]
        except (KeyError, TypeError, ValueError):
            raise refuse(400, "DH-905", f"Invalid securityId {body.get('securityId')!r}") from None
        quantity, price = body.get("quantity"), body.get("price")
        if not isinstance(quantity, int) or quantity <= 0 or quantity % contract.lot_size:
            raise refuse(400, "DH-905", f"Invalid quantity {quantity!r}: a multiple of the lot size "
                                          f"{contract.lot_size}")
        if quantity > (limit := self._freeze_qty(contract.symbol)):
            raise refuse(400, "DH-905", f"Invalid quantity {quantity}: above the freeze quantity {limit} of "
                                          f"{contract.symbol}; split the order")
        if not isinstance(price, (int, float)) or price < 0 or (body["orderType"] == "LIMIT" and price <= 0):
            raise refuse(400, "DH-905", f"Invalid price {price!r}")
        correlation_id = body.get("correlationId")
        if correlation_id is not None and not CORRELATION_ID.fullmatch(str(correlation_id)):
            raise refuse(400, "DH-905", "Invalid correlationId: at most 25 characters from [A-Za-z0-9 _-]")
        if self.kill_switch:
            raise refuse(400, "DH-906", "Kill switch is active: trading is disabled for the day")
        self._placed += 1
        outcome = self._outcomes.get(self._placed, ("traded",))
        quote = self._contract_quote(contract)
        fill_price = float(price) if body["orderType"] == "LIMIT" else (
            quote["ask"] if body["transactionType"] == "BUY" else quote["bid"] or quote["ltp"])
        path, fill_quantity = {
            "traded": (("TRANSIT", "PENDING", "TRADED"), quantity),
            "reject": (("TRANSIT", "REJECTED"), 0),
            "partial": (("TRANSIT", "PENDING", "PART_TRADED"), outcome[-1]),
            "pending": (("TRANSIT", "PENDING"), 0),
        }[outcome[0]]
        order_id = str(5126_0000_0000 + self._placed)
        now = _ist_now()
        record = {
            "dhanClientId": self.client_id, "orderId": order_id, "exchangeOrderId": "0",
            "correlationId": correlation_id or "NA", "orderStatus": "TRANSIT",
            "transactionType": body["transactionType"], "exchangeSegment": body["exchangeSegment"],
            "productType": body["productType"], "orderType": body["orderType"], "validity": body["validity"],
            "tradingSymbol": _trading_symbol(contract), "securityId": str(body["securityId"]),
            "quantity": quantity, "disclosedQuantity": int(body.get("disclosedQuantity") or 0),
            "price": float(price), "triggerPrice": float(body.get("triggerPrice") or 0.0),
            "afterMarketOrder": bool(body.get("afterMarketOrder")), "boProfitValue": 0.0, "boStopLossValue": 0.0,
            "legName": "NA", "createTime": now, "updateTime": now, "exchangeTime": "0001-01-01 00:00:00",
            "drvExpiryDate": contract.expiry.isoformat(),
            "drvOptionType": "CALL" if contract.option_type == "CE" else "PUT", "drvStrikePrice": contract.strike,
            "omsErrorCode": "0", "omsErrorDescription": "", "algoId": "0", "remainingQuantity": quantity,
            "averageTradedPrice": 0.0, "filledQty": 0,
        }
        reason = outcome[1] if outcome[0] == "reject" else ""
        self.orders[order_id] = Order(record, contract, path, time.monotonic(), fill_quantity, fill_price, reason)
        return {"orderId": order_id, "orderStatus": "TRANSIT"}

    def _freeze_qty(self, symbol: str) -> int:
        """Units one order of the symbol's contracts may carry."""
        if self.freeze is not None:
            return self.freeze[symbol]
        return freeze_quantity(symbol, self.market.trade_date)

    def _advance(self, order: Order, poll: bool) -> None:
        """Move the order along its path (a poll moves one step; with step_seconds, time does) and book fills."""
        if order.record["orderStatus"] == "CANCELLED":
            return
        if self.step_seconds is not None:
            order.step = int((time.monotonic() - order.placed_at) / self.step_seconds)
        elif poll:
            order.step += 1
        status = order.path[min(order.step, len(order.path) - 1)]
        if status == order.record["orderStatus"]:
            return
        record = order.record
        record |= {"orderStatus": status, "updateTime": _ist_now()}
        if status == "REJECTED":  # refused by the OMS: never reached the exchange
            record |= {"omsErrorCode": "16388", "omsErrorDescription": order.reason}
        elif record["exchangeOrderId"] == "0":
            record |= {"exchangeOrderId": f"14000000{record['orderId'][-8:]}", "exchangeTime": record["updateTime"]}
        if status in ("TRADED", "PART_TRADED"):
            record |= {"filledQty": order.fill_quantity, "remainingQuantity": record["quantity"] - order.fill_quantity,
                       "averageTradedPrice": order.fill_price}

    def _order(self, order_id: str) -> Order:
        if order_id not in self.orders:
            raise refuse(404, "DH-907", f"No order found for orderId {order_id}")
        return self.orders[order_id]

    def _order_list(self, body, key, query) -> list:
        for order in self.orders.values():
            self._advance(order, poll=True)
        return [dict(order.record) for order in self.orders.values()]

    def _get_order(self, body, key: str, query) -> dict:
        order = self._order(key)
        self._advance(order, poll=True)
        return dict(order.record)

    def _order_by_correlation_id(self, body, key: str, query) -> dict:
        matches = [order for order in self.orders.values() if order.record["correlationId"] == key]
        if not matches:
            raise refuse(404, "DH-907", f"No order found for correlationId {key}")
        order = matches[-1]
        self._advance(order, poll=True)
        return dict(order.record)

    def _cancel_order(self, body, key: str, query) -> dict:
        order = self._order(key)
        self._advance(order, poll=False)
        if order.record["orderStatus"] not in OPEN_STATUSES:
            raise refuse(400, "DH-906", f"Order {key} is {order.record['orderStatus']} and cannot be cancelled")
        order.record |= {"orderStatus": "CANCELLED", "updateTime": _ist_now()}
        return {"orderId": key, "orderStatus": "CANCELLED"}

    # ---------------------------------------------------------------- account

    def _fills(self) -> dict[str, dict]:
        """Per security id: contract, bought and sold units and values, from every order's fills."""
        books: dict[str, dict] = {}
        for order in self.orders.values():
            self._advance(order, poll=False)
            quantity = order.record["filledQty"]
            if not quantity:
                continue
            book = books.setdefault(order.record["securityId"], {"contract": order.contract, "product":
                                    order.record["productType"], "buy": 0, "buy_value": 0.0, "sell": 0,
                                    "sell_value": 0.0})
            side = "buy" if order.record["transactionType"] == "BUY" else "sell"
            book[side] += quantity
            book[f"{side}_value"] += quantity * order.record["averageTradedPrice"]
        return books

    def _positions(self, body=None, key=None, query=None) -> list:
        records = []
        for security_id, book in self._fills().items():
            contract, net = book["contract"], book["buy"] - book["sell"]
            buy_avg = book["buy_value"] / book["buy"] if book["buy"] else 0.0
            sell_avg = book["sell_value"] / book["sell"] if book["sell"] else 0.0
            closed = min(book["buy"], book["sell"])
            cost = buy_avg if net > 0 else sell_avg if net < 0 else 0.0
            ltp = self._contract_quote(contract)["ltp"]
            records.append({
                "dhanClientId": self.client_id, "tradingSymbol": _trading_symbol(contract), "securityId": security_id,
                "positionType": "LONG" if net > 0 else "SHORT" if net < 0 else "CLOSED",
                "exchangeSegment": "NSE_FNO", "productType": book["product"], "buyAvg": round(buy_avg, 4),
                "buyQty": book["buy"], "costPrice": round(cost, 4), "sellAvg": round(sell_avg, 4),
                "sellQty": book["sell"], "netQty": net, "realizedProfit": round(closed * (sell_avg - buy_avg), 2),
                "unrealizedProfit": round(net * (ltp - cost), 2), "rbiReferenceRate": 1.0, "multiplier": 1,
                "carryForwardBuyQty": 0, "carryForwardSellQty": 0, "carryForwardBuyValue": 0.0,
                "carryForwardSellValue": 0.0, "dayBuyQty": book["buy"], "daySellQty": book["sell"],
                "dayBuyValue": round(book["buy_value"], 2), "daySellValue": round(book["sell_value"], 2),
                "drvExpiryDate": contract.expiry.isoformat(),
                "drvOptionType": "CALL" if contract.option_type == "CE" else "PUT",
                "drvStrikePrice": contract.strike, "crossCurrency": False,
            })
        return records

    def _margin_of(self, contract: Contract, side: str, quantity: int, price: float) -> dict:
        """SPAN + exposure on the underlying notional for a sale; the premium for a purchase (plausible, not NSE's)."""
        if side == "BUY":
            return {"spanMargin": 0.0, "exposureMargin": 0.0, "totalMargin": round(price * quantity, 2)}
        notional = self._contract_quote(contract)["spot"] * quantity
        span, exposure = SPAN_RATE[contract.segment] * notional, EXPOSURE_RATE[contract.segment] * notional
        return {"spanMargin": round(span, 2), "exposureMargin": round(exposure, 2),
                "totalMargin": round(span + exposure, 2)}

    def _account(self) -> tuple[float, float]:
        """(utilized, realized) ₹: margin held by open positions, and realized profit."""
        utilized = realized = 0.0
        for position in self._positions():
            net = position["netQty"]
            realized += position["realizedProfit"]
            if net:
                contract = self._contracts[int(position["securityId"])]
                utilized += self._margin_of(contract, "BUY" if net > 0 else "SELL", abs(net),
                                            position["costPrice"])["totalMargin"]
        return utilized, realized

    def _fundlimit(self, body, key, query) -> dict:
        utilized, realized = self._account()
        available = round(self.balance + realized - utilized, 2)
        return {"dhanClientId": self.client_id, "availabelBalance": available, "sodLimit": self.balance,
                "collateralAmount": 0.0, "receiveableAmount": 0.0, "utilizedAmount": round(utilized, 2),
                "blockedPayoutAmount": 0.0, "withdrawableBalance": max(available, 0.0)}

    def _margincalculator(self, body: dict, key, query) -> dict:
        try:
            contract = self._contracts[int(body.get("securityId"))]
        except (KeyError, TypeError, ValueError):
            raise refuse(400, "DH-905", f"Invalid securityId {body.get('securityId')!r}") from None
        side, quantity, price = body.get("transactionType"), body.get("quantity"), body.get("price")
        if side not in ("BUY", "SELL") or not isinstance(quantity, int) or quantity <= 0:
            raise refuse(400, "DH-905", "Invalid transactionType or quantity")
        margin = self._margin_of(contract, side, quantity, float(price or 0.0))
        available = self._fundlimit(None, None, None)["availabelBalance"]
        return {**margin, "availableBalance": available, "variableMargin": 0.0,
                "insufficientBalance": round(max(margin["totalMargin"] - available, 0.0), 2),
                "brokerage": BROKERAGE, "leverage": "1X"}

    def _margincalculator_multi(self, body: dict, key, query) -> dict:
        """Our SPAN + exposure estimate of the scripList as one basket (the leg's price, else its quote's mid, gives
        its vol), in the portal's camelCase shape; the hedge benefit is the per-order sum less the basket."""
        legs, single = [], 0.0
        for item in body.get("scripList") or []:
            try:
                contract = self._contracts[int(item.get("securityId"))]
            except (AttributeError, KeyError, TypeError, ValueError):
                raise refuse(400, "DH-905", f"Invalid securityId in scripList: {item!r}") from None
            side, quantity, price = item.get("transactionType"), item.get("quantity"), float(item.get("price") or 0)
            if side not in ("BUY", "SELL") or not isinstance(quantity, int) or quantity <= 0:
                raise refuse(400, "DH-905", "Invalid transactionType or quantity in scripList")
            quote = self._contract_quote(contract)
            price = price if price > 0 else (quote["bid"] + quote["ask"]) / 2
            legs.append(_BasketLeg(BrokerContract(contract.symbol, contract.option_type, contract.strike,
                                                  contract.expiry), side, quantity, price))
            single += self._margin_of(contract, side, quantity, price)["totalMargin"]
        if not legs:
            raise refuse(400, "DH-905", "scripList: no legs")
        first = self.market.option_chain(legs[0].contract.symbol, legs[0].contract.expiry).iloc[0]
        total = estimate_basket_margin(legs, spot=float(first["underlying_price"]),
                                       as_of=pd.Timestamp(first["quoted_at"]).to_pydatetime(), rate=self.rate)
        return {"totalMargin": round(total, 2), "spanMargin": round(total, 2), "exposure": 0.0,
                "equityMargin": 0.0, "foMargin": round(total, 2), "commodity": 0.0, "currency": 0.0,
                "hedgeBenefit": round(max(single - total, 0.0), 2)}

    def _killswitch_status(self, body, key, query) -> dict:
        return {"dhanClientId": self.client_id, "killSwitchStatus": "ACTIVATE" if self.kill_switch else "DEACTIVATE"}

    def _killswitch(self, body, key, query) -> dict:
        action = (query.get("killSwitchStatus") or [""])[0]
        if action not in ("ACTIVATE", "DEACTIVATE"):
            raise refuse(400, "DH-905", f"Invalid killSwitchStatus {action!r}")
        if action == "ACTIVATE":
            busy = any(o.record["orderStatus"] in ("TRANSIT", "PENDING") for o in self.orders.values())
            if busy or any(p["netQty"] for p in self._positions()):
                raise refuse(400, "DH-906", "Kill switch needs no open positions and no pending orders")
        self.kill_switch = action == "ACTIVATE"
        verb = "activated" if self.kill_switch else "deactivated"
        return {"dhanClientId": self.client_id, "killSwitchStatus": f"Kill Switch has been successfully {verb}"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls
    emulator: DhanEmulator

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer, stall = self.emulator.handle(method, self.path, self.headers, raw)
        if stall and self.emulator._stopping.wait(stall):
            self.close_connection = True
            return
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:  # the client gave up (timeout) and closed the connection
            self.close_connection = True

    def log_message(self, format, *args) -> None:  # quiet: tests read emulator.requests instead
        pass


def _raw(body) -> bytes:
    """An answer body as bytes: bytes as they are, str UTF-8 encoded, anything else JSON-encoded."""
    if isinstance(body, bytes):
        return body
    return (body if isinstance(body, str) else json.dumps(body)).encode()


def _finite(value) -> float:
    """Dhan sends 0, not NaN, for values it does not know."""
    number = float(value)
    return number if np.isfinite(number) else 0.0


def _depth(best: float, quantity: int, step: float) -> list[dict]:
    """DEPTH levels from the best price outwards, `step` ₹ apart, each with `quantity`; an empty side (best 0) or a
    level that would fall to 0 or below is all zeros, as Dhan sends it."""
    levels = []
    for level in range(DEPTH):
        price = round(best + step * level, 2)
        filled = best > 0 and price > 0
        levels.append({"quantity": quantity if filled else 0, "orders": 1 if filled else 0,
                       "price": price if filled else 0.0})
    return levels


def _trading_symbol(contract: Contract) -> str:
    """e.g. NIFTY-Dec2026-26050-CE (the scrip master's form)."""
    return f"{contract.symbol}-{contract.expiry:%b%Y}-{contract.strike:g}-{contract.option_type}"


def _ist_now() -> str:
    return datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")
