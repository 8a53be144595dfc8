"""Transaction costs against hand-worked contract notes, with rates typed in from the published sources."""

import csv
from datetime import date

import numpy as np
import pytest

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.reference.costs import COMPONENTS, RATES_FILE, CostBreakdown, leg_costs, round_trip_costs

PCT = 1 / 100
LAKH, CRORE = 1e5, 1e7

# One NIFTY lot (65) at ₹100 premium on 4 May 2026.
PREMIUM = 65 * 100.0
TRADE_DAY = date(2026, 5, 4)
# NSE from 1-Oct-2024: ₹35.03 per lakh of premium; SEBI ₹10 per crore; NSE IPFT ₹50 per crore of premium.
EXCHANGE = PREMIUM * 35.03 / LAKH
SEBI = PREMIUM * 10 / CRORE
IPFT = PREMIUM * 50 / CRORE
BROKERAGE = 20.0  # Dhan, per executed order
GST = 0.18 * (BROKERAGE + EXCHANGE + SEBI + IPFT)


def assert_breakdown(got: CostBreakdown, **expected: float) -> None:
    for component in COMPONENTS:
        assert float(getattr(got, component)) == pytest.approx(expected.get(component, 0.0), rel=1e-12,
                                                               abs=1e-12), component


def test_selling_one_nifty_lot_after_budget_2026():
    got = leg_costs("OPTION", "SELL", 100.0, 65, TRADE_DAY)
    assert_breakdown(got, stt=PREMIUM * 0.15 * PCT, exchange_txn=EXCHANGE, sebi_fee=SEBI, ipft=IPFT,
                     brokerage=BROKERAGE, gst=GST)
    assert float(got.total) == pytest.approx(9.75 + 2.27695 + 0.0065 + 0.0325 + 20 + 4.016871, rel=1e-12)


def test_buying_one_nifty_lot_pays_stamp_duty_and_no_stt():
    got = leg_costs("OPTION", "BUY", 100.0, 65, TRADE_DAY)
    assert_breakdown(got, stamp_duty=PREMIUM * 0.003 * PCT, exchange_txn=EXCHANGE, sebi_fee=SEBI, ipft=IPFT,
                     brokerage=BROKERAGE, gst=GST)


def test_round_trip_is_sell_plus_closing_buy():
    got = round_trip_costs("OPTION", "SELL", 100.0, 100.0, 65, TRADE_DAY)
    assert_breakdown(got, stt=9.75, stamp_duty=0.195, exchange_txn=2 * EXCHANGE, sebi_fee=2 * SEBI,
                     ipft=2 * IPFT, brokerage=40.0, gst=2 * GST)
    assert float(got.total) == pytest.approx(62.610642, rel=1e-9)  # the contract-note total, worked by hand


def test_gst_is_on_brokerage_exchange_sebi_and_ipft_only():
    # Delivery buy of 100 RELIANCE at ₹1,400: STT 0.1 % and stamp 0.015 % are large but untaxed; brokerage ₹0.
    got = leg_costs("STOCK", "BUY", 1400.0, 100, TRADE_DAY)
    value = 140_000.0
    exchange, sebi, ipft = value * 2.97 / LAKH, value * 10 / CRORE, value * 10 / CRORE
    assert_breakdown(got, stt=140.0, stamp_duty=21.0, exchange_txn=exchange, sebi_fee=sebi, ipft=ipft,
                     gst=0.18 * (exchange + sebi + ipft))
    assert float(got.gst) == pytest.approx(0.79884, rel=1e-12)


@pytest.mark.parametrize(("trade_day", "stt_percent"), [
    (date(2024, 6, 3), 0.0625),   # Finance Act 2023 rate
    (date(2024, 9, 30), 0.0625),
    (date(2024, 10, 1), 0.1),     # Finance (No. 2) Act 2024
    (date(2026, 3, 31), 0.1),
    (date(2026, 4, 1), 0.15),     # Finance Act 2026
])
def test_option_sell_stt_follows_the_dated_rates(trade_day, stt_percent):
    got = leg_costs("OPTION", "SELL", 100.0, 65, trade_day)
    assert float(got.stt) == pytest.approx(PREMIUM * stt_percent * PCT, rel=1e-12)


def test_exchange_charge_before_october_2024_is_the_slab_era_rate():
    got = leg_costs("OPTION", "BUY", 100.0, 65, date(2024, 6, 3))
    assert float(got.exchange_txn) == pytest.approx(PREMIUM * 0.0495 * PCT, rel=1e-12)


def test_futures_sell_after_budget_2026():
    value = 65 * 24_000.0
    got = leg_costs("FUTURE", "SELL", 24_000.0, 65, TRADE_DAY)
    exchange, sebi, ipft = value * 1.73 / LAKH, value * 10 / CRORE, value * 10 / CRORE
    assert_breakdown(got, stt=value * 0.05 * PCT, exchange_txn=exchange, sebi_fee=sebi, ipft=ipft,
                     brokerage=20.0, gst=0.18 * (20.0 + exchange + sebi + ipft))
    assert float(got.stt) == pytest.approx(780.0, rel=1e-12)


def test_vectorized_legs_equal_the_per_leg_sum():
    # An iron condor on NIFTY plus a covered-call stock leg, one of them dated before October 2024.
    instruments = ["CE", "CE", "PE", "PE", "STK"]
    sides = ["SELL", "BUY", "SELL", "BUY", "BUY"]
    prices = [120.0, 60.0, 110.0, 55.0, 1400.0]
    qtys = [65, 65, 130, 130, 100]
    days = np.array(["2026-05-04", "2026-05-04", "2024-06-03", "2026-05-04", "2026-05-04"], dtype="datetime64[D]")
    got = leg_costs(instruments, sides, prices, qtys, days)
    for k in range(5):
        one = leg_costs(instruments[k], sides[k], prices[k], qtys[k], days[k].item())
        for component in COMPONENTS:
            assert getattr(got, component)[k] == pytest.approx(float(getattr(one, component)), rel=1e-12)
    assert got.total.shape == (5,)
    assert float(got.total.sum()) == pytest.approx(
        sum(float(leg_costs(i, s, p, q, d.item()).total) for i, s, p, q, d in zip(instruments, sides, prices, qtys,
                                                                                    days)), rel=1e-12)


def test_broadcasting_over_candidates_and_legs():
    sides = np.array(["SELL", "BUY"])
    premiums = np.array([[120.0, 60.0], [80.0, 40.0], [50.0, 20.0]])  # 3 candidates × 2 legs
    got = leg_costs("OPTION", sides, premiums, 65, TRADE_DAY)
    assert got.total.shape == (3, 2)
    assert got.stt[:, 1].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(got.stt[:, 0], premiums[:, 0] * 65 * 0.15 * PCT, rtol=1e-12)
    np.testing.assert_allclose(got.brokerage, 20.0)


def test_brokerage_is_per_order_and_spellings_are_normalised():
    got = leg_costs("pe", "buy", 100.0, 195, TRADE_DAY, orders=3)
    assert float(got.brokerage) == 60.0
    same = leg_costs("OPTION", "BUY", 100.0, 195, TRADE_DAY, orders=3)
    assert float(got.total) == float(same.total)


def test_round_trip_across_the_april_2026_stt_change_with_an_exit_date():
    got = round_trip_costs("OPTION", "SELL", 100.0, 50.0, 65, date(2026, 3, 30), exit_date=date(2026, 4, 2))
    assert float(got.stt) == pytest.approx(PREMIUM * 0.1 * PCT, rel=1e-12)  # sold before 1 April
    assert float(got.stamp_duty) == pytest.approx(65 * 50.0 * 0.003 * PCT, rel=1e-12)


def test_total_is_the_sum_of_components():
    got = leg_costs(["CE", "FUT"], ["SELL", "BUY"], [100.0, 24_000.0], 65, TRADE_DAY)
    np.testing.assert_allclose(got.total, np.sum([getattr(got, c) for c in COMPONENTS], axis=0), rtol=1e-15)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"price": -1.0}, "price"),
    ({"price": float("nan")}, "price"),
    ({"price": []}, "price"),
    ({"qty": -65}, "qty"),
    ({"side": "HOLD"}, "side"),
    ({"side": None}, "side"),
    ({"instrument": "BOND"}, "instrument"),
    ({"trade_date": "2026-05-04"}, "trade_date"),
    ({"orders": -1}, "orders"),
    ({"price": [1.0, 2.0, 3.0], "qty": [65, 65]}, "shapes"),
])
def test_invalid_inputs_raise_input_error_naming_the_field(kwargs, field):
    args = {"instrument": "OPTION", "side": "SELL", "price": 100.0, "qty": 65, "trade_date": TRADE_DAY} | kwargs
    with pytest.raises(InputError, match=field):
        leg_costs(**args)


def test_a_date_before_the_rates_table_raises_data_error():
    with pytest.raises(DataError, match="cost_rates.csv"):
        leg_costs("OPTION", "SELL", 100.0, 65, date(2019, 1, 1))


def test_every_rate_row_is_dated_and_sourced():
    with RATES_FILE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["component"] for row in rows} == set(COMPONENTS)
    for row in rows:
        date.fromisoformat(row["effective_from"])
        assert row["source"].strip() and row["unit"].strip()
