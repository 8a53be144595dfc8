"""What a risk profile allows and what an analysis needs to know: the limits, the score weights, and the
analysis settings that config.Settings extends with paths, the database and the broker.

Percentages are decimals of total capital (0.02 = 2 %); money in ₹; rates continuously compounded decimals.
"""

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optionsv4_lib.analysis.market_state import MarketStateConfig
from optionsv4_lib.analysis.portfolio_risk import StressConfig
from optionsv4_lib.core.domain import FAMILIES, RISK_PROFILES, Family, RiskProfile
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.strategies.candidates import CandidateRules


class ScoreWeights(BaseModel):
    """Relative weights of the score's factors (normalised to sum to 1 when used)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    market_fit: float = Field(0.25, ge=0)
    pop: float = Field(0.20, ge=0)
    return_on_risk: float = Field(0.15, ge=0)
    reward_risk: float = Field(0.10, ge=0)
    liquidity: float = Field(0.10, ge=0)
    iv_fit: float = Field(0.10, ge=0)
    greeks: float = Field(0.05, ge=0)
    cost_drag: float = Field(0.05, ge=0)


class RiskLimits(BaseModel):
    """What one risk profile allows. Percentages are decimals of total capital (0.02 = 2 %)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    families: tuple[Family, ...] = Field(FAMILIES, description="strategy families allowed")
    allow_undefined_risk: bool = Field(True, description="may strategies with unbounded loss be chosen")
    min_pop: float = Field(0.45, ge=0, le=1, description="lowest probability of profit (net of costs) kept")
    max_loss_per_trade: float = Field(0.02, gt=0, le=1, description="capital at risk of one trade, share of capital")
    max_industry: float = Field(0.15, gt=0, le=1, description="capital at risk in one industry, share of capital")
    max_total: float = Field(0.60, gt=0, le=1, description="capital at risk across the portfolio, share of capital")
    max_strategy_share: float = Field(0.35, gt=0, le=1, description="capital at risk in one strategy type (e.g. "
                                      "Short Strangle), share of the portfolio limit max_total")
    max_margin: float = Field(0.60, gt=0, le=1, description="margin the book may block, share of capital (the funds)")
    max_stress_loss: float = Field(0.10, gt=0, le=1, description="the book's worst stress-scenario loss, share of "
                                   "capital")
    max_lots: int = Field(50, ge=1, description="most strategy lots in one trade")
    top_n: int = Field(3, ge=1, description="strategies kept per symbol after ranking")
    weights: ScoreWeights = ScoreWeights()

    @model_validator(mode="after")
    def _ordered(self) -> "RiskLimits":
        if not self.max_loss_per_trade <= self.max_industry <= self.max_total:
            raise ValueError("need max_loss_per_trade ≤ max_industry ≤ max_total")
        return self


DEFAULT_PROFILES: dict[RiskProfile, RiskLimits] = {
    "conservative": RiskLimits(
        families=("directional", "neutral", "income"), allow_undefined_risk=False, min_pop=0.55,
        max_loss_per_trade=0.01, max_industry=0.08, max_total=0.40, max_strategy_share=0.30, max_margin=0.40,
        max_stress_loss=0.05, max_lots=20, top_n=2,
        weights=ScoreWeights(pop=0.30, return_on_risk=0.10, reward_risk=0.05, market_fit=0.25, liquidity=0.15),
    ),
    "moderate": RiskLimits(),
    "aggressive": RiskLimits(
        min_pop=0.35, max_loss_per_trade=0.03, max_industry=0.20, max_total=0.80, max_strategy_share=0.50,
        max_margin=0.80, max_stress_loss=0.20, max_lots=100, top_n=5,
        weights=ScoreWeights(pop=0.10, return_on_risk=0.25, reward_risk=0.15),
    ),
}


class AnalysisSettings(BaseModel):
    """The settings an analysis reads: capital, risk profiles, rate, stress move, market-state and candidate rules.
    config.Settings extends it (environment, paths, database, broker); tests may pass either."""

    capital: float = Field(3_00_00_000, gt=0, allow_inf_nan=False,
                           description="total capital to allocate, ₹ (default ₹3 crore)")
    risk_profile: RiskProfile = "moderate"
    risk_free_rate: float = Field(0.065, ge=0, lt=1, description="continuously compounded, decimal")
    stress_move: float = Field(0.15, gt=0, lt=1, description="± price move whose worst loss at expiry is the capital "
                               "at risk of an undefined-risk trade")
    stress: StressConfig = Field(StressConfig(), description="the book's stress grid (gaps × vol spikes)")
    profiles: dict[RiskProfile, RiskLimits] = Field(default_factory=lambda: dict(DEFAULT_PROFILES))
    market: MarketStateConfig = MarketStateConfig()
    candidates: CandidateRules = CandidateRules()

    def limits(self, profile: RiskProfile | None = None) -> RiskLimits:
        """The limits of `profile` (default: the configured risk_profile)."""
        name = profile or self.risk_profile
        if name not in RISK_PROFILES:
            raise InputError(f"risk profile: unknown {name!r}; expected one of {', '.join(RISK_PROFILES)}")
        return self.profiles[name]
