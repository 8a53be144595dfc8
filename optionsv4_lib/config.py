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

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from optionsv4_lib.analysis.limits import DEFAULT_PROFILES, AnalysisSettings
from optionsv4_lib.analysis.market_state import MarketStateConfig
from optionsv4_lib.core.paths import PROJECT_DIR
from optionsv4_lib.strategies.candidates import CandidateRules


class Settings(BaseSettings, AnalysisSettings):
    """Run-time settings: AnalysisSettings plus environment, paths, database and broker. Money in ₹, rates as
    decimals, paths relative to the working directory."""

    model_config = SettingsConfigDict(env_prefix="OPTIONSV4_", env_file=".env", extra="ignore", populate_by_name=True)

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


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@cache
def settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
