"""Industry-first capital allocation and sizing (the old system's industry_allocation_engine).

A desk sets weights in % of total capital in two tables: sectors (sector, weight_pct, as_of, note) and, within each
sector, industries (industry, sector, weight_pct, position_type LONG / SHORT / NEUTRAL, as_of, note). The bundled
include/data/sector_allocations.csv and industry_allocations.csv are a sample, not advice.

Budgets (₹): capital flows to industries by weight, industry_budget = capital × weight_pct / 100, and each
industry's budget is split equally among that industry's symbols in the run's universe, symbol_budget =
industry_budget / (number of its symbols in the universe given). Symbols of an industry without an allocation
get no budget (no row).

Sizing is greedy in score order: strategies are taken by descending score (ties by ascending candidate_id), and
each gets the most whole strategy lots that every limit allows after the strategies before it:
    lots = min(floor(room_c / need_c) over the limits c, max_lots)
with, all in ₹ and `capital` the total capital, the capital-at-risk limits (need = capital_at_risk per lot: |max
loss| for defined risk, the stress loss for undefined risk — never a loss at a price of 0)
    symbol_budget  = symbol_budget − capital already used on the symbol
    per_trade      = max_loss_per_trade × capital
    industry       = min(max_industry × capital, industry_budget) − capital already used in the industry
    total          = max_total × capital − capital already used in the portfolio
    strategy_share = max_strategy_share × max_total × capital − capital already used by the same strategy type
the funds limit (need = margin per lot, what a broker blocks)
    margin         = max_margin × capital − margin already blocked
and, when per-lot stress P&Ls are given, the book's stress limit: in every scenario s the book's P&L B_s plus
lots × p_s must stay ≥ −max_stress_loss × capital, so lots ≤ (B_s + max_stress_loss × capital) / −p_s where p_s < 0.
Margins add up strategy by strategy here, which overstates a book whose positions hedge each other (the book's own
margin is reported separately): conservative by construction.
A better-scored strategy is never cut to make room for a worse one; the result is predictable, not the optimum of
the knapsack problem. A strategy that cannot get one lot is kept with lots 0 and a skip_reason. With the equal split
an industry's budget is the sum of its symbols' budgets, so at industry level it is max_industry that binds; the
budget is still enforced, for budgets frames built otherwise. `sizable` applies the same limits to one lot on an
empty book, so that ranking can choose among candidates that can be traded at all.
"""

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.limits import RiskLimits
from optionsv4_lib.core.domain import PositionType
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.core.frames import require_columns
from optionsv4_lib.core.paths import DATA_DIR

log = logging.getLogger(__name__)

SECTOR_FILE = DATA_DIR / "sector_allocations.csv"
INDUSTRY_FILE = DATA_DIR / "industry_allocations.csv"

POSITION_TYPES: tuple[PositionType, ...] = get_args(PositionType)
WEIGHT_TOLERANCE = 1e-6  # percentage points allowed over a sum limit (rounding in hand-typed tables)
LISTED = 10  # problems, and rows of one problem, an error message lists; the rest are counted
_UNLIMITED = 10**9  # lots allowed by a limit that a strategy does not draw on

BindingLimit = Literal["symbol_budget", "per_trade", "industry", "total", "strategy_share", "margin", "stress",
                       "max_lots"]
"""The limit that stopped a strategy's lots; among equal rooms the first of this order is named."""

SECTOR_COLUMNS = ("sector", "weight_pct", "as_of", "note")
INDUSTRY_COLUMNS = ("industry", "sector", "weight_pct", "position_type", "as_of", "note")
BUDGET_COLUMNS = ("symbol", "sector", "industry", "position_type", "weight_pct", "industry_budget", "symbol_budget")
SELECTED_COLUMNS = ("candidate_id", "symbol", "strategy", "score", "capital_at_risk", "margin", "lot_size")
SIZED_COLUMNS = ("sector", "industry", "position_type", "lots", "quantity", "capital_used", "margin_used",
                 "budget_binding", "skip_reason")
INDUSTRY_SUMMARY_COLUMNS = ("industry", "sector", "position_type", "budget", "used", "utilisation", "n_strategies")


# ---------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Allocations:
    """Sector and industry weights, % of total capital; columns as SECTOR_COLUMNS and INDUSTRY_COLUMNS.

    Construction checks that the columns are there and every cell reads (text stripped, position_type upper-cased,
    weight_pct a number, as_of an ISO date; note may be empty) and raises InputError naming the table, row and field.
    Rows count from 1 (row 1 is line 2 of a CSV file). The weight rules are `validate_allocations`'.
    """

    sectors: pd.DataFrame
    industries: pd.DataFrame
    sector_table: str = "sector_allocations"
    industry_table: str = "industry_allocations"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sectors", _read_table(self.sectors, SECTOR_COLUMNS, self.sector_table, "sector"))
        object.__setattr__(self, "industries",
                           _read_table(self.industries, INDUSTRY_COLUMNS, self.industry_table, "industry"))


def load_allocations(sector_path: Path | str = SECTOR_FILE, industry_path: Path | str = INDUSTRY_FILE) -> Allocations:
    """Read the two allocation CSV files (defaults: the bundled sample). Raises InputError for unreadable files."""
    sector_path, industry_path = Path(sector_path), Path(industry_path)
    return Allocations(_read_csv(sector_path), _read_csv(industry_path), sector_path.name, industry_path.name)


def validate_allocations(alloc: Allocations, universe: pd.DataFrame) -> list[str]:
    """Check `alloc` against the weight rules and the universe; return the universe industries it leaves out.

    Rules: every weight_pct in 0–100; each table's weights sum to ≤ 100; no repeated sector or industry; position
    types LONG / SHORT / NEUTRAL; every industry's sector is in the sector table, and an industry's sector agrees
    with the universe's; the industries of a sector sum to ≤ the sector's weight; every sector and industry exists
    in the universe. Sums may exceed a limit by WEIGHT_TOLERANCE. Raises one InputError listing every broken rule,
    each naming the table, row(s) and field. Industries of the universe without a row get no budget: they are
    returned (sorted) and logged as a warning.
    """
    problems = _weight_problems(alloc)
    members = _universe(universe)[["sector", "industry"]].drop_duplicates()
    known_sectors = set(members["sector"])
    sectors_of = members.groupby("industry")["sector"].agg(set)
    for row in alloc.sectors.itertuples():
        if row.sector not in known_sectors:
            where = _where(alloc.sector_table, row.Index, "sector", row.sector)
            problems.append(f"{where}: sector not in the universe")
    for row in alloc.industries.itertuples():
        where = _where(alloc.industry_table, row.Index, "industry", row.industry)
        if row.industry not in sectors_of.index:
            problems.append(f"{where}: industry not in the universe")
        elif row.sector not in sectors_of[row.industry]:
            problems.append(f"{where}: sector {row.sector!r}, but the universe has the industry in "
                            f"{', '.join(repr(s) for s in sorted(sectors_of[row.industry]))}")
    _raise(problems)
    missing = sorted(set(sectors_of.index) - set(alloc.industries["industry"]))
    if missing:
        log.warning("no allocation (so no budget) for %d industries of the universe: %s", len(missing),
                    ", ".join(missing))
    return missing


# ---------------------------------------------------------------- budgets


def budgets(universe: pd.DataFrame, alloc: Allocations, capital: float) -> pd.DataFrame:
    """Per symbol (columns BUDGET_COLUMNS, universe order): its industry's weight, position type and budgets in ₹.

    industry_budget = capital × weight_pct / 100; symbol_budget = industry_budget split equally among the industry's
    symbols in `universe` (the run's universe, which may be a subset). Symbols whose industry has no allocation are
    left out. The weight rules are checked (not the universe ones: `universe` may be a subset; use
    validate_allocations against the full universe when importing tables).
    """
    _check_capital(capital)
    _raise(_weight_problems(alloc))
    plan = _universe(universe).merge(alloc.industries[["industry", "position_type", "weight_pct"]], on="industry",
                                     how="inner", validate="many_to_one")
    plan["industry_budget"] = capital * plan["weight_pct"] / 100
    plan["symbol_budget"] = plan["industry_budget"] / plan.groupby("industry")["symbol"].transform("size")
    return plan.loc[:, list(BUDGET_COLUMNS)]


# ---------------------------------------------------------------- sizing


def size_portfolio(selected: pd.DataFrame, budgets: pd.DataFrame, capital: float, limits: RiskLimits,
                   stress: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Size the chosen strategies in whole strategy lots, greedily by score (see the module docstring).

    selected: one row per strategy with at least SELECTED_COLUMNS; capital_at_risk (> 0) and margin (≥ 0) are ₹ per
    ONE strategy lot. budgets: the frame of `budgets()` (at least symbol, sector, industry, industry_budget,
    symbol_budget; position_type if known). capital: total capital, ₹. stress: (len(selected), S) ₹ P&L of one
    strategy lot in each stress scenario, rows as `selected`'s (None: no stress limit).

    Returns (sized, industries). sized: `selected`'s rows in processing order with its columns plus sector, industry
    and position_type (from `budgets`), lots (int ≥ 0), quantity (lots × lot_size, units), capital_used (lots ×
    capital_at_risk, ₹), margin_used (lots × margin, ₹), budget_binding (a BindingLimit: "max_lots" when lots
    reached the cap, otherwise the limit allowing the fewest lots) and skip_reason (for lots 0, else missing).
    industries: one row per industry of `budgets` (INDUSTRY_SUMMARY_COLUMNS): budget (industry_budget, ₹), used (₹),
    utilisation (used / budget, 0 for a zero budget) and n_strategies (strategies with lots ≥ 1). An empty selection
    gives empty sizes and zero use.
    """
    _check_capital(capital)
    table = _selected(selected)
    plan = _budget_plan(budgets)
    unknown = sorted(set(table["symbol"]) - set(plan.index))
    if unknown:
        raise InputError(f"selected.symbol: no budget row for {', '.join(map(repr, unknown))}")
    stress = _stress(stress, len(table))
    order = np.lexsort((table["candidate_id"].to_numpy(str), -table["score"].to_numpy(float)))
    table, stress = table.iloc[order].reset_index(drop=True), stress[order]
    for column in ("sector", "industry", "position_type"):
        table[column] = table["symbol"].map(plan[column])

    symbol_room = plan["symbol_budget"].to_dict()
    industry_room = plan.groupby("industry")["industry_budget"].first().clip(upper=limits.max_industry * capital)
    industry_room = industry_room.to_dict()
    strategy_room: dict[str, float] = {}
    total_room = limits.max_total * capital
    margin_room = limits.max_margin * capital
    book = np.zeros(stress.shape[1])  # the book's P&L in each stress scenario, ₹
    stress_floor = limits.max_stress_loss * capital
    lots, binding, skip = [], [], []
    # A loop, not arrays: each strategy's room depends on the lots given to every better-scored strategy that shares
    # its symbol, its industry, its strategy type or the portfolio. The selection is a few hundred rows at most.
    for i, row in enumerate(table.itertuples(index=False)):
        risk, margin = row.capital_at_risk, row.margin
        strategy_room.setdefault(row.strategy, limits.max_strategy_share * limits.max_total * capital)
        rooms: dict[BindingLimit, tuple[float, float]] = {
            "symbol_budget": (symbol_room[row.symbol], risk), "per_trade": (limits.max_loss_per_trade * capital, risk),
            "industry": (industry_room[row.industry], risk), "total": (total_room, risk),
            "strategy_share": (strategy_room[row.strategy], risk), "margin": (margin_room, margin)}
        allowed = {name: _lots_within(room, need) for name, (room, need) in rooms.items()}
        allowed["stress"] = _stress_lots(book, stress[i], stress_floor)
        tightest = min(allowed, key=lambda name: allowed[name][1])  # the least room in lots; the first of equals
        n = min(min(whole for whole, _ in allowed.values()), limits.max_lots)
        symbol_room[row.symbol] -= n * risk
        industry_room[row.industry] -= n * risk
        strategy_room[row.strategy] -= n * risk
        total_room -= n * risk
        margin_room -= n * margin
        book += n * stress[i]
        lots.append(n)
        binding.append("max_lots" if n == limits.max_lots else tightest)
        skip.append(None if n else _no_room(tightest, rooms, stress_floor))
    table["lots"] = np.array(lots, dtype="int64")
    table["quantity"] = table["lots"] * table["lot_size"]
    table["capital_used"] = table["lots"] * table["capital_at_risk"]
    table["margin_used"] = table["lots"] * table["margin"]
    table["budget_binding"] = pd.Series(binding, index=table.index, dtype="string")
    table["skip_reason"] = pd.Series(skip, index=table.index, dtype="string")
    return table, _industry_summary(table, plan)


def sizable(table: pd.DataFrame, capital: float, limits: RiskLimits, *, symbol_budget: float,
            industry_budget: float, stress: np.ndarray | None = None) -> pd.Series:
    """Why one strategy lot of each row could not be sized on an empty book (None where it could), by the limits of
    size_portfolio. table: capital_at_risk and margin, ₹ per strategy lot; budgets of the rows' symbol, ₹; stress as
    for size_portfolio. The ranking chooses among rows with None, so an unsizable candidate is never ranked."""
    risk = table["capital_at_risk"].to_numpy(float)
    margin = table["margin"].to_numpy(float)
    worst = _stress(stress, len(table)).min(axis=1, initial=0.0)
    checks = (
        (risk > symbol_budget, "symbol budget", risk, symbol_budget, "capital at risk"),
        (risk > limits.max_loss_per_trade * capital, "per-trade limit", risk, limits.max_loss_per_trade * capital,
         "capital at risk"),
        (risk > min(limits.max_industry * capital, industry_budget), "industry limit", risk,
         min(limits.max_industry * capital, industry_budget), "capital at risk"),
        (risk > limits.max_strategy_share * limits.max_total * capital, "strategy-type share", risk,
         limits.max_strategy_share * limits.max_total * capital, "capital at risk"),
        (margin > limits.max_margin * capital, "margin limit", margin, limits.max_margin * capital, "margin"),
        (-worst > limits.max_stress_loss * capital, "stress limit", -worst, limits.max_stress_loss * capital,
         "worst stress loss"),
    )
    reasons = np.full(len(table), None, dtype=object)
    for failed, limit, need, room, what in reversed(checks):  # the first failing check names the reason
        for i in np.flatnonzero(failed):
            reasons[i] = f"one lot exceeds the {limit}: {what} ₹{need[i]:,.0f} > ₹{room:,.0f}"
    return pd.Series(reasons, index=table.index, dtype="object")


def _lots_within(room: float, need: float) -> tuple[int, float]:
    """(the most whole lots of `need` ₹ each within `room` ₹, room / need); unlimited when a lot needs nothing."""
    if need <= 0:
        return _UNLIMITED, np.inf
    ratio = room / need
    if ratio < 1:
        return 0, ratio
    n = min(math.floor(ratio), _UNLIMITED)
    return (n - 1 if n * need > room else n), ratio  # the division may round up to a whole number


def _stress_lots(book: np.ndarray, per_lot: np.ndarray, floor: float) -> tuple[int, float]:
    """As _lots_within, for keeping book + lots × per_lot ≥ −floor in every scenario (₹)."""
    limits = [_lots_within(book[s] + floor, -per_lot[s]) for s in np.flatnonzero(per_lot < 0)]
    return min(limits, key=lambda limit: limit[1], default=(_UNLIMITED, np.inf))


def _no_room(limit: BindingLimit, rooms: dict[BindingLimit, tuple[float, float]], stress_floor: float) -> str:
    if limit == "stress":
        return f"no room for one lot: the book's worst stress loss would exceed ₹{stress_floor:,.2f}"
    room, need = rooms[limit]
    what = "margin" if limit == "margin" else "capital at risk"
    return f"no room for one lot: {limit} room ₹{room:,.2f} < {what} ₹{need:,.2f} per lot"


def _stress(stress: np.ndarray | None, rows: int) -> np.ndarray:
    """(rows, S) per-lot stress P&Ls, checked finite; (rows, 0) when there are none."""
    if stress is None:
        return np.zeros((rows, 0))
    stress = np.asarray(stress, dtype=float)
    if stress.ndim != 2 or stress.shape[0] != rows:
        raise InputError(f"stress: must be (strategies, scenarios) = ({rows}, S), got shape {stress.shape}")
    if not np.isfinite(stress).all():
        raise InputError("stress: every scenario P&L must be a finite number of ₹")
    return stress


def _industry_summary(sized: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    summary = plan.groupby("industry", sort=False).agg(
        sector=("sector", "first"), position_type=("position_type", "first"), budget=("industry_budget", "first"))
    summary["used"] = sized.groupby("industry")["capital_used"].sum().reindex(summary.index, fill_value=0.0)
    budget, used = summary["budget"].to_numpy(float), summary["used"].to_numpy(float)
    summary["utilisation"] = np.divide(used, budget, out=np.zeros_like(used), where=budget > 0)
    counts = sized[sized["lots"] > 0].groupby("industry").size()
    summary["n_strategies"] = counts.reindex(summary.index, fill_value=0).astype("int64")
    return summary.reset_index().loc[:, list(INDUSTRY_SUMMARY_COLUMNS)]


# ---------------------------------------------------------------- checks


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: allocation file not found") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from exc


def _read_table(frame: pd.DataFrame, columns: tuple[str, ...], table: str, key: str) -> pd.DataFrame:
    """The table's columns, cast; InputError naming table, row and field for a missing column or an unreadable cell."""
    require_columns(frame, [c for c in columns if c != "note"], table)
    if frame.empty:
        raise InputError(f"{table}: no rows")
    out = frame.reindex(columns=list(columns)).reset_index(drop=True)
    problems = []
    text = [c for c in columns if c not in ("weight_pct", "as_of", "note")]
    for column in text:
        out[column] = out[column].astype("string").str.strip()
        if column == "position_type":
            out[column] = out[column].str.upper()
        for i in out.index[out[column].fillna("") == ""]:
            problems.append(f"{_where(table, i, key, out.at[i, key])}: {column} is empty")
    raw_weight = out["weight_pct"]
    out["weight_pct"] = pd.to_numeric(raw_weight, errors="coerce").astype("float64")
    for i in out.index[out["weight_pct"].isna()]:
        problems.append(f"{_where(table, i, key, out.at[i, key])}: weight_pct {raw_weight[i]!r} is not a number")
    raw_date = out["as_of"].astype("string").str.strip()
    out["as_of"] = pd.to_datetime(raw_date, format="%Y-%m-%d", errors="coerce")
    for i in out.index[out["as_of"].isna()]:
        problems.append(f"{_where(table, i, key, out.at[i, key])}: as_of {raw_date[i]!r} is not a YYYY-MM-DD date")
    out["note"] = out["note"].astype("string").fillna("")
    _raise(problems)
    return out


def _weight_problems(alloc: Allocations) -> list[str]:
    """Every broken universe-free rule of `alloc`, one message each."""
    sectors, industries = alloc.sectors, alloc.industries
    problems = []
    for frame, table, key in ((sectors, alloc.sector_table, "sector"), (industries, alloc.industry_table, "industry")):
        for row in frame.loc[~frame["weight_pct"].between(0, 100)].itertuples():
            problems.append(f"{_where(table, row.Index, key, getattr(row, key))}: weight_pct {row.weight_pct:.10g} "
                            f"outside 0–100")
        for name, rows in frame.groupby(key).groups.items():
            if len(rows) > 1:
                problems.append(f"{table} rows {_rows(rows)}: {key} {name!r} repeated")
        total = frame["weight_pct"].sum()
        if total > 100 + WEIGHT_TOLERANCE:
            problems.append(f"{table}: weight_pct sums to {total:.10g} > 100")
    table = alloc.industry_table
    for row in industries.loc[~industries["position_type"].isin(POSITION_TYPES)].itertuples():
        problems.append(f"{_where(table, row.Index, 'industry', row.industry)}: position_type {row.position_type!r} "
                        f"unknown; expected {', '.join(POSITION_TYPES)}")
    sector_weight = sectors.drop_duplicates("sector").set_index("sector")["weight_pct"]
    for row in industries.loc[~industries["sector"].isin(sector_weight.index)].itertuples():
        problems.append(f"{_where(table, row.Index, 'industry', row.industry)}: sector {row.sector!r} not in "
                        f"{alloc.sector_table}")
    for sector, rows in industries.groupby("sector").groups.items():
        total = industries.loc[rows, "weight_pct"].sum()
        if sector in sector_weight.index and total > sector_weight[sector] + WEIGHT_TOLERANCE:
            problems.append(f"{table} rows {_rows(rows)}: weight_pct of the industries of sector {sector!r} sums to "
                            f"{total:.10g} > the sector's {sector_weight[sector]:.10g} in {alloc.sector_table}")
    return problems


def _universe(universe: pd.DataFrame) -> pd.DataFrame:
    """symbol, sector, industry of the universe, checked: present, non-empty, no missing cell, no repeated symbol."""
    require_columns(universe, ("symbol", "sector", "industry"), "universe")
    if universe.empty:
        raise InputError("universe: no rows")
    frame = universe.loc[:, ["symbol", "sector", "industry"]].astype("string").reset_index(drop=True)
    for column in frame.columns:
        if frame[column].isna().any():
            raise InputError(f"universe.{column}: missing for row(s) {_rows(frame.index[frame[column].isna()])}")
    repeated = frame["symbol"][frame["symbol"].duplicated()]
    if len(repeated):
        raise InputError(f"universe.symbol: repeated {', '.join(map(repr, repeated.unique()))}")
    return frame


def _selected(selected: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in SELECTED_COLUMNS if c not in selected.columns]
    if missing:
        raise InputError(f"selected: missing column(s) {', '.join(missing)}")
    table = selected.copy()
    for column in ("candidate_id", "symbol"):
        if table[column].isna().any():
            raise InputError(f"selected.{column}: missing in {int(table[column].isna().sum())} row(s)")
    repeated = table["candidate_id"][table["candidate_id"].duplicated()]
    if len(repeated):
        raise InputError(f"selected.candidate_id: repeated {', '.join(map(repr, repeated.unique()[:5]))}")
    for column in ("score", "capital_at_risk", "margin", "lot_size"):
        values = pd.to_numeric(table[column], errors="coerce").astype("float64")
        finite = np.isfinite(values.to_numpy())
        filled = np.where(finite, values.to_numpy(), 1.0)
        bad = ~finite
        if column in ("capital_at_risk", "lot_size"):
            bad |= filled <= 0
        if column == "margin":
            bad |= filled < 0
        if column == "lot_size":
            bad |= filled % 1 != 0
        if bad.any():
            need = {"score": "a finite number", "capital_at_risk": "a finite number > 0 (₹ per strategy lot)",
                    "margin": "a finite number ≥ 0 (₹ per strategy lot)", "lot_size": "a whole number ≥ 1"}[column]
            ids = ", ".join(map(repr, table["candidate_id"][bad].head(5)))
            raise InputError(f"selected.{column}: must be {need}; not so for candidate_id {ids}")
        table[column] = values.astype("int64") if column == "lot_size" else values
    return table


def _budget_plan(budgets: pd.DataFrame) -> pd.DataFrame:
    """`budgets` indexed by symbol, checked: budgets finite and ≥ 0, one symbol per row, one budget per industry."""
    required = ("symbol", "sector", "industry", "industry_budget", "symbol_budget")
    missing = [c for c in required if c not in budgets.columns]
    if missing:
        raise InputError(f"budgets: missing column(s) {', '.join(missing)}")
    plan = budgets.reindex(columns=[*required, "position_type"]).copy()
    for column in ("symbol", "sector", "industry"):
        if plan[column].isna().any():
            raise InputError(f"budgets.{column}: missing in {int(plan[column].isna().sum())} row(s)")
    for column in ("industry_budget", "symbol_budget"):
        values = pd.to_numeric(plan[column], errors="coerce").astype("float64").to_numpy()
        if not (np.isfinite(values) & (values >= 0)).all():
            raise InputError(f"budgets.{column}: must be finite and ≥ 0 (₹)")
        plan[column] = values
    repeated = plan["symbol"][plan["symbol"].duplicated()]
    if len(repeated):
        raise InputError(f"budgets.symbol: repeated {', '.join(map(repr, repeated.unique()))}")
    uneven = plan.groupby("industry")["industry_budget"].nunique()
    if (uneven > 1).any():
        names = ", ".join(map(repr, uneven.index[uneven > 1]))
        raise InputError(f"budgets.industry_budget: differs within industry {names}")
    return plan.set_index("symbol")


def _check_capital(capital: float) -> None:
    if not (isinstance(capital, (int, float, np.number)) and math.isfinite(capital) and capital > 0):
        raise InputError(f"capital: must be a finite number of ₹ > 0, got {capital!r}")


def _where(table: str, index: int, key: str, name: object) -> str:
    shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:56] + "…"
    return f"{table} row {index + 1} ({key} {shown})"


def _rows(index) -> str:
    """Row numbers (from 1), the first LISTED of them and how many more."""
    rows = list(index)
    more = f" and {len(rows) - LISTED} more" if len(rows) > LISTED else ""
    return ", ".join(str(i + 1) for i in rows[:LISTED]) + more


def _raise(problems: list[str]) -> None:
    """One InputError listing the first LISTED problems and how many more."""
    if problems:
        more = [f"and {len(problems) - LISTED} more problems"] if len(problems) > LISTED else []
        raise InputError("; ".join(problems[:LISTED] + more))
