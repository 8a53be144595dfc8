"""NSE's SPAN file in the analysis: a pre-market run finds the previous session's file, its arrays margin the
candidates whose every leg it lists, and a run directory keeps the parsed file for its tasks."""

import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.analysis.analyze import leg_expiries, lot_margin
from optionsv4_lib.marketdata.span_file import load_span, read_span_file, save_span, span_for_run
from optionsv4_lib.reference.margin_parameters import margin_parameters
from optionsv4_lib.strategies.evaluate import PE, Positions

FIXTURE = "tests/fixtures/nsccl.20261204.s.spn"


@pytest.fixture
def span_dir(tmp_path):
    shutil.copy(FIXTURE, tmp_path)
    return tmp_path


def test_a_monday_run_uses_fridays_settlement_file_never_its_own_later_files(span_dir, tmp_path):
    found = span_for_run(date(2026, 12, 7), span_dir, {"NIFTY"})
    assert found is not None and found.business_date == date(2026, 12, 4)
    assert set(found.contracts["symbol"]) == {"NIFTY"}
    assert span_for_run(date(2026, 12, 9), span_dir) is None  # Wednesday's run wants Tuesday's or its own BOD file
    assert span_for_run(date(2026, 12, 7), tmp_path / "absent") is None
    # Monday's settlement and intraday files did not exist before Monday's open: a replay never reads them …
    for later in ("s", "i3"):
        shutil.copy(span_dir / "nsccl.20261204.s.spn", span_dir / f"nsccl.20261207.{later}.spn")
    assert span_for_run(date(2026, 12, 7), span_dir).business_date == date(2026, 12, 4)
    # … its beginning-of-day file did
    shutil.copy(span_dir / "nsccl.20261204.s.spn", span_dir / "nsccl.20261207.i1.spn")
    assert span_for_run(date(2026, 12, 7), span_dir) is not None


def test_a_file_listing_none_of_the_symbols_covers_nothing(span_dir):
    span = read_span_file(span_dir / "nsccl.20261204.s.spn", {"RELIANCE"})
    arrays = span.risk_arrays("RELIANCE", np.array([[1300.0]]), np.array([[True]]),
                              np.array([["2026-12-29"]], dtype="datetime64[D]"), np.array([[-500.0]]))
    assert arrays.covered.tolist() == [False]


def test_a_saved_span_file_loads_back_equal(span_dir, tmp_path):
    span = read_span_file(span_dir / "nsccl.20261204.s.spn")
    save_span(span, tmp_path / "span.parquet")
    back = load_span(tmp_path / "span.parquet")
    assert back.business_date == span.business_date and back.underlying == span.underlying
    pd.testing.assert_frame_equal(back.contracts, span.contracts)
    np.testing.assert_array_equal(back.arrays, span.arrays)


def test_listed_legs_are_margined_from_the_file_and_others_by_our_scenarios(span_dir):
    span = read_span_file(span_dir / "nsccl.20261204.s.spn")
    params = margin_parameters("NIFTY", date(2026, 12, 7), index=True)
    years = 22 / 365
    # a bull put spread the file lists (23,000/23,500 PE, 29 Dec) and one it does not (22,900/23,500)
    pos = Positions(np.array([[PE, PE], [PE, PE]], np.int8), np.array([[23_000.0, 23_500.0], [22_900.0, 23_500.0]]),
                    np.array([[65.0, -65.0], [65.0, -65.0]]), np.zeros((2, 2)), np.full((2, 2), years),
                    np.full((2, 2), 0.15))
    legs = pd.DataFrame({"candidate_id": ["a", "a", "b", "b"], "leg_no": [0, 1, 0, 1],
                         "expiry": pd.to_datetime(["2026-12-29"] * 4)})
    expiry = leg_expiries(legs, ["a", "b"], 2)
    with_file = lot_margin(pos, 24_000.0, 0.065, params, span, "NIFTY", expiry)
    ours = lot_margin(pos, 24_000.0, 0.065, params)
    assert with_file[1] == ours[1]  # not listed: our revaluation
    assert with_file[0] != ours[0] and with_file[0] > 0  # listed: the file's arrays
    # the file's arrays by hand: worst of 65 × (loss of the long 23,000 PE − loss of the short 23,500 PE)
    rows = [span.contracts.index[(span.contracts["strike"] == k) & (span.contracts["option_type"] == "PE")][0]
            for k in (23_000.0, 23_500.0)]
    scan = max(0.0, (65 * (span.arrays[rows[0]] - span.arrays[rows[1]])).max())
    nov = 65 * (span.contracts.at[rows[0], "price"] - span.contracts.at[rows[1], "price"])
    exposure = params.exposure * 24_000.0 * 65
    assert with_file[0] == pytest.approx(max(scan - nov, 0.0) + exposure, rel=1e-9)


def test_padding_legs_take_the_first_legs_expiry():
    legs = pd.DataFrame({"candidate_id": ["a", "b", "b"], "leg_no": [0, 0, 1],
                         "expiry": pd.to_datetime(["2026-12-29", "2026-12-29", "2027-01-26"])})
    got = leg_expiries(legs, ["a", "b"], 2)
    assert got.tolist() == [[date(2026, 12, 29), date(2026, 12, 29)], [date(2026, 12, 29), date(2027, 1, 26)]]
