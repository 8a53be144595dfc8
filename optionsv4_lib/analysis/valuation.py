"""One symbol's valuation inputs: when its quotes were taken, the smile of each expiry fitted to them (the market
measure), and the view (a volatility forecast from its price history and the market state's drift).

A far expiry whose smile cannot be fitted is dropped with a note (its multi-expiry candidates go with it); a near
expiry without a smile fails the symbol. Without price history the view's σ is the implied vol (the note says so):
its expected P&L then differs from the market's only by the state's drift.
"""

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.forecast import ForecastConfig, forecast_vol, view_drift
from optionsv4_lib.analysis.market_state import MarketState
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.pricing.smile import Smile, SVIParams, fit_smile, repair_calendar
from optionsv4_lib.reference.calendar import IST, years_to_expiry
from optionsv4_lib.strategies.metrics import Valuation

SMILE_COLUMNS = ("symbol", "expiry", "years", "forward", "forward_source", "method", *SVIParams._fields, "atm_vol",
                 "g_min", "n_fitted", "n_outside", "rms_resid_vol", "note")
"""One row per fitted expiry: its SVI parameters (total variance, decimal² × years), ATM vol (decimal), the least
Gatheral–Jacquier g on the check grid (≥ 0: no butterfly arbitrage), quotes fitted and left outside their bid–ask,
the RMS residual in vol (decimal) and the fit's note (forward, drops, fallbacks, calendar repairs)."""

SMILE_QUOTE_COLUMNS = ("symbol", "expiry", "strike", "option_type", "used", "bid", "ask", "mid", "iv_mid",
                       "model_iv", "model_price", "resid_vol", "resid_inr", "inside", "broker_iv", "iv_gap")
"""One row per two-sided quote with a mid IV: our mid IV and the model's (decimals), the model price (₹/unit) and
its residuals, whether it sits inside the bid–ask, and the broker's IV with its gap to ours (diagnostics)."""


@dataclass(frozen=True)
class SymbolValuation:
    """The smiles by expiry, the view (σ and drift with their words) and the notes of one symbol."""

    as_of: datetime
    smiles: dict[pd.Timestamp, Smile]
    view_sigma: float
    view_drift: float
    view_text: str
    notes: tuple[str, ...]

    def valuation(self, near: pd.Timestamp, far: pd.Timestamp | None) -> Valuation:
        """The Valuation of positions on these expiries."""
        far_curve = None if far is None or pd.isna(far) else self.smiles[pd.Timestamp(far)].curve
        return Valuation(self.smiles[pd.Timestamp(near)].curve, far_curve, self.view_sigma, self.view_drift)

    def smile_rows(self, symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(SMILE_COLUMNS rows, SMILE_QUOTE_COLUMNS rows) of the fitted expiries."""
        fits, quotes = [], []
        for expiry, smile in sorted(self.smiles.items()):
            residuals = smile.residuals
            used = residuals[residuals["used"]]
            fits.append({"symbol": symbol, "expiry": expiry, "years": smile.years, "forward": smile.forward,
                         "forward_source": smile.forward_detail.source, "method": smile.method,
                         **smile.params._asdict(), "atm_vol": smile.curve.atm_vol, "g_min": smile.g_min,
                         "n_fitted": len(used), "n_outside": smile.n_outside,
                         "rms_resid_vol": float(np.sqrt(np.mean(used["resid_vol"] ** 2))) if len(used) else np.nan,
                         "note": smile.note})
            broker = smile.quotes[["strike", "option_type", "broker_iv", "iv_gap"]]
            quotes.append(residuals.merge(broker, on=["strike", "option_type"], how="left")
                          .assign(symbol=symbol, expiry=expiry))
        quote_frame = pd.concat(quotes, ignore_index=True) if quotes else pd.DataFrame()
        return (pd.DataFrame(fits, columns=SMILE_COLUMNS),
                quote_frame.reindex(columns=SMILE_QUOTE_COLUMNS))


def quote_moment(chain: pd.DataFrame, fallback: datetime) -> datetime:
    """When the chain's quotes were taken (its latest `quoted_at`), in IST; `fallback` when the source does not say."""
    if "quoted_at" not in chain or chain["quoted_at"].isna().all():
        return fallback
    return pd.Timestamp(chain["quoted_at"].max()).tz_convert(IST).to_pydatetime()


def value_symbol(chain: pd.DataFrame, *, as_of: datetime, r: float, state: MarketState, closes: np.ndarray | None,
                 config: ForecastConfig = ForecastConfig()) -> SymbolValuation:
    """Smiles of the chain's expiries (no calendar arbitrage between them) at `as_of`, and the view for the first.

    Raises DataError when the chain is empty or the nearest expiry has no smile (no quote gives an implied vol)."""
    if chain.empty:
        raise DataError("empty option chain")
    expiries = sorted(pd.to_datetime(chain["expiry"]).unique())
    years = np.atleast_1d(years_to_expiry(as_of, np.array(expiries, dtype="datetime64[D]")))
    fitted, notes = [], []
    for expiry, t in zip(expiries, years):
        try:
            fitted.append(fit_smile(chain[pd.to_datetime(chain["expiry"]) == expiry], float(t), r))
        except DataError as exc:
            if not fitted:
                raise DataError(f"no smile for the near expiry {pd.Timestamp(expiry):%Y-%m-%d}: {exc}") from exc
            notes.append(f"expiry {pd.Timestamp(expiry):%Y-%m-%d} dropped (no smile: {exc}); its multi-expiry "
                         "strategies are not offered")
    surface = repair_calendar(fitted)
    smiles = {pd.Timestamp(smile.expiry): smile for smile in surface.smiles}
    notes += [f"smile {expiry:%Y-%m-%d}: {smile.method} — {smile.note}" for expiry, smile in smiles.items()
              if smile.method != "svi"]
    notes += [f"calendar repair of {row.expiry:%Y-%m-%d}: {row.how}" for row in surface.repairs.itertuples()]
    near = surface.smiles[0]
    drift = view_drift(state.direction, state.direction_confidence, config)
    try:
        if closes is None:
            raise InputError("no price history")
        forecast = forecast_vol(closes, near.years, near.curve.atm_vol, config)
        sigma, text = forecast.sigma, forecast.describe()
    except InputError as exc:
        sigma = near.curve.atm_vol
        text = f"view σ = implied {sigma * 100:.1f} % ({exc})"
        notes.append(f"view without a forecast: {exc}")
    if drift:
        text += f", drift {drift * 100:+.1f} %/yr ({state.direction})"
    return SymbolValuation(as_of, smiles, sigma, drift, text, tuple(notes))
