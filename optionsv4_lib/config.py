"""Settings: environment and `.env` (prefix OPTIONSV4_), risk profiles, capital, thresholds — in one place.

Every field can be set as OPTIONSV4_<FIELD> (e.g. OPTIONSV4_CAPITAL=50000000); the old system's names keep
working (DHAN_CLIENT_ID, DHAN_ACCESS_TOKEN, SUPABASE_DB_URL). Risk profiles and the other nested models can be
replaced whole from a JSON file named by OPTIONSV4_CONFIG_FILE (keys as the field names below), e.g.
{"profiles": {"moderate": {"min_pop": 0.55}}} — nested keys merge over the defaults.
Secrets are SecretStr: they never print.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from optionsv4_lib.errors import InputError
from optionsv4_lib.domain import FAMILIES, RISK_PROFILES, Family, RiskProfile
from optionsv4_lib.market_state import MarketStateConfig
from optionsv4_lib.paths import PROJECT_DIR
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
        max_loss_per_trade=0.01, max_industry=0.08, max_total=0.40, max_lots=20, top_n=2,
        weights=ScoreWeights(pop=0.30, return_on_risk=0.10, reward_risk=0.05, market_fit=0.25, liquidity=0.15),
    ),
    "moderate": RiskLimits(),
    "aggressive": RiskLimits(
        min_pop=0.35, max_loss_per_trade=0.03, max_industry=0.20, max_total=0.80, max_lots=100, top_n=5,
        weights=ScoreWeights(pop=0.10, return_on_risk=0.25, reward_risk=0.15),
    ),
}


class Settings(BaseSettings):
    """Run-time settings. Money in ₹, rates as decimals, paths relative to the working directory."""

    model_config = SettingsConfigDict(env_prefix="OPTIONSV4_", env_file=".env", extra="ignore", populate_by_name=True)

    capital: float = Field(3_00_00_000, gt=0, description="total capital to allocate, ₹ (default ₹3 crore)")
    risk_profile: RiskProfile = "moderate"
    risk_free_rate: float = Field(0.065, ge=0, lt=1, description="continuously compounded, decimal")
    stress_move: float = Field(0.15, gt=0, lt=1, description="± price move whose loss is the margin estimate of undefined-risk trades")
    seed: int = Field(42, description="seed of the synthetic market")
    data_dir: Path = Path("data")
    results_dir: Path = Path("results")
    logs_dir: Path = Path("logs")
    embedded_dir: Path = Field(PROJECT_DIR / ".optionsv4", description="the embedded PostgreSQL's home (project-local)")
    database_url: SecretStr | None = Field(None, validation_alias=AliasChoices("OPTIONSV4_DATABASE_URL", "SUPABASE_DB_URL"))
    dhan_client_id: str | None = Field(None, validation_alias=AliasChoices("OPTIONSV4_DHAN_CLIENT_ID", "DHAN_CLIENT_ID"))
    dhan_access_token: SecretStr | None = Field(None, validation_alias=AliasChoices("OPTIONSV4_DHAN_ACCESS_TOKEN", "DHAN_ACCESS_TOKEN"))
    dhan_base_url: str = "https://api.dhan.co/v2"
    dhan_chain_interval: float = Field(3.0, ge=0, description="seconds between option-chain requests (Dhan: 1 per 3 s)")
    live_trading: bool = Field(False, description="OPTIONSV4_LIVE_TRADING=1 is one of the two keys to live orders")
    config_file: Path | None = Field(None, description="JSON file whose keys override the nested models below")
    profiles: dict[RiskProfile, RiskLimits] = Field(default_factory=lambda: dict(DEFAULT_PROFILES))
    market: MarketStateConfig = MarketStateConfig()
    candidates: CandidateRules = CandidateRules()

    @model_validator(mode="before")
    @classmethod
    def _merge_config_file(cls, data: Any) -> Any:
        path = data.get("config_file") if isinstance(data, dict) else None
        if not path:
            return data
        overrides = json.loads(Path(path).read_text())
        merged = {
            "profiles": {name: limits.model_dump() for name, limits in DEFAULT_PROFILES.items()},
            "market": MarketStateConfig().model_dump(),
            "candidates": CandidateRules().model_dump(),
        }
        return _deep_merge(_deep_merge(merged, overrides), data)

    def limits(self, profile: RiskProfile | None = None) -> RiskLimits:
        """The limits of `profile` (default: the configured risk_profile)."""
        name = profile or self.risk_profile
        if name not in RISK_PROFILES:
            raise InputError(f"risk profile: unknown {name!r}; expected one of {', '.join(RISK_PROFILES)}")
        return self.profiles[name]


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@cache
def settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
