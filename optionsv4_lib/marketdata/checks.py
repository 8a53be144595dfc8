"""Structural checks of an option chain (schema.OPTION_CHAIN): what makes a chain unusable, in a few numpy passes.

These are the critical rules of the Great Expectations suite `option_chain` (include/gx/expectations/), applied
on every path — the CLI included, which runs no GX — so that a broken chain drops its symbol with a reason
instead of yielding strategies priced off garbage, plus two rules GX cannot express per row: the underlying price
must lie within the listed strikes of each expiry, and most known IVs must be decimals in (0, IV_BOUND) (IVs sent
in percent, say). Quote quality (spreads, liquidity, crossed quotes, a stray IV) is left to the candidate
filters, which drop or re-price rows, not chains.
"""

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import DataError

IV_BOUND = 3.0  # decimal: an implied volatility at or above 300 % is not a usable quote
_NON_NEGATIVE = ("bid", "ask", "ltp", "bid_qty", "ask_qty", "oi", "volume")
_EXAMPLES = 3  # offending values quoted per problem


def chain_defects(chain: pd.DataFrame) -> list[str]:
    """Every structural problem of the chain, each naming the column and a few offending values; [] when sound."""
    problems = []
    strike = chain["strike"].to_numpy(float)
    bad = ~(strike > 0)
    if bad.any():
        problems.append(f"strike: {bad.sum()} strike(s) not > 0, e.g. {_some(strike[bad])}")
    duplicated = chain.duplicated(["expiry", "strike", "option_type"])
    if duplicated.any():
        first = chain[duplicated].iloc[0]
        problems.append(f"strike: {duplicated.sum()} duplicate contract(s), e.g. {first['strike']:g} "
                        f"{first['option_type']} {pd.Timestamp(first['expiry']).date()}")
    for column in _NON_NEGATIVE:
        values = chain[column].to_numpy(float)
        negative = values < 0
        if negative.any():
            problems.append(f"{column}: {negative.sum()} negative value(s), e.g. {_some(values[negative])}")
    iv = chain["iv"].to_numpy(float)
    known = ~np.isnan(iv)
    impossible = known & ~((iv > 0) & (iv < IV_BOUND))
    if impossible.sum() * 2 > known.sum():
        problems.append(f"iv: {impossible.sum()} of {known.sum()} known values outside (0, {IV_BOUND:g}) — not "
                        f"decimals? e.g. {_some(iv[impossible])}")
    spot = chain["underlying_price"].to_numpy(float)
    if not (spot > 0).all():
        problems.append(f"underlying_price: not > 0, e.g. {_some(spot[~(spot > 0)])}")
    elif strike[~bad].size:
        problems += _spot_outside_strikes(chain["expiry"].to_numpy()[~bad], strike[~bad], spot[~bad])
    return problems


def check_chain(chain: pd.DataFrame) -> pd.DataFrame:
    """The chain itself when it has no structural defect; DataError listing them otherwise."""
    problems = chain_defects(chain)
    if problems:
        raise DataError("broken option chain: " + "; ".join(problems))
    return chain


def _spot_outside_strikes(expiry: np.ndarray, strike: np.ndarray, spot: np.ndarray) -> list[str]:
    """One problem per expiry whose underlying price lies below its lowest or above its highest strike."""
    expiries, group = np.unique(expiry, return_inverse=True)
    low, high = np.full(len(expiries), np.inf), np.full(len(expiries), -np.inf)
    np.minimum.at(low, group, strike)
    np.maximum.at(high, group, strike)
    outside = (spot < low[group]) | (spot > high[group])
    first = np.unique(group[outside], return_index=True)[1]  # the first offending row of each expiry
    rows = np.flatnonzero(outside)[first][:_EXAMPLES]
    return [f"underlying_price: {spot[i]:g} is outside the strikes {low[group[i]]:g}–{high[group[i]]:g} of expiry "
            f"{pd.Timestamp(expiry[i]).date()}" for i in rows]


def _some(values: np.ndarray) -> str:
    return ", ".join(f"{v:g}" for v in values[:_EXAMPLES])
