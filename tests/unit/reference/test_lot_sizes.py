"""Lot sizes per contract (include/data/lot_sizes.csv): lookups on dates NSE's files and circulars fix, the bundled
table against the real 21-Nov-2024 bhavcopy, filling a chain, and the errors of hand-made bad tables."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.reference.lot_sizes import LOT_SIZES_FILE, fill_lot_sizes, lot_sizes

BHAVCOPY = Path(__file__).parents[2] / "fixtures" / "BhavCopy_NSE_FO_0_0_0_20241121_F_0000.csv.gz"
HEADER = "symbol,lot_size,expiry_from,expiry_to,status,source\n"


@pytest.mark.parametrize(("symbol", "expiry", "lot"), [
    ("NIFTY", "2024-04-25", 50),  # last monthly before the Apr-2024 revision
    ("NIFTY", "2024-05-02", 25),  # first weekly in 25
    ("NIFTY", "2025-01-23", 75),  # a weekly listed after 20-Nov-2024
    ("NIFTY", "2025-01-30", 25),  # the Jan-2025 monthly, listed before 20-Nov-2024: 25 to its expiry
    ("NIFTY", "2025-02-06", 75),  # February weeklies in 75 (bhavcopy of 24-Jan-2025)
    ("NIFTY", "2025-12-30", 75),  # last expiry in 75 (NSE/FAOP/70616)
    ("NIFTY", "2026-01-06", 65),
    ("NIFTY", "2026-01-27", 65),
    ("BANKNIFTY", "2025-01-30", 15),
    ("BANKNIFTY", "2025-02-27", 30),
    ("BANKNIFTY", "2025-07-31", 35),
    ("BANKNIFTY", "2026-01-27", 30),
    ("FINNIFTY", "2025-02-27", 65),
    ("FINNIFTY", "2026-01-27", 60),
    ("KOTAKBANK", "2025-12-30", 400),  # before the 5:1 split
    ("KOTAKBANK", "2026-01-27", 2000),
    ("TATASTEEL", "2026-04-28", 5500),  # NSE/FAOP/73549: revised down from May-2026 expiries
    ("TATASTEEL", "2026-05-26", 2750),
    ("HDFCBANK", "2026-06-30", 550),  # revised up from Jul-2026 expiries
    ("HDFCBANK", "2026-07-28", 650),
])
def test_lot_of_a_contract_by_its_expiry(symbol, expiry, lot):
    assert lot_sizes(symbol, [expiry]).tolist() == [lot]


def test_two_lots_coexist_on_24_jan_2025():
    expiries = ["2025-01-30", "2025-02-06", "2025-02-13", "2025-02-20", "2025-02-27", "2025-03-27"]
    assert lot_sizes("NIFTY", expiries).tolist() == [25, 75, 75, 75, 75, 75]


def test_vectorized_over_symbols_and_expiries():
    got = lot_sizes(np.array(["NIFTY", "BANKNIFTY", "NIFTY"]),
                    np.array(["2025-01-30", "2025-01-30", "2026-01-27"], dtype="datetime64[D]"))
    assert got.dtype == np.int64 and got.tolist() == [25, 15, 65]


def test_agrees_with_the_real_bhavcopy_of_21_nov_2024():
    """Every NIFTY and BANKNIFTY contract of NSE's bhavcopy up to the Jan-2025 expiries has the table's lot
    (NewBrdLotQty). The long-dated contracts listed before the revision traded in the old lot until the EOD
    transition of 24/26-Dec-2024, which a table keyed by expiry does not hold: the bhavcopy is their record."""
    with gzip.open(BHAVCOPY, "rt") as handle:
        bhav = pd.read_csv(handle, usecols=["TckrSymb", "XpryDt", "NewBrdLotQty"])
    near = bhav[pd.to_datetime(bhav["XpryDt"]) <= "2025-01-30"]
    assert len(near) > 2000 and set(near["TckrSymb"]) == {"NIFTY", "BANKNIFTY"}
    assert (lot_sizes(near["TckrSymb"].to_numpy(), near["XpryDt"].to_numpy()) == near["NewBrdLotQty"]).all()


def test_every_row_has_a_status_and_a_source_and_every_symbol_is_covered_from_2024():
    table = pd.read_csv(LOT_SIZES_FILE)
    assert set(table["status"]) == {"official", "derived", "unverified"}
    assert table["source"].str.len().min() > 20
    assert table.loc[table["status"] != "official", "source"].str.startswith(("DERIVED", "UNVERIFIED")).all()
    universe = pd.read_csv(LOT_SIZES_FILE.parent / "universe.csv")
    assert set(table["symbol"]) == set(universe["symbol"])
    lot_sizes(universe["symbol"].to_numpy(), np.full(len(universe), "2024-01-04"))  # covered: no DataError
    lot_sizes(universe["symbol"].to_numpy(), np.full(len(universe), "2030-01-01"))


def test_fill_keeps_the_sources_lot_and_fills_the_missing_ones():
    chain = pd.DataFrame({"symbol": ["NIFTY", "NIFTY", "NIFTY"],
                          "expiry": pd.to_datetime(["2025-01-30", "2025-02-06", "2025-02-06"]),
                          "lot_size": pd.array([pd.NA, pd.NA, 70], dtype="Int64")})
    filled = fill_lot_sizes(chain)
    assert filled["lot_size"].tolist() == [25, 75, 70] and str(filled["lot_size"].dtype) == "Int64"
    assert chain["lot_size"].isna().sum() == 2  # the input is not changed
    no_column = fill_lot_sizes(chain.drop(columns="lot_size"))
    assert no_column["lot_size"].tolist() == [25, 75, 75]


def test_fill_refuses_a_bad_lot_from_the_source():
    chain = pd.DataFrame({"symbol": ["NIFTY"], "expiry": pd.to_datetime(["2025-02-06"]),
                          "lot_size": pd.array([0], dtype="Int64")})
    with pytest.raises(DataError, match=r"NIFTY: invalid lot size 0 for the contract expiring 2025-02-06"):
        fill_lot_sizes(chain)


def test_uncovered_contracts_are_named():
    with pytest.raises(DataError, match=r"no lot size for NIFTY contracts expiring 2023-12-28 \(rows cover "
                                        r"2024-01-01 to open end\)"):
        lot_sizes("NIFTY", ["2024-01-04", "2023-12-28"])
    with pytest.raises(DataError, match=r"no lot size for 'NOSUCH'"):
        lot_sizes("NOSUCH", ["2025-01-30"])
    with pytest.raises(InputError, match="expiry date"):
        lot_sizes("NIFTY", [None])


@pytest.mark.parametrize(("rows", "message"), [
    ("NIFTY,75,2025-01-01,2025-06-30,official,a\nNIFTY,65,2025-06-01,,official,b\n",
     r"lines 2 and 3: NIFTY expiries overlap \(to 2025-06-30, from 2025-06-01\)"),
    ("NIFTY,75,2025-01-01,2025-06-30,official,a\nNIFTY,65,2025-07-02,,official,b\n",
     r"lines 2 and 3: NIFTY has no lot for expiries 2025-07-01 to 2025-07-01"),
    ("NIFTY,75.5,2025-01-01,,official,a\n", r"line 2: lot_size 75.5 is not a whole number of units > 0"),
    ("NIFTY,0,2025-01-01,,official,a\n", r"line 2: lot_size 0 is not"),
    ("NIFTY,75,2025-13-01,,official,a\n", r"line 2: expiry_from '2025-13-01' is not a YYYY-MM-DD date"),
    ("NIFTY,75,2025-06-01,2025-01-01,official,a\n", r"line 2: expiry_to 2025-01-01 is before expiry_from"),
    ("NIFTY,75,2025-01-01,,guessed,a\n", r"line 2: status 'guessed' is not one of official, derived, unverified"),
    ("NIFTY,75,2025-01-01,,official,\n", r"line 2: source is required"),
])
def test_bad_tables_are_refused_naming_file_and_line(tmp_path, rows, message):
    path = tmp_path / "lots.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(DataError, match=str(path).replace(".", r"\.") + ".*" + message):
        lot_sizes("NIFTY", ["2025-02-06"], path)


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "lots.csv"
    path.write_text("symbol,lot_size,expiry_from,source\nNIFTY,75,2025-01-01,a\n")
    with pytest.raises(DataError, match=r"missing column\(s\) expiry_to, status"):
        lot_sizes("NIFTY", ["2025-02-06"], path)
