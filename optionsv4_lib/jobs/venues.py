"""Venues by name: the market-data source of a run (synthetic | snapshot | dhan | bhavcopy | dhan-expired) and the
broker of a mode (paper | live). The one place that picks an adapter; jobs and the CLI open sources and venues here."""

from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Literal

from optionsv4_lib.adapters.dhan.broker import DhanBroker
from optionsv4_lib.adapters.dhan.market_data import DhanMarketData
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.execution.broker import MODES, Mode
from optionsv4_lib.execution.mode import Venue
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.execution.quotes import ChainQuotes, latest_snapshot_quotes
from optionsv4_lib.marketdata.bhavcopy_source import BhavcopyInputs
from optionsv4_lib.marketdata.expired_options import ExpiredOptionsInputs
from optionsv4_lib.marketdata.snapshots import ParquetSnapshotSource, SnapshotRecorder
from optionsv4_lib.marketdata.source import MarketDataSource
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store.instruments import contract_lot

LIVE_QUOTE_MAX_AGE = 5.0  # s a live option chain is reused for pricing

SourceName = Literal["synthetic", "snapshot", "dhan", "bhavcopy", "dhan-expired"]
SOURCES: tuple[SourceName, ...] = ("synthetic", "snapshot", "dhan", "bhavcopy", "dhan-expired")


def open_source(name: str, trade_date: date, *, seed: int, data_dir: Path, record: bool = True,
                settings: Settings | None = None, forced: bool = False,
                bhavcopy: BhavcopyInputs | None = None, expired: ExpiredOptionsInputs | None = None,
                reuse_since: datetime | None = None) -> MarketDataSource:
    """The named source for trade_date; live sources are wrapped so that every dataset read is also snapshotted.
    `forced`: the synthetic market quotes a day without a session (an analysis forced onto it). `reuse_since`: the
    recorder reads back a chain recorded since then instead of asking again (a run's tasks fetch each chain once).

    "dhan" reads its credentials and base URL from `settings` (default: config.Settings() from the environment).
    "bhavcopy" reads the files in `bhavcopy`, quoted by the settings' spread model; it is never recorded (the files
    are the record). "dhan-expired" reads the expired-options cache in `expired` the same way.
    """
    if name == "snapshot":
        return ParquetSnapshotSource(data_dir, trade_date)
    if name == "bhavcopy":
        if bhavcopy is None:
            raise InputError("source bhavcopy: needs a folder of bhavcopies, which only the backtest takes "
                             "(optionsv4 backtest --source bhavcopy --data-dir DIR)")
        return bhavcopy.open(trade_date, (settings or Settings()).spread_model)
    if name == "dhan-expired":
        if expired is None:
            raise InputError("source dhan-expired: needs the expired-options cache, which only the backtest takes "
                             "(optionsv4 backtest --source dhan-expired)")
        return expired.open(trade_date, (settings or Settings()).spread_model)
    if name == "synthetic":
        source: MarketDataSource = SyntheticMarket(seed, trade_date, forced=forced)
    elif name == "dhan":
        source = DhanMarketData.from_settings(settings or Settings(), trade_date)
    else:
        raise InputError(f"source: unknown {name!r}; expected one of {', '.join(SOURCES)}")
    return SnapshotRecorder(source, data_dir, reuse_since=reuse_since) if record else source


def open_venue(mode: Mode, conn, settings: Settings, *, today: date | None = None) -> Venue:
    """Paper: PaperBroker over `conn` with the settings' capital, quoting from the latest recorded snapshot.
    Live: DhanBroker on the configured account (Settings.dhan_*), quoting from Dhan's option chain (contract lots
    from the `instruments` table in `conn`, else the lot table)."""
    if mode == "paper":
        quotes = latest_snapshot_quotes(settings.data_dir)
        return Venue(PaperBroker(conn, capital=settings.capital, quotes=quotes, rate=settings.risk_free_rate), quotes)
    if mode == "live":
        market = DhanMarketData.from_settings(settings, today or datetime.now(IST).date(),
                                              lots=partial(contract_lot, conn))
        return Venue(DhanBroker(market.client), ChainQuotes(market, max_age=LIVE_QUOTE_MAX_AGE))
    raise InputError(f"mode: unknown {mode!r}; expected one of {', '.join(MODES)}")
