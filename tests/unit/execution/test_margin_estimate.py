"""Our basket-margin estimate of an order list: vols implied from the order prices, the dated parameters, refusals."""

from dataclasses import dataclass
from datetime import date, datetime

import pytest

from optionsv4_lib.analysis.margin import strategy_margin
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.execution.broker import Contract
from optionsv4_lib.execution.margin_estimate import estimate_basket_margin
from optionsv4_lib.pricing.black_scholes import bs_price
from optionsv4_lib.reference.calendar import IST, years_to_expiry
from optionsv4_lib.reference.margin_parameters import margin_parameters

AS_OF = datetime(2026, 11, 23, 9, 15, tzinfo=IST)
EXPIRY = date(2026, 12, 1)
S, R = 26_000.0, 0.065


@dataclass(frozen=True)
class Leg:
    contract: Contract
    side: str
    quantity: int
    price: float


def leg(symbol, kind, strike, side, vol=0.15, quantity=65, price=None):
    years = years_to_expiry(AS_OF, EXPIRY)
    price = bs_price(kind, S, strike, years, R, vol) if price is None else price
    return Leg(Contract(symbol, kind, strike, EXPIRY), side, quantity, price)


def test_the_estimate_is_the_margin_of_the_legs_at_their_implied_vols():
    legs = [leg("NIFTY", "PE", 25_500.0, "BUY", 0.17), leg("NIFTY", "PE", 25_700.0, "SELL", 0.16),
            leg("NIFTY", "CE", 26_300.0, "SELL", 0.14), leg("NIFTY", "CE", 26_500.0, "BUY", 0.135)]
    years = years_to_expiry(AS_OF, EXPIRY)
    direct = strategy_margin([[25_500.0, 25_700.0, 26_300.0, 26_500.0]], [[False, False, True, True]],
                             [[65, -65, -65, 65]], years, [[0.17, 0.16, 0.14, 0.135]], spot=S, rate=R,
                             params=margin_parameters("NIFTY", AS_OF.date(), index=True))
    assert estimate_basket_margin(legs, spot=S, as_of=AS_OF, rate=R) == pytest.approx(direct.total[0], rel=1e-7)


def test_a_stock_takes_the_stock_class_parameters():
    sale = [leg("DIXON", "CE", 26_000.0, "SELL")]
    exposure = 0.035 * S * 65  # the *STOCK class row's 3.5 %
    index_sale = estimate_basket_margin([leg("NIFTY", "CE", 26_000.0, "SELL")], spot=S, as_of=AS_OF, rate=R)
    stock_sale = estimate_basket_margin(sale, spot=S, as_of=AS_OF, rate=R)
    assert stock_sale > index_sale and stock_sale > exposure


def test_refusals_name_what_is_wrong():
    with pytest.raises(DataError, match="no implied vol for NIFTY 01-Dec-2026 25000 CE at ₹1"):
        estimate_basket_margin([leg("NIFTY", "CE", 25_000.0, "SELL", price=1.0)], spot=S, as_of=AS_OF, rate=R)
    with pytest.raises(InputError, match="one underlying"):
        estimate_basket_margin([leg("NIFTY", "CE", 26_000.0, "SELL"), leg("DIXON", "CE", 26_000.0, "BUY")], spot=S,
                               as_of=AS_OF, rate=R)
