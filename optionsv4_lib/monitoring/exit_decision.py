"""The exit decision, one for the monitor and the backtest: every stored exit rule checked against a strategy's
metrics (monitoring.marks.position_metrics), and the exit each strategy takes — its first rule hit, by exit_no.

Rules are the rows of strategies.exit_rules (kind, metric, comparison '≥' or '≤', threshold in the metric's unit,
leg_no for leg rules); adjustments carry no threshold and never exit.
"""

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import InputError

METRICS = ("pnl", "abs_delta", "gamma", "abs_vega", "dte")
"""Strategy metrics a rule may test; leg_abs_delta tests one leg's |delta|."""


def exit_hits(conditions: pd.DataFrame, metrics: pd.DataFrame, marked: pd.DataFrame) -> pd.DataFrame:
    """Every rule row (strategy_id, exit_no, kind, metric, comparison, threshold, leg_no, action) with `observed`
    and `hit`; adjustments (no threshold) are left out. A rule whose metric is unknown (unpriced) never hits."""
    rules = conditions[conditions["kind"] != "adjustment"].copy()
    per_strategy = metrics.set_index("strategy_id")
    observed = np.full(len(rules), np.nan)
    for metric in METRICS:
        chosen = (rules["metric"] == metric).to_numpy()
        observed[chosen] = per_strategy[metric].reindex(rules.loc[chosen, "strategy_id"]).to_numpy(dtype=float)
    legs = (rules["metric"] == "leg_abs_delta").to_numpy()
    leg_delta = marked.set_index(["strategy_id", "leg_no"])["delta"].abs()
    keys = pd.MultiIndex.from_arrays([rules.loc[legs, "strategy_id"], rules.loc[legs, "leg_no"].astype(int)])
    observed[legs] = leg_delta.reindex(keys).to_numpy(dtype=float)
    unknown = set(rules["metric"]) - {*METRICS, "leg_abs_delta"}
    if unknown:
        raise InputError(f"conditions: unknown metrics {sorted(unknown)}")
    threshold = rules["threshold"].to_numpy(dtype=float)
    at_least = (rules["comparison"] == "≥").to_numpy()
    with np.errstate(invalid="ignore"):
        hit = np.where(at_least, observed >= threshold, observed <= threshold) & ~np.isnan(observed)
    return rules.assign(observed=observed, hit=hit).reset_index(drop=True)


def first_exits(hits: pd.DataFrame) -> pd.DataFrame:
    """The exit each strategy takes among `hits` (exit_hits rows): its first hit rule by exit_no. Indexed by
    strategy_id: kind, exit_no and rule — the text the monitor logs and the backtest reports, e.g.
    'profit_target (pnl 70000 ≥ 65062.5)'."""
    first = hits[hits["hit"]].sort_values(["strategy_id", "exit_no"]).drop_duplicates("strategy_id")
    rule = [f"{h.kind} ({h.metric} {h.observed:g} {h.comparison} {h.threshold:g})" for h in first.itertuples()]
    return first.set_index("strategy_id")[["kind", "exit_no"]].assign(rule=pd.Series(rule, index=first["strategy_id"],
                                                                                        dtype=object))
