"""Exit rules for candidate strategies, as machine-checkable rows a monitor can evaluate.

One `ExitPolicy` per (risk profile, family) holds the parameters; `exit_conditions` turns them into long-format
rows per candidate: a `kind`, the `metric` measured, a `comparison` ("≥"/"≤"), a numeric `threshold` and its
`unit`, the `action` to take when the condition holds, and a one-sentence `description` with the numbers.

Premium basis: the credit received (net_premium > 0) or the debit paid (net_premium < 0), ₹ for the whole
position; stock legs count, as they do in net_premium. A costless position (net_premium = 0) uses its capital
at risk instead and follows the debit rules.

- profit_target: pnl ≥ profit_target_credit × max_profit for a credit with a finite max profit; otherwise
  pnl ≥ profit_target_debit × basis (a % gain), capped at max_profit.
- stop_loss: pnl ≤ −stop_loss_credit × credit, or −stop_loss_debit × debit; never beyond a finite max_loss.
- time_exit: dte ≤ time_exit_dte, or half the days left at entry when that is sooner (a position entered with
  less than twice the policy's DTE would otherwise be closed on day one).
- short_delta: for each SELL option leg, |delta| ≥ short_delta, or its entry |delta| + SHORT_DELTA_STEP if
  that is higher (legs sold near the money).
- position greeks, as ₹ sensitivities over the premium basis, so they scale with position size and are
  comparable across underlyings: position_delta limits the ₹ P&L of a 1 % move in the underlying
  (|Δ| · 0.01·spot); position_gamma limits the second-order loss of a 1 % move, ½·|Γ|·(0.01·spot)², for short
  gamma only (long gamma gains from moves); position_vega limits the ₹ P&L of one volatility point (|vega|).
  The rows carry the raw position greek at the entry spot, raised to ENTRY_HEADROOM × the entry value when a
  position starts beyond its limit, so no greek rule fires at entry.
- adjustment: suggestions (threshold NaN) that apply when an "adjust" rule fires, filtered to the position's
  shape (e.g. adding a wing only to undefined-risk shorts).
"""

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from optionsv4_lib.core.domain import FAMILIES, RISK_PROFILES, Family, RiskProfile, normalize_side
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.core.frames import require_columns
from optionsv4_lib.core.text import money_indian, number_indian, percent

ExitKind = Literal["profit_target", "stop_loss", "time_exit", "short_delta", "position_delta", "position_gamma",
                   "position_vega", "adjustment"]
KINDS: tuple[ExitKind, ...] = ("profit_target", "stop_loss", "time_exit", "short_delta", "position_delta",
                               "position_gamma", "position_vega", "adjustment")
Adjustment = Literal["roll_untested_side", "roll_tested_side", "convert_to_iron_fly", "add_protective_wing",
                     "convert_to_spread", "close_winning_side"]
ADJUSTMENTS: dict[Adjustment, str] = {
    "roll_untested_side": "Roll the untested side toward the money to re-centre the position and collect more "
                          "premium.",
    "roll_tested_side": "Roll the tested short strike out in time and away from the money for a net credit.",
    "convert_to_iron_fly": "Roll the untested short strike to the tested one, turning the position into an iron "
                           "fly.",
    "add_protective_wing": "Buy an option beyond the tested short strike to cap the loss (convert to a spread).",
    "convert_to_spread": "Sell a further out-of-the-money option against the winning long option to lock in part "
                         "of the gain.",
    "close_winning_side": "Close the side that has gained and keep the other side for a reversal.",
}
COLUMNS = ("candidate_id", "kind", "metric", "comparison", "threshold", "unit", "leg_no", "action", "description")

MOVE = 0.01  # the underlying move the position-greek limits are stated for: 1 %
ENTRY_HEADROOM = 1.5  # a greek already beyond its limit at entry may grow to this multiple of its entry value
SHORT_DELTA_STEP = 0.10  # a short leg sold at |delta| ≥ the limit may gain this much |delta| before adjusting
SHORT_DATED_FRACTION = 0.5  # time exit at most this share of the days left at entry


class ExitPolicy(BaseModel):
    """Exit parameters for one (risk profile, family) pair; fractions are decimals (0.5 = 50 %)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profit_target_credit: float = Field(gt=0, le=1, description="share of max profit captured (credit)")
    profit_target_debit: float = Field(gt=0, description="gain as a share of the debit paid (1.0 = +100 %)")
    stop_loss_credit: float = Field(gt=0, le=2, description="loss as a multiple of the credit received")
    stop_loss_debit: float = Field(gt=0, le=1, description="loss as a share of the debit paid")
    time_exit_dte: int = Field(ge=0, description="close at this many calendar days to expiry")
    short_delta: float = Field(gt=0, lt=1, description="|delta| per unit of a short option leg")
    position_delta: float | None = Field(gt=0, description="₹ P&L of a 1 % move / premium basis; None = no rule")
    position_gamma: float | None = Field(gt=0, description="½·Γ·(1 % move)² loss / premium basis; None = no rule")
    position_vega: float | None = Field(gt=0, description="₹ P&L per vol point / premium basis; None = no rule")
    adjustments: tuple[Adjustment, ...] = Field(description="suggestions, in order of preference")


_POLICY_FIELDS = tuple(ExitPolicy.model_fields)
_C, _M, _A = RISK_PROFILES
_TABLE: dict[tuple[RiskProfile, Family], tuple] = {
    #                     profit target  stop loss    time  short  position limits   adjustments,
    #                      credit debit  credit debit  DTE  delta  delta gamma vega    preferred first
    (_C, "directional"):  (0.40, 0.40,  1.0, 0.35,  14, 0.30,  None, 0.10, 0.15, ("convert_to_spread",)),
    (_M, "directional"):  (0.50, 0.60,  1.5, 0.50,  10, 0.35,  None, 0.15, 0.20, ("convert_to_spread",
                                                                                  "roll_tested_side")),
    (_A, "directional"):  (0.65, 1.00,  2.0, 0.65,   7, 0.40,  None, 0.20, 0.25, ("roll_tested_side",
                                                                                  "convert_to_spread")),
    (_C, "neutral"):      (0.25, 0.25,  1.0, 0.35,  21, 0.30,  0.15, 0.08, 0.15, ("roll_untested_side",
                                                                                  "add_protective_wing")),
    (_M, "neutral"):      (0.50, 0.40,  1.5, 0.50,  21, 0.35,  0.20, 0.10, 0.20, ("roll_untested_side",
                                                                                  "roll_tested_side",
                                                                                  "add_protective_wing")),
    (_A, "neutral"):      (0.75, 0.60,  2.0, 0.65,  14, 0.40,  0.30, 0.15, 0.25, ("roll_untested_side",
                                                                                  "roll_tested_side",
                                                                                  "convert_to_iron_fly")),
    (_C, "volatility"):   (0.25, 0.25,  1.0, 0.25,  21, 0.30,  0.25, 0.08, 0.15, ("close_winning_side",)),
    (_M, "volatility"):   (0.50, 0.40,  1.5, 0.35,  21, 0.35,  0.35, 0.10, 0.20, ("close_winning_side",
                                                                                  "convert_to_spread")),
    (_A, "volatility"):   (0.75, 0.60,  2.0, 0.50,  21, 0.40,  0.50, 0.15, 0.25, ("close_winning_side",
                                                                                  "roll_untested_side")),
    (_C, "income"):       (0.35, 0.20,  1.0, 0.25,  21, 0.30,  0.15, 0.08, 0.15, ("roll_tested_side",)),
    (_M, "income"):       (0.50, 0.30,  1.5, 0.35,  21, 0.35,  0.20, 0.10, 0.20, ("roll_tested_side",
                                                                                  "roll_untested_side")),
    (_A, "income"):       (0.65, 0.40,  2.0, 0.50,  14, 0.40,  0.30, 0.15, 0.25, ("roll_tested_side",
                                                                                  "roll_untested_side")),
    (_C, "advanced"):     (0.35, 0.40,  1.0, 0.35,  21, 0.30,  0.20, 0.10, 0.15, ("add_protective_wing",
                                                                                  "roll_tested_side")),
    (_M, "advanced"):     (0.50, 0.60,  1.5, 0.50,  14, 0.35,  0.25, 0.12, 0.20, ("roll_tested_side",
                                                                                  "add_protective_wing")),
    (_A, "advanced"):     (0.65, 0.80,  2.0, 0.65,  10, 0.40,  0.35, 0.15, 0.25, ("roll_tested_side",
                                                                                  "roll_untested_side")),
}
EXIT_POLICIES: dict[tuple[RiskProfile, Family], ExitPolicy] = {
    key: ExitPolicy(**dict(zip(_POLICY_FIELDS, row, strict=True))) for key, row in _TABLE.items()}

_CANDIDATE_COLUMNS = ("candidate_id", "family", "risk_type", "net_premium", "max_profit", "max_loss",
                      "capital_at_risk", "dte_days", "delta", "gamma", "vega", "spot")
_LEG_COLUMNS = ("candidate_id", "leg_no", "instrument", "side", "strike", "delta")


# ---------------------------------------------------------------- the entry point


def exit_conditions(candidates: pd.DataFrame, legs: pd.DataFrame, risk_profile: RiskProfile,
                    policies: Mapping[tuple[RiskProfile, Family], ExitPolicy] = EXIT_POLICIES) -> pd.DataFrame:
    """Exit rules for every candidate under risk_profile, one row per rule (columns COLUMNS).

    Rows come in candidate order, then in KINDS order (short-delta rows by leg_no, adjustments by preference).
    Thresholds: pnl in ₹ for the whole position, dte in calendar days, leg |delta| per unit, position delta in
    ₹/₹, gamma in ₹/₹², vega in ₹ per vol point; NaN only for adjustment rows.
    """
    profile = _risk_profile(risk_profile)
    table = _candidate_table(candidates)
    leg_table = _leg_table(legs, table["candidate_id"])
    params = _policy_columns(table["family"], profile, policies)
    shape = _shape(leg_table, len(table))
    table = table.assign(basis=np.where(table["net_premium"] != 0, table["net_premium"].abs(),
                                        table["capital_at_risk"]),
                         basis_label=np.select([table["net_premium"] > 0, table["net_premium"] < 0],
                                               ["credit received", "debit paid"], "capital at risk"))
    parts = [_profit_target(table, params), _stop_loss(table, params), _time_exit(table, params),
             _short_delta(table, params, leg_table), *_position_greeks(table, params, shape),
             _adjustments(table, profile, policies, shape)]
    rows = pd.concat([part for part in parts if len(part)], ignore_index=True)
    kind_rank = rows["kind"].map({kind: rank for rank, kind in enumerate(KINDS)}).to_numpy()
    order = np.lexsort((rows.pop("_within").to_numpy(), kind_rank, rows.pop("_row").to_numpy()))
    rows = rows.iloc[order].reset_index(drop=True)
    rows["leg_no"] = rows["leg_no"].astype("Int64")
    for column in ("kind", "metric", "comparison", "unit", "action", "description"):
        rows[column] = rows[column].astype("str")
    return rows[list(COLUMNS)]


# ---------------------------------------------------------------- rules


def _rows(table: pd.DataFrame, kind: ExitKind, metric: str, comparison: str, threshold, unit: str, action: str,
          description: pd.Series, leg_no=np.nan, within=0) -> pd.DataFrame:
    """One rule row per row of table (which has candidate_id and row, the candidate's position); _row and
    _within order the rows."""
    return pd.DataFrame({"candidate_id": table["candidate_id"].to_numpy(), "kind": kind, "metric": metric,
                         "comparison": comparison, "threshold": np.asarray(threshold, dtype=float), "unit": unit,
                         "leg_no": leg_no, "action": action, "description": description.to_numpy(),
                         "_row": table["row"].to_numpy(), "_within": within})


def _profit_target(table: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    max_profit, basis = table["max_profit"].to_numpy(), table["basis"].to_numpy()
    of_max_profit = (table["net_premium"] > 0).to_numpy() & np.isfinite(max_profit)
    gain = params["profit_target_debit"].to_numpy() * basis
    target = np.where(of_max_profit, params["profit_target_credit"].to_numpy() * max_profit,
                      np.minimum(gain, max_profit))
    share = pd.Series(np.where(of_max_profit, params["profit_target_credit"], params["profit_target_debit"]))
    reason = pd.Series(np.where(of_max_profit, share.map(percent) + " of the " + money_indian(max_profit) + " maximum profit",
                                "a " + share.map(percent) + " gain on the " + money_indian(basis) + " " + table["basis_label"]))
    cap = pd.Series(np.where(~of_max_profit & (gain > max_profit), ", capped at the maximum profit", ""))
    description = "Take profit when P&L ≥ " + money_indian(target) + ": " + reason + cap + "."
    return _rows(table, "profit_target", "pnl", "≥", target, "₹", "close", description)


def _stop_loss(table: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    credit = (table["net_premium"] > 0).to_numpy()
    factor = pd.Series(np.where(credit, params["stop_loss_credit"], params["stop_loss_debit"]))
    uncapped = -factor.to_numpy() * table["basis"].to_numpy()
    max_loss = table["max_loss"].to_numpy()
    stop = np.maximum(uncapped, max_loss)
    size = pd.Series(np.where(credit, factor.map("{:g}×".format), factor.map(percent) + " of"))
    cap = pd.Series(np.where(uncapped < max_loss, ", capped at the " + money_indian(-max_loss) + " maximum loss", ""))
    description = ("Stop out when P&L ≤ " + money_indian(stop) + ": " + size + " the " + money_indian(table["basis"]) + " "
                   + table["basis_label"] + cap + ".")
    return _rows(table, "stop_loss", "pnl", "≤", stop, "₹", "close", description)


def _time_exit(table: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    entry_dte, policy_dte = table["dte_days"], params["time_exit_dte"]
    short_dated = np.floor(SHORT_DATED_FRACTION * entry_dte)
    exit_dte = np.minimum(policy_dte, short_dated)
    reason = pd.Series(np.where(short_dated < policy_dte, f" ({percent(SHORT_DATED_FRACTION)} of the "
                                + entry_dte.map("{:.0f}".format) + " days left at entry, sooner than the policy's "
                                + policy_dte.map("{:.0f}".format) + ")", ""))
    description = "Close the position at " + exit_dte.map("{:.0f}".format) + " days to expiry or fewer" + reason + "."
    return _rows(table, "time_exit", "dte", "≤", exit_dte, "days", "close", description)


def _short_delta(table: pd.DataFrame, params: pd.DataFrame, legs: pd.DataFrame) -> pd.DataFrame:
    short = legs[(legs["side"] == "SELL") & (legs["instrument"] != "STK")].reset_index(drop=True)
    if short.empty:
        return pd.DataFrame()
    limit = params["short_delta"].to_numpy()[short["row"].to_numpy()]
    entry = short["delta"].abs().to_numpy()
    threshold = np.minimum(np.maximum(limit, entry + SHORT_DELTA_STEP), 1.0)
    description = ("Short " + short["instrument"] + " " + short["strike"].map(number_indian) + " (leg "
                   + short["leg_no"].map("{:.0f}".format) + "): adjust when its |delta| ≥ "
                   + pd.Series(threshold).map("{:.2f}".format) + " (" + pd.Series(entry).map("{:.2f}".format)
                   + " at entry).")
    return _rows(short, "short_delta", "leg_abs_delta", "≥", threshold, "₹/₹", "adjust", description,
                 leg_no=short["leg_no"].to_numpy(), within=short["leg_no"].to_numpy())


def _position_greeks(table: pd.DataFrame, params: pd.DataFrame, shape: pd.DataFrame) -> list[pd.DataFrame]:
    """position_delta, position_gamma and position_vega rows where the policy sets a limit (gamma: short options
    only, since a position without them cannot be short gamma)."""
    parts = []
    for kind in ("position_delta", "position_gamma", "position_vega"):
        has_rule = params[kind].notna().to_numpy() & (kind != "position_gamma" or shape["short"].to_numpy())
        if has_rule.any():
            parts.append(_greek_rule(kind, table[has_rule].reset_index(drop=True),
                                     params.loc[has_rule, kind].to_numpy()))
    return parts


def _greek_rule(kind: ExitKind, rows: pd.DataFrame, share: np.ndarray) -> pd.DataFrame:
    """One position-greek rule: the greek whose ₹ effect is share × basis, or ENTRY_HEADROOM × its entry value."""
    move, basis = MOVE * rows["spot"].to_numpy(), rows["basis"].to_numpy()
    move_text = f"a {percent(MOVE)} move (" + money_indian(move) + ")"
    if kind == "position_delta":  # |Δ| · move = share × basis
        limit, entry = share * basis / move, rows["delta"].abs().to_numpy()
        size = np.maximum(limit, ENTRY_HEADROOM * entry)
        rule = ("Adjust if position |delta| ≥ " + _greek(size) + ": " + move_text + " would then make or lose "
                + money_indian(size * move))
        metric, comparison, unit, threshold = "abs_delta", "≥", "₹/₹", size
    elif kind == "position_gamma":  # ½ · |Γ| · move² = share × basis, short gamma only
        limit, entry = 2 * share * basis / move**2, np.maximum(-rows["gamma"].to_numpy(), 0.0)
        size = np.maximum(limit, ENTRY_HEADROOM * entry)
        rule = ("Adjust if position gamma ≤ -" + _greek(size) + ": " + move_text + " would then lose "
                + money_indian(0.5 * size * move**2) + " more through gamma")
        metric, comparison, unit, threshold = "gamma", "≤", "₹/₹²", -size
    else:  # |vega| = share × basis
        limit, entry = share * basis, rows["vega"].abs().to_numpy()
        size = np.maximum(limit, ENTRY_HEADROOM * entry)
        rule = "Adjust if position |vega| ≥ " + money_indian(size) + " per vol point"
        metric, comparison, unit, threshold = "abs_vega", "≥", "₹/vol pt", size
    budget = pd.Series(share).map(percent) + " of the " + money_indian(basis) + " " + rows["basis_label"]
    reason = pd.Series(np.where(ENTRY_HEADROOM * entry > limit,
                                f", {ENTRY_HEADROOM:g}× its entry value, which was already beyond " + budget,
                                ", " + budget))
    return _rows(rows, kind, metric, comparison, threshold, unit, "adjust", rule + reason + ".")


def _shape(legs: pd.DataFrame, count: int) -> pd.DataFrame:
    """Per candidate (row position): does it have short options, long options, calls, puts, short calls/puts."""
    option, sell = legs["instrument"] != "STK", legs["side"] == "SELL"
    call, put = legs["instrument"] == "CE", legs["instrument"] == "PE"
    flags = pd.DataFrame({"short": option & sell, "long": option & ~sell, "call": call, "put": put,
                          "short_call": call & sell, "short_put": put & sell})
    return flags.groupby(legs["row"]).any().reindex(range(count), fill_value=False)


def _adjustments(table: pd.DataFrame, profile: RiskProfile,
                 policies: Mapping[tuple[RiskProfile, Family], ExitPolicy], shape: pd.DataFrame) -> pd.DataFrame:
    """Suggested adjustments from each candidate's policy, kept where they fit the position's shape."""
    fits: dict[Adjustment, pd.Series] = {
        "roll_untested_side": shape["call"] & shape["put"],
        "roll_tested_side": shape["short"],
        "convert_to_iron_fly": shape["short_call"] & shape["short_put"],
        "add_protective_wing": shape["short"] & (table["risk_type"] == "undefined"),
        "convert_to_spread": shape["long"] & (table["net_premium"] < 0),
        "close_winning_side": shape["call"] & shape["put"],
    }
    parts = []
    for family in table["family"].unique():
        for rank, action in enumerate(policies[(profile, family)].adjustments):
            chosen = table[(table["family"] == family) & fits[action]]
            if chosen.empty:
                continue
            parts.append(_rows(chosen, "adjustment", pd.NA, pd.NA, np.full(len(chosen), np.nan), pd.NA, action,
                               pd.Series(ADJUSTMENTS[action]).repeat(len(chosen)), within=rank))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# ---------------------------------------------------------------- formatting


def _greek(values: np.ndarray) -> pd.Series:
    """Greek sizes to 4 significant digits."""
    return pd.Series(values).map("{:.4g}".format)


# ---------------------------------------------------------------- inputs


def _risk_profile(value) -> RiskProfile:
    key = str(value).strip().lower()
    if key not in RISK_PROFILES:
        raise InputError(f"risk_profile: unknown risk profile {value!r}; expected one of {list(RISK_PROFILES)}")
    return key  # type: ignore[return-value]


def _require(frame, name: str, columns: tuple[str, ...]) -> None:
    require_columns(frame, columns, name)
    if frame.empty:
        raise InputError(f"{name}: empty")


def _numbers(frame: pd.DataFrame, name: str, column: str, ids: pd.Series) -> np.ndarray:
    """A numeric column as float64; NaN anywhere is an error naming the field and the candidates."""
    try:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}.{column}: expected numbers") from exc
    _check(np.isnan(values), f"{name}.{column}: NaN", ids)
    return values


def _check(bad: np.ndarray, message: str, ids: pd.Series) -> None:
    if np.any(bad):
        raise InputError(f"{message} (candidate_id {list(ids[bad].unique()[:5])})")


def _labels(frame: pd.DataFrame, name: str, column: str, allowed: tuple[str, ...], ids: pd.Series) -> pd.Series:
    labels = frame[column].astype(str).str.strip().str.lower()
    _check(~labels.isin(allowed).to_numpy(), f"{name}.{column}: expected one of {list(allowed)}", ids)
    return labels


def _candidate_table(candidates) -> pd.DataFrame:
    """The candidate columns used here, checked, with RangeIndex and canonical labels."""
    _require(candidates, "candidates", _CANDIDATE_COLUMNS)
    ids = candidates["candidate_id"].reset_index(drop=True)
    if ids.isna().any():
        raise InputError("candidates.candidate_id: missing values")
    if ids.duplicated().any():
        raise InputError(f"candidates.candidate_id: duplicates {list(ids[ids.duplicated()].unique()[:5])}")
    frame = candidates.reset_index(drop=True)
    table = pd.DataFrame({"row": np.arange(len(ids)), "candidate_id": ids,
                          "family": _labels(frame, "candidates", "family", FAMILIES, ids),
                          "risk_type": _labels(frame, "candidates", "risk_type", ("defined", "undefined"), ids)})
    for column in _CANDIDATE_COLUMNS[3:]:
        table[column] = _numbers(frame, "candidates", column, ids)
    for column in ("net_premium", "capital_at_risk", "dte_days", "delta", "gamma", "vega", "spot"):
        _check(~np.isfinite(table[column].to_numpy()), f"candidates.{column}: must be finite", ids)
    _check((table["max_profit"] <= 0).to_numpy(), "candidates.max_profit: must be > 0 (+inf allowed)", ids)
    _check((table["max_loss"] >= 0).to_numpy(), "candidates.max_loss: must be < 0 (-inf allowed)", ids)
    _check(((table["risk_type"] == "defined") & np.isinf(table["max_loss"])).to_numpy(),
           "candidates.max_loss: infinite for a defined-risk candidate", ids)
    _check((table["capital_at_risk"] <= 0).to_numpy(), "candidates.capital_at_risk: must be > 0", ids)
    _check((table["spot"] <= 0).to_numpy(), "candidates.spot: must be > 0", ids)
    dte = table["dte_days"].to_numpy()
    _check((dte < 0) | (dte != np.floor(dte)), "candidates.dte_days: must be a whole number of days >= 0", ids)
    return table


def _leg_table(legs, candidate_ids: pd.Series) -> pd.DataFrame:
    """The leg columns used here, checked, with `row`: the position of the leg's candidate."""
    _require(legs, "legs", _LEG_COLUMNS)
    frame = legs.reset_index(drop=True)
    ids = frame["candidate_id"]
    row = ids.map(pd.Series(np.arange(len(candidate_ids)), index=candidate_ids.to_numpy()))
    _check(row.isna().to_numpy(), "legs.candidate_id: not among the candidates", ids)
    without_legs = ~candidate_ids.isin(ids)
    _check(without_legs.to_numpy(), "legs: no legs for a candidate", candidate_ids)
    instrument = frame["instrument"].astype(str).str.strip().str.upper()
    _check(~instrument.isin(("CE", "PE", "STK")).to_numpy(), "legs.instrument: expected 'CE', 'PE' or 'STK'", ids)
    sides = {spelling: normalize_side(spelling, "legs.side") for spelling in frame["side"].astype(str).unique()}
    table = pd.DataFrame({"row": row.astype(int), "candidate_id": ids, "instrument": instrument,
                          "side": frame["side"].astype(str).map(sides),
                          "leg_no": _numbers(frame, "legs", "leg_no", ids),
                          "strike": pd.to_numeric(frame["strike"], errors="coerce"),
                          "delta": _numbers(frame, "legs", "delta", ids)})
    _check(table.duplicated(["candidate_id", "leg_no"]).to_numpy(), "legs.leg_no: duplicated within a candidate",
           ids)
    leg_no = table["leg_no"].to_numpy()
    _check((leg_no < 0) | (leg_no != np.floor(leg_no)), "legs.leg_no: must be a whole number >= 0", ids)
    option = (table["instrument"] != "STK").to_numpy()
    _check(option & ~(table["strike"] > 0).to_numpy(), "legs.strike: must be > 0 for an option leg", ids)
    _check(~np.isfinite(table["delta"].to_numpy()), "legs.delta: must be finite", ids)
    return table


def _policy_columns(families: pd.Series, profile: RiskProfile,
                    policies: Mapping[tuple[RiskProfile, Family], ExitPolicy]) -> pd.DataFrame:
    """Each candidate's policy parameters (not the adjustments), one row per candidate; None limits → NaN."""
    fields = [field for field in _POLICY_FIELDS if field != "adjustments"]
    by_family = {}
    for family in families.unique():
        policy = policies.get((profile, family))
        if not isinstance(policy, ExitPolicy):
            raise InputError(f"policies: no ExitPolicy for ({profile!r}, {family!r})")
        by_family[family] = [np.nan if getattr(policy, field) is None else getattr(policy, field)
                             for field in fields]
    table = pd.DataFrame.from_dict(by_family, orient="index", columns=fields, dtype=float)
    return table.loc[families.to_numpy()].reset_index(drop=True)
