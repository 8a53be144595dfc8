"""Money and percentages as text, one way everywhere: ₹ to the rupee, "unbounded" for an infinite amount, "n/a"
for a missing one (or the `missing` text a table wants)."""

import math

import numpy as np
import pandas as pd

UNBOUNDED = "unbounded"
MISSING = "n/a"


def money(value, missing: str = MISSING) -> str:
    """₹ to the rupee with thousands separators: 1234567.4 → '₹1,234,567'; ±inf → 'unbounded'; None/NaN → missing."""
    if value is None or pd.isna(value):
        return missing
    if math.isinf(value):
        return UNBOUNDED
    return f"₹{value:,.0f}"


def money_indian(values) -> pd.Series:
    """₹ amounts rounded to the rupee in Indian digit grouping, for sentences: -123456.4 → '-₹1,23,456';
    ±inf → 'unbounded'."""
    rounded = np.round(np.asarray(values, dtype=float))
    return pd.Series(rounded).map(lambda amount: UNBOUNDED if np.isinf(amount) else
                                  ("-₹" if amount < 0 else "₹") + number_indian(abs(amount)))


def percent(share: float, digits: int | None = None) -> str:
    """A share as a percentage: 0.5 → '50 %'; with `digits`, fixed decimals: percent(0.1234, 1) → '12.3 %'."""
    return f"{share * 100:g} %" if digits is None else f"{share * 100:.{digits}f} %"


def number_indian(value: float) -> str:
    """Indian digit grouping (12,34,567.5), no decimals unless the value has paise; ∞ for infinities."""
    if not np.isfinite(value):
        return "-∞" if value < 0 else "∞"
    sign, value = ("-" if value < 0 else ""), abs(float(value))
    whole, fraction = f"{value:.2f}".split(".")
    head, tail = whole[:-3], whole[-3:]
    groups = [head[max(0, end - 2):end] for end in range(len(head), 0, -2)][::-1]
    grouped = ",".join([*groups, tail]) if head else tail
    return sign + grouped + ("" if fraction == "00" else "." + fraction.rstrip("0"))
