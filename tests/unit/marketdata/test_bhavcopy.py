"""NSE bhavcopies read offline: the two real samples (UDiFF of 21 Nov 2024, legacy of 29 Dec 2023) with values
checked against their lines, the fixtures in every compression, format errors naming the file, the Parquet cache
(hit, and rebuilt when the file changes), the histories (NSE's real VIX export), the spread model by hand, and the
source's chains (schema, lot change, expiry inside the window, no look-ahead)."""

import gzip
import shutil
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata import bhavcopy
from optionsv4_lib.marketdata.bhavcopy import (
    BhavcopyArchive,
    bhavcopy_name,
    lots_from_open_interest,
    name_date,
    read_bhavcopy,
)
from optionsv4_lib.marketdata.bhavcopy_source import BhavcopyInputs, BhavcopySource
from optionsv4_lib.marketdata.checks import check_chain
from optionsv4_lib.marketdata.histories import read_index_history, read_vix_history
from optionsv4_lib.marketdata.schema import CANDLES, OPTION_CHAIN
from optionsv4_lib.marketdata.source import MarketDataSource
from optionsv4_lib.marketdata.spread_model import SpreadModel

FIXTURES = Path(__file__).parents[2] / "fixtures"
UDIFF_REAL = FIXTURES / "BhavCopy_NSE_FO_0_0_0_20241121_F_0000.csv.gz"
LEGACY_REAL = Path("/work/shared/data/real/fo29DEC2023bhav.csv.gz")
FOLDER = FIXTURES / "bhavcopy" / "udiff"
HISTORY = FIXTURES / "bhavcopy" / "nifty_history.csv"
VIX = FIXTURES / "india_vix_nse.csv.gz"


def row(frame, **where) -> pd.Series:
    mask = np.ones(len(frame), bool)
    for column, value in where.items():
        mask &= (frame[column] == value).fillna(False).to_numpy(bool)
    assert mask.sum() == 1, where
    return frame[mask].iloc[0]


def test_the_real_udiff_sample_reads_as_nse_published_it():
    frame = read_bhavcopy(UDIFF_REAL)
    assert len(frame) == 2542  # 2,543 lines less the header: 1,748 + 788 options, 3 + 3 futures
    assert (frame.groupby(["symbol", "instrument"]).size().to_dict()
            == {("BANKNIFTY", "FUT"): 3, ("BANKNIFTY", "OPT"): 788, ("NIFTY", "FUT"): 3, ("NIFTY", "OPT"): 1748})
    # the file's line: …,BANKNIFTY,,2024-12-24,2024-12-24,47900.00,PE,…,205.15,214.15,201.30,50372.90,205.15,870,180,
    # 321,231679944.75,49,F1,15
    put = row(frame, symbol="BANKNIFTY", strike=47900.0, option_type="PE", expiry=pd.Timestamp("2024-12-24"))
    assert (put["close"], put["settle"], put["underlying_price"], put["oi"], put["contracts"], put["lot_size"]) == \
        (205.15, 205.15, 50372.90, 870, 321, 15)
    # TtlTradgVol counts contracts: turnover 231,679,944.75 ≈ 321 × 15 × (47,900 + ~211)
    assert 321 * 15 * 47_900 < 231_679_944.75 < 321 * 15 * 48_200
    # an untraded contract: close = the previous close, settlement = NSE's theoretical price
    stale = row(frame, symbol="BANKNIFTY", strike=52700.0, option_type="PE", expiry=pd.Timestamp("2025-01-29"))
    assert (stale["close"], stale["settle"], stale["contracts"]) == (2103.30, 2498.10, 0)
    assert set(frame.loc[frame["symbol"] == "NIFTY", "lot_size"]) == {25}
    assert frame["trade_date"].unique().tolist() == [pd.Timestamp("2024-11-21")]
    conform(frame, bhavcopy.BHAVCOPY, "again")  # dtypes exactly the schema's


@pytest.mark.skipif(not LEGACY_REAL.exists(), reason="the shared real legacy sample is not on this machine")
def test_the_real_legacy_sample_reads_with_its_nearest_future_as_the_underlying():
    frame = read_bhavcopy(LEGACY_REAL)
    assert len(frame) == 2890
    # FUTIDX,NIFTY,25-Jan-2024,0,XX,21924.95,21939.9,21830,21885.95,21885.95,127070,1390586.67,12790350,-89700,…
    future = row(frame, symbol="NIFTY", instrument="FUT", expiry=pd.Timestamp("2024-01-25"))
    assert (future["open"], future["close"], future["oi"], future["contracts"]) == (21924.95, 21885.95, 12790350,
                                                                                  127070)
    assert np.isnan(future["strike"]) and pd.isna(future["option_type"])
    options = frame[(frame["symbol"] == "NIFTY") & (frame["instrument"] == "OPT")]
    assert (options["underlying_price"] == 21885.95).all()  # the proxy: the nearest future's close
    assert options["lot_size"].isna().all()  # the legacy format has no lot
    assert frame["trade_date"].unique().tolist() == [pd.Timestamp("2023-12-29")]
    # NIFTY traded in 50s in Dec 2023 (127,070 contracts worth ₹1,390,586.67 lakh at ~21,886: 50 a contract) and
    # the open interests of the January contracts have 50 as their common divisor
    jan = options[options["expiry"] == pd.Timestamp("2024-01-25")]
    assert set(lots_from_open_interest(jan)) == {50}
    assert round(1_390_586.67e5 / (127_070 * 21_885.95)) == 50


def test_the_fixtures_read_alike_in_every_compression(tmp_path):
    plain = FOLDER / "BhavCopy_NSE_FO_0_0_0_20250121_F_0000.csv"
    gz = tmp_path / (plain.name + ".gz")
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    zipped = tmp_path / (plain.name + ".zip")
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(plain, plain.name)
    frames = [read_bhavcopy(p) for p in (plain, gz, zipped)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])
    legacy = read_bhavcopy(FIXTURES / "bhavcopy" / "legacy" / "fo27JUN2024bhav.csv")
    assert legacy["trade_date"].iloc[0] == pd.Timestamp("2024-06-27") and legacy["lot_size"].isna().all()


def test_a_file_of_another_format_is_refused_naming_it(tmp_path):
    other = tmp_path / "BhavCopy_NSE_FO_0_0_0_20250121_F_0000.csv"
    other.write_text("SYMBOL,SERIES,OPEN\nRELIANCE,EQ,1300\n")
    with pytest.raises(DataError, match=rf"{other}: not an NSE F&O bhavcopy: its header 'SYMBOL,SERIES,OPEN'"):
        read_bhavcopy(other)
    two = tmp_path / "two.csv.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    with pytest.raises(DataError, match=r"two.csv.zip: expected one .csv inside the zip"):
        read_bhavcopy(two)
    broken = tmp_path / "broken.csv.zip"
    broken.write_text("<html>not found</html>")
    with pytest.raises(DataError, match=r"broken.csv.zip: cannot read it"):
        read_bhavcopy(broken)
    short = tmp_path / "short.csv"
    short.write_text("TradDt,BizDt,Sgmt,Src,FinInstrmTp,TckrSymb\n2024-11-21,2024-11-21,FO,NSE,IDO,NIFTY\n")
    with pytest.raises(DataError, match=r"short.csv: .*XpryDt"):
        read_bhavcopy(short)


def test_names_and_dates():
    assert bhavcopy_name(date(2024, 7, 8)) == "BhavCopy_NSE_FO_0_0_0_20240708_F_0000.csv.zip"
    assert bhavcopy_name(date(2024, 7, 5), "") == "fo05JUL2024bhav.csv"
    assert name_date("fo29DEC2023bhav.csv.gz") == date(2023, 12, 29)
    assert name_date("BhavCopy_NSE_FO_0_0_0_20241121_F_0000.csv") == date(2024, 11, 21)
    assert name_date("notes.txt") is None and name_date("fo31FEB2024bhav.csv") is None


def test_the_archive_caches_each_day_as_parquet_and_rebuilds_a_changed_file(tmp_path, monkeypatch):
    folder = tmp_path / "bhav"
    shutil.copytree(FOLDER, folder)
    (folder / "README.txt").write_text("not a bhavcopy")
    first = BhavcopyArchive(folder)
    assert first.days() == [date(2025, 1, d) for d in (20, 21, 22, 23, 24)]
    parsed = first.day(date(2025, 1, 21))
    cached = folder / ".parquet-cache" / "BhavCopy_NSE_FO_0_0_0_20250121_F_0000.csv.parquet"
    assert cached.exists()

    def no_parsing(path):
        raise AssertionError(f"parsed {path} again")

    monkeypatch.setattr(bhavcopy, "read_bhavcopy", no_parsing)
    pd.testing.assert_frame_equal(BhavcopyArchive(folder).day(date(2025, 1, 21)), parsed)  # a cache hit

    source = folder / "BhavCopy_NSE_FO_0_0_0_20250121_F_0000.csv"
    source.write_text(source.read_text().replace("1315.50", "1316.50"))  # RELIANCE's underlying price
    with pytest.raises(AssertionError, match="parsed"):
        BhavcopyArchive(folder).day(date(2025, 1, 21))  # size or mtime changed: the cache is not used
    monkeypatch.undo()
    again = BhavcopyArchive(folder).day(date(2025, 1, 21))
    assert set(again.loc[again["symbol"] == "RELIANCE", "underlying_price"]) == {1316.5}

    with pytest.raises(DataError, match=r"no bhavcopy of 2025-01-27 in"):
        first.day(date(2025, 1, 27))
    shutil.copy(source, folder / "BhavCopy_NSE_FO_0_0_0_20250121_F_0000.csv.gz")
    with pytest.raises(DataError, match=r"two bhavcopies of 2025-01-21"):
        BhavcopyArchive(folder)


def test_a_file_whose_rows_are_of_another_day_is_refused(tmp_path):
    shutil.copy(FOLDER / "BhavCopy_NSE_FO_0_0_0_20250121_F_0000.csv",
                tmp_path / "BhavCopy_NSE_FO_0_0_0_20250127_F_0000.csv")
    with pytest.raises(DataError, match=r"its name says 2025-01-27 but its rows are of 2025-01-21"):
        BhavcopyArchive(tmp_path).day(date(2025, 1, 27))
    with pytest.raises(InputError, match="not a directory"):
        BhavcopyArchive(tmp_path / "nowhere")


def test_the_spread_model_by_hand():
    model = SpreadModel()
    # ₹121.90 at strike/spot 23,350 / 23,344.75 after 17,175 contracts:
    # 0.6095 × (1 + 10 × 0.000224888) × (1 + 2 / 1,718.5) = 0.611582 → up to the tick 0.65
    # ₹100 5 % out of the money after 10 contracts: 0.5 × 1.5 × 2 = 1.50; untraded ₹1: 0.05 × 1 × 3 = 0.15
    half = model.half_spread([121.90, 100.0, 1.0], [23350 / 23344.75, 1.05, 1.0], [17175, 10, 0])
    np.testing.assert_allclose(half, [0.65, 1.50, 0.15])
    bid, ask = model.quotes([121.90, 0.10, 0.0], [23350 / 23344.75, 1.0, 1.0], [17175, 0, 0])
    np.testing.assert_allclose(bid, [121.25, 0.0, 0.0])  # 0.10 − 0.15 floors at 0; a zero price has no quote
    np.testing.assert_allclose(ask, [122.55, 0.25, 0.0])
    wider = SpreadModel(share=0.01, moneyness_slope=0.0, illiquid_extra=0.0)
    np.testing.assert_allclose(wider.half_spread([121.90], [1.2], [0]), [1.25])  # 1.219 → 1.25
    with pytest.raises(InputError, match="moneyness > 0"):
        model.half_spread([1.0], [0.0], [1])
    assert "modelled" in model.describe() and "0.50%" in model.describe()


def test_nse_vix_export_and_an_index_history(tmp_path):
    vix = read_vix_history(VIX)
    conform(vix, CANDLES, "vix")
    first = vix.iloc[0]
    assert (first["date"], first["open"], first["high"], first["low"], first["close"]) == \
        (pd.Timestamp("2012-01-02"), 27.11, 28.68, 27.11, 27.53)  # 02-JAN-2012,27.11,28.68,27.11,27.53,…
    nil = vix[vix["date"] == pd.Timestamp("2021-02-12")].iloc[0]  # 12-FEB-2021,0.0,0.0,0.0,23.045,…
    assert (nil["open"], nil["high"], nil["low"], nil["close"]) == (23.045, 23.045, 23.045, 23.045)
    assert vix["date"].is_monotonic_increasing and (vix["symbol"] == "INDIA VIX").all()

    nifty = read_index_history(HISTORY, "NIFTY")
    assert nifty["date"].iloc[-1] == pd.Timestamp("2025-01-24") and nifty["close"].iloc[-1] == 23092.20

    closes_only = tmp_path / "closes.csv"
    closes_only.write_text("Date,Close\n20 Jan 2025,\"23,344.75\"\n17-Jan-2025,23203.20\n")
    frame = read_index_history(closes_only, "NIFTY")
    assert frame["close"].tolist() == [23203.20, 23344.75] and frame["open"].tolist() == [23203.20, 23344.75]
    bad = tmp_path / "bad.csv"
    bad.write_text("day,close\n2025-01-20,23344.75\n")
    with pytest.raises(DataError, match=r"bad.csv: missing column\(s\) date"):
        read_index_history(bad, "NIFTY")
    bad.write_text("date,close\n01/20/2025,23344.75\n")
    with pytest.raises(DataError, match=r"bad.csv: date '01/20/2025' is not like"):
        read_index_history(bad, "NIFTY")
    bad.write_text("date,close\n2025-01-20,n/a\n")
    with pytest.raises(DataError, match=r"bad.csv: column close: 'n/a' is not a price > 0"):
        read_index_history(bad, "NIFTY")


@pytest.fixture
def inputs(tmp_path) -> BhavcopyInputs:
    shutil.copytree(FOLDER, tmp_path / "bhav")
    return BhavcopyInputs(tmp_path / "bhav", HISTORY, VIX)


def test_the_source_quotes_chains_of_the_schema_around_the_close(inputs):
    source = inputs.open(date(2025, 1, 20))
    assert isinstance(source, MarketDataSource) and source.trade_date == date(2025, 1, 20)
    assert source.expiries("NIFTY") == [date(2025, 1, 23), date(2025, 1, 30), date(2025, 2, 6), date(2025, 2, 27)]
    assert source.expiries("RELIANCE") == [date(2025, 1, 30), date(2025, 2, 27)]
    chain = source.option_chain("NIFTY", date(2025, 1, 23))
    pd.testing.assert_frame_equal(chain, conform(chain, OPTION_CHAIN, "chain"))
    check_chain(chain)
    # NIFTY25JAN23350CE,…,121.90 (close),…,23344.75,121.90,1716975,0,17169,…,25 — half-spread 0.65 (as above)
    call = row(chain, strike=23350.0, option_type="CE")
    assert (call["bid"], call["ask"], call["ltp"], call["oi"], call["volume"], call["lot_size"]) == \
        (121.25, 122.55, 121.90, 1716975, 17169 * 25, 25)
    assert np.isnan(call["iv"]) and call["bid_qty"] == 0
    assert call["quoted_at"] == pd.Timestamp("2025-01-20 15:30", tz="Asia/Kolkata")
    assert source.spot("NIFTY") == 23344.75 and source.spot("INDIA VIX") == pytest.approx(16.0, abs=6)


def test_an_untraded_contract_is_quoted_around_nse_settlement_price(inputs):
    chain = inputs.open(date(2025, 1, 20)).option_chain("RELIANCE", date(2025, 2, 27))
    stale = chain[chain["volume"] == 0].iloc[0]
    raw = BhavcopyArchive(inputs.directory).day(date(2025, 1, 20))
    line = row(raw, symbol="RELIANCE", strike=stale["strike"], option_type=stale["option_type"],
               expiry=pd.Timestamp("2025-02-27"))
    assert line["close"] != line["settle"] and stale["ltp"] == line["close"]
    half = SpreadModel().half_spread(line["settle"], stale["strike"] / line["underlying_price"], 0)
    assert stale["ask"] == pytest.approx(line["settle"] + half)


def test_lots_belong_to_contracts_across_the_revision(inputs):
    source = inputs.open(date(2025, 1, 24))
    lots = {e: set(source.option_chain("NIFTY", e)["lot_size"]) for e in source.expiries("NIFTY")}
    assert lots == {date(2025, 1, 30): {25}, date(2025, 2, 6): {75}, date(2025, 2, 27): {75}}
    assert set(source.option_chain("INFY", date(2025, 1, 30))["lot_size"]) == {400}


def test_an_expiry_inside_the_window_is_listed_until_its_day(inputs):
    assert inputs.open(date(2025, 1, 23)).expiries("NIFTY")[0] == date(2025, 1, 23)
    after = inputs.open(date(2025, 1, 24))
    assert date(2025, 1, 23) not in after.expiries("NIFTY")
    with pytest.raises(DataError, match=r"NIFTY: no option expiring 2025-01-23 in the bhavcopy of 2025-01-24"):
        after.option_chain("NIFTY", date(2025, 1, 23))
    with pytest.raises(DataError, match=r"TCS: not in the bhavcopy of 2025-01-24"):
        after.expiries("TCS")
    with pytest.raises(DataError, match=r"no bhavcopy of 2025-01-25"):
        inputs.open(date(2025, 1, 25))


def test_candles_come_from_the_files_and_never_from_after_the_trade_date(inputs):
    source = inputs.open(date(2025, 1, 22))
    nifty = source.candles("NIFTY", date(2024, 6, 1), date(2025, 1, 31))
    assert nifty["date"].iloc[-1] == pd.Timestamp("2025-01-22") and nifty["close"].iloc[-1] == 23155.35
    assert len(nifty) > 90  # the index history reaches back for the market state
    vix = source.candles("INDIA VIX", date(2025, 1, 1), date(2025, 12, 31))
    assert vix["date"].max() == pd.Timestamp("2025-01-22")
    stock = source.candles("RELIANCE", date(2024, 1, 1), date(2025, 1, 31))
    assert stock["close"].tolist() == [1306.0, 1315.5, 1279.9]  # the bhavcopies' underlying prices
    assert (stock["open"] == stock["close"]).all()
    conform(stock, CANDLES, "stock")
    without = BhavcopySource(BhavcopyArchive(inputs.directory), date(2025, 1, 22), spread=SpreadModel())
    assert without.candles("NIFTY", date(2025, 1, 1), date(2025, 1, 22))["close"].tolist() == \
        [23344.75, 23024.65, 23155.35]
    with pytest.raises(DataError, match=r"INDIA VIX: no VIX file given \(--vix-file"):
        without.candles("INDIA VIX", date(2025, 1, 1), date(2025, 1, 22))


def test_inputs_name_a_missing_path():
    with pytest.raises(InputError, match=r"data dir: /nowhere is not a directory"):
        BhavcopyInputs(Path("/nowhere"))
    with pytest.raises(InputError, match=r"vix file: /nowhere.csv is not a file"):
        BhavcopyInputs(FOLDER, None, Path("/nowhere.csv"))


def test_prepare_caches_every_day_in_worker_processes_and_names_a_bad_file(tmp_path):
    folder = shutil.copytree(FOLDER, tmp_path / "bhav")
    (folder / "BhavCopy_NSE_FO_0_0_0_20250127_F_0000.csv").write_text("SYMBOL,SERIES\nX,EQ\n")
    failed = BhavcopyArchive(folder).prepare(workers=2)
    assert list(failed) == [date(2025, 1, 27)] and "not an NSE F&O bhavcopy" in failed[date(2025, 1, 27)]
    assert len(list((folder / ".parquet-cache").glob("*.parquet"))) == 5
    assert BhavcopyArchive(folder).prepare(workers=2) == {date(2025, 1, 27): failed[date(2025, 1, 27)]}
    with pytest.raises(DataError, match="not an NSE F&O bhavcopy"):
        BhavcopyArchive(folder).day(date(2025, 1, 27))


def test_the_shared_archive_sees_a_file_added_to_the_folder(tmp_path):
    folder = tmp_path / "bhav"
    folder.mkdir()
    shutil.copy(FOLDER / "BhavCopy_NSE_FO_0_0_0_20250121_F_0000.csv", folder)
    first = bhavcopy.open_archive(folder)
    assert bhavcopy.open_archive(str(folder)) is first and first.days() == [date(2025, 1, 21)]
    shutil.copy(FOLDER / "BhavCopy_NSE_FO_0_0_0_20250122_F_0000.csv.zip", folder)
    assert bhavcopy.open_archive(folder).days() == [date(2025, 1, 21), date(2025, 1, 22)]
