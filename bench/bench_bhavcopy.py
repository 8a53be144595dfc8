"""Reading a year of NSE F&O bhavcopies (UDiFF, zipped as NSE serves them) for the backtest: the first read (unzip,
parse, write the Parquet cache) and a second read from the cache, after imports.

The files are generated into a temporary folder: DAYS trading days of one realistic day's contracts (about ROWS
option and future rows, the size of NSE's full file: 4 indices with weeklies and monthlies, STOCKS stocks with three
monthlies each), written with NSE's exact header; only the trade date changes from day to day.

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py.
"""

import os
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.marketdata.bhavcopy import BhavcopyArchive, bhavcopy_name
from optionsv4_lib.reference.calendar import trading_days

DAYS = 250
STOCKS = 180
ROWS = 90_000  # about NSE's full F&O bhavcopy
HEADER = ("TradDt,BizDt,Sgmt,Src,FinInstrmTp,FinInstrmId,ISIN,TckrSymb,SctySrs,XpryDt,FininstrmActlXpryDt,StrkPric,"
          "OptnTp,FinInstrmNm,OpnPric,HghPric,LwPric,ClsPric,LastPric,PrvsClsgPric,UndrlygPric,SttlmPric,OpnIntrst,"
          "ChngInOpnIntrst,TtlTradgVol,TtlTrfVal,TtlNbOfTxsExctd,SsnId,NewBrdLotQty,Rmks,Rsvd1,Rsvd2,Rsvd3,Rsvd4")
TEMPLATE_DAY = "2025-01-01"


def template(rng: np.random.Generator) -> str:
    """One day's contracts as UDiFF CSV text (trade date TEMPLATE_DAY), about ROWS rows."""
    parts = []
    indices = {"NIFTY": (23_000, 50, 8, 25), "BANKNIFTY": (49_000, 100, 3, 15), "FINNIFTY": (23_500, 50, 3, 25),
               "MIDCPNIFTY": (12_000, 25, 3, 50)}
    stocks = {f"STOCK{i:03d}": (float(rng.uniform(100, 5000)), 0.0, 3, int(rng.choice([250, 500, 1000])))
              for i in range(STOCKS)}
    per_symbol = (ROWS - 4 * 8 * 2 * 150) // (STOCKS * 3 * 2)
    for symbol, (spot, step, expiries, lot) in {**indices, **stocks}.items():
        step = step or round(spot * 0.01, 0) or 1.0
        strikes = spot + step * np.arange(-(150 if symbol in indices else per_symbol // 2),
                                          150 if symbol in indices else per_symbol - per_symbol // 2)
        strikes = strikes[strikes > 0]
        kind = ("IDO", "IDF") if symbol in indices else ("STO", "STF")
        for e in range(expiries):
            expiry = (pd.Timestamp("2025-01-30") + pd.Timedelta(days=7 * e if symbol == "NIFTY" else 28 * e)
                      ).strftime("%Y-%m-%d")
            for option_type in ("CE", "PE"):
                close = np.round(np.maximum(0.05, rng.lognormal(3, 1.5, len(strikes))), 2)
                contracts = rng.poisson(50, len(strikes)) * (rng.random(len(strikes)) < 0.6)
                parts.append(pd.DataFrame({
                    "TradDt": TEMPLATE_DAY, "BizDt": TEMPLATE_DAY, "Sgmt": "FO", "Src": "NSE", "FinInstrmTp": kind[0],
                    "FinInstrmId": rng.integers(30_000, 99_999, len(strikes)), "ISIN": "", "TckrSymb": symbol,
                    "SctySrs": "", "XpryDt": expiry, "FininstrmActlXpryDt": expiry, "StrkPric": strikes,
                    "OptnTp": option_type, "FinInstrmNm": symbol, "OpnPric": close, "HghPric": close,
                    "LwPric": close, "ClsPric": close, "LastPric": close, "PrvsClsgPric": close,
                    "UndrlygPric": spot, "SttlmPric": close, "OpnIntrst": contracts * lot * 3,
                    "ChngInOpnIntrst": 0, "TtlTradgVol": contracts, "TtlTrfVal": contracts * lot * (strikes + close),
                    "TtlNbOfTxsExctd": contracts, "SsnId": "F1", "NewBrdLotQty": lot, "Rmks": "", "Rsvd1": "",
                    "Rsvd2": "", "Rsvd3": "", "Rsvd4": ""}))
            parts.append(pd.DataFrame([{"TradDt": TEMPLATE_DAY, "BizDt": TEMPLATE_DAY, "Sgmt": "FO", "Src": "NSE",
                                        "FinInstrmTp": kind[1], "TckrSymb": symbol, "XpryDt": expiry,
                                        "FininstrmActlXpryDt": expiry, "ClsPric": spot, "SttlmPric": spot,
                                        "UndrlygPric": spot, "OpnIntrst": 1000 * lot, "TtlTradgVol": 100,
                                        "NewBrdLotQty": lot, "SsnId": "F1"}]))
    frame = pd.concat(parts, ignore_index=True).reindex(columns=HEADER.split(","))
    return frame.to_csv(index=False, float_format="%.2f")


def write_year(directory: Path, days: list[date]) -> int:
    """DAYS zipped UDiFF files into directory; returns the rows per file."""
    text = template(np.random.default_rng(11))
    for day in days:
        name = bhavcopy_name(day)
        body = text.replace(f"{TEMPLATE_DAY},{TEMPLATE_DAY},", f"{day:%Y-%m-%d},{day:%Y-%m-%d},")
        with zipfile.ZipFile(directory / name, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            archive.writestr(name.removesuffix(".zip"), body)
    return text.count("\n") - 1


def read_all(directory: Path, workers: int) -> tuple[float, int]:
    """Seconds to read every day of the folder with a fresh archive (uncached days parsed by `workers` processes
    first), and the rows read."""
    start = time.perf_counter()
    archive = BhavcopyArchive(directory)
    archive.prepare(workers)
    rows = sum(len(archive.day(day)) for day in archive.days())
    return time.perf_counter() - start, rows


def rows() -> list[dict]:
    days = trading_days(date(2025, 1, 1), date(2025, 12, 31))[:DAYS]
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-bhavcopy-") as folder:
        per_file = write_year(Path(folder), days)
        cold, total = read_all(Path(folder), workers)
        warm, again = read_all(Path(folder), workers)
        assert total == again == per_file * len(days)
        size = sum(p.stat().st_size for p in Path(folder).glob("*.zip")) / 2**20
        cache = sum(p.stat().st_size for p in (Path(folder) / ".parquet-cache").glob("*")) / 2**20
    note = f"{len(days)} zipped UDiFF files ({size:,.0f} MiB) of {per_file:,} rows each, generated"
    return [
        {"task": "read a year of bhavcopies, first time", "implementation": "**optionsv4** `BhavcopyArchive` "
         f"(unzip, pyarrow CSV, Parquet cache written), {workers} processes", "n": len(days), "seconds": cold,
         "per_item_us": cold / len(days) * 1e6, "note": note},
        {"task": "read a year of bhavcopies, again", "implementation": "**optionsv4** `BhavcopyArchive` (Parquet "
         "cache), 1 process", "n": len(days), "seconds": warm, "per_item_us": warm / len(days) * 1e6,
         "note": f"{total:,} rows; cache {cache:,.0f} MiB"},
    ]


if __name__ == "__main__":
    for row in rows():
        print(row)
