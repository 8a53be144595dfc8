"""Pre-trade checks: every reason a planned strategy may not be placed now, each a sentence naming the numbers.

Per strategy, in plan order (the strategies cleared so far use up funds and caps):
- kill switch active at the broker;
- market hours: an NSE trading day, inside the F&O normal market (calendar.session, IST);
- stale analysis: its trade date is older than today's trading day (today, or the last one on a holiday), or its
  run's latest quotes were taken before the close of the session preceding that day; a trade date after the next
  session is a future analysis (a run holds the quotes of its own session);
- budget: capital at risk (₹, for the marked lots) within the risk profile's per-trade share of the run's capital,
  and undefined risk only where the profile allows it;
- industry and total caps: capital at risk already held in this mode (`committed`) plus this strategy's, within the
  profile's per-industry and total shares of capital;
- margin vs funds: the broker's margin for the orders (or the capital at risk when it has no calculator) within
  the available funds.
In paper mode market hours and staleness are warnings, not blocks: a paper fill replays recorded quotes, so a
rehearsal after the close or of a past day is legitimate. Everything but `check_context` is pure.
"""

from dataclasses import dataclass
from datetime import date, datetime

from optionsv4_lib.analysis.limits import RiskLimits
from optionsv4_lib.execution import ledger
from optionsv4_lib.execution.broker import Broker, Mode
from optionsv4_lib.execution.plan import StrategyPlan
from optionsv4_lib.reference.calendar import (
    IST,
    closed_reason,
    current_or_next_trading_day,
    latest_trading_day,
    previous_close,
    session,
)

_TOLERANCE = 1e-9  # relative: sizes at a limit pass


@dataclass(frozen=True)
class CheckContext:
    """What the checks compare against: the time (IST), the broker's state, and what is already committed."""

    now: datetime
    mode: Mode
    kill_switch: bool
    funds: float  # ₹ available at the broker
    committed: dict[str, float]  # ₹ capital at risk per industry held by strategies of this mode
    profiles: dict[str, RiskLimits]


def check_context(conn, broker: Broker, profiles: dict[str, RiskLimits], *, now: datetime,
                  exclude: tuple[int, ...] = ()) -> CheckContext:
    """Ask the broker (kill switch, funds) and the ledger (capital committed by other strategies than `exclude`)."""
    return CheckContext(now.astimezone(IST), broker.mode, broker.kill_switch_active(), broker.available_funds(),
                        ledger.committed_capital(conn, broker.mode, exclude), dict(profiles))


def market_hours_reason(now: datetime) -> str | None:
    """Why `now` is outside the F&O normal market, or None inside it."""
    moment = now.astimezone(IST)
    day = moment.date()
    if closed := closed_reason(day):
        return f"market closed: {closed}"
    opens, closes = session(day)
    if not opens <= moment.time() < closes:
        return f"market closed: {moment:%H:%M} IST is outside the F&O session {opens:%H:%M}–{closes:%H:%M}"
    return None


@dataclass(frozen=True)
class Staleness:
    """Why a run is not current: `kind` 'future' (dated after `session`, the next session), 'old' (dated before
    `session`, the latest trading day) or 'quotes' (its latest quotes, `quoted_at`, before `cutoff`, the close of the
    session preceding the latest trading day)."""

    kind: str
    session: date
    quoted_at: datetime | None = None
    cutoff: datetime | None = None


def staleness(trade_date: date, quoted_at: datetime | None, today: date) -> Staleness | None:
    """The one rule of a run's currency on `today`, for marking and the pre-trade checks; None when current."""
    current, upcoming = latest_trading_day(today), current_or_next_trading_day(today)
    if trade_date > upcoming:
        return Staleness("future", upcoming)
    if trade_date < current:
        return Staleness("old", current)
    cutoff = previous_close(current)
    if quoted_at is not None and quoted_at < cutoff:
        return Staleness("quotes", current, quoted_at, cutoff)
    return None


def stale_reason(trade_date: date, now: datetime, quoted_at: datetime | None = None) -> str | None:
    """Why an analysis of `trade_date`, its latest quotes taken at `quoted_at` (None: not stored), is not for trading
    at `now`, or None."""
    found = staleness(trade_date, quoted_at, now.astimezone(IST).date())
    if found is None:
        return None
    if found.kind == "future":
        return f"future analysis: trade date {trade_date} is after the next session {found.session}"
    if found.kind == "old":
        return f"stale analysis: trade date {trade_date} is older than today's trading day {found.session}"
    return (f"stale analysis: its quotes were taken at {found.quoted_at.astimezone(IST):%Y-%m-%d %H:%M} IST, before "
            f"the close of {found.cutoff:%Y-%m-%d %H:%M} IST")


def apply_checks(plans: list[StrategyPlan], context: CheckContext) -> None:
    """Add each plan's blocking reasons and warnings (in place); cleared plans use up funds and caps in order."""
    used_funds, used_total, used_by_industry = 0.0, 0.0, dict(context.committed)
    committed_total = sum(context.committed.values())
    market = market_hours_reason(context.now)
    for plan in plans:
        s = plan.strategy
        if context.kill_switch:
            plan.reasons.append("kill switch is active at the broker: trading is disabled for the day")
        timing = [reason for reason in (market, stale_reason(s.trade_date, context.now, s.quoted_at)) if reason]
        (plan.warnings if context.mode == "paper" else plan.reasons).extend(timing)
        limits = context.profiles.get(s.risk_profile)
        if limits is None:
            plan.reasons.append(f"risk profile {s.risk_profile!r} of the analysis run is not configured")
            continue
        risk, capital = s.capital_at_risk, s.capital
        per_trade = limits.max_loss_per_trade * capital
        if _over(risk, per_trade):
            plan.reasons.append(f"budget: capital at risk ₹{risk:,.0f} exceeds the per-trade limit ₹{per_trade:,.0f} "
                                f"({limits.max_loss_per_trade:.1%} of ₹{capital:,.0f}, {s.risk_profile})")
        if s.risk_type == "undefined" and not limits.allow_undefined_risk:
            plan.reasons.append(f"undefined risk: the {s.risk_profile} profile allows defined-risk strategies only")
        industry_cap, held = limits.max_industry * capital, used_by_industry.get(s.industry, 0.0)
        if _over(held + risk, industry_cap):
            plan.reasons.append(f"industry cap: {s.industry} would hold ₹{held + risk:,.0f} at risk, over "
                                f"₹{industry_cap:,.0f} ({limits.max_industry:.1%} of capital; ₹{held:,.0f} held)")
        total_cap, held_total = limits.max_total * capital, committed_total + used_total
        if _over(held_total + risk, total_cap):
            plan.reasons.append(f"total cap: the portfolio would hold ₹{held_total + risk:,.0f} at risk, over "
                                f"₹{total_cap:,.0f} ({limits.max_total:.1%} of capital; ₹{held_total:,.0f} held)")
        needed, left = plan.required_margin, context.funds - used_funds
        if _over(needed, left):
            source = "broker margin" if plan.margin is not None else "capital at risk, no margin calculator"
            plan.reasons.append(f"margin: needs ₹{needed:,.0f} ({source}), ₹{max(left, 0.0):,.0f} available")
        if not plan.blocked:
            used_funds += needed
            used_total += risk
            used_by_industry[s.industry] = held + risk


def _over(amount: float, limit: float) -> bool:
    return amount > limit * (1 + _TOLERANCE)
