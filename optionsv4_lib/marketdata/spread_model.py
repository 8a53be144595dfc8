"""The stated quote model for end-of-day prices: bhavcopies carry no bid/ask, so a backtest on them enters and exits
at a modelled touch around NSE's close. A model, not a measurement; its parameters are settings.

    half-spread (₹/unit) = ceil_to_tick( max(tick, share · price) · m · v )
    m (moneyness)        = 1 + moneyness_slope · |strike / underlying − 1|
    v (volume)           = 1 + illiquid_extra / (1 + contracts / liquid_contracts)
    bid = max(price − half-spread, 0), ask = price + half-spread

With the defaults a liquid at-the-money option of ₹100 is quoted ₹99.45 / ₹100.55 (half-spread 0.5 × 1.002 rounded
up to the tick), one 5 % out of the money that traded 10 contracts ₹98.50 / ₹101.50 (0.5 × 1.5 × 2).
"""

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from optionsv4_lib.core.errors import InputError


class SpreadModel(BaseModel):
    """Parameters of the half-spread around an end-of-day price (see the module docstring); unverified defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tick: float = Field(0.05, gt=0, description="₹, NSE's option price tick; the least half-spread")
    share: float = Field(0.005, ge=0, description="half-spread as a share of the price, decimal (0.005 = 0.5 %)")
    moneyness_slope: float = Field(10.0, ge=0, description="widening per unit of |strike / underlying − 1|")
    liquid_contracts: float = Field(10.0, gt=0, description="contracts traded at which the volume widening halves")
    illiquid_extra: float = Field(2.0, ge=0, description="extra widening (×) of a contract that did not trade")

    def half_spread(self, price, moneyness, contracts) -> np.ndarray:
        """₹/unit half-spread of each price (₹/unit) at moneyness (strike / underlying) after `contracts` traded."""
        price, moneyness, contracts = (np.asarray(v, dtype=float) for v in (price, moneyness, contracts))
        if np.any(price < 0) or np.any(contracts < 0) or np.any(~(moneyness > 0)):
            raise InputError("half_spread: expected prices ≥ 0, contracts ≥ 0 and moneyness > 0")
        m = 1 + self.moneyness_slope * np.abs(moneyness - 1)
        v = 1 + self.illiquid_extra / (1 + contracts / self.liquid_contracts)
        raw = np.maximum(self.tick, self.share * price) * m * v
        return np.ceil(np.round(raw / self.tick, 9)) * self.tick

    def quotes(self, price, moneyness, contracts) -> tuple[np.ndarray, np.ndarray]:
        """(bid, ask) ₹/unit around each price; (0, 0) where the price is not > 0 (no quote)."""
        price = np.asarray(price, dtype=float)
        priced = price > 0
        half = self.half_spread(np.where(priced, price, 0.0), moneyness, contracts)
        bid = np.where(priced, np.round(np.maximum(price - half, 0.0), 2), 0.0)
        return bid, np.where(priced, np.round(price + half, 2), 0.0)

    def describe(self) -> str:
        """The model in one sentence, for reports."""
        return (f"bhavcopies carry no bid/ask: entries and exits use a modelled touch around NSE's close, half-spread "
                f"= max(₹{self.tick:g}, {self.share:.2%} of the price) × (1 + {self.moneyness_slope:g}·|K/S − 1|) × "
                f"(1 + {self.illiquid_extra:g} / (1 + contracts / {self.liquid_contracts:g})), rounded up to the tick")
