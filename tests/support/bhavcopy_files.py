"""NSE F&O bhavcopy files in the real formats, written from generated prices: the fixtures under
tests/fixtures/bhavcopy/ and the benchmark's year of files.

The headers are the exact ones of NSE's files (tests/fixtures/BhavCopy_NSE_FO_0_0_0_20241121_F_0000.csv.gz and
/work/shared/data/real/fo29DEC2023bhav.csv.gz); every column a reader may use is filled as NSE fills it (volume in
contracts, open interest in units, turnover = contracts × lot × (strike + premium) for options). Prices are
generated (Black–Scholes on a smile, rounded to the tick), not NSE's.

`python -m tests.support.bhavcopy_files` rewrites the fixtures (deterministic).
"""

import csv
import gzip
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.pricing.black_scholes import bs_price
from optionsv4_lib.reference.calendar import IST, years_to_expiry

UDIFF_HEADER = ("TradDt,BizDt,Sgmt,Src,FinInstrmTp,FinInstrmId,ISIN,TckrSymb,SctySrs,XpryDt,FininstrmActlXpryDt,"
                "StrkPric,OptnTp,FinInstrmNm,OpnPric,HghPric,LwPric,ClsPric,LastPric,PrvsClsgPric,UndrlygPric,"
                "SttlmPric,OpnIntrst,ChngInOpnIntrst,TtlTradgVol,TtlTrfVal,TtlNbOfTxsExctd,SsnId,NewBrdLotQty,Rmks,"
                "Rsvd1,Rsvd2,Rsvd3,Rsvd4").split(",")
LEGACY_HEADER = ("INSTRUMENT,SYMBOL,EXPIRY_DT,STRIKE_PR,OPTION_TYP,OPEN,HIGH,LOW,CLOSE,SETTLE_PR,CONTRACTS,"
                 "VAL_INLAKH,OPEN_INT,CHG_IN_OI,TIMESTAMP,").split(",")
FIXTURES = Path(__file__).parents[1] / "fixtures" / "bhavcopy"
RATE = 0.065  # decimal, continuously compounded, of the generated prices
TICK = 0.05


@dataclass(frozen=True)
class Underlying:
    """A generated underlying: symbol, index or stock, closes per day, strike step, ATM vol, strikes ± share."""

    symbol: str
    index: bool
    closes: dict[date, float]
    step: float
    atm_vol: float
    width: float
    expiries: dict[date, int]  # expiry → lot of its contracts
    peak_contracts: float


def contracts_rows(day: date, u: Underlying, *, expiries: list[date] | None = None) -> pd.DataFrame:
    """One day's options and futures of `u` in canonical columns (see write_udiff)."""
    spot = u.closes[day]
    close_at = datetime.combine(day, time(15, 30), tzinfo=IST)
    rows = []
    for expiry, lot in u.expiries.items():
        if expiry < day or (expiries is not None and expiry not in expiries):
            continue
        years = max(float(years_to_expiry(close_at, expiry)), 1e-6)
        forward = spot * np.exp(RATE * years)
        if (expiry + pd.Timedelta(days=7)).month != expiry.month:  # futures are monthly
            rows.append({"kind": "IDF" if u.index else "STF", "expiry": expiry, "strike": np.nan, "option_type": "",
                         "close": _tick(forward), "settle": _tick(forward), "contracts": int(u.peak_contracts),
                         "oi": lot * int(u.peak_contracts * 3), "lot": lot, "spot": spot})
        low, high = spot * (1 - u.width), spot * (1 + u.width)
        strikes = np.arange(np.ceil(low / u.step) * u.step, high, u.step)
        k = np.log(strikes / forward)
        sigma = u.atm_vol - 0.25 * k + 1.5 * k**2
        for option_type in ("CE", "PE"):
            model = np.maximum(_tick(bs_price(option_type, spot, strikes, years, RATE, sigma)), TICK)
            activity = np.exp(-(k / (0.015 if u.index else 0.03)) ** 2) / (1 + 20 * years)
            traded = np.round(u.peak_contracts * activity).astype(int)
            close = np.where(traded > 0, model, _tick(model * 1.08))  # an untraded contract keeps a stale close
            for strike, c, s, n, a in zip(strikes, close, model, traded, activity):
                rows.append({"kind": "IDO" if u.index else "STO", "expiry": expiry, "strike": float(strike),
                             "option_type": option_type, "close": float(c), "settle": float(s), "contracts": int(n),
                             "oi": lot * int(round(u.peak_contracts * 4 * a + 2)), "lot": lot, "spot": spot})
    frame = pd.DataFrame(rows)
    return frame.assign(symbol=u.symbol, trade_date=day)


def _tick(values):
    return np.round(np.asarray(values, dtype=float) / TICK) * TICK


def udiff_text(frame: pd.DataFrame) -> str:
    """The UDiFF CSV of canonical rows (columns trade_date, symbol, kind, expiry, strike, option_type, close,
    settle, contracts, oi, lot, spot)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(UDIFF_HEADER)
    for n, row in enumerate(frame.itertuples(index=False)):
        day, expiry = f"{row.trade_date:%Y-%m-%d}", f"{row.expiry:%Y-%m-%d}"
        option = row.kind in ("IDO", "STO")
        name = f"{row.symbol}{row.expiry:%y%b}".upper() + (f"{row.strike:g}{row.option_type}" if option else "FUT")
        traded = row.contracts > 0
        price = f"{row.close:.2f}" if traded else "0.00"
        turnover = row.contracts * row.lot * ((row.strike if option else 0.0) + row.close)
        writer.writerow([day, day, "FO", "NSE", row.kind, 40000 + n, "", row.symbol, "", expiry, expiry,
                         f"{row.strike:.2f}" if option else "", row.option_type if option else "", name, price, price,
                         price, f"{row.close:.2f}", price, f"{row.close:.2f}", f"{row.spot:.2f}", f"{row.settle:.2f}",
                         row.oi, 0, row.contracts, f"{turnover:.2f}", row.contracts, "F1", row.lot, "", "", "", "",
                         ""])
    return out.getvalue()


def legacy_text(frame: pd.DataFrame) -> str:
    """The legacy CSV of canonical rows (no lot, no underlying price; VAL_INLAKH in lakhs)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEGACY_HEADER)
    kinds = {"IDO": "OPTIDX", "STO": "OPTSTK", "IDF": "FUTIDX", "STF": "FUTSTK"}
    for row in frame.itertuples(index=False):
        option = row.kind in ("IDO", "STO")
        turnover = row.contracts * row.lot * ((row.strike if option else 0.0) + row.close) / 1e5
        price = f"{row.close:g}" if row.contracts else "0"
        writer.writerow([kinds[row.kind], row.symbol, f"{row.expiry:%d-%b-%Y}", f"{row.strike:g}" if option else 0,
                         row.option_type if option else "XX", price, price, price, f"{row.close:g}",
                         f"{row.settle:g}", row.contracts, f"{turnover:.2f}", row.oi, 0,
                         f"{row.trade_date:%d-%b-%Y}".upper(), ""])
    return out.getvalue()


def write(path: Path, text: str) -> Path:
    """text to path as .csv, .csv.gz (fixed mtime in the gzip header) or .csv.zip (one member, NSE's way)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data, mtime=0))
    elif path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo(path.name.removesuffix(".zip"), (1980, 1, 1, 0, 0, 0)), data)
    else:
        path.write_bytes(data)
    return path


# ---------------------------------------------------------------- the fixtures

DAYS = [date(2025, 1, 20), date(2025, 1, 21), date(2025, 1, 22), date(2025, 1, 23), date(2025, 1, 24)]
NIFTY = Underlying("NIFTY", True, dict(zip(DAYS, [23344.75, 23024.65, 23155.35, 23205.35, 23092.20])), 50.0, 0.14,
                   0.05, {date(2025, 1, 23): 25, date(2025, 1, 30): 25, date(2025, 2, 6): 75, date(2025, 2, 27): 75},
                   20000)
"""NIFTY weeklies (23 Jan expires inside the window) and monthlies; the lot revision as on 24 Jan 2025: contracts
listed before it (to 30 Jan) trade in 25s, the February ones in 75s."""
RELIANCE = Underlying("RELIANCE", False, dict(zip(DAYS, [1306.0, 1315.5, 1279.9, 1301.6, 1299.3])), 20.0, 0.24,
                      0.10, {date(2025, 1, 30): 500, date(2025, 2, 27): 500}, 4000)
INFY = Underlying("INFY", False, dict(zip(DAYS, [1927.1, 1853.2, 1856.9, 1890.5, 1865.0])), 20.0, 0.26, 0.10,
                  {date(2025, 1, 30): 400, date(2025, 2, 27): 400}, 3000)
COMPRESSION = {DAYS[0]: ".gz", DAYS[1]: "", DAYS[2]: ".zip", DAYS[3]: ".gz", DAYS[4]: ".gz"}
INDEX_HISTORY_DAYS = 260  # weekdays of NIFTY closes before the window in the index-history fixture


def fixture_day(day: date) -> pd.DataFrame:
    return pd.concat([contracts_rows(day, u) for u in (NIFTY, RELIANCE, INFY)], ignore_index=True)


def index_history() -> pd.DataFrame:
    """NIFTY closes: a generated path of INDEX_HISTORY_DAYS weekdays ending in the window's closes."""
    before = pd.bdate_range(end=pd.Timestamp(DAYS[0]) - pd.Timedelta(days=1), periods=INDEX_HISTORY_DAYS)
    steps = np.random.default_rng(17).normal(0.0003, 0.009, len(before))
    path = NIFTY.closes[DAYS[0]] * np.exp(-np.cumsum(steps[::-1])[::-1])  # walks back from the first day's close
    closes = np.round(np.concatenate([path, [NIFTY.closes[d] for d in DAYS]]), 2)
    dates = [*before.date, *DAYS]
    return pd.DataFrame({"date": [d.isoformat() for d in dates], "open": closes, "high": np.round(closes * 1.004, 2),
                         "low": np.round(closes * 0.996, 2), "close": closes})


def main() -> None:
    for day in DAYS:
        name = f"BhavCopy_NSE_FO_0_0_0_{day:%Y%m%d}_F_0000.csv{COMPRESSION[day]}"
        write(FIXTURES / "udiff" / name, udiff_text(fixture_day(day)))
    legacy_day = date(2024, 6, 27)
    legacy = Underlying("NIFTY", True, {legacy_day: 23868.80}, 50.0, 0.13, 0.03, {date(2024, 7, 4): 25}, 20000)
    write(FIXTURES / "legacy" / "fo27JUN2024bhav.csv", legacy_text(contracts_rows(legacy_day, legacy)))
    index_history().to_csv(FIXTURES / "nifty_history.csv", index=False)


if __name__ == "__main__":
    main()
