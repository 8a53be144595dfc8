"""Market data: canonical schemas, the source protocol, and the sources (synthetic, Parquet snapshots, Dhan)."""

from datetime import date
from pathlib import Path
from typing import Literal

from optionsv4_lib.errors import InputError
from optionsv4_lib.marketdata.source import MarketDataSource

SourceName = Literal["synthetic", "snapshot", "dhan"]
SOURCES: tuple[SourceName, ...] = ("synthetic", "snapshot", "dhan")


def open_source(name: str, trade_date: date, *, seed: int, data_dir: Path, record: bool = True) -> MarketDataSource:
    """The named source for trade_date; live sources are wrapped so that every dataset read is also snapshotted."""
    from optionsv4_lib.marketdata.snapshots import ParquetSnapshotSource, SnapshotRecorder
    from optionsv4_lib.marketdata.synthetic import SyntheticMarket

    if name == "snapshot":
        return ParquetSnapshotSource(data_dir, trade_date)
    if name == "synthetic":
        source: MarketDataSource = SyntheticMarket(seed, trade_date)
    elif name == "dhan":
        raise InputError("source: the Dhan source is not available yet (it comes with the Dhan integration); use synthetic or snapshot")
    else:
        raise InputError(f"source: unknown {name!r}; expected one of {', '.join(SOURCES)}")
    return SnapshotRecorder(source, data_dir) if record else source
