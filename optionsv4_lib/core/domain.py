"""Domain vocabulary as named types, and the one place where user spellings are normalised."""

from typing import Literal

import numpy as np

from optionsv4_lib.core.errors import InputError

OptionType = Literal["CE", "PE"]
Instrument = Literal["CE", "PE", "STK"]
Side = Literal["BUY", "SELL"]
Family = Literal["directional", "neutral", "volatility", "income", "advanced"]
RiskType = Literal["defined", "undefined"]
RiskProfile = Literal["conservative", "moderate", "aggressive"]
PositionType = Literal["LONG", "SHORT", "NEUTRAL"]  # an industry's allocation stance

FAMILIES: tuple[Family, ...] = ("directional", "neutral", "volatility", "income", "advanced")
RISK_PROFILES: tuple[RiskProfile, ...] = ("conservative", "moderate", "aggressive")

_OPTION_TYPE_ALIASES = {"CE": "CE", "C": "CE", "CALL": "CE", "PE": "PE", "P": "PE", "PUT": "PE"}


def normalize_option_type(value: str, field: str = "option_type") -> OptionType:
    """'CE'/'PE' (also 'call'/'put', 'c'/'p', any case) → 'CE'/'PE'."""
    key = str(value).strip().upper()
    if key not in _OPTION_TYPE_ALIASES:
        raise InputError(f"{field}: unknown option type {value!r}; expected 'CE' or 'PE' ('call'/'put' accepted)")
    return _OPTION_TYPE_ALIASES[key]  # type: ignore[return-value]


def call_mask(option_type, field: str = "option_type") -> np.ndarray:
    """True where option_type is a call. Accepts a scalar or an array of spellings, or booleans (True = call)."""
    values = np.asarray(option_type)
    if values.dtype == bool:
        return values
    if values.ndim == 0:
        return np.asarray(normalize_option_type(values.item(), field) == "CE")
    is_call, is_put = values == "CE", values == "PE"
    if np.all(is_call | is_put):  # fast path: canonical spellings only
        return is_call
    spellings, inverse = np.unique(values.astype(str), return_inverse=True)
    flags = np.array([normalize_option_type(s, field) == "CE" for s in spellings])
    return flags[inverse].reshape(values.shape)


def normalize_side(value: str, field: str = "side") -> Side:
    """'BUY'/'SELL' (any case) → 'BUY'/'SELL'."""
    key = str(value).strip().upper()
    if key not in ("BUY", "SELL"):
        raise InputError(f"{field}: unknown side {value!r}; expected 'BUY' or 'SELL'")
    return key  # type: ignore[return-value]
