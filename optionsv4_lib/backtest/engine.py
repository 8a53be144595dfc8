"""Backtest core: paper positions entered from an analysis, carried day by day through the monitor's exit rules, and
their realized P&L, win rate and drawdown. Pure over its inputs (an AnalysisResult, and the market of each day).

Entry: the strategies a desk would mark — the `top` best-scored of a run (ties by candidate id, as `optionsv4 mark
--top` takes them; 0 = every sized strategy) — at the analysis's entry prices (buy at the ask, sell at the bid), at
the F&O open of the trade date, with the run's exit conditions (exit_no = their order, as the store numbers them).
A baseline's run (analysis.picks: its own picks, sized alike) is entered the same way under its policy's name.

Carry: on every NSE trading day after the entry, the day's market is asked for the chains of the held legs (the
synthetic market and pre-market snapshots quote at the open; a day without data is a recorded reason, and the
positions wait for the next day). On each day, over all open positions at once (monitoring.marks):
1. legs are marked (mid of a two-sided quote, else the last price) and every exit rule is tested; the first hit by
   exit_no closes the position: option legs at the touch (a long sold at the bid, a short bought back at the ask),
   else at the mark; a position with a leg it cannot price stays open (the reason is kept) and is tried again;
2. a position still open on its nearest expiry day settles after the close: expiring legs at intrinsic value at the
   day's underlying price (as the monitor's settlement pass sees it), any later legs at the touch.
Positions still open when the data ends (the last leg's expiry, the end of the holiday calendar, or days without
data) are reported open with their last complete mark, never dropped.

P&L in ₹ for the whole position, s = +1 for BUY and −1 for SELL:
    pnl (gross)   = Σ s · qty · (close price − entry price)       (open: at the last marks)
    costs         = costs.leg_costs of opening every leg on the entry date + closing it on the exit date at its close
                    price (legs settled at expiry pay no closing costs; STT on exercise is not modelled)
    pnl_net       = pnl − costs
Statistics are net of costs; gross is alongside. A win is a closed trade with pnl_net > 0 (a loss: ≤ 0). Max
drawdown (₹, ≥ 0): the largest fall from a running peak of the cumulative realized net P&L, summed per exit date
in date order and starting from 0.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.picks import RANKED, entry_order
from optionsv4_lib.analysis.result import AnalysisResult
from optionsv4_lib.core.errors import OptionsV4Error
from optionsv4_lib.marketdata.source import MarketDataSource
from optionsv4_lib.monitoring.exit_decision import exit_hits, first_exits
from optionsv4_lib.monitoring.marks import LEG_COLUMNS, fetch_chains, mark_legs, position_metrics
from optionsv4_lib.reference.calendar import holiday_coverage, trading_days
from optionsv4_lib.reference.costs import leg_costs

POSITION_COLUMNS = (
    "trade_id", "policy", "entry_date", "entry_no", "candidate_id", "symbol", "sector", "industry", "family",
    "strategy", "market_state", "score", "lots", "expiry", "far_expiry", "net_premium", "max_profit", "max_loss",
    "capital_at_risk", "pop_net", "pop_market", "expected_pnl_net", "expected_pnl_market", "margin",
)
"""One row per paper position; policy: the pick policy that chose it (analysis.picks: ranked, random,
family:<strategy>); trade_id = '<entry date>:<candidate id>' for ranked picks, '<policy>/<entry date>:<candidate id>'
for a baseline's; entry_no: its place in the policy's entry order that date (0 first). Money in ₹ for the whole
position; the predictions as the analysis made them at entry: pop_net and expected_pnl_net (the view), pop_market and
expected_pnl_market (the smile), margin (what a broker blocks)."""

RULE_COLUMNS = ("strategy_id", "exit_no", "kind", "metric", "comparison", "threshold", "leg_no", "action",
                "description")
"""Exit rules keyed by strategy_id (= trade_id), as monitoring.exit_hits reads them."""

TRADE_COLUMNS = (*POSITION_COLUMNS, "status", "exit_date", "exit_kind", "exit_rule", "last_marked", "days_held",
                 "unpriced_days", "pnl", "costs", "pnl_net", "note")
"""Positions with their outcome: status closed | open; exit_kind an exit kind or 'expiry'; days_held calendar days
to the exit (open: to the last mark); unpriced_days: days with data on which a leg had no price; pnl, costs, pnl_net
₹ (realized when closed, at the last marks when open); note: the exit rule, or the latest reason a leg had no
price."""

GROUPS = {"family": "Family", "market_state": "Market state"}
"""Groupings of the statistics: column → heading."""

SETTLED_RULE = "expiry: settled at intrinsic value"  # the monitor's words

Market = Callable[[date], MarketDataSource]
"""The market of one trading day; raises OptionsV4Error when the day has no data."""


@dataclass(frozen=True)
class Book:
    """Paper positions (POSITION_COLUMNS), their legs (monitoring.LEG_COLUMNS, strategy_id = trade_id) and exit rules
    (RULE_COLUMNS)."""

    positions: pd.DataFrame
    legs: pd.DataFrame
    rules: pd.DataFrame

    @staticmethod
    def combine(books: list["Book"]) -> "Book":
        """One book holding the positions of `books` (of different entry dates)."""
        return Book(*(pd.concat([getattr(b, name) for b in books], ignore_index=True)
                      for name in ("positions", "legs", "rules")))


@dataclass(frozen=True)
class Carried:
    """The outcome of carrying a book: `trades` (TRADE_COLUMNS), `legs` (the book's legs with price ₹/unit — the close
    price, or the last mark of an open position — and settled), `skipped` (day, reason: days without data, chains a
    day lacked, the end of the trading calendar)."""

    trades: pd.DataFrame
    legs: pd.DataFrame
    skipped: pd.DataFrame


@dataclass(frozen=True)
class Summary:
    """`totals`: trade_stats of every trade. `groups`: GROUPS key → trade_stats per value, best total P&L first.
    `equity`: per exit date, realized_pnl (net ₹ that day), cumulative and drawdown (₹ below the running peak)."""

    totals: dict[str, float]
    groups: dict[str, pd.DataFrame]
    equity: pd.DataFrame


# ---------------------------------------------------------------- entry


def enter(result: AnalysisResult, top: int = 10, policy: str = RANKED, seed: int = 0) -> Book:
    """The first `top` sized strategies of `result` (0 = all) in `policy`'s entry order (analysis.picks: best score
    first; random: shuffled by `seed`) as paper positions entered on its trade date."""
    chosen = entry_order(result.strategies, policy, seed, result.trade_date)
    chosen = chosen.head(top) if top else chosen
    prefix = ("" if policy == RANKED else f"{policy}/") + f"{result.trade_date.isoformat()}:"
    positions = chosen.assign(trade_id=prefix + chosen["candidate_id"], entry_date=pd.Timestamp(result.trade_date),
                              entry_no=np.arange(len(chosen)), market_state=result.market.state, policy=policy)
    trade_of = positions.set_index("candidate_id")["trade_id"]
    legs = result.legs[result.legs["candidate_id"].isin(trade_of.index)]
    legs = legs.assign(strategy_id=legs["candidate_id"].map(trade_of),
                       symbol=legs["candidate_id"].map(positions.set_index("candidate_id")["symbol"]),
                       qty=legs["qty"].astype(float))
    rules = result.exits.reset_index(drop=True)
    rules = rules.assign(exit_no=rules.groupby("candidate_id").cumcount())  # as store.runs numbers them
    rules = rules[rules["candidate_id"].isin(trade_of.index)]
    rules = rules.assign(strategy_id=rules["candidate_id"].map(trade_of), threshold=rules["threshold"].astype(float))
    return Book(positions.reindex(columns=POSITION_COLUMNS).reset_index(drop=True),
                legs.reindex(columns=LEG_COLUMNS).reset_index(drop=True),
                rules.reindex(columns=RULE_COLUMNS).reset_index(drop=True))


# ---------------------------------------------------------------- one day


def close_prices(marked: pd.DataFrame) -> np.ndarray:
    """₹/unit each marked leg (monitoring.marks.mark_legs) closes at: an option at the touch of a two-sided quote (a BUY leg
    sells at the bid, a SELL leg buys back at the ask), else — settled, stock, or one-sided — at its mark."""
    two_sided = (marked["bid"] > 0) & (marked["ask"] > 0)
    option = marked["instrument"].isin(["CE", "PE"]) & ~marked["settled"]
    touch = np.where(marked["side"] == "BUY", marked["bid"], marked["ask"])
    return np.where(two_sided & option, touch, marked["mark"]).astype(float)


def mark_day(legs: pd.DataFrame, rules: pd.DataFrame, chain: pd.DataFrame, day: date
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One day of the monitor over open positions at the day's quotes (see the module docstring, steps 1–2).

    Returns (positions, legs). positions, indexed by strategy_id: closed (bool), exit_kind, exit_rule (e.g.
    'profit_target (pnl 70000 ≥ 65062.5)'), priced (every leg has a mark), reason (why a leg has no price, or why a
    hit could not close). legs, on `legs`' index: price ₹/unit (the close price when its position closed today,
    else its mark) and settled.
    """
    marked = mark_legs(legs, chain, day).set_axis(legs.index)
    metrics = position_metrics(marked, day).set_index("strategy_id")
    hits = exit_hits(rules, metrics.reset_index(), marked)
    first = first_exits(hits)
    price = pd.Series(close_prices(marked), index=legs.index)
    closable = ~price.isna().groupby(legs["strategy_id"]).any()

    out = pd.DataFrame(index=metrics.index)
    hit = out.index.isin(first.index)
    out["closed"] = hit & closable.reindex(out.index).to_numpy()
    rule = first["rule"]
    out["exit_kind"] = first["kind"].reindex(out.index).where(out["closed"])
    out["exit_rule"] = rule.reindex(out.index).where(out["closed"])
    out["priced"] = metrics["pnl"].notna()
    out["reason"] = metrics["unpriced_reason"].astype(object).where(metrics["unpriced_reason"].notna(), None)
    for stuck in out.index[hit & ~out["closed"]]:
        out.loc[stuck, "reason"] = f"{rule[stuck]} hit, but it cannot close: {out.loc[stuck, 'reason']}"
    settled = marked["settled"].copy()

    due = out.index[(metrics["dte"] <= 0) & ~out["closed"]]  # expiring today (or earlier), still open at the close
    if len(due):
        expiring = legs[legs["strategy_id"].isin(due)]
        after = mark_legs(expiring, chain, day, after_close=True).set_axis(expiring.index)
        after_price = pd.Series(close_prices(after), index=expiring.index)
        done = ~after_price.isna().groupby(expiring["strategy_id"]).any()
        done = done.index[done]
        rows = expiring.index[expiring["strategy_id"].isin(done)]
        price[rows], settled[rows] = after_price[rows], after.loc[rows, "settled"]
        out.loc[done, "closed"] = True
        out.loc[done, "exit_kind"], out.loc[done, "exit_rule"], out.loc[done, "reason"] = "expiry", SETTLED_RULE, None

    closing = legs["strategy_id"].map(out["closed"]).to_numpy(bool)
    leg_out = pd.DataFrame({"price": np.where(closing, price, marked["mark"]), "settled": settled & closing},
                           index=legs.index)
    return out, leg_out


# ---------------------------------------------------------------- the walk


def carry_days(book: Book) -> tuple[list[date], str | None]:
    """The trading days after the first entry up to the last leg expiry, and why they stop early (the holiday
    calendar ends first) or None."""
    first = book.positions["entry_date"].min().date()
    last = pd.to_datetime(book.legs["expiry"]).max().date()
    covered_to = holiday_coverage()[1]
    cut = None
    if last > covered_to:
        cut = f"no trading calendar after {covered_to} (include/data/nse_holidays.csv): positions still open stay open"
        last = covered_to
    return trading_days(first, last)[1:], cut  # the first entry date is a trading day


def carry(book: Book, market: Market) -> Carried:
    """Carry every position of `book` from the day after its entry to its exit, expiry, or the end of the data."""
    positions = book.positions.set_index("trade_id")
    entry = positions["entry_date"]
    state = pd.DataFrame({"status": "open", "exit_date": pd.NaT, "exit_kind": None, "exit_rule": None,
                          "last_marked": pd.NaT, "unpriced_days": 0, "note": None}, index=positions.index)
    state = state.astype({"exit_date": "datetime64[s]", "last_marked": "datetime64[s]", "exit_kind": object,
                          "exit_rule": object, "note": object})
    legs = book.legs.assign(price=np.nan, settled=False)
    skipped: list[dict] = []
    days, cut = carry_days(book) if len(book.positions) else ([], None)
    for day in days:
        still_open = state["status"] == "open"
        active = state.index[still_open & (entry < pd.Timestamp(day))]
        if active.empty:
            if still_open.any():
                continue  # positions entered later
            break
        try:
            source = market(day)
        except OptionsV4Error as exc:
            skipped.append({"day": day, "reason": str(exc)})
            continue
        held = legs[legs["strategy_id"].isin(active)]
        chain, missing = fetch_chains(source, held)
        result, leg_result = mark_day(held[list(LEG_COLUMNS)], book.rules[book.rules["strategy_id"].isin(active)],
                                      chain, day)
        skipped += [{"day": day, "reason": f"no chain {gap}"} for gap in missing]  # its legs stay unpriced
        closed, marked = result.index[result["closed"]], result.index[result["priced"] | result["closed"]]
        state.loc[closed, "status"] = "closed"
        state.loc[closed, "exit_date"] = pd.Timestamp(day)
        for column in ("exit_kind", "exit_rule"):
            state.loc[closed, column] = result.loc[closed, column]
        state.loc[marked, "last_marked"] = pd.Timestamp(day)
        state.loc[result.index[~result["priced"]], "unpriced_days"] += 1
        notes = result["reason"].where(~result["closed"], result["exit_rule"]).dropna()
        state.loc[notes.index, "note"] = notes
        kept = leg_result.index[held["strategy_id"].isin(marked).to_numpy()]  # a complete mark replaces the last one
        legs.loc[kept, "price"] = leg_result.loc[kept, "price"]
        legs.loc[kept, "settled"] = leg_result.loc[kept, "settled"]
    if cut and (state["status"] == "open").any():
        skipped.append({"day": holiday_coverage()[1], "reason": cut})
    trades = positions.join(state).reset_index()
    return Carried(_with_pnl(trades, legs), legs, pd.DataFrame(skipped, columns=["day", "reason"]))


def _with_pnl(trades: pd.DataFrame, legs: pd.DataFrame) -> pd.DataFrame:
    """trades + days_held, pnl, costs, pnl_net (see the module docstring)."""
    if legs.empty:
        return trades.assign(days_held=np.nan, pnl=np.nan, costs=np.nan, pnl_net=np.nan).reindex(columns=TRADE_COLUMNS)
    by_id = trades.set_index("trade_id")
    sign = np.where(legs["side"] == "BUY", 1.0, -1.0)
    qty, entry_price, price = (legs[c].to_numpy(float) for c in ("qty", "entry_price", "price"))
    opened_on = legs["strategy_id"].map(by_id["entry_date"]).to_numpy("datetime64[D]")
    closed_on = legs["strategy_id"].map(by_id["last_marked"]).to_numpy("datetime64[D]")
    closed_on = np.where(np.isnat(closed_on), opened_on, closed_on)
    opening = leg_costs(legs["instrument"].to_numpy(object), legs["side"].to_numpy(object), entry_price, qty, opened_on)
    closing = leg_costs(legs["instrument"].to_numpy(object), np.where(sign > 0, "SELL", "BUY"),
                        np.nan_to_num(price), qty, closed_on)
    closing_total = np.where(legs["settled"].to_numpy(bool), 0.0, closing.total)
    per_leg = pd.DataFrame({"trade_id": legs["strategy_id"].to_numpy(), "pnl": sign * qty * (price - entry_price),
                            "costs": opening.total + np.where(np.isnan(price), np.nan, closing_total)})
    sums = per_leg.groupby("trade_id")[["pnl", "costs"]].sum(min_count=1)
    sums[per_leg["pnl"].isna().groupby(per_leg["trade_id"]).any()] = np.nan  # an unpriced leg: P&L unknown
    out = trades.join(sums, on="trade_id")
    held_until = out["exit_date"].fillna(out["last_marked"])
    return out.assign(days_held=(held_until - out["entry_date"]).dt.days, pnl_net=out["pnl"] - out["costs"]
                      ).reindex(columns=TRADE_COLUMNS)


# ---------------------------------------------------------------- statistics


def max_drawdown(pnl) -> float:
    """The largest fall (₹, ≥ 0) from a running peak of the cumulative sum of `pnl` (in order), starting from 0."""
    equity = np.concatenate(([0.0], np.cumsum(np.asarray(pnl, dtype=float))))
    return float((np.maximum.accumulate(equity) - equity).max())


def daily_equity(trades: pd.DataFrame) -> pd.DataFrame:
    """Closed trades' net P&L per exit date: exit_date, realized_pnl, cumulative and drawdown (₹)."""
    closed = trades[trades["status"] == "closed"]
    daily = closed.groupby("exit_date")["pnl_net"].sum().sort_index()
    cumulative = daily.cumsum()
    peak = np.maximum.accumulate(np.concatenate(([0.0], cumulative.to_numpy())))[1:]
    return pd.DataFrame({"exit_date": daily.index, "realized_pnl": daily.to_numpy(),
                         "cumulative": cumulative.to_numpy(), "drawdown": peak - cumulative.to_numpy()})


def trade_stats(trades: pd.DataFrame) -> dict[str, float]:
    """trades, closed, open, wins, win_rate (NaN with nothing closed), realized_pnl (net), gross_realized_pnl, costs
    (of the closed trades), avg_win, avg_loss (net, NaN without any), max_drawdown, unrealized_pnl (open trades, net
    of their costs to date and to close at the marks), unpriced (open trades without a mark), total_pnl; ₹."""
    closed = trades[trades["status"] == "closed"]
    still_open = trades[trades["status"] != "closed"]
    net = closed["pnl_net"]
    wins = net > 0
    realized, unrealized = float(net.sum()), float(still_open["pnl_net"].sum())
    return {
        "trades": len(trades), "closed": len(closed), "open": len(still_open), "wins": int(wins.sum()),
        "win_rate": float(wins.mean()) if len(closed) else float("nan"),
        "realized_pnl": realized, "gross_realized_pnl": float(closed["pnl"].sum()),
        "costs": float(closed["costs"].sum()), "avg_win": float(net[wins].mean()) if wins.any() else float("nan"),
        "avg_loss": float(net[~wins].mean()) if (~wins).any() else float("nan"),
        "max_drawdown": max_drawdown(closed.groupby("exit_date")["pnl_net"].sum().sort_index()),
        "unrealized_pnl": unrealized, "unpriced": int(still_open["pnl_net"].isna().sum()),
        "total_pnl": realized + unrealized,
    }


def group_stats(trades: pd.DataFrame, key: str) -> pd.DataFrame:
    """trade_stats per value of `key`, best total P&L first (ties by value)."""
    rows = [{key: value, **trade_stats(group)} for value, group in trades.groupby(key, sort=True)]
    columns = [key, *trade_stats(trades.iloc[:0])]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["total_pnl", key], ascending=[False, True], ignore_index=True)


def summarize(trades: pd.DataFrame) -> Summary:
    """Totals, per-family and per-market-state statistics, and the daily realized equity of `trades`."""
    return Summary(trade_stats(trades), {key: group_stats(trades, key) for key in GROUPS}, daily_equity(trades))
