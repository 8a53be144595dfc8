"""Slicing one leg's order under NSE's quantity freeze: the exchange rejects an F&O order of more units than the
contract's freeze quantity (reference.freeze_quantities), so a larger leg is sent as several orders — slices.

Every slice is a whole number of lots and at most freeze_qty units, so it holds at most
    max_lots = floor(freeze_qty / lot_size)
lots (a freeze of 1,800 units with lots of 65 allows 27 lots = 1,755 units). A leg of L lots takes
n = ceil(L / max_lots) slices, the lots spread as evenly as whole lots allow, larger slices first: L = 277,
max_lots = 27 → 11 slices, 2 of 26 lots then 9 of 25. A leg within the freeze is one order. Quantities are units.
"""

import math
from collections.abc import Sequence

from optionsv4_lib.core.errors import DataError, InputError


def max_lots(lot_size: int, freeze_qty: int) -> int:
    """The most lots one order may hold: floor(freeze_qty / lot_size); DataError when the freeze is below a lot."""
    for name, value in (("lot_size", lot_size), ("freeze_qty", freeze_qty)):
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{name}: expected a whole number of units ≥ 1, got {value!r}")
    if freeze_qty < lot_size:
        raise DataError(f"freeze_qty: {freeze_qty} units is less than one lot of {lot_size}: no order can be placed")
    return freeze_qty // lot_size


def slice_units(units: int, lot_size: int, freeze_qty: int) -> list[int]:
    """Units of each slice of an order of `units` (a whole number of lots), larger slices first; [units] when it
    is within the freeze."""
    most = max_lots(lot_size, freeze_qty)
    if not isinstance(units, int) or units < 1 or units % lot_size:
        raise InputError(f"units: expected a whole number of lots of {lot_size} units, got {units!r}")
    lots = units // lot_size
    count = math.ceil(lots / most)
    base, extra = divmod(lots, count)
    return [(base + 1) * lot_size] * extra + [base * lot_size] * (count - extra)


def describe(quantities: Sequence[int], freeze_qty: int) -> str:
    """A leg's slices in words, e.g. "3 slices of ≤ 1,800 units (2 × 650 + 1 × 520)"; "1 order" unsliced."""
    if len(quantities) == 1:
        return "1 order"
    sizes = sorted(set(quantities), reverse=True)
    parts = " + ".join(f"{quantities.count(size)} × {size:,}" for size in sizes)
    return f"{len(quantities)} slices of ≤ {freeze_qty:,} units ({parts})"
