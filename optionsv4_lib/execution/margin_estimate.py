"""Our estimate of a basket's margin: the orders of one strategy margined together (analysis.margin: SPAN-style
scenarios + exposure, hedge-aware), as the paper broker and the Dhan emulator answer a basket-margin request.

Each leg's vol is implied from its order price (₹/unit) on the underlying's price at the moment the quotes were
taken; its time to expiry runs from that moment (ACT/365 to the F&O close). Parameters: the dated margin table."""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import numpy as np

from optionsv4_lib.analysis.margin import strategy_margin
from optionsv4_lib.core.domain import Side
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.execution.broker import Contract
from optionsv4_lib.pricing.black_scholes import implied_vol
from optionsv4_lib.reference.calendar import IST, years_to_expiry
from optionsv4_lib.reference.margin_parameters import margin_parameters
from optionsv4_lib.reference.universe import load_universe


class BasketLeg(Protocol):
    """What a basket-margin estimate needs of an order (OrderRequest has it): contract, side, units, price ₹/unit."""

    contract: Contract
    side: Side
    quantity: int
    price: float


def estimate_basket_margin(legs: Sequence[BasketLeg], *, spot: float, as_of: datetime, rate: float) -> float:
    """₹ our SPAN + exposure margin for `legs` (one underlying) as one basket; `spot` ₹ and `as_of` the moment the
    quotes were taken. DataError naming a leg whose price implies no vol."""
    symbols = {leg.contract.symbol for leg in legs}
    if len(symbols) != 1:
        raise InputError(f"legs: a basket estimate covers one underlying, got {sorted(symbols) or 'none'}")
    symbol = symbols.pop()
    strike = np.array([leg.contract.strike for leg in legs], dtype=float)
    is_call = np.array([leg.contract.option_type == "CE" for leg in legs])
    quantity = np.array([leg.quantity if leg.side == "BUY" else -leg.quantity for leg in legs], dtype=float)
    years = np.asarray(years_to_expiry(as_of, [leg.contract.expiry for leg in legs]), dtype=float)
    vol = np.asarray(implied_vol(np.array([leg.price for leg in legs], dtype=float), is_call, spot, strike, years,
                                 rate), dtype=float)
    for leg, value in zip(legs, vol):
        if np.isnan(value):
            raise DataError(f"margin estimate: no implied vol for {leg.contract} at ₹{leg.price:g} with the "
                            f"underlying at ₹{spot:,.2f}")
    universe = load_universe()
    segment = universe.loc[universe["symbol"] == symbol, "underlying_segment"]
    day = (as_of.astimezone(IST) if as_of.tzinfo else as_of).date()  # naive = IST, as in years_to_expiry
    params = margin_parameters(symbol, day, index=bool((segment == "IDX_I").any()))
    margin = strategy_margin(strike[None], is_call[None], quantity[None], years[None], vol[None], spot=spot,
                             rate=rate, params=params)
    return float(margin.total[0])
