"""The book's risk: greeks in NIFTY terms and a stress table of instant gaps with volatility spikes.

A stress scenario moves NIFTY by `move` (decimal) and every implied vol by `vol_shift` (relative: 0.30 = each vol
× 1.30) at once, before any time passes (a gap at the open). A stock moves by its beta to NIFTY times the NIFTY
move. Each option leg is revalued by Black–Scholes at its own strike, expiry and (shifted) vol; the scenario P&L is
the change of that value from today's, so the scenario "no move, no shift" is 0 by construction. A stock leg
moves with its underlying.

Greeks are reported as a desk reads them across symbols: delta as NIFTY-equivalent ₹ (Σ qty·Δ·spot·β: the NIFTY
notional with the same first-order P&L), gamma as the change of that delta for a 1 % NIFTY move (₹), vega in ₹ per
vol point, theta in ₹ per calendar day.

Units: positions as strategies.evaluate.Positions (quantities in units, signed), spot ₹, beta dimensionless,
P&L ₹ for the whole position.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from optionsv4_lib.pricing.black_scholes import bs_price
from optionsv4_lib.strategies.evaluate import CE, STK, Positions, position_greeks

BOOK_GREEK_COLUMNS = ("delta_nifty_inr", "gamma_nifty_inr", "vega", "theta")
STRESS_COLUMNS = ("scenario", "nifty_move", "vol_shift", "pnl", "pnl_pct_capital")


class StressConfig(BaseModel):
    """The stress grid: every NIFTY move with every vol shift (decimals), and the beta used without history."""

    model_config = ConfigDict(frozen=True)

    moves: tuple[float, ...] = Field((-0.10, -0.05, 0.05, 0.10), description="NIFTY gaps, decimal (−0.10 = −10 %)")
    vol_shifts: tuple[float, ...] = Field((0.0, 0.30, 0.50),
                                          description="relative changes of every implied vol (0.30 = +30 %)")
    default_beta: float = Field(1.0, description="beta to NIFTY of a stock without enough common history")

    def scenarios(self) -> tuple[np.ndarray, np.ndarray]:
        """(moves, vol_shifts), each (S,): the full grid, moves varying slowest."""
        moves, shifts = np.meshgrid(np.asarray(self.moves, float), np.asarray(self.vol_shifts, float), indexing="ij")
        return moves.ravel(), shifts.ravel()


@dataclass(frozen=True)
class BookRisk:
    """The book's greeks (BOOK_GREEK_COLUMNS, ₹) and stress table (STRESS_COLUMNS), worst first in `worst`."""

    greeks: dict[str, float]
    stress: pd.DataFrame

    @property
    def worst(self) -> float:
        """The most negative scenario P&L, ₹ (0 for an empty or riskless book)."""
        return float(min(0.0, self.stress["pnl"].min())) if len(self.stress) else 0.0


def scenario_pnl(positions: Positions, spot: np.ndarray, beta: np.ndarray, r: float,
                 moves: np.ndarray, vol_shifts: np.ndarray) -> np.ndarray:
    """(N, S) instant P&L of each position in each scenario, ₹. spot, beta: (N,); moves, vol_shifts: (S,)."""
    spot = np.asarray(spot, float)
    beta = np.asarray(beta, float)
    option = positions.is_option[:, :, None]
    shifted_spot = spot[:, None, None] * (1 + beta[:, None, None] * moves[None, None, :])  # (N, 1, S)
    is_call = np.broadcast_to((positions.kind == CE)[:, :, None], positions.kind.shape + (len(moves),))
    strike = np.where(option, positions.strike[:, :, None], 1.0)
    years = np.where(option, positions.years[:, :, None], 1.0)
    sigma = np.where(option, positions.sigma[:, :, None], 0.2)
    today = bs_price(is_call[..., :1], spot[:, None, None], strike, years, r, sigma)
    stressed = bs_price(is_call, shifted_spot, strike, years, r, sigma * (1 + vol_shifts[None, None, :]))
    qty = positions.qty[:, :, None]
    option_pnl = np.where(option, qty * (stressed - today), 0.0).sum(axis=1)
    stock_qty = np.where(positions.kind == STK, positions.qty, 0.0).sum(axis=1)
    return option_pnl + (stock_qty * spot * beta)[:, None] * moves[None, :]


def book_greeks(positions: Positions, spot: np.ndarray, beta: np.ndarray, r: float) -> np.ndarray:
    """(N, 4) per position: NIFTY-equivalent delta ₹, its change per 1 % NIFTY move ₹, vega ₹/vol pt, theta ₹/day."""
    spot = np.asarray(spot, float)
    exposure = spot * np.asarray(beta, float)  # ₹ move of the underlying per unit NIFTY return
    g = position_greeks(positions, spot, r, 0.0)
    return np.column_stack([g.delta * exposure, g.gamma * exposure**2 * 0.01, g.vega, g.theta])


def book_risk(positions: Positions, spot: np.ndarray, beta: np.ndarray, r: float, capital: float,
              config: StressConfig) -> BookRisk:
    """The whole book's greeks and stress table (positions summed; each scenario named like 'NIFTY −10 %, IV +50 %')."""
    moves, shifts = config.scenarios()
    if len(positions.kind) == 0:
        pnl, greeks = np.zeros(len(moves)), np.zeros(len(BOOK_GREEK_COLUMNS))
    else:
        pnl = scenario_pnl(positions, spot, beta, r, moves, shifts).sum(axis=0)
        greeks = book_greeks(positions, spot, beta, r).sum(axis=0)
    stress = pd.DataFrame({
        "scenario": [scenario_name(m, s) for m, s in zip(moves, shifts)], "nifty_move": moves, "vol_shift": shifts,
        "pnl": pnl, "pnl_pct_capital": pnl / capital * 100,
    })
    return BookRisk(dict(zip(BOOK_GREEK_COLUMNS, map(float, greeks))), stress)


def scenario_name(move: float, vol_shift: float) -> str:
    """'NIFTY −10 %, IV +50 %' (IV part left out for no shift)."""
    text = f"NIFTY {move * 100:+.0f} %".replace("-", "−")
    return text + (f", IV {vol_shift * 100:+.0f} %".replace("-", "−") if vol_shift else "")


def beta_to_market(closes: pd.Series | None, market_closes: pd.Series | None, *, window: int = 250,
                   min_days: int = 60, default: float = 1.0) -> tuple[float, str | None]:
    """(beta of daily log returns on the last `window` days both series have, None), or (default, why) with too
    little history. Both are daily closes indexed by date."""
    if closes is None or market_closes is None:
        return default, f"beta to NIFTY {default:g} assumed (no price history)"
    both = pd.concat([closes.rename("own"), market_closes.rename("market")], axis=1, join="inner").sort_index()
    returns = np.log(both.astype(float)).diff().dropna().tail(window)
    if len(returns) < min_days:
        return default, f"beta to NIFTY {default:g} assumed ({len(returns)} common daily returns, need {min_days})"
    variance = returns["market"].var()
    if not variance > 0:
        return default, f"beta to NIFTY {default:g} assumed (NIFTY did not move)"
    return float(returns["own"].cov(returns["market"]) / variance), None
