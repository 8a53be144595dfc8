"""A Dhan API that misbehaves for some symbols: one fault per symbol, installed on the emulator, with the reason each
broken symbol must end with. Shared by the CLI and the daily-DAG tests, which run all of them in one run over the
first SYMBOLS of the universe; the remaining symbols answer cleanly (or recover) and must end with strategies."""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from dhan_emulator import DhanEmulator

from optionsv4_lib.marketdata.synthetic import SyntheticMarket

TOKEN = "eyJ-faults-SECRET-7a3f"
SYMBOLS = 14  # the first 14 of universe.csv: NIFTY … TCS, INFY, HCLTECH
TIMES = 5  # a broken symbol stays broken for every chain asked (near and far expiry, client retries)


def _each_side(payload: dict):
    for sides in payload["data"]["oc"].values():
        yield from sides.values()


def _garbage_strikes(payload: dict) -> dict:
    chain = payload["data"]
    chain["oc"] = {("abc" if i % 3 == 0 else key): sides for i, (key, sides) in enumerate(chain["oc"].items())}
    return payload


def _negative_strikes(payload: dict) -> dict:
    chain = payload["data"]
    chain["oc"] = {(f"-{key}" if i % 4 == 0 else key): sides for i, (key, sides) in enumerate(chain["oc"].items())}
    return payload


def _crossed_with_string_ivs(payload: dict) -> dict:
    for side in _each_side(payload):
        side["top_bid_price"], side["top_ask_price"] = side["top_ask_price"] + 1.0, side["top_bid_price"]
        side["implied_volatility"] = str(side["implied_volatility"])
    return payload


def _all_zero(payload: dict) -> dict:
    for side in _each_side(payload):
        for field, value in side.items():
            if isinstance(value, (int, float)) and field != "security_id":
                side[field] = 0
        side["greeks"] = dict.fromkeys(side["greeks"], 0)
    return payload


def _without_oc(payload: dict) -> dict:
    del payload["data"]["oc"]
    return payload


def _truncated(payload: dict) -> str:
    return json.dumps(payload)[:4000]


BROKEN: dict[str, str] = {  # symbol → pattern its reason must match (in the CLI and in the DAG)
    "BANKNIFTY": r"DH-907",
    "FINNIFTY": r"HTTP 200 with a body that is not JSON",
    "ONGC": r"HTTP 200 with an empty body",
    "BPCL": r"strike key: expected a number, got 'abc'",
    "IOC": r"empty option chain|the chain has at least one row",  # the synthetic market's own broken chain
    "COALINDIA": r"crossed",  # every quote crossed: no implied vol, no smile
    "NTPC": r"no (liquid )?two-sided quote",  # an all-zero chain: nothing to imply a vol from
    "POWERGRID": r"expected an object with 'oc'",
    "INFY": r"strike(\(s\) not > 0| > 0)",
}
RECOVERED = ("TATAPOWER", "TCS", "HCLTECH")  # rate-limited or a 5xx, then clean within the retry policy
CLEAN = ("NIFTY", "RELIANCE")


def install(emulator: DhanEmulator) -> None:
    """Every fault of the table, each on its own symbol's option-chain requests."""
    emulator.fail_next("optionchain", status=400, error_code="DH-907", symbol="BANKNIFTY", times=TIMES,
                       message=f"No data for request (token {TOKEN})")  # a server message quoting the token
    emulator.tamper_next("optionchain", _truncated, symbol="FINNIFTY", times=TIMES)
    emulator.respond_next("optionchain", status=200, body=b"", symbol="ONGC", times=TIMES)
    emulator.tamper_next("optionchain", _garbage_strikes, symbol="BPCL", times=TIMES)
    emulator.tamper_next("optionchain", _crossed_with_string_ivs, symbol="COALINDIA", times=TIMES)
    emulator.tamper_next("optionchain", _all_zero, symbol="NTPC", times=TIMES)
    emulator.tamper_next("optionchain", _without_oc, symbol="POWERGRID", times=TIMES)
    emulator.tamper_next("optionchain", _negative_strikes, symbol="INFY", times=TIMES)
    emulator.respond_next("optionchain", status=429, body="Too Many Requests", content_type="text/plain",
                          symbol="TATAPOWER", times=2)
    emulator.fail_next("optionchain", status=429, error_code="DH-904", retry_after="0", symbol="TCS", times=2)
    emulator.respond_next("optionchain", status=503, body="<html>Service Unavailable</html>",
                          content_type="text/html", symbol="HCLTECH")


@contextmanager
def faulty_dhan(monkeypatch, day: date) -> Iterator[DhanEmulator]:
    """The emulator over the synthetic market of `day` with every fault installed, and the environment that points
    the settings (CLI and DAG tasks alike) at it, chain pace 0.02 s."""
    with DhanEmulator(SyntheticMarket(42, day), access_token=TOKEN) as emulator:
        install(emulator)
        for name, value in (("DHAN_CLIENT_ID", emulator.client_id), ("DHAN_ACCESS_TOKEN", TOKEN),
                            ("OPTIONSV4_DHAN_BASE_URL", emulator.url), ("OPTIONSV4_DHAN_CHAIN_INTERVAL", "0.02")):
            monkeypatch.setenv(name, value)
        yield emulator


def check_outcomes(symbols: dict[str, tuple[str, str | None, int]]) -> None:
    """symbols: symbol → (status, reason, strategies). Broken ones failed with their reason; the others have
    ranked strategies and no reason."""
    assert set(symbols) == set(BROKEN) | set(RECOVERED) | set(CLEAN), sorted(symbols)
    for symbol, pattern in BROKEN.items():
        status, reason, strategies = symbols[symbol]
        assert status == "failed" and strategies == 0, (symbol, symbols[symbol])
        assert re.search(pattern, reason or ""), (symbol, reason)
    for symbol in (*RECOVERED, *CLEAN):
        status, reason, strategies = symbols[symbol]
        assert status == "ok" and not isinstance(reason, str) and strategies > 0, (symbol, symbols[symbol])
