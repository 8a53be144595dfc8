"""Settings: environment and `.env` (prefix OPTIONSV4_), risk profiles, capital, thresholds — in one place.

Every field can be set as OPTIONSV4_<FIELD> (e.g. OPTIONSV4_CAPITAL=50000000); the old system's names keep
working (DHAN_CLIENT_ID, DHAN_ACCESS_TOKEN, SUPABASE_DB_URL). Risk profiles and the other nested models can be
replaced whole from a JSON file named by OPTIONSV4_CONFIG_FILE (keys as the field names below), e.g.
{"profiles": {"moderate": {"min_pop": 0.55}}} — nested keys merge over the defaults; an unknown key is refused.
Secrets are SecretStr: they never print. An invalid setting raises InputError naming it (load_settings), never
showing a secret's value.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from optionsv4_lib.analysis.limits import DEFAULT_PROFILES, AnalysisSettings
from optionsv4_lib.analysis.market_state import MarketStateConfig
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.core.paths import PROJECT_DIR
from optionsv4_lib.marketdata.spread_model import SpreadModel
from optionsv4_lib.strategies.candidates import CandidateRules


class Settings(BaseSettings, AnalysisSettings):
    """Run-time settings: AnalysisSettings plus environment, paths, database and broker. Money in ₹, rates as
    decimals, paths relative to the working directory."""

    model_config = SettingsConfigDict(env_prefix="OPTIONSV4_", env_file=".env", extra="ignore", populate_by_name=True)

    seed: int = Field(42, description="seed of the synthetic market")
    data_dir: Path = Path("data")
    results_dir: Path = Path("results")
    logs_dir: Path = Path("logs")
    span_dir: Path | None = Field(None, description="NSE SPAN risk-parameter files (nsccl.YYYYMMDD.*.spn): a file "
                                  "for the day supplies the real risk arrays to the margin (default: <data_dir>/span)")
    embedded_dir: Path = Field(PROJECT_DIR / ".optionsv4", description="the embedded PostgreSQL's home (project-local)")
    database_url: SecretStr | None = Field(None, validation_alias=AliasChoices("OPTIONSV4_DATABASE_URL", "SUPABASE_DB_URL"))
    dhan_client_id: str | None = Field(None, validation_alias=AliasChoices("OPTIONSV4_DHAN_CLIENT_ID", "DHAN_CLIENT_ID"))
    dhan_access_token: SecretStr | None = Field(None, validation_alias=AliasChoices("OPTIONSV4_DHAN_ACCESS_TOKEN", "DHAN_ACCESS_TOKEN"))
    dhan_pin: SecretStr | None = Field(None, description="Dhan login PIN, to renew the access token by TOTP")
    dhan_totp_secret: SecretStr | None = Field(None, description="the base32 TOTP secret of the Dhan account (set up "
                                               "for API access), to renew the access token unattended")
    dhan_auth_url: str = Field("https://auth.dhan.co", description="Dhan's auth host (token generation)")
    dhan_base_url: str = "https://api.dhan.co/v2"
    dhan_chain_interval: float = Field(3.0, ge=0, description="seconds between option-chain requests (Dhan: 1 per 3 s)")
    live_trading: bool = Field(False, description="OPTIONSV4_LIVE_TRADING=1 is one of the two keys to live orders")
    config_file: Path | None = Field(None, description="JSON file whose keys override the nested models below")
    spread_model: SpreadModel = Field(default_factory=SpreadModel, description="the modelled touch around end-of-day "
                                      "prices (bhavcopy source)")
    nse_archive_url: str = Field("https://nsearchives.nseindia.com/content", description="NSE's archive base URL "
                                 "(`optionsv4 data fetch-bhavcopy`)")

    @field_validator("live_trading", mode="before")
    @classmethod
    def _documented_flag(cls, value: Any) -> Any:
        """Exactly what the README documents: 1 arms live trading, 0 or empty is off (true/yes/on are refused)."""
        if not isinstance(value, str):
            return value
        if value not in ("1", "0", ""):
            raise ValueError("expected 1 (live trading armed), or 0 or empty (off)")
        return value == "1"

    @model_validator(mode="after")
    def _span_dir_under_data_dir(self) -> "Settings":
        if self.span_dir is None:
            self.span_dir = self.data_dir / "span"
        return self

    @model_validator(mode="before")
    @classmethod
    def _merge_config_file(cls, data: Any) -> Any:
        path = data.get("config_file") if isinstance(data, dict) else None
        if not path:
            return data
        overrides = _read_config_file(Path(path), sorted(set(cls.model_fields) - {"config_file"}))
        merged = {
            "profiles": {name: limits.model_dump() for name, limits in DEFAULT_PROFILES.items()},
            "market": MarketStateConfig().model_dump(),
            "candidates": CandidateRules().model_dump(),
            "spread_model": SpreadModel().model_dump(),
        }
        return _deep_merge(_deep_merge(merged, overrides), data)


def _read_config_file(path: Path, keys: list[str]) -> dict:
    """The JSON object in `path`; ValueError naming OPTIONSV4_CONFIG_FILE when it is missing, not JSON, not an
    object, or has a key outside `keys`."""
    where = f"OPTIONSV4_CONFIG_FILE {path}"
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{where}: not JSON ({exc})") from None
    if not isinstance(overrides, dict):  # a ValueError, which pydantic reports as a validation error
        raise ValueError(f"{where}: expected a JSON object of settings, got {type(overrides).__name__}")  # noqa: TRY004
    unknown = sorted(set(overrides) - set(keys))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: {', '.join(keys)}")
    return overrides


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


_UNSHOWN = ("database_url", "dhan_client_id", "dhan_access_token", "dhan_pin", "dhan_totp_secret")  # values never put in a message
_NESTED = ("profiles", "market", "candidates", "spread_model")  # set as JSON, usually in OPTIONSV4_CONFIG_FILE


def load_settings(**values: Any) -> Settings:
    """Settings from the environment, `.env` and OPTIONSV4_CONFIG_FILE, with `values` over them. Raises InputError
    naming each invalid setting by its variable (and its value, unless a secret's) on one line."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise InputError("; ".join(_describe(error) for error in exc.errors())) from None
    except SettingsError as exc:  # a JSON-valued variable that is not JSON
        raise InputError(f"setting: {exc}") from None


def _describe(error: dict) -> str:
    """One pydantic error as 'setting OPTIONSV4_CAPITAL: Input should be greater than 0 (got '-5')'."""
    reason = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
    if not error["loc"]:
        return reason  # the config file's own message names it
    field, *inner = error["loc"]
    alias = Settings.model_fields[field].validation_alias if field in Settings.model_fields else None
    name = alias.choices[0] if isinstance(alias, AliasChoices) else f"OPTIONSV4_{str(field).upper()}"
    if field in _NESTED:
        name = f"{'.'.join(map(str, error['loc']))} (OPTIONSV4_CONFIG_FILE or {name})"
    shown = field not in _UNSHOWN and not inner and isinstance(error.get("input"), str)
    return f"setting {name}: {reason}" + (f" (got {error['input']!r})" if shown else "")


@cache
def settings() -> Settings:
    """The process-wide settings, read once from the environment (load_settings; InputError when invalid)."""
    return load_settings()
