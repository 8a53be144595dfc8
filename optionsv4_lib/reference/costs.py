"""Indian F&O transaction costs (₹) from one dated table, include/data/cost_rates.csv.

Each row gives one component's rate for one instrument (OPTION, FUTURE, STOCK = delivery equity) and side
(BUY, SELL or BOTH), in force from effective_from until the next row for the same component, instrument and
side; a trade pays the rows in force on its trade date. Bases: premium and turnover are price × qty (option
premium, or traded value of futures and stock); per_order is ₹ per executed order; on_charges (GST) applies
to brokerage + exchange_txn + sebi_fee + ipft. A component with no row for an instrument and side is not
charged (e.g. STT on buying an option); a trade date before every row of a charged component raises
DataError.

Amounts are not rounded (contract notes round STT and stamp duty to the rupee per note). Not modelled: STT on
exercised options (on intrinsic value at expiry) and depository charges on stock sales.
"""

import csv
import functools
import math
from datetime import date
from typing import NamedTuple

import numpy as np

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.paths import DATA_DIR
from optionsv4_lib.reference.calendar import as_days
from optionsv4_lib.reference.dated import row_in_force

RATES_FILE = DATA_DIR / "cost_rates.csv"

COMPONENTS = ("stt", "exchange_txn", "sebi_fee", "stamp_duty", "gst", "brokerage", "ipft")
GST_BASE = ("brokerage", "exchange_txn", "sebi_fee", "ipft")
INSTRUMENTS = ("OPTION", "FUTURE", "STOCK")
SIDES = ("BUY", "SELL")

_INSTRUMENT_ALIASES = {"OPTION": "OPTION", "CE": "OPTION", "PE": "OPTION",
                       "FUTURE": "FUTURE", "FUT": "FUTURE", "STOCK": "STOCK", "STK": "STOCK"}
_BASES = {"premium": ("OPTION",), "turnover": ("FUTURE", "STOCK"),
          "per_order": INSTRUMENTS, "on_charges": INSTRUMENTS}


class CostBreakdown(NamedTuple):
    """Cost per leg in ₹, by component; each field broadcasts to the legs' shape."""

    stt: np.ndarray
    exchange_txn: np.ndarray
    sebi_fee: np.ndarray
    stamp_duty: np.ndarray
    gst: np.ndarray
    brokerage: np.ndarray
    ipft: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """All components added, ₹."""
        return sum(self)


# ---------------------------------------------------------------- the rates table


@functools.cache
def _table() -> dict[tuple[str, str, str], list[tuple[date, str, float]]]:
    """(component, instrument, side) → [(effective_from, basis, rate)] sorted by date; BOTH fills both sides."""
    try:
        with RATES_FILE.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError as exc:
        raise DataError(f"{RATES_FILE}: reference file not found") from exc
    table: dict[tuple[str, str, str], list[tuple[date, str, float]]] = {}
    for number, row in enumerate(rows, start=2):
        effective, component, instrument, sides, basis, rate = _parse_row(row, number)
        for side in sides:
            entries = table.setdefault((component, instrument, side), [])
            if any(existing[0] == effective for existing in entries):
                raise DataError(f"{RATES_FILE.name} line {number}: two {component} rates for {instrument} {side} "
                                f"from {effective}")
            entries.append((effective, basis, rate))
    return {key: sorted(entries) for key, entries in table.items()}


def _parse_row(row: dict[str, str], number: int) -> tuple[date, str, str, tuple[str, ...], str, float]:
    where = f"{RATES_FILE.name} line {number}"
    try:
        effective = date.fromisoformat(row["effective_from"].strip())
        component, instrument = row["component"].strip(), row["instrument"].strip()
        side, basis, rate = row["side"].strip(), row["basis"].strip(), float(row["rate"])
    except (KeyError, ValueError, AttributeError) as exc:
        raise DataError(f"{where}: unreadable row {row!r}") from exc
    if component not in COMPONENTS:
        raise DataError(f"{where}: unknown component {component!r}")
    if instrument not in INSTRUMENTS:
        raise DataError(f"{where}: unknown instrument {instrument!r}")
    if side not in (*SIDES, "BOTH"):
        raise DataError(f"{where}: unknown side {side!r}")
    if instrument not in _BASES.get(basis, ()) or (basis == "on_charges") != (component == "gst"):
        raise DataError(f"{where}: basis {basis!r} does not fit {component} on {instrument}")
    if not math.isfinite(rate) or rate < 0:
        raise DataError(f"{where}: rate must be a finite number >= 0, got {rate}")
    return effective, component, instrument, SIDES if side == "BOTH" else (side,), basis, rate


@functools.cache
def _rates_on(instrument: str, side: str, day: date) -> dict[str, tuple[str, float]]:
    """component → (basis, rate) in force on day for instrument and side; components not charged are absent."""
    rates = {}
    for component in COMPONENTS:
        entries = _table().get((component, instrument, side))
        if not entries:
            continue
        in_force = row_in_force(entries, day)
        if in_force is None:
            raise DataError(f"trade_date: no {component} rate for {instrument} {side} in {RATES_FILE.name} in "
                            f"force on {day} (earliest {entries[0][0]})")
        _, basis, rate = in_force
        rates[component] = (basis, rate)
    return rates


# ---------------------------------------------------------------- inputs


def _labels(values, field: str, aliases: dict[str, str]) -> np.ndarray:
    """Canonical labels (array of str) for a label or an array of labels, any case."""
    array = np.asarray(values)
    if array.size == 0:
        raise InputError(f"{field}: empty")
    if array.dtype.kind not in "UO":
        raise InputError(f"{field}: expected text labels, got dtype {array.dtype}")
    spellings, inverse = np.unique(array.astype(str).ravel(), return_inverse=True)
    canonical = []
    for spelling in spellings:
        key = spelling.strip().upper()
        if key not in aliases:
            raise InputError(f"{field}: unknown {field} {spelling!r}; expected one of {sorted(set(aliases))}")
        canonical.append(aliases[key])
    return np.array(canonical)[inverse].reshape(array.shape)


def _amounts(values, field: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{field}: expected numbers, got {values!r}") from exc
    if array.size == 0:
        raise InputError(f"{field}: empty")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{field}: must be finite (got NaN or inf)")
    if np.any(array < 0):
        raise InputError(f"{field}: must be >= 0, got {array.min()}")
    return array


# ---------------------------------------------------------------- costs


def leg_costs(instrument, side, price, qty, trade_date, orders=1) -> CostBreakdown:
    """Costs of executing legs, ₹ by component, broadcast over all arguments.

    instrument: 'OPTION' ('CE'/'PE'), 'FUTURE' ('FUT') or 'STOCK' ('STK'); side: 'BUY'/'SELL';
    price: ₹ per unit (option premium, futures or stock price); qty: units; trade_date: date(s) whose rates
    apply; orders: executed orders per leg (brokerage is per order).
    """
    instruments = _labels(instrument, "instrument", _INSTRUMENT_ALIASES)
    sides = _labels(side, "side", {name: name for name in SIDES})
    prices, quantities = _amounts(price, "price"), _amounts(qty, "qty")
    order_counts, days = _amounts(orders, "orders"), as_days(trade_date, "trade_date")
    arrays = (instruments, sides, prices, quantities, order_counts, days)
    try:
        shape = np.broadcast_shapes(*(array.shape for array in arrays))
    except ValueError as exc:
        raise InputError("instrument, side, price, qty, trade_date, orders: shapes "
                         f"{[array.shape for array in arrays]} do not broadcast") from exc
    instruments, sides, prices, quantities, order_counts, days = (
        np.broadcast_to(array, shape).ravel() for array in arrays)

    per_value, per_order, on_charges, combo = _rate_matrices(instruments, sides, days)
    columns = {component: j for j, component in enumerate(COMPONENTS)}
    amounts = per_value[combo] * (prices * quantities)[:, None] + per_order[combo] * order_counts[:, None]
    gst_base = amounts[:, [columns[component] for component in GST_BASE]].sum(axis=1)
    amounts[:, columns["gst"]] = on_charges[combo] * gst_base
    return CostBreakdown(*(amounts[:, j].reshape(shape)[()] for j in range(len(COMPONENTS))))


def _rate_matrices(instruments: np.ndarray, sides: np.ndarray, days: np.ndarray):
    """Rates per distinct (instrument, side, day) and each leg's index into them.

    Returns (per_value, per_order, on_charges, combo): per_value and per_order are (n_combos, n_components)
    rates per ₹ of price × qty and per order; on_charges (n_combos,) is the GST rate.
    """
    instrument_values, instrument_index = np.unique(instruments, return_inverse=True)
    side_values, side_index = np.unique(sides, return_inverse=True)
    day_values, day_index = np.unique(days, return_inverse=True)
    codes = (instrument_index * len(side_values) + side_index) * len(day_values) + day_index
    combo_codes, combo = np.unique(codes, return_inverse=True)

    per_value = np.zeros((len(combo_codes), len(COMPONENTS)))
    per_order = np.zeros_like(per_value)
    on_charges = np.zeros(len(combo_codes))
    for k, code in enumerate(combo_codes):
        instrument_side, d = divmod(int(code), len(day_values))
        i, s = divmod(instrument_side, len(side_values))
        rates = _rates_on(str(instrument_values[i]), str(side_values[s]), day_values[d].item())
        for j, component in enumerate(COMPONENTS):
            if component not in rates:
                continue
            basis, rate = rates[component]
            if basis == "on_charges":
                on_charges[k] = rate
            elif basis == "per_order":
                per_order[k, j] = rate
            else:
                per_value[k, j] = rate
    return per_value, per_order, on_charges, combo


def round_trip_costs(instrument, side, entry_price, exit_price, qty, trade_date, exit_date=None) -> CostBreakdown:
    """Opening costs (side at entry_price) plus closing costs (the opposite side at exit_price), ₹.

    Both legs use trade_date's rates unless exit_date is given; one order each way.
    """
    sides = _labels(side, "side", {name: name for name in SIDES})
    closing_sides = np.where(sides == "BUY", "SELL", "BUY")
    opening = leg_costs(instrument, sides, entry_price, qty, trade_date)
    closing = leg_costs(instrument, closing_sides, exit_price, qty, trade_date if exit_date is None else exit_date)
    return CostBreakdown(*(open_part + close_part for open_part, close_part in zip(opening, closing)))
