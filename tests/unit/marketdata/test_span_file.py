"""The SPAN risk-parameter file: parsed from a small file in NSE's CME SPAN XML format, and margined from its risk
arrays — checked against the arrays' own numbers and against the `marginism` package's figures on the same file."""

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from optionsv4_lib.analysis.margin import strategy_margin
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.marketdata.span_file import read_span_file, span_file_for
from optionsv4_lib.reference.margin_parameters import margin_parameters

FIXTURE = Path(__file__).parents[2] / "fixtures" / "nsccl.20261204.s.spn"
NEAR, FAR = np.datetime64("2026-12-29"), np.datetime64("2027-01-26")
NIFTY = margin_parameters("NIFTY", date(2026, 12, 4), index=True)
LOT = 65


def file_margin(span, strikes, calls, quantities, expiries):
    legs = [np.array([x]) for x in (strikes, calls, quantities, expiries)]
    arrays = span.risk_arrays("NIFTY", legs[0], legs[1], legs[3], legs[2])
    years = (legs[3] - np.datetime64("2026-12-04")).astype(float) / 365
    return strategy_margin(legs[0], legs[1], legs[2], years, 0.13, spot=span.underlying["NIFTY"], rate=0.065,
                           params=NIFTY, risk_arrays=arrays), arrays


def test_the_file_is_read_contract_by_contract():
    span = read_span_file(FIXTURE)
    assert span.business_date == date(2026, 12, 4)
    assert span.underlying == {"NIFTY": 24_000.0, "BANKNIFTY": 58_000.0}
    assert len(span.contracts) == 7 and span.arrays.shape == (7, 16)  # options only: the future is not kept
    call = span.contracts.iloc[2]
    assert (call.symbol, call.expiry, call.option_type, call.strike, call.price) == (
        "NIFTY", np.datetime64("2026-12-29"), "CE", 24_000.0, 381.10)
    assert span.arrays[2, [0, 10, 15]].tolist() == [-99.34, -1960.02, 133.38]  # as written in the file
    assert set(read_span_file(FIXTURE, symbols={"BANKNIFTY"}).contracts["symbol"]) == {"BANKNIFTY"}


def test_scan_risk_is_the_worst_scenario_of_the_files_arrays():
    span = read_span_file(FIXTURE)
    strikes, calls, quantities = [23_000, 23_500, 24_500, 25_000], [False, False, True, True], [LOT, -LOT, -LOT, LOT]
    result, arrays = file_margin(span, strikes, calls, quantities, [NEAR] * 4)
    assert arrays.covered.tolist() == [True]
    by_scenario = (np.array(quantities)[:, None] * arrays.losses[0]).sum(axis=0)
    assert result.scan_risk[0] == pytest.approx(by_scenario.max())
    # the marginism package (0.1.1, a separate implementation of NSE's SPAN) on this file and position:
    # scan risk ₹20,718.75, net option value −₹11,527.75, SPAN ₹32,246.50, exposure ₹62,400, total ₹94,646.50
    assert (result.scan_risk[0], result.net_option_value[0], result.span[0], result.exposure[0],
            result.total[0]) == pytest.approx((20_718.75, -11_527.75, 32_246.50, 62_400.0, 94_646.50), abs=0.01)


def test_calendar_and_long_only_positions_agree_with_marginism():
    span = read_span_file(FIXTURE)
    calendar, _ = file_margin(span, [24_000, 24_000], [True, True], [-LOT, LOT], [NEAR, FAR])
    # marginism: scan ₹13,710.45, calendar ₹15,255.24 (the file's ₹420 per delta = 1.75 % × 24,000), SPAN ₹15,173.34
    assert (calendar.scan_risk[0], calendar.calendar_spread[0], calendar.span[0]) == pytest.approx(
        (13_710.45, 15_255.24, 15_173.34), abs=0.05)
    long_call, _ = file_margin(span, [25_000], [True], [LOT], [NEAR])
    assert long_call.total[0] == 0.0


def test_a_position_the_file_does_not_cover_is_margined_by_our_model():
    span = read_span_file(FIXTURE)
    result, arrays = file_margin(span, [24_000, 26_000], [True, True], [-LOT, LOT], [NEAR, NEAR])
    assert arrays.covered.tolist() == [False]
    ours = strategy_margin([[24_000, 26_000]], [[True, True]], [[-LOT, LOT]], 25 / 365, 0.13, spot=24_000.0,
                           rate=0.065, params=NIFTY)
    assert result.total[0] == pytest.approx(ours.total[0])


def test_broken_files_are_named(tmp_path):
    text = FIXTURE.read_text()
    bad = tmp_path / "nsccl.20261204.s.spn"
    bad.write_text(text.replace("<a>-99.34</a>", "<a>x</a>", 1))
    with pytest.raises(DataError, match=r"NIFTY 2026-12-29 option 3 risk array: 'x' is not a number"):
        read_span_file(bad)
    bad.write_text(text.replace("<a>-99.34</a>", "", 1))
    with pytest.raises(DataError, match="risk array has 15 values, expected 16"):
        read_span_file(bad)
    bad.write_text(text[:2000])
    with pytest.raises(DataError, match="not SPAN XML"):
        read_span_file(bad)
    with pytest.raises(DataError, match="SPAN file not found"):
        read_span_file(tmp_path / "missing.spn")


def test_the_latest_revision_of_a_day_is_chosen(tmp_path):
    assert span_file_for(date(2026, 12, 4), tmp_path) is None
    for name in ("nsccl.20261204.i01.spn", "nsccl.20261204.i03.spn", "nsccl.20261203.s.spn"):
        (tmp_path / name).write_text("")
    assert span_file_for(date(2026, 12, 4), tmp_path).name == "nsccl.20261204.i03.spn"
    (tmp_path / "nsccl.20261204.s.spn").write_text("")
    assert span_file_for(date(2026, 12, 4), tmp_path).name == "nsccl.20261204.s.spn"


def test_expiries_must_be_dates():
    span = read_span_file(FIXTURE)
    with pytest.raises(InputError, match="expiry: expected dates"):
        span.risk_arrays("NIFTY", np.array([[24_000.0]]), np.array([[True]]), np.array([[65]]), np.array([[65]]))
