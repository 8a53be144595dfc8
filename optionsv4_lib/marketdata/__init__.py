"""Market data: canonical schemas, the source protocol, and the sources (synthetic, Parquet snapshots, Dhan)."""

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from optionsv4_lib.errors import InputError
from optionsv4_lib.marketdata.source import MarketDataSource

if TYPE_CHECKING:
    from optionsv4_lib.config import Settings

SourceName = Literal["synthetic", "snapshot", "dhan"]
SOURCES: tuple[SourceName, ...] = ("synthetic", "snapshot", "dhan")


def open_source(name: str, trade_date: date, *, seed: int, data_dir: Path, record: bool = True,
                settings: "Settings | None" = None) -> MarketDataSource:
    """The named source for trade_date; live sources are wrapped so that every dataset read is also snapshotted.

    "dhan" reads its credentials and base URL from `settings` (default: config.Settings() from the environment).
    """
    from optionsv4_lib.marketdata.snapshots import ParquetSnapshotSource, SnapshotRecorder
    from optionsv4_lib.marketdata.synthetic import SyntheticMarket

    if name == "snapshot":
        return ParquetSnapshotSource(data_dir, trade_date)
    if name == "synthetic":
        source: MarketDataSource = SyntheticMarket(seed, trade_date)
    elif name == "dhan":
        from optionsv4_lib.config import Settings
        from optionsv4_lib.marketdata.dhan import DhanMarketData

        source = DhanMarketData.from_settings(settings or Settings(), trade_date)
    else:
        raise InputError(f"source: unknown {name!r}; expected one of {', '.join(SOURCES)}")
    return SnapshotRecorder(source, data_dir) if record else source
