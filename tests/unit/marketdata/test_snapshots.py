"""Parquet snapshots: record → replay equality over the whole universe, the layout, missing data, atomic writes."""

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.marketdata.snapshots import (
    ParquetSnapshotSource,
    SnapshotRecorder,
    read_parquet,
    snapshot_dir,
    write_parquet,
)
from optionsv4_lib.marketdata.source import MarketDataSource
from optionsv4_lib.marketdata.synthetic import SyntheticMarket

TRADE_DATE = date(2026, 11, 23)
START, END = date(2026, 5, 1), date(2026, 11, 23)
DAY = TRADE_DATE
BROKEN = {"IOC": "empty", "BANKBARODA": "crossed", "NMDC": "illiquid", "RELIANCE": "stale_expiry"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """(data dir, market, everything the recorder returned) after recording the whole universe for one date."""
    data_dir = tmp_path_factory.mktemp("data")
    market = SyntheticMarket(7, TRADE_DATE, broken=BROKEN)
    recorder = SnapshotRecorder(market, data_dir)
    returned = {}
    for symbol in [*market.universe["symbol"], "INDIA VIX"]:
        returned["candles", symbol] = recorder.candles(symbol, START, END)
        returned["spot", symbol] = recorder.spot(symbol)
        if symbol != "INDIA VIX":
            returned["expiries", symbol] = recorder.expiries(symbol)
            for expiry in returned["expiries", symbol]:
                returned["chain", symbol, expiry] = recorder.option_chain(symbol, expiry)
    return data_dir, market, returned


def test_the_recorder_is_a_transparent_source(recorded):
    data_dir, market, returned = recorded
    recorder = SnapshotRecorder(market, data_dir)
    assert isinstance(recorder, MarketDataSource)
    assert (recorder.name, recorder.trade_date, recorder.as_of) == (market.name, market.trade_date, market.as_of)
    fresh = SyntheticMarket(7, TRADE_DATE, broken=BROKEN)
    pd.testing.assert_frame_equal(returned["candles", "NIFTY"], fresh.candles("NIFTY", START, END))
    expiry = fresh.expiries("DIXON")[1]
    pd.testing.assert_frame_equal(returned["chain", "DIXON", expiry], fresh.option_chain("DIXON", expiry))


def test_replay_equals_the_recording_over_the_whole_universe(recorded):
    data_dir, market, returned = recorded
    replay = ParquetSnapshotSource(data_dir, TRADE_DATE)
    assert isinstance(replay, MarketDataSource)
    assert replay.trade_date == TRADE_DATE and replay.as_of == market.as_of and market.name in replay.name
    assert len([key for key in returned if key[0] == "chain"]) > 180
    for key, value in returned.items():
        kind, symbol = key[:2]
        if kind == "candles":
            pd.testing.assert_frame_equal(replay.candles(symbol, START, END), value)
        elif kind == "spot":
            assert replay.spot(symbol) == value
        elif kind == "expiries":
            assert replay.expiries(symbol) == value
        else:
            pd.testing.assert_frame_equal(replay.option_chain(symbol, key[2]), value)
    assert replay.option_chain("IOC", returned["expiries", "IOC"][0]).empty
    assert replay.expiries("RELIANCE")[0] < TRADE_DATE


def test_a_sub_range_of_recorded_candles_replays_like_the_source(recorded):
    data_dir, market, _ = recorded
    replay = ParquetSnapshotSource(data_dir, TRADE_DATE)
    pd.testing.assert_frame_equal(replay.candles("M&M", date(2026, 7, 1), date(2026, 7, 31)),
                                  market.candles("M&M", date(2026, 7, 1), date(2026, 7, 31)))


def test_the_layout_is_partitioned_by_trade_date_symbol_and_expiry(recorded):
    data_dir, market, _ = recorded
    root = data_dir / "snapshots" / "trade_date=2026-11-23"
    assert snapshot_dir(data_dir, TRADE_DATE) == root
    assert (root / "source.json").is_file()
    assert (root / "option_chain" / "symbol=NIFTY" / "expiry=2026-11-23.parquet").is_file()
    assert (root / "option_chain" / "symbol=M&M" / f"expiry={market.expiries('M&M')[0]}.parquet").is_file()
    assert (root / "candles" / "symbol=INDIA VIX.parquet").is_file()
    assert (root / "expiries" / "symbol=NIFTY.parquet").is_file()
    assert (root / "spot" / "symbol=BAJAJ-AUTO.parquet").is_file()
    assert not list(data_dir.rglob("*.tmp"))


def test_asking_for_what_was_not_recorded_names_the_missing_path(recorded):
    data_dir, _, _ = recorded
    with pytest.raises(DataError, match="trade_date=2026-11-25"):
        ParquetSnapshotSource(data_dir, date(2026, 11, 25))
    replay = ParquetSnapshotSource(data_dir, TRADE_DATE)
    missing = snapshot_dir(data_dir, TRADE_DATE) / "option_chain" / "symbol=NIFTY" / "expiry=2030-01-01.parquet"
    with pytest.raises(DataError, match="not recorded") as error:
        replay.option_chain("NIFTY", date(2030, 1, 1))
    assert str(missing) in str(error.value)
    with pytest.raises(DataError, match="symbol=NOSUCH.parquet"):
        replay.spot("NOSUCH")
    with pytest.raises(DataError, match=r"2026-01-01 to 2026-11-23 in .*symbol=NIFTY.parquet, which covers 2026-05-01"):
        replay.candles("NIFTY", date(2026, 1, 1), END)


def test_overlapping_candle_recordings_merge_and_disjoint_ones_replace(tmp_path):
    market = SyntheticMarket(7, TRADE_DATE, broken={})
    recorder = SnapshotRecorder(market, tmp_path)
    recorder.candles("TCS", date(2026, 6, 1), date(2026, 8, 31))
    recorder.candles("TCS", date(2026, 8, 1), date(2026, 10, 31))
    replay = ParquetSnapshotSource(tmp_path, TRADE_DATE)
    pd.testing.assert_frame_equal(replay.candles("TCS", date(2026, 6, 1), date(2026, 10, 31)),
                                  market.candles("TCS", date(2026, 6, 1), date(2026, 10, 31)))
    recorder.candles("TCS", date(2025, 1, 1), date(2025, 2, 28))
    pd.testing.assert_frame_equal(replay.candles("TCS", date(2025, 1, 1), date(2025, 2, 28)),
                                  market.candles("TCS", date(2025, 1, 1), date(2025, 2, 28)))
    with pytest.raises(DataError, match="which covers 2025-01-01 to 2025-02-28"):
        replay.candles("TCS", date(2026, 6, 1), date(2026, 10, 31))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "part" / "frame.parquet"
    good = pd.DataFrame({"x": [1.0, 2.0]})
    write_parquet(good, path)
    unwritable = pd.DataFrame({"x": [1.0, "two"]})  # Arrow cannot hold a column of mixed floats and text
    with pytest.raises(DataError, match="frame.parquet"):
        write_parquet(unwritable, path)
    pd.testing.assert_frame_equal(read_parquet(path)[0], good)
    assert [p.name for p in path.parent.iterdir()] == ["frame.parquet"]


def test_parquet_metadata_round_trips(tmp_path):
    path = tmp_path / "f.parquet"
    write_parquet(pd.DataFrame({"x": [1]}), path, {b"optionsv4:note": b"hello"})
    assert read_parquet(path)[1][b"optionsv4:note"] == b"hello"


class CountingMarket(SyntheticMarket):
    """The synthetic market, counting the chains asked of it (one at a time or in batches)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: list[tuple[str, date]] = []

    def option_chain(self, symbol, expiry):
        self.asked.append((symbol, expiry))
        return super().option_chain(symbol, expiry)


def test_a_chain_recorded_since_the_run_started_is_read_back_not_fetched_again(tmp_path):
    """The daily run's market context records the NIFTY near chain; the NIFTY fetch of the same run reads it back."""
    started = datetime.now().astimezone()
    market = CountingMarket(42, DAY)
    near = market.expiries("NIFTY")[0]
    context = SnapshotRecorder(market, tmp_path, reuse_since=started)
    first = context.option_chain("NIFTY", near)
    fetch = SnapshotRecorder(market, tmp_path, reuse_since=started)  # another task of the run: a fresh recorder
    again = fetch.option_chain("NIFTY", near)
    batch = fetch.option_chains([("NIFTY", near), ("TCS", market.expiries("TCS")[0])])
    assert market.asked == [("NIFTY", near), ("TCS", market.expiries("TCS")[0])]
    pd.testing.assert_frame_equal(again, first)
    pd.testing.assert_frame_equal(batch[("NIFTY", near)], first)


def test_a_chain_recorded_before_the_run_started_is_fetched_anew(tmp_path):
    market = CountingMarket(42, DAY)
    near = market.expiries("NIFTY")[0]
    SnapshotRecorder(market, tmp_path).option_chain("NIFTY", near)  # an earlier run of the same date
    later = SnapshotRecorder(market, tmp_path, reuse_since=datetime.now().astimezone() + timedelta(seconds=1))
    later.option_chain("NIFTY", near)
    SnapshotRecorder(market, tmp_path).option_chain("NIFTY", near)  # without reuse_since: always asked
    assert market.asked == [("NIFTY", near)] * 3


def test_option_chains_records_each_chain_got_and_keeps_each_failure(tmp_path):
    market = CountingMarket(42, DAY)
    near = market.expiries("NIFTY")[0]
    recorder = SnapshotRecorder(market, tmp_path)
    got = recorder.option_chains([("NIFTY", near), ("NIFTY", date(2026, 11, 25))])
    assert isinstance(got[("NIFTY", date(2026, 11, 25))], DataError)
    replayed = ParquetSnapshotSource(tmp_path, DAY).option_chain("NIFTY", near)
    pd.testing.assert_frame_equal(replayed, got[("NIFTY", near)])


def test_reuse_since_must_be_time_zone_aware(tmp_path):
    with pytest.raises(InputError, match="reuse_since"):
        SnapshotRecorder(SyntheticMarket(42, DAY), tmp_path, reuse_since=datetime(2026, 11, 23, 9, 0))
