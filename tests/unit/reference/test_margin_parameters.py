"""The margin parameter table: rows in force, class defaults, the real scan ranges, and refusals of bad rows."""

import gzip
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.reference.margin_parameters import MARGIN_FILE, margin_parameters

REAL_PSR = Path("/work/shared/data/real/span_psr.csv.gz")
HEADER = ("symbol,effective_from,price_scan,volatility_scan,extreme_move,extreme_weight,short_option_minimum,"
          "exposure,expiry_day_exposure,calendar_spread,source\n")


def test_a_symbol_row_wins_over_its_class_and_is_in_force_from_its_date():
    nifty = margin_parameters("NIFTY", date(2026, 12, 7), index=True)
    assert (nifty.price_scan, nifty.volatility_scan, nifty.class_default) == (0.092844, 0.04, False)
    before = margin_parameters("NIFTY", date(2026, 7, 30), index=True)
    assert before.class_default and before.price_scan == 0.093  # NSE's 9.3 % floor, the class row
    assert margin_parameters("NIFTY", date(2024, 11, 19), index=True).expiry_day_exposure == 0.0
    assert margin_parameters("NIFTY", date(2024, 11, 20), index=True).expiry_day_exposure == 0.02  # SEBI, 20-Nov-24


def test_stocks_without_a_row_take_the_stock_class_default_marked_as_such():
    dixon = margin_parameters("DIXON", date(2026, 12, 7), index=False)
    assert dixon.class_default and "CLASS DEFAULT" in dixon.source
    assert (dixon.price_scan, dixon.volatility_scan, dixon.exposure, dixon.calendar_spread,
            dixon.expiry_day_exposure) == (0.142, 0.10, 0.035, 0.022, 0.0)


@pytest.mark.skipif(not REAL_PSR.exists(), reason="the parsed NSE SPAN scan ranges are not on this machine")
def test_index_scan_ranges_are_those_of_nses_span_file_of_their_date():
    with gzip.open(REAL_PSR, "rt") as handle:
        real = pd.read_csv(handle)
    table = pd.read_csv(MARGIN_FILE)
    for row in table[~table["symbol"].str.startswith("*")].itertuples():
        match = real[(real["date"] == row.effective_from) & (real["symbol"] == row.symbol)].iloc[-1]
        assert row.price_scan == pytest.approx(match["price_scan_pct"] / 100, abs=1e-9)
        assert row.price_scan == pytest.approx(match["price_scan"] / match["futures_price"], rel=1e-4)
        assert row.volatility_scan == match["vol_scan"]


@pytest.mark.parametrize("row, message", [
    ("NIFTY,2026-01-01,0.5,0.04,2,0.35,0,0.02,0,0.0175,", "symbol and source are required"),
    ("NIFTY,01-01-2026,0.09,0.04,2,0.35,0,0.02,0,0.0175,x", "effective_from '01-01-2026' is not a YYYY-MM-DD"),
    ("NIFTY,2026-01-01,9.3,0.04,2,0.35,0,0.02,0,0.0175,x", "price_scan 9.3 is not a number in"),
    ("NIFTY,2026-01-01,0.09,0.04,2,1.35,0,0.02,0,0.0175,x", "extreme_weight 1.35"),
    ("NIFTY,2026-01-01,0.09,0.04,2,0.35,0,two,0,0.0175,x", "exposure 'two'"),
])
def test_bad_rows_are_refused_with_their_line_and_column(tmp_path, row, message):
    path = tmp_path / "margin.csv"
    path.write_text(HEADER + row + "\n")
    with pytest.raises(DataError, match=f"line 2: {message}"):
        margin_parameters("NIFTY", date(2026, 2, 1), index=True, path=path)


def test_duplicates_missing_columns_and_uncovered_days_are_refused(tmp_path):
    path = tmp_path / "margin.csv"
    row = "NIFTY,2026-01-01,0.09,0.04,2,0.35,0,0.02,0,0.0175,x\n"
    path.write_text(HEADER + row + row)
    with pytest.raises(DataError, match="line 3: a second row for NIFTY from 2026-01-01"):
        margin_parameters("NIFTY", date(2026, 2, 1), index=True, path=path)
    short = tmp_path / "short.csv"
    short.write_text("symbol,effective_from,source\nNIFTY,2026-01-01,x\n")
    with pytest.raises(DataError, match="missing column"):
        margin_parameters("NIFTY", date(2026, 2, 1), index=True, path=short)
    with pytest.raises(DataError, match=r"no margin parameters for NIFTY or its class \*INDEX in force on 2020-01-01"):
        margin_parameters("NIFTY", date(2020, 1, 1), index=True)
    with pytest.raises(InputError, match="day"):
        margin_parameters("NIFTY", "2026-01-01", index=True)
