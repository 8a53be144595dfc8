"""The analysis phase end to end: market state → per-symbol smiles, view, candidates, metrics, scores → sizing →
exits.

`analyze_symbol` is pure over its inputs (chains in, ranked strategies out) and raises DataError with a reason for
unusable data; `analyze_portfolio` reads a MarketDataSource for the whole universe, records every symbol's outcome
(a failure is a row with its reason, never a crash), sizes the selected strategies against the industry-first
allocation and re-evaluates them at their final size.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.allocation import Allocations, budgets, sizable, size_portfolio
from optionsv4_lib.analysis.limits import AnalysisSettings, RiskLimits
from optionsv4_lib.analysis.margin import book_margin, strategy_margin
from optionsv4_lib.analysis.market_state import MarketState, classify_market, iv_rank
from optionsv4_lib.analysis.picks import RANKED, pick, symbol_rng
from optionsv4_lib.analysis.portfolio_risk import beta_to_market, book_risk, nifty_terms, scenario_pnl
from optionsv4_lib.analysis.result import (
    BOOK_COLUMNS,
    EXIT_COLUMNS,
    LEG_COLUMNS,
    STRATEGY_COLUMNS,
    SYMBOL_COLUMNS,
    AnalysisResult,
)
from optionsv4_lib.analysis.scoring import score_candidates, select_top
from optionsv4_lib.analysis.valuation import SMILE_COLUMNS, SMILE_QUOTE_COLUMNS, quote_moment, value_symbol
from optionsv4_lib.core.errors import AuthError, DataError, OptionsV4Error
from optionsv4_lib.core.text import money_indian
from optionsv4_lib.marketdata.checks import check_chain
from optionsv4_lib.marketdata.source import MARKET_SYMBOL, VIX_SYMBOL, MarketDataSource
from optionsv4_lib.marketdata.span_file import SpanFile
from optionsv4_lib.reference.calendar import IST, session, years_to_expiry
from optionsv4_lib.reference.margin_parameters import MarginParameters, margin_parameters
from optionsv4_lib.strategies.candidates import CandidateRules, generate_candidates
from optionsv4_lib.strategies.evaluate import CE, Positions, evaluate_positions, over_capital
from optionsv4_lib.strategies.exit_rules import exit_conditions
from optionsv4_lib.strategies.metrics import (
    Valuation,
    evaluate_candidates,
    leg_quotes,
    position_costs,
    positions_from_legs,
    value_positions,
)

log = logging.getLogger(__name__)

HISTORY_DAYS = 200  # calendar days of daily candles read for the market state (≥ 90 trading days)
FORECAST_HISTORY_DAYS = 1100  # calendar days of a symbol's daily candles read for its volatility forecast (~3 years)
MIN_IV_HISTORY = 20  # stored ATM IVs a stock needs for an IV rank


@dataclass
class SymbolAnalysis:
    """One symbol's ranked strategies, each for one strategy lot, and what they were valued with."""

    symbol: str
    spot: float
    atm_iv: float
    iv_rank: float | None
    n_candidates: int
    selected: pd.DataFrame  # scored rows of the top N, with `rank`, margin and worst_stress (₹ per strategy lot)
    stress: np.ndarray  # (top N, S) ₹ P&L of one strategy lot in each stress scenario
    legs: pd.DataFrame  # of the selected rows and of every baseline's
    quoted_at: datetime
    valuation: Valuation  # the measures its candidates were valued under
    smiles: pd.DataFrame  # valuation.SMILE_COLUMNS
    smile_quotes: pd.DataFrame  # valuation.SMILE_QUOTE_COLUMNS
    notes: tuple[str, ...]
    baselines: dict[str, "Picked"] = field(default_factory=dict)  # pick policy → its rows (analysis.picks)


@dataclass(frozen=True)
class Picked:
    """What one pick policy selected of a symbol: scored rows as SymbolAnalysis.selected, and their stress rows."""

    selected: pd.DataFrame
    stress: np.ndarray


@dataclass
class SymbolOutcome:
    """A symbol's row for result.SYMBOL_COLUMNS and, when it succeeded, its ranked strategies, their legs, the
    valuation they were ranked under (for the re-evaluation at size) and its smiles."""

    row: dict
    selected: pd.DataFrame | None = None
    stress: np.ndarray | None = None
    legs: pd.DataFrame | None = None
    valuation: Valuation | None = None
    smiles: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SMILE_COLUMNS))
    smile_quotes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SMILE_QUOTE_COLUMNS))
    baselines: dict[str, Picked] = field(default_factory=dict)

    def under(self, policy: str) -> "SymbolOutcome":
        """The outcome as a baseline pick policy sees it: its rows in place of the ranked ones (none: no rows)."""
        if self.selected is None:
            return self
        chosen = self.baselines[policy]
        return replace(self, selected=chosen.selected if len(chosen.selected) else None, stress=chosen.stress)


@dataclass(frozen=True)
class SymbolSizing:
    """What one strategy lot of a symbol is checked against before ranking: the capital and the symbol's budgets
    (₹), its margin parameters, its beta to NIFTY and the stress grid (moves, vol shifts: decimals)."""

    capital: float
    symbol_budget: float
    industry_budget: float
    margin: MarginParameters
    beta: float
    stress_grid: tuple[np.ndarray, np.ndarray]
    span: SpanFile | None = None  # NSE's SPAN risk parameters of the day: their risk arrays replace our scenarios

    @classmethod
    def unbudgeted(cls, symbol: str, day: date, is_index: bool) -> "SymbolSizing":
        """Checks with the default settings' capital and stress grid, no symbol or industry budget, beta 1."""
        defaults = AnalysisSettings()
        return cls(defaults.capital, np.inf, np.inf, margin_parameters(symbol, day, index=is_index), 1.0,
                   defaults.stress.scenarios())


def lot_margin(positions: Positions, spot: float, r: float, params: MarginParameters,
               span: SpanFile | None = None, symbol: str = "", expiry: np.ndarray | None = None) -> np.ndarray:
    """(N,) SPAN + exposure margin of each position, ₹ (analysis.margin; stock legs are held, so not margined).
    With a SPAN file, its risk arrays value the positions whose every leg it lists (expiry: (N, L) leg dates)."""
    option = positions.is_option
    strike, is_call = np.where(option, positions.strike, 1.0), positions.kind == CE
    quantity = np.where(option, positions.qty, 0.0)
    arrays = None if span is None or expiry is None else span.risk_arrays(symbol, strike, is_call, expiry, quantity)
    return strategy_margin(strike, is_call, quantity, np.where(option, positions.years, 1.0),
                           np.where(option, positions.sigma, 0.2), spot=spot, rate=r, params=params,
                           risk_arrays=arrays).total


def leg_expiries(legs: pd.DataFrame, ids: list[str], width: int) -> np.ndarray:
    """(N, width) datetime64[D] expiry of each leg in the row order of `ids` and column order of leg_no (the first
    leg's where a leg does not exist)."""
    row = pd.Series(np.arange(len(ids)), index=ids)[legs["candidate_id"]].to_numpy()
    matrix = np.full((len(ids), width), np.datetime64("NaT"), dtype="datetime64[D]")
    matrix[row, legs["leg_no"].to_numpy(int)] = pd.to_datetime(legs["expiry"]).to_numpy().astype("datetime64[D]")
    return np.where(np.isnat(matrix), matrix[:, :1], matrix)


def short_contracts(legs: pd.DataFrame) -> pd.Series:
    """candidate_id → the frozenset of (expiry, strike, option type) its option legs sell."""
    sold = legs[(legs["side"] == "SELL") & (legs["instrument"] != "STK")]
    keys = pd.Series(list(zip(pd.to_datetime(sold["expiry"]), sold["strike"], sold["instrument"])), index=sold.index)
    shorts = keys.groupby(sold["candidate_id"]).agg(frozenset)
    return shorts.reindex(legs["candidate_id"].unique()).map(lambda s: s if isinstance(s, frozenset) else frozenset())


def _unsizable_rejected(scored: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    """`scored` with rows whose one lot breaks a sizing limit made ineligible, the reason added to `rejection`."""
    unsizable = reasons.notna().to_numpy()
    if not unsizable.any():
        return scored
    out = scored.copy()
    prior = out["rejection"].where(out["rejection"].notna(), None)
    out["rejection"] = [r if not bad else (f"{p}; {r}" if p else r)
                        for p, r, bad in zip(prior, reasons.to_numpy(), unsizable)]
    out["eligible"] = out["eligible"].to_numpy(bool) & ~unsizable
    return out


def analysis_moment(trade_date: date) -> datetime:
    """The moment a chain is taken to be quoted at when its source does not say: the F&O open of the trade date,
    IST (a pre-market run)."""
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
    is_index: bool,
    state: MarketState,
    as_of: datetime,
    r: float,
    limits: RiskLimits,
    rules: CandidateRules,
    position_type: str | None = None,
    closes: np.ndarray | None = None,
    iv_history: np.ndarray | None = None,
    stress_move: float = 0.15,
    sizing: "SymbolSizing | None" = None,
    baselines: tuple[str, ...] = (),
    seed: int = 0,
) -> SymbolAnalysis:
    """Chain checks → smiles and view → candidates → metrics under both measures (gross and net of costs) → margin
    and stress per lot → scores → the top N sizable candidates of one symbol, no two short the same contract. Pure
    over its inputs; DataError with the reason when the chain is broken or no candidate passes the screen.

    as_of: the quote moment when the chain does not carry `quoted_at`. closes: the symbol's daily closes, oldest
    first, for the view's forecast (None: the view's σ is the implied vol). iv_history: the symbol's stored ATM IVs
    (decimals) for its IV rank; an index ranks INDIA VIX instead (the state's VIX percentile). sizing: what one
    strategy lot is checked against before ranking (None: a budget-free check with the class margin parameters).
    baselines: pick policies (analysis.picks) selected beside the ranked top N, the random one seeded by `seed`."""
    chain = check_chain(chain)
    as_of = quote_moment(chain, as_of)
    valued = value_symbol(chain, as_of=as_of, r=r, state=state, closes=closes)
    chain = chain[pd.to_datetime(chain["expiry"]).isin(list(valued.smiles))]
    cset = generate_candidates(chain, symbol=symbol, as_of=as_of, r=r, is_index=is_index, rules=rules)
    near, far = cset.meta["expiry"].iloc[0], cset.meta["far_expiry"].dropna()
    valuation = valued.valuation(near, far.iloc[0] if len(far) else None)
    sizing = sizing or SymbolSizing.unbudgeted(symbol, as_of.date(), is_index)
    n = len(cset.meta)
    stress = scenario_pnl(cset.positions, np.full(n, cset.spot), np.full(n, sizing.beta), r, *sizing.stress_grid)
    worst = stress.min(axis=1, initial=0.0)
    table, legs = evaluate_candidates(cset, r, 0.0, as_of.date(), valuation=valuation, stress_move=stress_move,
                                      risk_floor=-worst)
    expiry = leg_expiries(cset.legs, list(cset.meta["candidate_id"]), cset.positions.kind.shape[1]) \
        if sizing.span is not None else None
    table["margin"] = lot_margin(cset.positions, cset.spot, r, sizing.margin, sizing.span, symbol, expiry)
    table["worst_stress"] = worst
    rank, rank_note = _iv_rank(symbol, is_index, state, iv_history, valuation.near.atm_vol)
    scored = score_candidates(table, state=state, limits=limits, iv_rank=rank, position_type=position_type)
    scored = _unsizable_rejected(scored, sizable(table, sizing.capital, limits, symbol_budget=sizing.symbol_budget,
                                                 industry_budget=sizing.industry_budget, stress=stress))
    top = select_top(scored, limits.top_n, shorts=short_contracts(legs))
    if top.empty:
        reasons = scored["rejection"].dropna().value_counts()
        detail = "; ".join(f"{n} × {reason}" for reason, n in reasons.head(3).items())
        raise DataError(f"no candidate passes the {len(table)}-candidate screen ({detail})")
    row_of = pd.Series(np.arange(len(table)), index=table["candidate_id"])

    def picked(rows: pd.DataFrame) -> Picked:
        if rows.empty:  # a baseline with nothing to pick
            return Picked(rows, np.zeros((0, stress.shape[1])))
        rows = rows.assign(rationale=rows["rationale"].str.rstrip(".") + "; " + valued.view_text
                           + "; edge over the market " + money_indian(rows["edge"]).to_numpy() + " a strategy lot.")
        return Picked(rows.reset_index(drop=True), stress[row_of[rows["candidate_id"]].to_numpy()])

    ranked = picked(top)
    others = {policy: picked(pick(scored, policy, limits.top_n, rng=symbol_rng(seed, as_of.date(), symbol)))
              for policy in baselines}
    ids = pd.concat([top["candidate_id"], *(p.selected["candidate_id"] for p in others.values())])
    smiles, smile_quotes = valued.smile_rows(symbol)
    return SymbolAnalysis(
        symbol, cset.spot, valuation.near.atm_vol, rank, len(table), ranked.selected, ranked.stress,
        legs[legs["candidate_id"].isin(ids)].reset_index(drop=True), as_of,
        valuation, smiles, smile_quotes,
        valued.notes + ((rank_note,) if rank_note else ()), others,
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
    source: MarketDataSource, row, *, plan: pd.DataFrame, state: MarketState, settings: AnalysisSettings,
    limits: RiskLimits, iv_history: np.ndarray | None = None, market_closes: pd.Series | None = None,
    span: SpanFile | None = None, baselines: tuple[str, ...] = (), seed: int = 0,
) -> SymbolOutcome:
    """Fetch one symbol's chains and price history from `source` and analyze them; any problem of the symbol's own
    becomes the row's reason, so that it never costs another symbol. Only AuthError (every symbol would fail alike)
    propagates. A far expiry the source cannot give drops only the multi-expiry candidates (noted); no price history
    leaves the view at the implied vol and the beta at its default (noted). iv_history: as for analyze_symbol.
    market_closes: NIFTY's daily closes by date, for the symbol's beta (market_closes() reads them). span: NSE's
    SPAN risk parameters for the margins (None: our scenario revaluation). baselines, seed: as for analyze_symbol."""
    outcome = SymbolOutcome({"symbol": row.symbol, "sector": row.sector, "industry": row.industry, "status": "ok",
                             "reason": None, "position_type": plan["position_type"].get(row.symbol)})
    notes: list[str] = []
    try:
        if row.symbol not in plan.index:
            raise DataError("no industry allocation for this symbol")
        expiries = choose_expiries(source.expiries(row.symbol), source.trade_date, settings.candidates)
        chains = [source.option_chain(row.symbol, expiries[0])]
        for far in expiries[1:]:
            try:
                chains.append(source.option_chain(row.symbol, far))
            except DataError as exc:
                notes.append(f"far expiry {far} unavailable ({exc}): multi-expiry strategies dropped")
        closes = _closes(source, row.symbol, notes)
        beta, beta_note = beta_to_market(closes, market_closes, default=settings.stress.default_beta)
        notes.extend([beta_note] if beta_note else [])
        is_index = row.sector == "Index"
        sizing = SymbolSizing(settings.capital, float(plan.at[row.symbol, "symbol_budget"]),
                              float(plan.at[row.symbol, "industry_budget"]),
                              margin_parameters(row.symbol, source.trade_date, index=is_index), beta,
                              settings.stress.scenarios(), span)
        analysis = analyze_symbol(
            row.symbol, pd.concat(chains, ignore_index=True), is_index=is_index,
            state=state, as_of=analysis_moment(source.trade_date), r=settings.risk_free_rate, limits=limits,
            rules=settings.candidates, position_type=outcome.row["position_type"],
            closes=None if closes is None else closes.to_numpy(float), iv_history=iv_history,
            stress_move=settings.stress_move, sizing=sizing, baselines=baselines, seed=seed,
        )
    except AuthError:
        raise  # bad credentials fail every symbol alike: stop the run instead of recording 50 identical reasons
    except OptionsV4Error as exc:
        outcome.row |= {"status": "failed", "reason": str(exc), "note": "; ".join(notes) or None}
        log.info("%s: %s", row.symbol, exc)
        return outcome
    except Exception as exc:  # a bug met on this symbol's data: recorded with its traceback in the log
        log.exception("%s: unexpected error", row.symbol)
        outcome.row |= {"status": "failed", "reason": f"unexpected error ({type(exc).__name__}: {exc}); see the log"}
        return outcome
    outcome.row |= {"spot": analysis.spot, "atm_iv": analysis.atm_iv, "iv_rank": analysis.iv_rank,
                    "n_candidates": analysis.n_candidates, "n_selected": len(analysis.selected),
                    "quoted_at": analysis.quoted_at, "note": "; ".join([*notes, *analysis.notes]) or None}
    outcome.selected, outcome.legs, outcome.valuation = analysis.selected, analysis.legs, analysis.valuation
    outcome.stress, outcome.baselines = analysis.stress, analysis.baselines
    outcome.row["beta"] = beta
    outcome.smiles, outcome.smile_quotes = analysis.smiles, analysis.smile_quotes
    return outcome


def _closes(source: MarketDataSource, symbol: str, notes: list[str]) -> pd.Series | None:
    """The symbol's daily closes by date, oldest first, for its forecast and beta; None (noted) when the source has
    none."""
    try:
        candles = source.candles(symbol, source.trade_date - timedelta(days=FORECAST_HISTORY_DAYS), source.trade_date)
    except DataError as exc:
        notes.append(f"no price history ({exc})")
        return None
    return candles.sort_values("date").set_index("date")["close"].astype(float)


def market_closes(source: MarketDataSource) -> pd.Series | None:
    """NIFTY's daily closes by date over the market state's window (what a run records), for betas; None when the
    source has none."""
    try:
        candles = source.candles(MARKET_SYMBOL, source.trade_date - timedelta(days=HISTORY_DAYS), source.trade_date)
    except DataError:
        return None
    return candles.sort_values("date").set_index("date")["close"].astype(float)


def _iv_rank(symbol: str, is_index: bool, state: MarketState, history: np.ndarray | None,
             atm_iv: float) -> tuple[float | None, str | None]:
    """(IV rank %, None), or (None, why it is unavailable). An index: the INDIA VIX percentile of the state. A stock:
    today's ATM IV ranked among its stored ones, with at least MIN_IV_HISTORY of them."""
    if is_index:
        return state.vix_percentile, None
    stored = np.asarray([] if history is None else history, dtype=float)
    stored = stored[np.isfinite(stored)]
    if len(stored) < MIN_IV_HISTORY:
        return None, f"IV rank unavailable: {len(stored)} stored ATM IVs of {symbol} (need {MIN_IV_HISTORY})"
    return iv_rank(stored, atm_iv)[0], None


def analyze_portfolio(source: MarketDataSource, **options) -> AnalysisResult:
    """The whole analysis for `universe` on `source`'s trade date; every symbol ends ok or with a reason: the ranked
    result of analyze_with_baselines, whose keyword options it takes (without baselines)."""
    return analyze_with_baselines(source, **options)[RANKED]


def analyze_with_baselines(
    source: MarketDataSource,
    *,
    universe: pd.DataFrame,
    allocations: Allocations,
    settings: AnalysisSettings,
    risk_profile: str | None = None,
    progress: Callable[[str], None] | None = None,
    iv_history: Mapping[str, np.ndarray] | None = None,
    span: SpanFile | None = None,
    baselines: tuple[str, ...] = (),
    seed: int = 0,
) -> dict[str, AnalysisResult]:
    """The analysis for `universe` on `source`'s trade date under "ranked", and beside it one result per baseline
    pick policy (analysis.picks; the random one seeded by `seed`): each symbol valued and scored once, each policy's
    picks sized and exited as the analysis sizes and exits its own. iv_history: symbol → its stored ATM IVs
    (decimals, oldest first), for IV ranks. span: NSE's SPAN risk parameters of the day
    (marketdata.span_file.span_for_run), whose arrays margin the contracts they list."""
    started = datetime.now(IST)
    profile = risk_profile or settings.risk_profile
    limits = settings.limits(profile)
    state = market_context(source, settings)
    plan = budgets(universe, allocations, settings.capital).set_index("symbol")
    nifty = market_closes(source)
    outcomes = []
    for row in universe.itertuples(index=False):
        outcomes.append(symbol_outcome(source, row, plan=plan, state=state, settings=settings, limits=limits,
                                       iv_history=(iv_history or {}).get(row.symbol), market_closes=nifty,
                                       span=span, baselines=baselines, seed=seed))
        if progress:
            progress(row.symbol)
    results = {RANKED: assemble(source.trade_date, outcomes, profile=profile, source_name=source.name, state=state,
                                plan=plan, settings=settings, started=started, span=span)}
    for policy in baselines:
        results[policy] = assemble(source.trade_date, [o.under(policy) for o in outcomes], profile=profile,
                                   source_name=source.name, state=state, plan=plan, settings=settings,
                                   started=started, span=span)
    return results


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
    span: SpanFile | None = None,
) -> AnalysisResult:
    """Size the selected strategies across symbols, re-evaluate them at size, attach exits: the run's result (the
    book margined on `span`'s risk arrays where it lists the contracts, as the strategies were)."""
    limits = settings.limits(profile)
    symbols = pd.DataFrame([o.row for o in outcomes]).reindex(columns=SYMBOL_COLUMNS)
    chosen = [o for o in outcomes if o.selected is not None]
    strategies, legs, industries, skipped, stress = _size_and_finalise(chosen, plan, settings, limits)
    exits = exit_conditions(strategies, legs, profile) if len(strategies) else pd.DataFrame(columns=EXIT_COLUMNS)
    symbols["n_selected"] = symbols["symbol"].map(strategies.groupby("symbol").size()).fillna(0).astype(int)
    unsized = (symbols["status"] == "ok") & (symbols["n_selected"] == 0)
    reasons = symbols.loc[unsized, "symbol"].map(skipped).astype(object)
    symbols.loc[unsized, "reason"] = "not sized: " + reasons.fillna("no strategy was sized")
    return AnalysisResult(
        trade_date=trade_date, risk_profile=profile, source=source_name, capital=settings.capital,
        market=state, symbols=symbols, strategies=strategies, legs=legs, exits=exits.reindex(columns=EXIT_COLUMNS),
        industries=industries, started_at=started, finished_at=datetime.now(IST),
        smiles=_stacked([o.smiles for o in outcomes], SMILE_COLUMNS, ["symbol", "expiry"]),
        smile_quotes=_stacked([o.smile_quotes for o in outcomes], SMILE_QUOTE_COLUMNS,
                              ["symbol", "expiry", "strike", "option_type"]),
        **_book(strategies, legs, stress, symbols, trade_date, settings, limits, span),
        settings={"limits": limits.model_dump(mode="json"), "candidates": settings.candidates.model_dump(mode="json"),
                  "risk_free_rate": settings.risk_free_rate, "stress_move": settings.stress_move},
    )


def _size_and_finalise(chosen: list[SymbolOutcome], plan: pd.DataFrame, settings: AnalysisSettings, limits: RiskLimits,
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str], np.ndarray]:
    """Size every selected strategy, then re-evaluate the sized positions exactly (costs included), each symbol at
    the moment its quotes were taken and under its own measures. Margin and worst stress scale with the lots.

    Returns (strategies, legs, industries, skipped, stress): skipped maps a symbol none of whose strategies got a
    lot to the skip reason of its best-scored one; stress is (strategies, S), each sized position's scenario P&L."""
    n_scenarios = len(settings.stress.scenarios()[0])
    if not chosen:
        return (pd.DataFrame(columns=STRATEGY_COLUMNS), pd.DataFrame(columns=LEG_COLUMNS), pd.DataFrame(), {},
                np.zeros((0, n_scenarios)))
    selected = pd.concat([o.selected for o in chosen], ignore_index=True)
    per_lot_stress = np.vstack([o.stress for o in chosen])
    all_legs = pd.concat([o.legs for o in chosen], ignore_index=True)
    plan_columns = ["sector", "industry", "position_type"]
    selected = selected.drop(columns=plan_columns, errors="ignore").join(plan[plan_columns], on="symbol")
    sized, industries = size_portfolio(selected, plan.reset_index(), settings.capital, limits, stress=per_lot_stress)
    best = sized.groupby("symbol", sort=False).agg(lots=("lots", "max"), reason=("skip_reason", "first"))
    skipped = best.loc[best["lots"] == 0, "reason"].to_dict()  # sized is in score order: first = best-scored
    sized = sized.set_index("candidate_id").loc[selected["candidate_id"]].reset_index()
    keep = sized["lots"].to_numpy() > 0
    lots = sized["lots"].to_numpy()[keep]
    table = selected[keep].reset_index(drop=True).assign(lots=lots,
                                                        budget_binding=sized["budget_binding"].to_numpy()[keep])
    table["margin"] *= lots
    table["worst_stress"] *= lots
    stress = per_lot_stress[keep] * lots[:, None]
    table["stress_pnl"] = [list(map(float, row)) for row in stress]
    symbol_of = {o.row["symbol"]: o for o in chosen}
    parts = [_at_size(rows, all_legs, symbol_of[symbol].valuation, symbol_of[symbol].row["quoted_at"], settings)
             for symbol, rows in table.groupby("symbol", sort=False)]
    table = pd.concat(parts).loc[table.index] if parts else table
    legs = all_legs[all_legs["candidate_id"].isin(table["candidate_id"])].copy()
    legs["qty"] = legs["qty"] * legs["candidate_id"].map(table.set_index("candidate_id")["lots"])
    return (table.reindex(columns=STRATEGY_COLUMNS), legs.reindex(columns=LEG_COLUMNS).reset_index(drop=True),
            industries, skipped, stress)


def _book(strategies: pd.DataFrame, legs: pd.DataFrame, stress: np.ndarray, symbols: pd.DataFrame, trade_date: date,
          settings: AnalysisSettings, limits: RiskLimits, span: SpanFile | None) -> dict[str, pd.DataFrame]:
    """The book's risk for the result: `book` (one row, BOOK_COLUMNS: greeks in NIFTY terms, margin as one book
    and as the sum of its strategies, worst stress and the limits) and `book_stress` (STRESS_COLUMNS)."""
    capital = settings.capital
    symbol_rows = symbols.set_index("symbol")
    beta = strategies["symbol"].map(symbol_rows["beta"]).fillna(settings.stress.default_beta).to_numpy(float)
    greeks = nifty_terms(*(strategies[c].to_numpy(float) for c in ("delta", "gamma", "vega", "theta")),
                         strategies["spot"].to_numpy(float), beta)
    risk = book_risk(stress, greeks, capital, settings.stress)
    margin = _book_margin(strategies, legs, symbol_rows, trade_date, settings.risk_free_rate, span)
    book = {**risk.greeks, "margin": margin, "margin_sum": float(strategies["margin"].sum()),
            "worst_stress": risk.worst, "margin_limit": limits.max_margin * capital,
            "stress_limit": -limits.max_stress_loss * capital}
    return {"book": pd.DataFrame([book]).reindex(columns=BOOK_COLUMNS), "book_stress": risk.stress}


def _book_margin(strategies: pd.DataFrame, legs: pd.DataFrame, symbols: pd.DataFrame, trade_date: date,
                 r: float, span: SpanFile | None = None) -> float:
    """SPAN + exposure margin of all option legs as one book (hedges between positions of an underlying count), ₹."""
    options = legs[legs["instrument"] != "STK"].merge(strategies[["candidate_id", "symbol", "spot"]], on="candidate_id")
    if options.empty:
        return 0.0
    quoted_at = options["symbol"].map(symbols["quoted_at"])
    frame = pd.DataFrame({
        "symbol": options["symbol"], "strike": options["strike"].astype(float), "option_type": options["instrument"],
        "quantity": np.where(options["side"] == "BUY", 1.0, -1.0) * options["qty"].astype(float),
        "years": [years_to_expiry(pd.Timestamp(at).to_pydatetime(), pd.Timestamp(expiry).date())
                  for at, expiry in zip(quoted_at, options["expiry"])],
        "iv": options["iv"].astype(float), "expiry": pd.to_datetime(options["expiry"]),
    })
    index = symbols["sector"] == "Index"
    params = {s: margin_parameters(s, trade_date, index=bool(index.get(s, False))) for s in frame["symbol"].unique()}
    spot = options.groupby("symbol")["spot"].first().to_dict()
    return float(book_margin(frame, spot=spot, rate=r, params=params, span=span).loc["TOTAL", "total"])


def _at_size(rows: pd.DataFrame, legs: pd.DataFrame, valuation: Valuation, as_of: datetime,
             settings: AnalysisSettings) -> pd.DataFrame:
    """One symbol's sized strategies with every metric re-evaluated at their lots (costs are not linear in lots)."""
    final = positions_from_legs(legs, as_of, list(rows["candidate_id"])).scaled(rows["lots"].to_numpy())
    costs = position_costs(final, as_of.date())
    metrics = evaluate_positions(final, rows["spot"].to_numpy(float), rows["atm_iv"].to_numpy(float),
                                 settings.risk_free_rate, 0.0, costs=costs, stress_move=settings.stress_move,
                                 defined_risk=(rows["risk_type"] == "defined").to_numpy(),
                                 risk_floor=-rows["worst_stress"].to_numpy(float))
    ids = list(rows["candidate_id"])
    metrics |= value_positions(final, valuation, costs, leg_quotes(legs[legs["candidate_id"].isin(ids)], ids,
                                                                   final.kind.shape[1]))
    metrics["return_on_risk"] = over_capital(metrics["expected_pnl"], metrics["capital_at_risk"])
    out = rows.copy()
    for key, value in metrics.items():
        if key != "touch":
            out[key] = [[float(v) for v in row if np.isfinite(v)] for row in value] if value.ndim == 2 else value
    return out


def _stacked(frames: list[pd.DataFrame], columns: tuple[str, ...], order: list[str]) -> pd.DataFrame:
    """The non-empty frames one under the other, with `columns`, sorted by `order` (as the store returns them)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).reindex(columns=columns).sort_values(order, ignore_index=True)
