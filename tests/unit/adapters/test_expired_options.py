"""Dhan's expired-options data without a server: a documented-shape answer re-keyed by hand (ATM offsets → strikes,
the flag and code → calendar expiries), the client's own checks before anything is sent, and the source over a
hand-written cache (the modelled touch worked by hand)."""

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.adapters.dhan.client import DhanClient
from optionsv4_lib.adapters.dhan.expired_options import daily_rows, parse_bars, strike_label, windows
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.marketdata.expired_options import ExpiredOptionsSource, read_day, write_series
from optionsv4_lib.marketdata.schema import OPTION_CHAIN
from optionsv4_lib.marketdata.spread_model import SpreadModel
from optionsv4_lib.reference.calendar import IST, nth_expiry


def stamp(day: date, hour: int, minute: int) -> int:
    """Epoch seconds of an IST moment (Dhan's bar timestamps)."""
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST).timestamp())


def answer(bars: list[dict]) -> dict:
    """A side's column arrays (Dhan's documented shape) from bar dicts."""
    names = ("open", "high", "low", "close", "iv", "volume", "strike", "oi", "spot", "timestamp")
    return {name: [row[name] for row in bars] for name in names}


def bar(day, hour, minute, open, high, low, close, iv, volume, strike, oi, spot) -> dict:  # noqa: A002
    """One bar at an IST moment."""
    return dict(open=open, high=high, low=low, close=close, iv=iv, volume=volume, strike=strike, oi=oi, spot=spot,
                timestamp=stamp(day, hour, minute))


MON, THU, FRI = date(2025, 1, 20), date(2025, 1, 23), date(2025, 1, 24)
# ATM+1 and ATM+2 calls of NIFTY's WEEK1 series, 60-minute bars: on Monday the market fell from 23,400 to 23,344.75,
# so the 23,450 call moved from the ATM+1 place (09:15) to the ATM+2 place (15:15).
ATM_PLUS_2 = answer([  # day, time (IST), open, high, low, close, iv (%), volume, strike, oi, spot
    bar(MON, 9, 15, 61, 62, 59, 60, 14.0, 1000, 23500, 5000, 23400),
    bar(MON, 15, 15, 79, 81, 78, 80, 13.5, 500, 23450, 6000, 23344.75),
    bar(THU, 15, 15, 5, 6, 1, 2, 30.0, 900, 23300, 800, 23205.35),
    bar(FRI, 15, 15, 40, 41, 39, 40, 0, 300, 23200, 700, 23092.2),
])
ATM_PLUS_1 = answer([
    bar(MON, 9, 15, 98, 105, 97, 100, 13.9, 2000, 23450, 7000, 23400),
    bar(MON, 15, 15, 108, 111, 107, 110, 13.6, 700, 23400, 8000, 23344.75),
])


def rekeyed(flag_kind="weekly", code=1) -> pd.DataFrame:
    bars = pd.concat([parse_bars(ATM_PLUS_2, "ATM+2").assign(offset=2, option_type="CE"),
                      parse_bars(ATM_PLUS_1, "ATM+1").assign(offset=1, option_type="CE")], ignore_index=True)
    return daily_rows(bars, "NIFTY", f"{'WEEK' if flag_kind == 'weekly' else 'MONTH'}{code}", flag_kind, code)


def test_each_day_keeps_the_contract_at_each_place_at_the_close_with_its_real_strike_and_expiry():
    rows = rekeyed().set_index(["date", "offset"])
    monday_2 = rows.loc[(pd.Timestamp(MON), 2)]
    # ATM+2 at Monday's close is the 23,450 call of the 23-Jan weekly; its day: the 09:15 bar it spent at ATM+1 and
    # the 15:15 bar at ATM+2 — open 98 (first), high 105, low 78, volume 2,000 + 500; close, OI, IV, spot at 15:15
    assert (monday_2["strike"], monday_2["expiry"]) == (23450.0, pd.Timestamp(2025, 1, 23))
    assert (monday_2["open"], monday_2["high"], monday_2["low"], monday_2["close"]) == (98, 105, 78, 80)
    assert (monday_2["volume"], monday_2["oi"], monday_2["spot"]) == (2500, 6000, 23344.75)
    assert monday_2["iv"] == pytest.approx(0.135) and monday_2["series"] == "WEEK1"
    assert monday_2["bar_time"] == pd.Timestamp("2025-01-20 09:45", tz="UTC")  # 15:15 IST
    monday_1 = rows.loc[(pd.Timestamp(MON), 1)]
    assert (monday_1["strike"], monday_1["close"], monday_1["volume"]) == (23400.0, 110, 700)
    # the 23,500 call held ATM+2 only in the morning: no row of its own
    assert 23500.0 not in set(rows["strike"])
    # on expiry day the near weekly is the day's own contract; the next day it is the 30-Jan monthly
    assert rows.loc[(pd.Timestamp(THU), 2), "expiry"] == pd.Timestamp(2025, 1, 23)
    assert rows.loc[(pd.Timestamp(FRI), 2), "expiry"] == pd.Timestamp(2025, 1, 30)
    assert np.isnan(rows.loc[(pd.Timestamp(FRI), 2), "iv"])  # Dhan's 0 means unknown


def test_the_flag_and_code_pick_the_calendar_expiry():
    assert set(rekeyed("weekly", 2).query("date == @MON")["expiry"]) == {pd.Timestamp(2025, 1, 30)}
    assert set(rekeyed("monthly", 1).query("date == @FRI")["expiry"]) == {pd.Timestamp(2025, 1, 30)}
    # hand-read from the calendar: Tuesday weeklies from September 2025; monthlies the last Tuesday
    assert nth_expiry("NIFTY", date(2025, 9, 1), "weekly", 1) == date(2025, 9, 2)
    assert nth_expiry("NIFTY", date(2025, 1, 31), "monthly", 2) == date(2025, 3, 27)
    assert nth_expiry("RELIANCE", date(2025, 1, 31), "monthly", 1) == date(2025, 2, 27)
    with pytest.raises(InputError, match="RELIANCE: no weekly expiries"):
        nth_expiry("RELIANCE", date(2025, 1, 20), "weekly", 1)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("spot"), r"missing column arrays \['spot'\]"),
    (lambda a: a["close"].pop(), "column arrays of different lengths"),
    (lambda a: a["strike"].__setitem__(0, 0), "strike not > 0"),
    (lambda a: a["oi"].__setitem__(1, None), r"missing or infinite values in \['oi'\]"),
])
def test_an_answer_that_cannot_be_read_is_a_data_error_naming_the_series(change, message):
    broken = {name: list(values) for name, values in ATM_PLUS_2.items()}
    change(broken)
    with pytest.raises(DataError, match=f"NIFTY WEEK1 ATM\\+2 CALL: {message}"):
        parse_bars(broken, "NIFTY WEEK1 ATM+2 CALL")


def test_windows_cover_the_range_in_30_day_requests_with_an_exclusive_end():
    assert windows(date(2025, 1, 1), date(2025, 3, 2)) == [
        (date(2025, 1, 1), date(2025, 1, 31)), (date(2025, 1, 31), date(2025, 3, 2)),
        (date(2025, 3, 2), date(2025, 3, 3))]
    assert [strike_label(k) for k in (-3, 0, 2)] == ["ATM-3", "ATM", "ATM+2"]


@pytest.mark.parametrize("field, value, message", [
    ("to_date", "2025-02-01", "toDate: expected 1 to 30 days after fromDate 2025-01-01"),
    ("to_date", "2025-01-01", "toDate: expected 1 to 30 days"),
    ("strike", "ATM+11", "strike: expected ATM or ATM"),
    ("expiry_code", 0, "expiryCode: expected 1 \\(near\\)"),
    ("interval", 30, "interval: expected one of"),
])
def test_the_client_refuses_a_request_outside_dhans_values_before_sending_it(field, value, message):
    client = DhanClient("1000000001", "token", base_url="http://127.0.0.1:9/v2")  # nothing listens there
    request = dict(security_id=13, segment="NSE_FNO", instrument="OPTIDX", expiry_flag="WEEK", expiry_code=1,
                   strike="ATM", option_type="CALL", from_date="2025-01-01", to_date="2025-01-31", interval=60)
    with pytest.raises(InputError, match=message):
        client.expired_options(**request | {field: value})


def test_the_source_quotes_the_cached_close_through_the_spread_model(tmp_path):
    monday = rekeyed().query("date == @MON")
    volume = monday["strike"].map({23450.0: 750, 23400.0: 2100})
    write_series(tmp_path, "NIFTY", MON, "WEEK1", monday.assign(volume=volume))
    assert read_day(tmp_path, "NIFTY", MON)["strike"].tolist() == [23400.0, 23450.0]
    source = ExpiredOptionsSource(tmp_path, MON, spread=SpreadModel())
    assert source.expiries("NIFTY") == [date(2025, 1, 23)] and source.spot("NIFTY") == 23344.75
    chain = source.option_chain("NIFTY", date(2025, 1, 23)).set_index("strike")
    assert list(chain.columns) == [c.name for c in OPTION_CHAIN if c.name != "strike"]
    # lot 75 (the 23-Jan weekly, include/data/lot_sizes.csv); defaults: tick 0.05, share 0.5 %, slope 10, 10 contracts
    # 23,450 CE, close 80, 750 units = 10 contracts, m = 1 + 10·(23450/23344.75 − 1) = 1.045085, v = 1 + 2/2 = 2:
    #   0.40 × 1.045085 × 2 = 0.8361 → 0.85: 79.15 / 80.85
    # 23,400 CE, close 110, 2,100 units = 28 contracts, m = 1.023667, v = 1 + 2/3.8 = 1.526316:
    #   0.55 × 1.023667 × 1.526316 = 0.8593 → 0.90: 109.10 / 110.90
    assert (chain.loc[23450.0, "bid"], chain.loc[23450.0, "ask"]) == (79.15, 80.85)
    assert (chain.loc[23400.0, "bid"], chain.loc[23400.0, "ask"]) == (109.10, 110.90)
    assert chain["lot_size"].tolist() == [75, 75] and chain["ltp"].tolist() == [110.0, 80.0]
    assert chain.loc[23450.0, "iv"] == pytest.approx(0.135) and chain["delta"].isna().all()
    assert (chain["quoted_at"] == pd.Timestamp("2025-01-20 15:30", tz=IST)).all()  # the F&O close
    assert source.candles("NIFTY", date(2025, 1, 1), date(2025, 1, 31))["close"].tolist() == [23344.75]
    with pytest.raises(DataError, match="no cached option expiring 2025-01-30"):
        source.option_chain("NIFTY", date(2025, 1, 30))
    with pytest.raises(DataError, match=r"BANKNIFTY: no expired-options data cached for 2025-01-20 .*fetch-expired"):
        source.expiries("BANKNIFTY")
