"""Parquet snapshots of market data, partitioned by trade date: a recording proxy and a source that replays them.

Layout under the data dir (default ./data), one directory per trade date:

    snapshots/trade_date=2026-11-23/
        source.json                                     name and as_of of the recorded source
        expiries/symbol=NIFTY.parquet                   column expiry
        option_chain/symbol=NIFTY/expiry=2026-11-24.parquet      when it was recorded in the file's metadata
        candles/symbol=NIFTY.parquet                    the requested date range in the file's metadata
        spot/symbol=NIFTY.parquet                       columns symbol, spot

Symbols are upper-cased and percent-encoded only where a file name needs it ("/", "%"), so "M&M" and
"INDIA VIX" stay legible. Every file is written to a temporary file in its directory and moved into place with
os.replace, so a crash never leaves a half-written file. Replayed frames equal the recorded ones, dtypes included.
"""

import json
import os
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import Column, conform
from optionsv4_lib.marketdata.schema import CANDLES, OPTION_CHAIN
from optionsv4_lib.marketdata.source import MarketDataSource, as_date, as_symbol, option_chains

DEFAULT_DATA_DIR = Path("data")
MANIFEST = "source.json"

EXPIRIES: tuple[Column, ...] = (Column("expiry", "datetime64[s]", "date", "listed expiry"),)
SPOT: tuple[Column, ...] = (
    Column("symbol", "string", "", "symbol"),
    Column("spot", "float64", "₹", "last price (points for indices)"),
)

_START, _END = b"optionsv4:start", b"optionsv4:end"  # candle files: the date range that was requested
_RECORDED_AT = b"optionsv4:recorded_at"  # chain files: when the chain was recorded (ISO 8601, with offset)


def snapshot_dir(data_dir: Path | str, trade_date: date) -> Path:
    """The directory holding the snapshots of one trade date."""
    return Path(data_dir) / "snapshots" / f"trade_date={as_date(trade_date, 'trade_date').isoformat()}"


def write_parquet(frame: pd.DataFrame, path: Path, metadata: dict[bytes, bytes] | None = None) -> None:
    """Write frame (without its index) to path atomically; metadata goes into the Parquet schema metadata."""

    def write(target: str) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if metadata:
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
        pq.write_table(table, target)

    try:
        _atomic_write(Path(path), write)
    except pa.ArrowException as exc:
        raise DataError(f"{path}: cannot write the frame as Parquet: {exc}") from exc


def read_parquet(path: Path) -> tuple[pd.DataFrame, dict[bytes, bytes]]:
    """(frame, schema metadata) of a Parquet file; DataError naming the path when it was not recorded."""
    try:
        table = pq.read_table(path)
    except FileNotFoundError as exc:
        raise DataError(f"not recorded: {path}") from exc
    return table.to_pandas(), dict(table.schema.metadata or {})


class SnapshotRecorder:
    """A MarketDataSource that passes every call through to `source` and writes what it returns as Parquet.

    reuse_since: an option chain recorded at or after this moment (tz-aware; e.g. by another task of the same run)
    is read back instead of asked for again, so a run fetches each chain once; None asks the source every time.
    """

    def __init__(self, source: MarketDataSource, data_dir: Path | str = DEFAULT_DATA_DIR, *,
                 reuse_since: datetime | None = None):
        if reuse_since is not None and reuse_since.tzinfo is None:
            raise InputError(f"reuse_since: expected a time zone-aware moment, got {reuse_since!r}")
        self.source = source
        self.name = source.name
        self.trade_date = source.trade_date
        self.as_of: datetime | None = getattr(source, "as_of", None)
        self.reuse_since = reuse_since
        self.directory = snapshot_dir(data_dir, self.trade_date)
        manifest = {"name": self.name, "trade_date": self.trade_date.isoformat(),
                    "as_of": self.as_of.isoformat() if self.as_of else None}
        _atomic_write(self.directory / MANIFEST, lambda target: Path(target).write_text(json.dumps(manifest)))

    def expiries(self, symbol: str) -> list[date]:
        listed = self.source.expiries(symbol)
        frame = pd.DataFrame({"expiry": pd.to_datetime(pd.Series(listed, dtype="object"))})
        write_parquet(conform(frame, EXPIRIES, f"{symbol} expiries"), _expiries_path(self.directory, symbol))
        return listed

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        recorded = self._recorded(symbol, expiry)
        if recorded is not None:
            return recorded
        chain = self.source.option_chain(symbol, expiry)
        self._record_chain(symbol, expiry, chain)
        return chain

    def option_chains(self, wanted: list[tuple[str, date]]) -> dict[tuple[str, date], pd.DataFrame | DataError]:
        """marketdata.source.option_chains through the source (in batches where it can); each chain got is
        recorded (a chain that cannot be recorded becomes that pair's DataError), and chains recorded since
        reuse_since are read back."""
        chains: dict[tuple[str, date], pd.DataFrame | DataError] = {}
        for symbol, expiry in wanted:
            recorded = self._recorded(symbol, expiry)
            if recorded is not None:
                chains[(symbol, expiry)] = recorded
        fetched = option_chains(self.source, [pair for pair in wanted if pair not in chains])
        for (symbol, expiry), chain in fetched.items():
            if isinstance(chain, pd.DataFrame):
                try:
                    self._record_chain(symbol, expiry, chain)
                except DataError as exc:
                    fetched[(symbol, expiry)] = exc
        chains |= fetched
        return {pair: chains[pair] for pair in wanted}

    def _record_chain(self, symbol: str, expiry: date, chain: pd.DataFrame) -> None:
        now = datetime.now().astimezone().isoformat().encode()
        write_parquet(conform(chain, OPTION_CHAIN, f"{symbol} chain"), _chain_path(self.directory, symbol, expiry),
                      {_RECORDED_AT: now})

    def _recorded(self, symbol: str, expiry: date) -> pd.DataFrame | None:
        """The chain recorded at or after reuse_since, else None."""
        path = _chain_path(self.directory, symbol, expiry)
        if self.reuse_since is None or not path.exists():
            return None
        frame, metadata = read_parquet(path)
        if _RECORDED_AT not in metadata or datetime.fromisoformat(metadata[_RECORDED_AT].decode()) < self.reuse_since:
            return None
        return conform(frame, OPTION_CHAIN, str(path))

    def candles(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Candles from the source; the file keeps the union with an earlier recording whose range overlaps."""
        candles = self.source.candles(symbol, start, end)
        first, last = as_date(start, "start"), as_date(end, "end")
        path, kept = _candles_path(self.directory, symbol), conform(candles, CANDLES, f"{symbol} candles")
        if path.exists():
            earlier, metadata = read_parquet(path)
            earlier_first, earlier_last = _covered(metadata, path)
            if first <= earlier_last + timedelta(days=1) and earlier_first <= last + timedelta(days=1):
                merged = pd.concat([conform(earlier, CANDLES, str(path)), kept])
                kept = merged.drop_duplicates("date", keep="last").sort_values("date").reset_index(drop=True)
                first, last = min(first, earlier_first), max(last, earlier_last)
        write_parquet(kept, path, {_START: first.isoformat().encode(), _END: last.isoformat().encode()})
        return candles

    def spot(self, symbol: str) -> float:
        value = self.source.spot(symbol)
        frame = pd.DataFrame({"symbol": [as_symbol(symbol)], "spot": [value]})
        write_parquet(conform(frame, SPOT, f"{symbol} spot"), _spot_path(self.directory, symbol))
        return value


class ParquetSnapshotSource:
    """A MarketDataSource replaying the snapshots recorded for trade_date under data_dir, exactly.

    Anything not recorded (a symbol, an expiry, a candle range outside the recorded one) raises DataError naming
    the file. `as_of` is the recorded source's as_of, or None if it had none.
    """

    def __init__(self, data_dir: Path | str, trade_date: date):
        self.trade_date = as_date(trade_date, "trade_date")
        self.directory = snapshot_dir(data_dir, self.trade_date)
        manifest_path = self.directory / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text())
        except FileNotFoundError as exc:
            raise DataError(f"no snapshot recorded for {self.trade_date}: {manifest_path} not found") from exc
        except json.JSONDecodeError as exc:
            raise DataError(f"{manifest_path}: not valid JSON: {exc}") from exc
        if not isinstance(manifest, dict) or not manifest.get("name"):
            raise DataError(f"{manifest_path}: no source name recorded")
        self.name = f"snapshot of {manifest['name']}"
        self.as_of = datetime.fromisoformat(manifest["as_of"]) if manifest.get("as_of") else None

    def expiries(self, symbol: str) -> list[date]:
        path = _expiries_path(self.directory, symbol)
        frame = conform(read_parquet(path)[0], EXPIRIES, str(path))
        return [stamp.date() for stamp in frame["expiry"]]

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        path = _chain_path(self.directory, symbol, expiry)
        return conform(read_parquet(path)[0], OPTION_CHAIN, str(path))

    def candles(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        first, last = as_date(start, "start"), as_date(end, "end")
        if first > last:
            raise InputError(f"start: {first} is after end {last}")
        path = _candles_path(self.directory, symbol)
        frame, metadata = read_parquet(path)
        recorded_first, recorded_last = _covered(metadata, path)
        if not recorded_first <= first <= last <= recorded_last:
            raise DataError(f"not recorded: candles from {first} to {last} in {path}, "
                            f"which covers {recorded_first} to {recorded_last}")
        frame = conform(frame, CANDLES, str(path))
        inside = (frame["date"] >= pd.Timestamp(first)) & (frame["date"] <= pd.Timestamp(last))
        return frame[inside].reset_index(drop=True)

    def spot(self, symbol: str) -> float:
        path = _spot_path(self.directory, symbol)
        frame = conform(read_parquet(path)[0], SPOT, str(path))
        if len(frame) != 1:
            raise DataError(f"{path}: expected one spot row, found {len(frame)}")
        return float(frame["spot"].iloc[0])


# ---------------------------------------------------------------- paths and files


def _partition(symbol: str) -> str:
    return "symbol=" + quote(as_symbol(symbol), safe=" &-_.+()")


def _expiries_path(directory: Path, symbol: str) -> Path:
    return directory / "expiries" / f"{_partition(symbol)}.parquet"


def _chain_path(directory: Path, symbol: str, expiry: date) -> Path:
    return directory / "option_chain" / _partition(symbol) / f"expiry={as_date(expiry, 'expiry').isoformat()}.parquet"


def _candles_path(directory: Path, symbol: str) -> Path:
    return directory / "candles" / f"{_partition(symbol)}.parquet"


def _spot_path(directory: Path, symbol: str) -> Path:
    return directory / "spot" / f"{_partition(symbol)}.parquet"


def _covered(metadata: dict[bytes, bytes], path: Path) -> tuple[date, date]:
    """The date range a candle file was recorded for."""
    try:
        return date.fromisoformat(metadata[_START].decode()), date.fromisoformat(metadata[_END].decode())
    except (KeyError, ValueError) as exc:
        raise DataError(f"{path}: no recorded date range in its metadata") from exc


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call write(temporary path) in path's directory, then move the result onto path (mode 0644); no temp file
    survives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide snapshots from other users of the data dir
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
