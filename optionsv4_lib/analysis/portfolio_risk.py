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
        """(moves, vol_shifts), each (S,): the full grid in ascending (move, shift) order."""
        moves, shifts = np.meshgrid(np.unique(self.moves), np.unique(self.vol_shifts), indexing="ij")
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
    g = position_greeks(positions, np.asarray(spot, float), r, 0.0)
    return nifty_terms(g.delta, g.gamma, g.vega, g.theta, spot, beta)


def nifty_terms(delta: np.ndarray, gamma: np.ndarray, vega: np.ndarray, theta: np.ndarray, spot: np.ndarray,
                beta: np.ndarray) -> np.ndarray:
    """(N, 4) BOOK_GREEK_COLUMNS from position greeks per ₹1 of the underlying (delta units, gamma per ₹)."""
    exposure = np.asarray(spot, float) * np.asarray(beta, float)  # ₹ move of the underlying per unit NIFTY return
    return np.column_stack([np.asarray(delta, float) * exposure, np.asarray(gamma, float) * exposure**2 * 0.01,
                            np.asarray(vega, float), np.asarray(theta, float)])


def book_risk(scenario: np.ndarray, greeks: np.ndarray, capital: float, config: StressConfig) -> BookRisk:
    """The whole book's greeks and stress table from its positions' scenario P&Ls (N, S; scenarios as
    config.scenarios()) and greeks (N, 4; as book_greeks), each scenario named like 'NIFTY −10 %, IV +50 %'."""
    moves, shifts = config.scenarios()
    pnl = np.asarray(scenario, float).reshape(-1, len(moves)).sum(axis=0)
    totals = np.asarray(greeks, float).reshape(-1, len(BOOK_GREEK_COLUMNS)).sum(axis=0)
    stress = pd.DataFrame({
        "scenario": [scenario_name(m, s) for m, s in zip(moves, shifts)], "nifty_move": moves, "vol_shift": shifts,
        "pnl": pnl, "pnl_pct_capital": pnl / capital * 100,
    })
    return BookRisk(dict(zip(BOOK_GREEK_COLUMNS, map(float, totals))), stress)


def scenario_name(move: float, vol_shift: float) -> str:
    """'NIFTY −10 %, IV +50 %' (IV part left out for no shift)."""
    text = f"NIFTY {round(move * 100, 6):+g} %".replace("-", "−")
    return text + (f", IV {round(vol_shift * 100, 6):+g} %".replace("-", "−") if vol_shift else "")


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
