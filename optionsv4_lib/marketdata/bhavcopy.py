"""NSE F&O bhavcopies read offline: one file of either format into one canonical frame, and a folder of them cached
as Parquet.

Formats (detected from the header line, never from the name):
- UDiFF, NSE's format from 8 Jul 2024: `BhavCopy_NSE_FO_0_0_0_YYYYMMDD_F_0000.csv`, columns TradDt, TckrSymb,
  FinInstrmTp (IDO/STO index/stock options, IDF/STF futures), XpryDt, StrkPric, OptnTp, OpnPric … ClsPric,
  SttlmPric, UndrlygPric, OpnIntrst (units), TtlTradgVol (contracts: turnover = contracts × NewBrdLotQty × price),
  NewBrdLotQty (the contract's market lot).
- legacy, before it: `foDDMONYYYYbhav.csv`, columns INSTRUMENT (OPTIDX/OPTSTK, FUTIDX/FUTSTK), SYMBOL, EXPIRY_DT
  (25-Jan-2024), STRIKE_PR, OPTION_TYP (XX for futures), OPEN … CLOSE, SETTLE_PR, CONTRACTS, OPEN_INT (units),
  TIMESTAMP (29-DEC-2023). It has no lot and no underlying price: lot_size stays missing (the lot table fills it)
  and underlying_price is the close of the symbol's nearest future that day — a proxy that includes the carry.
Each may be plain (.csv), gzip'd (.csv.gz) or zipped (.csv.zip, one member, as NSE serves it).

The folder reader (BhavcopyArchive) finds the files by their NSE names and keeps each day's frame as Parquet under
`<folder>/.parquet-cache/`, keyed by the file's name, size and modification time (and CACHE_VERSION), so a year is
parsed once and then read columnar.
"""

import gzip
import multiprocessing
import re
import zipfile
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from optionsv4_lib.core.errors import DataError, InputError, OptionsV4Error
from optionsv4_lib.core.frames import Column, conform
from optionsv4_lib.marketdata.snapshots import write_parquet

BHAVCOPY: tuple[Column, ...] = (
    Column("trade_date", "datetime64[s]", "date", "the trading day the file reports"),
    Column("instrument", "string", "", "'OPT' (option) or 'FUT' (future)"),
    Column("symbol", "string", "", "underlying symbol, e.g. NIFTY, RELIANCE"),
    Column("expiry", "datetime64[s]", "date", "expiry date of the contract"),
    Column("strike", "float64", "₹", "strike price; NaN for futures"),
    Column("option_type", "string", "", "'CE' or 'PE'; <NA> for futures"),
    Column("open", "float64", "₹/unit", "open of the day (0 when untraded)"),
    Column("high", "float64", "₹/unit", "high of the day"),
    Column("low", "float64", "₹/unit", "low of the day"),
    Column("close", "float64", "₹/unit", "NSE's close price"),
    Column("settle", "float64", "₹/unit", "NSE's settlement price (a theoretical price for untraded options)"),
    Column("underlying_price", "float64", "₹", "underlying's price (legacy: the nearest future's close, a proxy)"),
    Column("oi", "int64", "units", "open interest"),
    Column("contracts", "int64", "contracts", "contracts traded that day"),
    Column("lot_size", "Int64", "units", "market lot of the contract; <NA> in the legacy format"),
)
"""One row per contract of one day's bhavcopy (options and futures)."""

UDIFF_FIRST_DAY = date(2024, 7, 8)  # NSE publishes UDiFF bhavcopies from this trading day; legacy ones before it
CACHE_DIR = ".parquet-cache"
CACHE_VERSION = "1"  # bump when the canonical frame changes: every cached day is rebuilt
MEMORY_DAYS = 8  # parsed days an archive keeps in memory
_KEY = b"optionsv4:key"  # Parquet metadata: the cache key of the file a cached day was parsed from

_UDIFF_HEADER = b"TradDt,BizDt,Sgmt,Src,FinInstrmTp"
_LEGACY_HEADER = b"INSTRUMENT,SYMBOL,EXPIRY_DT,STRIKE_PR,OPTION_TYP"
_UDIFF_NAME = re.compile(r"^BhavCopy_NSE_FO_0_0_0_(\d{8})_F_0000\.csv(\.gz|\.zip)?$")
_LEGACY_NAME = re.compile(r"^fo(\d{2})([A-Z]{3})(\d{4})bhav\.csv(\.gz|\.zip)?$")
_KIND = {"IDO": "OPT", "STO": "OPT", "IDF": "FUT", "STF": "FUT",
         "OPTIDX": "OPT", "OPTSTK": "OPT", "FUTIDX": "FUT", "FUTSTK": "FUT"}
_UDIFF_COLUMNS = {"TradDt": pa.timestamp("s"), "TckrSymb": pa.string(), "FinInstrmTp": pa.string(),
                  "XpryDt": pa.timestamp("s"), "StrkPric": pa.float64(), "OptnTp": pa.string(), "OpnPric": pa.float64(),
                  "HghPric": pa.float64(), "LwPric": pa.float64(), "ClsPric": pa.float64(),
                  "SttlmPric": pa.float64(), "UndrlygPric": pa.float64(), "OpnIntrst": pa.int64(),
                  "TtlTradgVol": pa.int64(), "NewBrdLotQty": pa.int64()}
_LEGACY_COLUMNS = {"INSTRUMENT": pa.string(), "SYMBOL": pa.string(), "EXPIRY_DT": pa.string(),
                   "STRIKE_PR": pa.float64(), "OPTION_TYP": pa.string(), "OPEN": pa.float64(), "HIGH": pa.float64(),
                   "LOW": pa.float64(), "CLOSE": pa.float64(), "SETTLE_PR": pa.float64(), "CONTRACTS": pa.int64(),
                   "OPEN_INT": pa.int64(), "TIMESTAMP": pa.string()}


def bhavcopy_name(day: date, compression: str = ".zip") -> str:
    """NSE's file name of day's F&O bhavcopy: UDiFF from UDIFF_FIRST_DAY, legacy before; compression '', '.gz' or
    '.zip'."""
    if day >= UDIFF_FIRST_DAY:
        return f"BhavCopy_NSE_FO_0_0_0_{day:%Y%m%d}_F_0000.csv{compression}"
    return f"fo{day:%d}{day.strftime('%b').upper()}{day:%Y}bhav.csv{compression}"


def name_date(name: str) -> date | None:
    """The trade date in a bhavcopy's NSE file name, or None when the name is not one."""
    if match := _UDIFF_NAME.match(name):
        return datetime.strptime(match[1], "%Y%m%d").date()
    if match := _LEGACY_NAME.match(name):
        try:
            return datetime.strptime(f"{match[1]}{match[2]}{match[3]}", "%d%b%Y").date()
        except ValueError:
            return None
    return None


def read_bhavcopy(path: Path | str) -> pd.DataFrame:
    """The options and futures of one bhavcopy file (either format; .csv, .csv.gz or .csv.zip) as BHAVCOPY rows.

    Raises DataError naming the file when it cannot be read, is neither format, lacks a column, or holds more
    than one trade date."""
    path = Path(path)
    raw = _decompressed(path)
    first_line = raw[:raw.find(b"\n")].lstrip(b"\xef\xbb\xbf")
    if first_line.startswith(_UDIFF_HEADER):
        frame = _udiff(_table(raw, _UDIFF_COLUMNS, path))
    elif first_line.startswith(_LEGACY_HEADER):
        frame = _legacy(_table(raw, _LEGACY_COLUMNS, path), path)
    else:
        raise DataError(f"{path}: not an NSE F&O bhavcopy: its header {first_line[:60].decode(errors='replace')!r} "
                        f"starts neither {_UDIFF_HEADER.decode()} (UDiFF) nor {_LEGACY_HEADER.decode()} (legacy)")
    frame = frame[frame["instrument"].notna()]
    days = frame["trade_date"].dropna().unique()
    if len(days) != 1:
        raise DataError(f"{path}: expected one trade date, found {len(days)}")
    frame = frame.sort_values(["symbol", "instrument", "expiry", "strike", "option_type"], ignore_index=True)
    return conform(frame, BHAVCOPY, str(path))


def _decompressed(path: Path) -> bytes:
    """The file's bytes, gunzipped or unzipped (the zip's one .csv member)."""
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
                if len(members) != 1:
                    raise DataError(f"{path}: expected one .csv inside the zip, found {members or 'none'}")
                return archive.read(members[0])
        if path.name.endswith(".gz"):
            with gzip.open(path) as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read it: {exc}") from exc


def _table(raw: bytes, columns: dict[str, pa.DataType], path: Path) -> pa.Table:
    try:
        return pacsv.read_csv(pa.BufferReader(raw), convert_options=pacsv.ConvertOptions(
            column_types=columns, include_columns=list(columns), strings_can_be_null=True))
    except pa.ArrowException as exc:  # a missing column, a bad number
        raise DataError(f"{path}: {exc}") from exc


def _udiff(table: pa.Table) -> pd.DataFrame:
    raw = table.to_pandas()
    option_type = raw["OptnTp"].where(raw["OptnTp"].isin(["CE", "PE"]))
    return pd.DataFrame({
        "trade_date": raw["TradDt"], "instrument": raw["FinInstrmTp"].map(_KIND),
        "symbol": raw["TckrSymb"], "expiry": raw["XpryDt"],
        "strike": raw["StrkPric"], "option_type": option_type, "open": raw["OpnPric"], "high": raw["HghPric"],
        "low": raw["LwPric"], "close": raw["ClsPric"], "settle": raw["SttlmPric"],
        "underlying_price": raw["UndrlygPric"], "oi": raw["OpnIntrst"], "contracts": raw["TtlTradgVol"],
        "lot_size": raw["NewBrdLotQty"].astype("Int64"),
    })


def _legacy(table: pa.Table, path: Path) -> pd.DataFrame:
    raw = table.to_pandas()
    instrument = raw["INSTRUMENT"].str.strip().map(_KIND)
    frame = pd.DataFrame({
        "trade_date": _legacy_dates(raw["TIMESTAMP"], path, "TIMESTAMP"), "instrument": instrument,
        "symbol": raw["SYMBOL"].str.strip(), "expiry": _legacy_dates(raw["EXPIRY_DT"], path, "EXPIRY_DT"),
        "strike": raw["STRIKE_PR"].where(instrument == "OPT"),
        "option_type": raw["OPTION_TYP"].where(raw["OPTION_TYP"].isin(["CE", "PE"])), "open": raw["OPEN"],
        "high": raw["HIGH"], "low": raw["LOW"], "close": raw["CLOSE"], "settle": raw["SETTLE_PR"],
        "oi": raw["OPEN_INT"], "contracts": raw["CONTRACTS"], "lot_size": pd.array([pd.NA] * len(raw), "Int64"),
    })
    futures = frame[frame["instrument"] == "FUT"].sort_values("expiry").drop_duplicates("symbol")
    frame["underlying_price"] = frame["symbol"].map(futures.set_index("symbol")["close"]).astype(float)
    return frame


def _legacy_dates(values: pd.Series, path: Path, column: str) -> pd.Series:
    """'25-Jan-2024' / '29-DEC-2023' → datetime64, parsed once per distinct value; DataError naming a bad one."""
    distinct = values.dropna().unique()
    try:
        parsed = {v: datetime.strptime(v.strip().title(), "%d-%b-%Y") for v in distinct}
    except ValueError as exc:
        raise DataError(f"{path}: column {column}: {exc} (expected dates like 25-Jan-2024)") from exc
    return pd.to_datetime(values.map(parsed))


class BhavcopyArchive:
    """The bhavcopies in one folder, by trade date, each parsed once and cached as Parquet (see the module
    docstring). Files whose names are not NSE's are ignored; two files of one date are a DataError."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise InputError(f"data dir: {self.directory} is not a directory")
        self.cache_dir = self.directory / CACHE_DIR
        files: dict[date, Path] = {}
        for path in sorted(self.directory.iterdir()):
            day = name_date(path.name)
            if day is None or not path.is_file():
                continue
            if day in files:
                raise DataError(f"{self.directory}: two bhavcopies of {day}: {files[day].name} and {path.name}")
            files[day] = path
        self.files = dict(sorted(files.items()))
        self._memory: OrderedDict[date, pd.DataFrame] = OrderedDict()
        self._underlyings: dict[date, pd.DataFrame] = {}

    def days(self) -> list[date]:
        """Trade dates with a file, ascending."""
        return list(self.files)

    def day(self, day: date) -> pd.DataFrame:
        """The BHAVCOPY rows of `day`: from memory, the Parquet cache when it is current, else parsed and cached.
        DataError when the folder has no file of that day, or the file's trade date is another."""
        if day in self._memory:
            self._memory.move_to_end(day)
            return self._memory[day]
        path = self.files.get(day)
        if path is None:
            raise DataError(f"no bhavcopy of {day} in {self.directory}")
        frame = self._cached(path)
        if frame is None:
            frame = _parse_and_cache(path, day, self._cache_path(path))
        self._memory[day] = frame
        if len(self._memory) > MEMORY_DAYS:
            self._memory.popitem(last=False)
        return frame

    def prepare(self, workers: int = 1) -> dict[date, str]:
        """Parse and cache every day whose cache is missing or stale, `workers` processes at once (a year's first
        read). Returns the days that could not be read, with why (day() raises the same error when asked)."""
        stale = [(day, path, self._cache_path(path)) for day, path in self.files.items()
                 if _cache_key(path) != _written_key(self._cache_path(path))]
        failed = {}
        if workers > 1 and len(stale) > 1:
            with ProcessPoolExecutor(min(workers, len(stale)),
                                     mp_context=multiprocessing.get_context("forkserver")) as pool:
                outcomes = list(pool.map(_try_parse_and_cache, *zip(*stale), chunksize=4))
        else:
            outcomes = [_try_parse_and_cache(*job) for job in stale]
        for (day, _, _), problem in zip(stale, outcomes):
            if problem:
                failed[day] = problem
        return failed

    def underlying_closes(self, start: date, end: date) -> pd.DataFrame:
        """Columns date, symbol, close: every symbol's underlying price on each file's day from start to end."""
        frames = []
        for day in (d for d in self.files if start <= d <= end):
            if day not in self._underlyings:
                rows = self.day(day)[["symbol", "underlying_price"]].dropna().drop_duplicates("symbol")
                self._underlyings[day] = pd.DataFrame({"date": pd.Timestamp(day), "symbol": rows["symbol"],
                                                       "close": rows["underlying_price"]})
            frames.append(self._underlyings[day])
        if not frames:
            return pd.DataFrame({"date": pd.Series(dtype="datetime64[s]"), "symbol": pd.Series(dtype="string"),
                                 "close": pd.Series(dtype=float)})
        return pd.concat(frames, ignore_index=True)

    def _cache_path(self, path: Path) -> Path:
        return self.cache_dir / f"{path.name}.parquet"

    def _cached(self, path: Path) -> pd.DataFrame | None:
        """The cached frame of `path` if the cache was written from this very file (name, size, mtime), else None."""
        cached = self._cache_path(path)
        if _written_key(cached) != _cache_key(path):
            return None
        return conform(pq.read_table(cached).to_pandas(), BHAVCOPY, str(cached))  # Parquet keeps dates in ms


def _cache_key(path: Path) -> bytes:
    stat = path.stat()
    return f"{CACHE_VERSION}:{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()


def _written_key(cached: Path) -> bytes | None:
    """The key a cache file was written with, or None when there is none."""
    try:
        return (pq.read_schema(cached).metadata or {}).get(_KEY)
    except (FileNotFoundError, pa.ArrowInvalid):
        return None


def _parse_and_cache(path: Path, day: date, cached: Path) -> pd.DataFrame:
    """read_bhavcopy(path), checked to be of `day`, written to `cached` with its key."""
    key = _cache_key(path)  # before reading: a file replaced meanwhile is read again next time
    frame = read_bhavcopy(path)
    found = frame["trade_date"].iloc[0].date() if len(frame) else day
    if found != day:
        raise DataError(f"{path}: its name says {day} but its rows are of {found}")
    write_parquet(frame, cached, {_KEY: key})
    return frame


def _try_parse_and_cache(day: date, path: Path, cached: Path) -> str | None:
    """_parse_and_cache for a worker process: None, or why the file cannot be read."""
    try:
        _parse_and_cache(path, day, cached)
    except OptionsV4Error as exc:
        return str(exc)
    return None


def open_archive(directory: Path | str) -> BhavcopyArchive:
    """The archive of `directory`, shared within the process while the folder's listing is unchanged (the days of a
    backtest read it one after another; a file added or removed makes a new one)."""
    path = Path(directory).resolve()
    try:
        listed = path.stat().st_mtime_ns
    except OSError as exc:
        raise InputError(f"data dir: {path} is not a directory") from exc
    return _shared_archive(str(path), listed)


@lru_cache(maxsize=4)
def _shared_archive(directory: str, listed: int) -> BhavcopyArchive:
    return BhavcopyArchive(directory)


def lots_from_open_interest(frame: pd.DataFrame) -> pd.Series:
    """Per row, the greatest common divisor (units) of the open interest of its symbol's contracts of the same
    expiry that day: the lot of those contracts whenever their open interests are not all multiples of a larger
    number (OI is always whole lots). 0 when every OI is 0. Used only to turn legacy contract counts into units."""
    oi = frame["oi"].to_numpy(np.int64)
    groups = frame.groupby(["symbol", "expiry"], sort=False).ngroup().to_numpy()
    lots = np.zeros(groups.max() + 1 if len(groups) else 0, dtype=np.int64)
    np.gcd.at(lots, groups, oi)
    return pd.Series(lots[groups], index=frame.index)
