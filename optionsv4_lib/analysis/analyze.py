"""The analysis phase end to end: market state → per-symbol candidates, metrics, scores → sizing → exits.

`analyze_symbol` is pure over its inputs (chains in, ranked strategies out) and raises DataError with a reason for
unusable data; `analyze_portfolio` reads a MarketDataSource for the whole universe, records every symbol's outcome
(a failure is a row with its reason, never a crash), sizes the selected strategies against the industry-first
allocation and re-evaluates them at their final size.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.allocation import Allocations, budgets, size_portfolio
from optionsv4_lib.analysis.limits import AnalysisSettings, RiskLimits
from optionsv4_lib.analysis.market_state import MarketState, classify_market, iv_rank
from optionsv4_lib.analysis.result import EXIT_COLUMNS, LEG_COLUMNS, STRATEGY_COLUMNS, SYMBOL_COLUMNS, AnalysisResult
from optionsv4_lib.analysis.scoring import score_candidates, select_top
from optionsv4_lib.core.errors import AuthError, DataError, OptionsV4Error
from optionsv4_lib.marketdata.checks import check_chain
from optionsv4_lib.marketdata.source import MARKET_SYMBOL, VIX_SYMBOL, MarketDataSource
from optionsv4_lib.reference.calendar import IST, session
from optionsv4_lib.strategies.candidates import CandidateRules, generate_candidates
from optionsv4_lib.strategies.evaluate import evaluate_positions
from optionsv4_lib.strategies.exit_rules import exit_conditions
from optionsv4_lib.strategies.metrics import evaluate_candidates, position_costs, positions_from_legs

log = logging.getLogger(__name__)

HISTORY_DAYS = 200  # calendar days of daily candles read for the market state (≥ 90 trading days)


@dataclass
class SymbolAnalysis:
    """One symbol's ranked strategies, each for one strategy lot."""

    symbol: str
    spot: float
    atm_iv: float
    iv_rank: float | None
    n_candidates: int
    selected: pd.DataFrame  # scored rows of the top N, with `rank`
    legs: pd.DataFrame


@dataclass
class SymbolOutcome:
    """A symbol's row for results.SYMBOL_COLUMNS and, when it succeeded, its ranked strategies and their legs."""

    row: dict
    selected: pd.DataFrame | None = None
    legs: pd.DataFrame | None = None


def analysis_moment(trade_date: date) -> datetime:
    """The moment the analysis prices at: the F&O open of the trade date, IST (a pre-market run)."""
    return datetime.combine(trade_date, session(trade_date)[0], tzinfo=IST)


def choose_expiries(expiries: list[date], trade_date: date, rules: CandidateRules) -> list[date]:
    """The near expiry (first ≥ min_dte_days away) and the far one (first ≥ far_gap_days after it), if listed.

    A listed expiry before the trade date means the expiry list itself is stale: DataError.
    """
    stale = sorted(e for e in expiries if e < trade_date)
    if stale:
        raise DataError(f"stale expiry {stale[-1]} in the expiry list (before the trade date {trade_date})")
    ahead = sorted(e for e in expiries if (e - trade_date).days >= rules.min_dte_days)
    if not ahead:
        raise DataError(f"no expiry at least {rules.min_dte_days:g} days after {trade_date}")
    near = ahead[0]
    far = next((e for e in ahead if (e - near).days >= rules.far_gap_days), None)
    return [near] if far is None else [near, far]


def analyze_symbol(
    symbol: str,
    chain: pd.DataFrame,
    *,
    lot_size: int,
    is_index: bool,
    state: MarketState,
    as_of: datetime,
    r: float,
    limits: RiskLimits,
    rules: CandidateRules,
    position_type: str | None = None,
    iv_history: np.ndarray | None = None,
    stress_move: float = 0.15,
) -> SymbolAnalysis:
    """Chain checks → candidates → metrics (gross and net of costs) → scores → the top N of one symbol. Pure over
    its inputs; DataError with the reason when the chain is broken or no candidate passes the screen."""
    cset = generate_candidates(check_chain(chain), symbol=symbol, lot_size=lot_size, as_of=as_of, r=r,
                               is_index=is_index, rules=rules)
    table, legs = evaluate_candidates(cset, r, 0.0, as_of.date(), stress_move=stress_move)
    atm_iv = float(cset.sigma[0])
    rank = iv_rank(iv_history, atm_iv)[0] if iv_history is not None and len(iv_history) else None
    scored = score_candidates(table, state=state, limits=limits, iv_rank=rank, position_type=position_type)
    top = select_top(scored, limits.top_n)
    if top.empty:
        reasons = scored["rejection"].dropna().value_counts()
        detail = "; ".join(f"{n} × {reason}" for reason, n in reasons.head(3).items())
        raise DataError(f"no candidate passes the {len(table)}-candidate screen ({detail})")
    return SymbolAnalysis(
        symbol, cset.spot, atm_iv, rank, len(table), top.reset_index(drop=True),
        legs[legs["candidate_id"].isin(top["candidate_id"])].reset_index(drop=True),
    )


def market_context(source: MarketDataSource, settings: AnalysisSettings) -> MarketState:
    """NIFTY and INDIA VIX daily history up to the trade date and the NIFTY near-expiry chain → the market state."""
    start = source.trade_date - timedelta(days=HISTORY_DAYS)
    nifty = source.candles(MARKET_SYMBOL, start, source.trade_date)
    vix = source.candles(VIX_SYMBOL, start, source.trade_date)
    chain = None
    try:
        near = choose_expiries(source.expiries(MARKET_SYMBOL), source.trade_date, settings.candidates)[0]
        chain = source.option_chain(MARKET_SYMBOL, near)
    except DataError as exc:
        log.warning("NIFTY chain unavailable for PCR: %s", exc)
    return classify_market(nifty, vix, chain, settings.market)


def symbol_outcome(
    source: MarketDataSource, row, *, plan: pd.DataFrame, state: MarketState, settings: AnalysisSettings, limits: RiskLimits
) -> SymbolOutcome:
    """Fetch one symbol's chains from `source` and analyze them; any problem of the symbol's own becomes the row's
    reason, so that it never costs another symbol. Only AuthError (every symbol would fail alike) propagates."""
    outcome = SymbolOutcome({"symbol": row.symbol, "sector": row.sector, "industry": row.industry, "status": "ok",
                             "reason": None, "position_type": plan["position_type"].get(row.symbol)})
    try:
        if row.symbol not in plan.index:
            raise DataError("no industry allocation for this symbol")
        expiries = choose_expiries(source.expiries(row.symbol), source.trade_date, settings.candidates)
        chain = pd.concat([source.option_chain(row.symbol, e) for e in expiries], ignore_index=True)
        analysis = analyze_symbol(
            row.symbol, chain, lot_size=row.lot_size, is_index=row.sector == "Index", state=state,
            as_of=analysis_moment(source.trade_date), r=settings.risk_free_rate, limits=limits,
            rules=settings.candidates, position_type=outcome.row["position_type"], stress_move=settings.stress_move,
        )
    except AuthError:
        raise  # bad credentials fail every symbol alike: stop the run instead of recording 50 identical reasons
    except OptionsV4Error as exc:
        outcome.row |= {"status": "failed", "reason": str(exc)}
        log.info("%s: %s", row.symbol, exc)
        return outcome
    except Exception as exc:  # a bug met on this symbol's data: recorded with its traceback in the log
        log.exception("%s: unexpected error", row.symbol)
        outcome.row |= {"status": "failed", "reason": f"unexpected error ({type(exc).__name__}: {exc}); see the log"}
        return outcome
    outcome.row |= {"spot": analysis.spot, "atm_iv": analysis.atm_iv, "iv_rank": analysis.iv_rank,
                    "n_candidates": analysis.n_candidates, "n_selected": len(analysis.selected)}
    outcome.selected, outcome.legs = analysis.selected, analysis.legs
    return outcome


def analyze_portfolio(
    source: MarketDataSource,
    *,
    universe: pd.DataFrame,
    allocations: Allocations,
    settings: AnalysisSettings,
    risk_profile: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> AnalysisResult:
    """The whole analysis for `universe` on `source`'s trade date; every symbol ends ok or with a reason."""
    started = datetime.now(IST)
    profile = risk_profile or settings.risk_profile
    limits = settings.limits(profile)
    state = market_context(source, settings)
    plan = budgets(universe, allocations, settings.capital).set_index("symbol")
    outcomes = []
    for row in universe.itertuples(index=False):
        outcomes.append(symbol_outcome(source, row, plan=plan, state=state, settings=settings, limits=limits))
        if progress:
            progress(row.symbol)
    return assemble(
        source.trade_date, outcomes, profile=profile, source_name=source.name, state=state, plan=plan,
        settings=settings, started=started,
    )


def assemble(
    trade_date: date,
    outcomes: list[SymbolOutcome],
    *,
    profile: str,
    source_name: str,
    state: MarketState,
    plan: pd.DataFrame,
    settings: AnalysisSettings,
    started: datetime,
) -> AnalysisResult:
    """Size the selected strategies across symbols, re-evaluate them at size, attach exits: the run's result."""
    limits = settings.limits(profile)
    symbols = pd.DataFrame([o.row for o in outcomes]).reindex(columns=SYMBOL_COLUMNS)
    chosen = [o for o in outcomes if o.selected is not None]
    strategies, legs, industries, skipped = _size_and_finalise(chosen, plan, settings, limits,
                                                               analysis_moment(trade_date))
    exits = exit_conditions(strategies, legs, profile) if len(strategies) else pd.DataFrame(columns=EXIT_COLUMNS)
    symbols["n_selected"] = symbols["symbol"].map(strategies.groupby("symbol").size()).fillna(0).astype(int)
    unsized = (symbols["status"] == "ok") & (symbols["n_selected"] == 0)
    symbols.loc[unsized, "reason"] = "not sized: " + symbols.loc[unsized, "symbol"].map(skipped).fillna(
        "no strategy was sized")
    return AnalysisResult(
        trade_date=trade_date, risk_profile=profile, source=source_name, capital=settings.capital,
        market=state, symbols=symbols, strategies=strategies, legs=legs, exits=exits.reindex(columns=EXIT_COLUMNS),
        industries=industries, started_at=started, finished_at=datetime.now(IST),
        settings={"limits": limits.model_dump(mode="json"), "candidates": settings.candidates.model_dump(mode="json"),
                  "risk_free_rate": settings.risk_free_rate, "stress_move": settings.stress_move},
    )


def _size_and_finalise(chosen: list[SymbolOutcome], plan: pd.DataFrame, settings: AnalysisSettings, limits: RiskLimits,
                       as_of: datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Size every selected strategy, then re-evaluate the sized positions exactly (costs included).

    Returns (strategies, legs, industries, skipped): skipped maps a symbol none of whose strategies got a lot to the
    skip reason of its best-scored one."""
    if not chosen:
        return pd.DataFrame(columns=STRATEGY_COLUMNS), pd.DataFrame(columns=LEG_COLUMNS), pd.DataFrame(), {}
    selected = pd.concat([o.selected for o in chosen], ignore_index=True)
    all_legs = pd.concat([o.legs for o in chosen], ignore_index=True)
    plan_columns = ["sector", "industry", "position_type"]
    selected = selected.drop(columns=plan_columns, errors="ignore").join(plan[plan_columns], on="symbol")
    sized, industries = size_portfolio(selected, plan.reset_index(), settings.capital, limits)
    best = sized.groupby("symbol", sort=False).agg(lots=("lots", "max"), reason=("skip_reason", "first"))
    skipped = best.loc[best["lots"] == 0, "reason"].to_dict()  # sized is in score order: first = best-scored
    sized = sized.set_index("candidate_id").loc[selected["candidate_id"]].reset_index()
    lots = sized["lots"].to_numpy()
    keep = lots > 0
    table = selected[keep].reset_index(drop=True)
    if len(table):
        final = positions_from_legs(all_legs, as_of, list(table["candidate_id"])).scaled(lots[keep])
        metrics = evaluate_positions(
            final, table["spot"].to_numpy(float), table["atm_iv"].to_numpy(float), settings.risk_free_rate, 0.0,
            costs=position_costs(final, as_of.date()), stress_move=settings.stress_move,
        )
        for key, value in metrics.items():
            if key != "touch":
                table[key] = [[float(v) for v in row if np.isfinite(v)] for row in value] if value.ndim == 2 else value
    table["lots"] = lots[keep]
    table["budget_binding"] = sized["budget_binding"].to_numpy()[keep]
    legs = all_legs[all_legs["candidate_id"].isin(table["candidate_id"])].copy()
    legs["qty"] = legs["qty"] * legs["candidate_id"].map(table.set_index("candidate_id")["lots"])
    return (table.reindex(columns=STRATEGY_COLUMNS), legs.reindex(columns=LEG_COLUMNS).reset_index(drop=True),
            industries, skipped)
