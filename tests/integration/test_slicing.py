"""Order slicing under NSE's quantity freeze, without a database: the slice arithmetic against hand-worked cases
and properties, correlation ids of slices, resuming a leg's recorded orders, the dated freeze table
(include/data/freeze_quantities.csv) and its errors, and the Dhan emulator refusing an order above the freeze."""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from execution_support import TRADE_DATE, DhanEmulator, dhan_client, market
from hypothesis import given
from hypothesis import strategies as st

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.execution.broker import Contract, OrderRequest, Quote
from optionsv4_lib.execution.ledger import LedgerOrder
from optionsv4_lib.execution.plan import correlation_id, leg_orders
from optionsv4_lib.execution.slicing import describe, max_lots, slice_units
from optionsv4_lib.reference.freeze_quantities import FREEZE_FILE, freeze_quantity
from optionsv4_lib.reference.lot_sizes import lot_sizes
from optionsv4_lib.reference.universe import load_universe

NIFTY_LOT, NIFTY_FREEZE = 65, 1800  # lots of 65 since Jan-2026; 1800 units is 27 lots and 45 units


# ---------------------------------------------------------------- the arithmetic


@pytest.mark.parametrize(("lots", "lot_size", "freeze", "expected_lots"), [
    (27, NIFTY_LOT, NIFTY_FREEZE, [27]),             # 1755 units: the most whole lots within 1800, one order
    (28, NIFTY_LOT, NIFTY_FREEZE, [14, 14]),         # one lot over: 1820 > 1800, two slices
    (60, NIFTY_LOT, NIFTY_FREEZE, [20, 20, 20]),     # ceil(60 / 27) = 3 slices, even
    (277, NIFTY_LOT, NIFTY_FREEZE, [26, 26] + [25] * 9),  # 18,005 units: 11 slices, the 2 spare lots first
    (20, 30, 600, [20]),                              # BANKNIFTY exactly at the freeze (a multiple of the lot)
    (21, 30, 600, [11, 10]),                          # one lot over it
    (100, 1450, 65_250, [34, 33, 33]),                # TATAPOWER: 45 lots a slice
    (1, 50, 50, [1]),                                 # a freeze of exactly one lot
])
def test_hand_worked_slices(lots, lot_size, freeze, expected_lots):
    assert slice_units(lots * lot_size, lot_size, freeze) == [n * lot_size for n in expected_lots]


def test_max_lots_is_the_floor_of_freeze_over_lot():
    assert max_lots(NIFTY_LOT, NIFTY_FREEZE) == 27 and max_lots(30, 600) == 20 and max_lots(60, 1200) == 20


@given(lots=st.integers(1, 5_000), lot_size=st.integers(1, 7_000), per_slice=st.integers(1, 200),
       spare=st.integers(0, 6_999))
def test_slices_are_whole_lots_within_the_freeze_as_few_and_even_as_possible(lots, lot_size, per_slice, spare):
    freeze = per_slice * lot_size + spare % lot_size  # any freeze ≥ one lot, a multiple of the lot or not
    slices = slice_units(lots * lot_size, lot_size, freeze)
    assert sum(slices) == lots * lot_size
    assert all(s % lot_size == 0 and 0 < s <= freeze for s in slices)
    assert len(slices) == -(-lots // per_slice)  # ceil: no fewer orders would do
    assert slices == sorted(slices, reverse=True) and slices[0] - slices[-1] <= lot_size


def test_bad_slicing_input_is_named():
    with pytest.raises(DataError, match="freeze_qty: 50 units is less than one lot of 65"):
        slice_units(650, 65, 50)
    with pytest.raises(InputError, match="units: expected a whole number of lots of 65 units, got 100"):
        slice_units(100, 65, 1800)
    with pytest.raises(InputError, match="lot_size"):
        slice_units(100, 0, 1800)


def test_slices_described_in_words():
    assert describe([1690, 1690] + [1625] * 9, 1800) == "11 slices of ≤ 1,800 units (2 × 1,690 + 9 × 1,625)"
    assert describe([1300] * 3, 1800) == "3 slices of ≤ 1,800 units (3 × 1,300)"
    assert describe([1755], 1800) == "1 order"


# ---------------------------------------------------------------- correlation ids


def test_an_unsliced_order_keeps_its_id_and_slices_add_their_number():
    assert correlation_id(123, 0, "entry", 1) == "OV4-123-0E1"
    assert correlation_id(123, 1, "entry", 1, 3) == "OV4-123-1E1S3"
    assert correlation_id(123, 1, "rollback", 2, 11) == "OV4-123-1R2S11"


def test_slice_ids_are_distinct_and_deterministic():
    ids = [correlation_id(4_567, leg, purpose, attempt, number)
           for leg in range(4) for purpose in ("entry", "exit", "rollback") for attempt in (1, 2)
           for number in (None, *range(1, 12))]
    assert len(set(ids)) == len(ids)
    assert ids == [correlation_id(4_567, leg, purpose, attempt, number)
                   for leg in range(4) for purpose in ("entry", "exit", "rollback") for attempt in (1, 2)
                   for number in (None, *range(1, 12))]


def test_slice_ids_stay_within_dhans_25_characters():
    longest = correlation_id(2**31 - 1, 9, "adjustment", 99, 999)  # int4 strategy id, 999 slices
    assert longest == "OV4-2147483647-9A99S999" and len(longest) == 23
    with pytest.raises(InputError, match=r"correlation_id: 'OV4-100000000000000-0E1S12' is longer than 25"):
        correlation_id(10**14, 0, "entry", 1, 12)
    with pytest.raises(InputError, match="slice_no: expected a whole number ≥ 1"):
        correlation_id(1, 0, "entry", 1, 0)


# ---------------------------------------------------------------- a leg's orders, resumed


CONTRACT = Contract("NIFTY", "CE", 26_000.0, date(2026, 12, 29), 40_001)
WHOLE = OrderRequest("OV4-7-1E1", 7, 1, "entry", 1, CONTRACT, "SELL", 60 * NIFTY_LOT, 120.0, Quote(119.5, 120.5))


def recorded(cid: str, quantity: int, price: float = 121.0) -> LedgerOrder:
    return LedgerOrder(cid, 7, 1, "entry", 1, "paper", 40_001, "NSE_FNO", "SELL", quantity, "LIMIT", "MARGIN", price,
                       "TRADED", f"PAPER-{cid}", quantity, price, None)


def test_leg_orders_slice_a_leg_above_the_freeze():
    orders = leg_orders(WHOLE, NIFTY_LOT, NIFTY_FREEZE)
    assert [(o.correlation_id, o.quantity, o.price) for o in orders] == [
        (f"OV4-7-1E1S{k}", 1300, 120.0) for k in (1, 2, 3)]
    assert leg_orders(WHOLE, NIFTY_LOT, 4000) == [WHOLE]  # within the freeze: one order, the unsliced id


def test_a_resumed_leg_keeps_its_recorded_slices_and_slices_only_the_rest():
    """Two slices of 1,755 went out under a freeze of 1,800; on resume the freeze is 1,200: the recorded slices
    are kept as sent and the 390 units left become slice 3 — never a re-sized slice 1 or 2."""
    sent = [recorded("OV4-7-1E1S1", 1755), recorded("OV4-7-1E1S2", 1755)]
    orders = leg_orders(WHOLE, NIFTY_LOT, 1200, sent)
    assert [(o.correlation_id, o.quantity, o.price) for o in orders] == [
        ("OV4-7-1E1S1", 1755, 121.0), ("OV4-7-1E1S2", 1755, 121.0), ("OV4-7-1E1S3", 390, 120.0)]
    assert leg_orders(WHOLE, NIFTY_LOT, 1200, [recorded("OV4-7-1E1", 3900)]) == [
        replace(WHOLE, price=121.0)]  # sent whole before the freeze fell: kept, nothing more to slice
    with pytest.raises(DataError, match="leg 1 has 5265 units of entry orders recorded, more than its 3900"):
        leg_orders(WHOLE, NIFTY_LOT, 1800, [*sent, recorded("OV4-7-1E1S3", 1755)])


# ---------------------------------------------------------------- the dated freeze table


def test_every_symbol_of_the_universe_has_a_freeze_of_at_least_one_lot():
    for row in load_universe().itertuples(index=False):  # the lot of contracts expiring within a quarter
        lots = lot_sizes(row.symbol, [TRADE_DATE + timedelta(days=d) for d in (0, 45, 90)])
        assert freeze_quantity(row.symbol, TRADE_DATE) >= lots.max(), row.symbol


@pytest.mark.parametrize(("symbol", "day", "units"), [
    ("NIFTY", TRADE_DATE, 1800), ("FINNIFTY", TRADE_DATE, 1800), ("BANKNIFTY", TRADE_DATE, 600),
    ("BANKNIFTY", date(2025, 8, 29), 600), ("BANKNIFTY", date(2025, 9, 1), 900),  # NSE circular of 29-Aug-2025
    ("BANKNIFTY", date(2025, 11, 3), 600), ("FINNIFTY", date(2025, 12, 1), 1200),  # … of 28-Nov-2025
    ("FINNIFTY", date(2026, 2, 1), 1800), ("TATAPOWER", TRADE_DATE, 65_250),
])
def test_the_freeze_in_force_on_a_day(symbol, day, units):
    assert freeze_quantity(symbol, day) == units


def test_a_missing_freeze_is_a_named_data_error():
    with pytest.raises(DataError, match=r"freeze_quantities.csv: no freeze quantity for NIFTY in force on 2025-06-30"):
        freeze_quantity("NIFTY", date(2025, 6, 30))
    with pytest.raises(DataError, match=r"freeze_quantities.csv: no freeze quantity for 'ZOMATO'"):
        freeze_quantity("ZOMATO", TRADE_DATE)
    with pytest.raises(InputError, match="day: expected a date"):
        freeze_quantity("NIFTY", "2026-11-23")


def test_every_row_says_where_it_comes_from():
    text = FREEZE_FILE.read_text()
    assert "unverified against the current NSE qtyfreeze file" in text
    assert text.count("DERIVED, not NSE's figure") == 56  # one per stock: replace with NSE's file


@pytest.mark.parametrize(("content", "message"), [
    ("symbol,freeze_qty,effective_from\nNIFTY,1800,2026-02-01\n", "missing column(s) source"),
    ("symbol,freeze_qty,effective_from,source\nNIFTY,1800,2026-02-01,x\nNIFTY,eighteen,2026-03-02,x\n",
     "line 3: freeze_qty 'eighteen' is not a whole number of units > 0"),
    ("symbol,freeze_qty,effective_from,source\nNIFTY,0,2026-02-01,x\n", "line 2: freeze_qty 0 is not a whole"),
    ("symbol,freeze_qty,effective_from,source\nNIFTY,1800,1-Feb-2026,x\n",
     "line 2: effective_from '1-Feb-2026' is not a YYYY-MM-DD date"),
    ("symbol,freeze_qty,effective_from,source\nNIFTY,1800,2026-02-01,x\nNIFTY,1200,2026-02-01,y\n",
     "line 3: a second freeze_qty for NIFTY from 2026-02-01"),
    ("symbol,freeze_qty,effective_from,source\nNIFTY,1800,2026-02-01,\n", "line 2: symbol and source are required"),
])
def test_a_bad_freeze_file_names_the_line_and_column(tmp_path, content, message):
    path = tmp_path / "freeze_quantities.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        freeze_quantity("NIFTY", TRADE_DATE, path)


# ---------------------------------------------------------------- the exchange's side


def test_the_emulator_refuses_an_order_above_the_freeze_as_dhan_does():
    with DhanEmulator(market()) as emulator:
        expiry = market().expiries("NIFTY")[0]
        security_id = str(emulator.security_id("NIFTY", expiry, 26_000.0, "CE"))
        client = dhan_client(emulator)
        order = {"security_id": security_id, "exchange_segment": "NSE_FNO", "transaction_type": "BUY",
                 "order_type": "LIMIT", "product_type": "MARGIN", "price": 100.0}
        with pytest.raises(InputError, match="Invalid quantity 1820: above the freeze quantity 1800 of NIFTY"):
            client.place_order(quantity=28 * NIFTY_LOT, **order)
        assert emulator.orders == {}
        assert client.place_order(quantity=27 * NIFTY_LOT, **order)["orderStatus"] == "TRANSIT"
    with DhanEmulator(market(), freeze={"NIFTY": 650}) as emulator:  # a table of the test's own
        security_id = str(emulator.security_id("NIFTY", expiry, 26_000.0, "CE"))
        with pytest.raises(InputError, match="above the freeze quantity 650 of NIFTY"):
            dhan_client(emulator).place_order(quantity=11 * NIFTY_LOT, **order | {"security_id": security_id})
