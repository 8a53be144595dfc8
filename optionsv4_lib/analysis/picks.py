"""Pick policies: which scored candidates of a symbol a run selects. The analysis selects by rank; a backtest runs
baselines beside it on the same days, valued, sized and exited the same way, to show whether the ranking earns more
than not ranking.

Policies, by name:
- "ranked": the analysis itself — the top_n best-scored eligible candidates (scoring.select_top).
- "random": one eligible candidate drawn uniformly at random, from a generator seeded by (seed, trade date, symbol),
  so a run gives the same draw whatever order or process its symbols are analyzed in.
- "family:<strategy>": the best-scored eligible candidate of that one catalog strategy (e.g. "family:Iron Condor"),
  none when the symbol has no eligible one.
Every policy picks among the same eligible rows; a baseline keeps `rank` = 1. When a run's sized strategies are
entered (`optionsv4 mark --top`, a backtest's top), "random" takes them in a random order (seeded by seed and
trade date), the others best score first.
"""

import zlib
from datetime import date

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.scoring import select_top
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.strategies.catalog import template

RANKED, RANDOM, FAMILY = "ranked", "random", "family:"
DEFAULT_BASELINE_FAMILIES = ("Short Strangle", "Iron Condor")


def baseline_policies(families: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The baselines of a backtest: "random", then "family:<strategy>" per family (catalog names, as the catalog
    spells them; each once). InputError naming an unknown strategy."""
    names: list[str] = []
    for family in families:
        try:
            name = template(family).name
        except KeyError as exc:
            raise InputError(f"baseline family: {exc.args[0]}") from None
        names += [] if name in names else [name]
    return (RANDOM, *(FAMILY + name for name in names))


def symbol_rng(seed: int, trade_date: date, symbol: str) -> np.random.Generator:
    """The random policy's generator for one symbol on one date."""
    return np.random.default_rng([seed, trade_date.toordinal(), zlib.crc32(symbol.encode())])


def pick(scored: pd.DataFrame, policy: str, top_n: int, *, shorts: pd.Series | None = None,
         rng: np.random.Generator | None = None) -> pd.DataFrame:
    """The rows of one symbol's scored table that `policy` selects, with `rank` (see the module docstring); rng is
    needed by "random" only."""
    if policy == RANKED:
        return select_top(scored, top_n, shorts=shorts)
    eligible = scored["eligible"].to_numpy(bool)
    if policy == RANDOM:
        if rng is None:
            raise InputError("pick: the random policy needs a generator")
        rows = np.flatnonzero(eligible)
        chosen = scored.iloc[rows[[rng.integers(len(rows))]] if len(rows) else rows]
    elif policy.startswith(FAMILY):
        same = scored["strategy"].to_numpy(object) == policy.removeprefix(FAMILY)
        chosen = select_top(scored.iloc[np.flatnonzero(eligible & same)], 1)
    else:
        raise InputError(f"pick policy: unknown {policy!r}; expected {RANKED}, {RANDOM} or {FAMILY}<strategy>")
    return chosen.assign(rank=np.ones(len(chosen), dtype="int64")).reset_index(drop=True)


def entry_order(strategies: pd.DataFrame, policy: str, seed: int, trade_date: date) -> pd.DataFrame:
    """The sized strategies of a run in the order `policy` enters them: best score first (ties by candidate_id),
    or — for "random" — shuffled by a generator seeded by (seed, trade date)."""
    ordered = strategies.sort_values(["score", "candidate_id"], ascending=[False, True])
    if policy != RANDOM:
        return ordered
    shuffle = np.random.default_rng([seed, trade_date.toordinal()]).permutation(len(ordered))
    return ordered.sort_values("candidate_id").iloc[shuffle]
