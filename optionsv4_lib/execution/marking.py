"""Marking strategies for execution (the old system's mark_for_execution.py) over strategy_execution_status.

Marking a strategy inserts its status row: status 'marked', a mode ('paper' unless asked), and the lots the run
sized it with (the analysis sized every stored strategy of a run together within the run's symbol, per-trade,
industry and total caps, so any subset of them respects the run's sizing). The executor takes it from there.

Rules:
- Idempotent: a strategy that already has a status row (marked, or any later status) is left exactly as it is and
  reported with its status; marking twice never duplicates or resets anything.
- Except by id: `mark` marks again a strategy whose execution ended flat (MARK_AGAIN: failed, rejected, cancelled);
  its row goes back to 'marked' (the note keeps the earlier outcome) and the executor starts a new attempt.
- A strategy of a run that is not current is refused unless `force` is given: a run dated after the next session
  (a run holds the quotes of its own session), before the latest NSE trading day, or whose latest quotes were taken
  before the close of the session preceding the latest trading day (run_symbols.quoted_at); and a strategy of a run
  superseded by a later revision of its day (a re-run after marking).
- `mark_top` and `mark_best` choose from the latest run (of a risk profile, or of any): of the runs dated up to the
  next session, the one whose quotes were taken last; a strategy of theirs that is already marked or executed counts
  as chosen and is skipped, so running them twice changes nothing.
- Unmarking is allowed only while the status is 'marked' (the executor has not started; it sets 'placing' before
  any order). It deletes the row, or, when orders of earlier attempts exist, sets it to 'cancelled' so the record
  stays. Anything further along is refused with the reason.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from numbers import Integral
from typing import Literal, get_args

import pandas as pd

from optionsv4_lib.core.domain import RISK_PROFILES
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.execution import ledger
from optionsv4_lib.execution.checks import staleness
from optionsv4_lib.reference.calendar import IST, current_or_next_trading_day
from optionsv4_lib.store.db import writing

Mode = Literal["paper", "live"]
MODES: tuple[Mode, ...] = get_args(Mode)

MARK_AGAIN = ("failed", "rejected", "cancelled")
"""Statuses of an execution that ended without positions: `mark` by id may mark these again."""

_REFUSED_UNMARK = {
    "placing": "its orders are being placed",
    "open": "it has open positions; exit it through the executor",
    "partially_filled": "it has open positions; exit it through the executor",
    "exiting": "it is being exited",
    "closed": "its execution is finished; the record is kept",
    "rejected": "its execution is finished; the record is kept",
    "failed": "its execution is finished; the record is kept",
    "cancelled": "its execution is finished; the record is kept",
}


@dataclass(frozen=True)
class Outcome:
    """What a mark or unmark call did, per strategy id: `done` changed, `already` left as it was (id → current
    status, or 'not marked'), `refused` not changed (id → reason)."""

    done: list[int] = field(default_factory=list)
    already: dict[int, str] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Run:
    run_id: int
    trade_date: date
    risk_profile: str
    quoted_at: datetime | None  # the latest quote time of its symbols


def recent_strategies(conn, risk_profile: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The strategies of the latest trade date's run(s) (one per risk profile, or only `risk_profile`'s), best score
    first, at most `limit` of them, with their execution status.

    Columns: strategy_id, trade_date, risk_profile, symbol, industry, family, strategy, lots, lot_size (units per
    lot), score, pop, max_profit, max_loss, capital_at_risk (₹, whole position), status and mode (None when never
    marked). Empty when no run is stored.
    """
    _profile(risk_profile)
    return ledger.recent_strategies(conn, risk_profile, limit)


def mark(conn, ids: Iterable[int], *, mode: Mode = "paper", force: bool = False,
         today: date | None = None) -> Outcome:
    """Mark the strategies `ids` for execution in `mode`, or again after a flat end (see the module rules), in one
    transaction."""
    ids, mode = _ids(ids), _mode(mode)
    with writing(conn, "strategy_execution_status") as cur:
        return _mark(cur, ids, mode, force, today or datetime.now(IST).date(), again=True)


def mark_top(conn, n: int, *, risk_profile: str | None = None, mode: Mode = "paper", force: bool = False,
             today: date | None = None) -> Outcome:
    """Mark the `n` best-scored strategies (ties by candidate id) of the latest run of `risk_profile` (default: the
    latest run of any profile). Raises DataError when there is no run, the run is stale and not `force`, or it has
    no sized strategy."""
    if n < 1:
        raise InputError(f"top: must be at least 1, got {n}")
    _profile(risk_profile)
    mode, today = _mode(mode), today or datetime.now(IST).date()
    with writing(conn, "strategy_execution_status") as cur:
        run = _latest_run(cur, risk_profile, today, force)
        ids = ledger.top_strategy_ids(cur, run.run_id, n)
        if not ids:
            raise DataError(f"the run of {run.trade_date} ({run.risk_profile}) has no sized strategy to mark")
        return _mark(cur, ids, mode, force, today, again=False)


def mark_best(conn, symbol: str, *, risk_profile: str | None = None, mode: Mode = "paper", force: bool = False,
              today: date | None = None) -> Outcome:
    """Mark the best-scored strategy of `symbol` in the latest run of `risk_profile` (default: of any profile).
    Raises DataError when there is no run, the run is stale and not `force`, or it has no strategy for `symbol`."""
    symbol = symbol.strip().upper()
    _profile(risk_profile)
    mode, today = _mode(mode), today or datetime.now(IST).date()
    with writing(conn, "strategy_execution_status") as cur:
        run = _latest_run(cur, risk_profile, today, force)
        found = ledger.best_strategy_id(cur, run.run_id, symbol)
        if found is None:
            analyzed = ledger.symbol_outcome(cur, run.run_id, symbol)  # (status, reason) of the symbol in the run
            why = (f"{analyzed[0]}: {analyzed[1]}" if analyzed and analyzed[1] else
                   "no strategy was sized" if analyzed else "not in the run's universe")
            raise DataError(f"{symbol}: no strategy in the run of {run.trade_date} ({run.risk_profile}): {why}")
        return _mark(cur, [found], mode, force, today, again=False)


def unmark(conn, ids: Iterable[int]) -> Outcome:
    """Unmark the strategies `ids` whose status is 'marked' (see the module rules); a strategy that is not marked is
    reported in `already`, anything further along in `refused` with the reason."""
    ids = _ids(ids)
    with writing(conn, "strategy_execution_status") as cur:
        found = ledger.execution_statuses(cur, ids)
        outcome = Outcome()
        for strategy_id in ids:
            if strategy_id not in found:
                outcome.refused[strategy_id] = "no such strategy"
            elif found[strategy_id] is None:
                outcome.already[strategy_id] = "not marked"
            elif found[strategy_id] != "marked":
                outcome.refused[strategy_id] = f"status is {found[strategy_id]}: {_REFUSED_UNMARK[found[strategy_id]]}"
        marked = [i for i in ids if found.get(i) == "marked"]
        changed = ledger.unmark_rows(cur, marked)
        for strategy_id in marked:
            if strategy_id in changed:
                outcome.done.append(strategy_id)
            else:  # the executor took it meanwhile
                outcome.refused[strategy_id] = "its status changed meanwhile; see optionsv4 status"
        return outcome


# ---------------------------------------------------------------- internals


def _mark(cur, ids: Sequence[int], mode: Mode, force: bool, today: date, *, again: bool) -> Outcome:
    """Insert 'marked' rows for `ids` without one and, when `again`, return MARK_AGAIN rows to 'marked'."""
    found = ledger.marking_rows(cur, ids)
    outcome, new, renewed = Outcome(), {}, {}
    for strategy_id in ids:
        if strategy_id not in found:
            outcome.refused[strategy_id] = "no such strategy"
            continue
        lots, trade_date, risk_profile, quoted_at, status, latest = found[strategy_id]
        stale = None if force else _stale(trade_date, risk_profile, quoted_at, today) or (
            None if latest else f"its run of {trade_date} ({risk_profile}) was superseded by a later revision of "
                                "that day: mark the new revision's strategies, or force it")
        if status is not None and not (again and status in MARK_AGAIN):
            outcome.already[strategy_id] = status
        elif stale:
            outcome.refused[strategy_id] = stale
        else:
            (new if status is None else renewed)[strategy_id] = lots
    changed = ledger.insert_marked(cur, mode, new) | ledger.mark_again(cur, mode, list(renewed), MARK_AGAIN)
    for strategy_id in (i for i in ids if i in new or i in renewed):
        if strategy_id in changed:
            outcome.done.append(strategy_id)
        else:  # marked by someone else meanwhile
            outcome.already[strategy_id] = "marked"
    return outcome


def _latest_run(cur, risk_profile: str | None, today: date, force: bool) -> _Run:
    found = ledger.latest_run(cur, risk_profile, current_or_next_trading_day(today))
    if found is None:
        which = f" for risk profile {risk_profile!r}" if risk_profile else ""
        raise DataError(f"analysis_runs: no run{which} dated up to the next session; run `optionsv4 analyze` first")
    run = _Run(*found)
    stale = None if force else _stale(run.trade_date, run.risk_profile, run.quoted_at, today)
    if stale:
        raise DataError(stale)
    return run


def _stale(trade_date: date, risk_profile: str, quoted_at: datetime | None, today: date) -> str | None:
    """Why the run of `trade_date`, its latest quotes taken at `quoted_at`, is not current on `today` (see the module
    rules and checks.staleness), or None."""
    found = staleness(trade_date, quoted_at, today)
    if found is None:
        return None
    name = f"the run of {trade_date} ({risk_profile})"
    if found.kind == "future":
        return (f"{name} is dated after the next session {found.session}: a run holds the quotes of its own session; "
                "re-run the analysis, or force it")
    if found.kind == "old":
        return f"{name} is stale: the latest trading day is {found.session}; re-run the analysis, or force it"
    return (f"{name} is stale: its quotes were taken at {found.quoted_at.astimezone(IST):%Y-%m-%d %H:%M} IST, "
            f"before the close of {found.cutoff:%Y-%m-%d %H:%M} IST; re-run the analysis, or force it")


def _ids(ids: Iterable[int]) -> list[int]:
    """Distinct strategy ids in the order given. Raises InputError for none, or for one that is not a positive
    whole number."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise InputError("ids: give at least one strategy id")
    bad = [i for i in unique if isinstance(i, bool) or not isinstance(i, Integral) or i < 1]
    if bad:
        raise InputError(f"ids: strategy ids are positive whole numbers, got {bad[0]!r}")
    return [int(i) for i in unique]


def _mode(mode: str) -> Mode:
    if mode not in MODES:
        raise InputError(f"mode: unknown {mode!r}; expected one of {', '.join(MODES)}")
    return mode  # type: ignore[return-value]


def _profile(risk_profile: str | None) -> None:
    if risk_profile is not None and risk_profile not in RISK_PROFILES:
        raise InputError(f"risk profile: unknown {risk_profile!r}; expected one of {', '.join(RISK_PROFILES)}")
