"""Pure parts of execution: the live gate, pre-trade check reasons, limit prices and paper fill prices on the tick,
and correlation ids. No database, no HTTP."""

from datetime import date, datetime, timezone

import pytest

from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.execution import CONFIRMATION_TEXT, CheckContext, LiveTradingRefused, apply_checks, resolve_mode
from optionsv4_lib.execution.broker import Quote
from optionsv4_lib.execution.checks import market_hours_reason, stale_reason
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.execution.plan import MarkedStrategy, StrategyPlan, correlation_id, limit_price
from optionsv4_lib.reference.calendar import IST

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=IST)
PROFILES = Settings().profiles  # conservative: 1 % per trade, 8 % per industry, 40 % in all, of capital
CAPITAL = 30_000_000.0


# ---------------------------------------------------------------- the live gate


def test_paper_needs_no_key():
    assert resolve_mode("paper", confirm=False, settings=Settings(live_trading=False)) == "paper"


def test_live_with_every_key():
    armed = Settings(live_trading=True)
    assert resolve_mode("live", confirm=True, settings=armed) == "live"
    assert resolve_mode("live", confirm=True, settings=armed, confirmation=CONFIRMATION_TEXT,
                        require_text=True) == "live"


@pytest.mark.parametrize("flag, confirm, text, missing", [
    (False, True, CONFIRMATION_TEXT, ["OPTIONSV4_LIVE_TRADING=1 is not set"]),
    (True, False, CONFIRMATION_TEXT, ["no explicit confirmation"]),
    (True, True, "place live orders", ["must be exactly 'PLACE LIVE ORDERS', got 'place live orders'"]),
    (True, True, "", ["must be exactly 'PLACE LIVE ORDERS', got ''"]),
    (False, False, None, ["OPTIONSV4_LIVE_TRADING=1 is not set", "no explicit confirmation",
                          "must be exactly 'PLACE LIVE ORDERS', got None"]),
])
def test_live_refused_naming_every_missing_key(flag, confirm, text, missing):
    with pytest.raises(LiveTradingRefused) as refused:
        resolve_mode("live", confirm=confirm, settings=Settings(live_trading=flag), confirmation=text,
                     require_text=True)
    message = str(refused.value)
    assert message.startswith("live trading refused: ")
    assert all(part in message for part in missing)
    assert message.count(";") == len(missing) - 1


def test_the_environment_flag_is_the_setting(monkeypatch):
    monkeypatch.setenv("OPTIONSV4_LIVE_TRADING", "1")
    assert resolve_mode("live", confirm=True, settings=Settings()) == "live"
    monkeypatch.setenv("OPTIONSV4_LIVE_TRADING", "0")
    with pytest.raises(LiveTradingRefused, match="OPTIONSV4_LIVE_TRADING=1 is not set"):
        resolve_mode("live", confirm=True, settings=Settings())


def test_unknown_mode():
    with pytest.raises(InputError, match=r"mode: unknown 'real'; expected one of paper, live"):
        resolve_mode("real", confirm=True, settings=Settings())


# ---------------------------------------------------------------- market hours and staleness


@pytest.mark.parametrize("moment, reason", [
    (MONDAY_10, None),
    (datetime(2026, 11, 23, 9, 15, tzinfo=IST), None),
    (datetime(2026, 11, 23, 9, 14, tzinfo=IST), "market closed: 09:14 IST is outside the F&O session 09:15–15:40"),
    (datetime(2026, 11, 23, 15, 40, tzinfo=IST), "market closed: 15:40 IST is outside the F&O session 09:15–15:40"),
    (datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc), None),  # 09:30 IST
    (datetime(2026, 11, 24, 10, 0, tzinfo=IST),
     "market closed: 2026-11-24 is not an NSE trading day (Prakash Gurpurb Sri Guru Nanak Dev)"),
    (datetime(2026, 11, 28, 10, 0, tzinfo=IST), "market closed: 2026-11-28 is not an NSE trading day (weekend)"),
])
def test_market_hours(moment, reason):
    assert market_hours_reason(moment) == reason


@pytest.mark.parametrize("trade_date, moment, stale_since", [
    (date(2026, 11, 23), MONDAY_10, None),
    (date(2026, 11, 20), MONDAY_10, date(2026, 11, 23)),  # Friday's analysis on Monday
    (date(2026, 11, 23), datetime(2026, 11, 24, 11, 0, tzinfo=IST), None),  # a holiday: Monday is still current
    (date(2026, 11, 23), datetime(2026, 11, 25, 9, 0, tzinfo=IST), date(2026, 11, 25)),
])
def test_stale_analysis(trade_date, moment, stale_since):
    expected = None if stale_since is None else \
        f"stale analysis: trade date {trade_date} is older than today's trading day {stale_since}"
    assert stale_reason(trade_date, moment) == expected


@pytest.mark.parametrize("trade_date, quoted_at, reason", [
    (date(2026, 11, 23), datetime(2026, 11, 23, 8, 45, tzinfo=IST), None),  # pre-market quotes of Monday's run
    (date(2026, 11, 23), datetime(2026, 11, 20, 15, 40, tzinfo=IST), None),  # Friday's close
    (date(2026, 11, 23), datetime(2026, 11, 20, 15, 0, tzinfo=IST),
     "stale analysis: its quotes were taken at 2026-11-20 15:00 IST, before the close of 2026-11-20 15:40 IST"),
    (date(2026, 12, 21), datetime(2026, 11, 23, 9, 30, tzinfo=IST),
     "future analysis: trade date 2026-12-21 is after the next session 2026-11-23"),
])
def test_freshness_is_judged_by_the_quote_time(trade_date, quoted_at, reason):
    assert stale_reason(trade_date, MONDAY_10, quoted_at) == reason


# ---------------------------------------------------------------- the checks over plans


def strategy(strategy_id: int, *, industry: str = "Power", risk: float = 200_000.0, risk_type: str = "defined",
             trade_date: date = date(2026, 11, 23), profile: str = "conservative") -> StrategyPlan:
    marked = MarkedStrategy(strategy_id, "marked", "paper", None, 10, 1, trade_date, profile, CAPITAL,
                            f"X{strategy_id}:iron-condor:0", f"X{strategy_id}", industry, "Iron Condor", risk_type,
                            100, risk, -risk, 10_000.0)
    return StrategyPlan(marked, 1, False, [])


def context(*, mode: str = "live", now: datetime = MONDAY_10, kill_switch: bool = False, funds: float = 10_000_000,
            committed: dict | None = None) -> CheckContext:
    return CheckContext(now, mode, kill_switch, funds, committed or {}, PROFILES)


def test_a_future_dated_run_is_blocked_live():
    plans = [strategy(1, trade_date=date(2026, 12, 21))]
    apply_checks(plans, context(mode="live"))
    assert plans[0].reasons == ["future analysis: trade date 2026-12-21 is after the next session 2026-11-23"]


def test_a_plan_within_every_limit_is_cleared():
    plans = [strategy(1)]
    apply_checks(plans, context())
    assert plans[0].reasons == [] and plans[0].warnings == []


def test_kill_switch_blocks():
    plans = [strategy(1), strategy(2)]
    apply_checks(plans, context(kill_switch=True))
    assert [p.reasons for p in plans] == [["kill switch is active at the broker: trading is disabled for the day"]] * 2


def test_market_hours_and_staleness_block_live_but_only_warn_paper():
    after_close = datetime(2026, 11, 23, 16, 0, tzinfo=IST)
    live, paper = [strategy(1, trade_date=date(2026, 11, 20))], [strategy(1, trade_date=date(2026, 11, 20))]
    apply_checks(live, context(now=after_close))
    apply_checks(paper, context(now=after_close, mode="paper"))
    expected = ["market closed: 16:00 IST is outside the F&O session 09:15–15:40",
                "stale analysis: trade date 2026-11-20 is older than today's trading day 2026-11-23"]
    assert live[0].reasons == expected and live[0].warnings == []
    assert paper[0].reasons == [] and paper[0].warnings == expected


def test_budget_and_undefined_risk_follow_the_runs_profile():
    plans = [strategy(1, risk=300_001.0), strategy(2, risk_type="undefined"),
             strategy(3, risk=300_001.0, risk_type="undefined", profile="moderate")]
    apply_checks(plans, context())
    assert plans[0].reasons == ["budget: capital at risk ₹300,001 exceeds the per-trade limit ₹300,000 (1.0% of "
                                "₹30,000,000, conservative)"]
    assert plans[1].reasons == ["undefined risk: the conservative profile allows defined-risk strategies only"]
    assert plans[2].reasons == []  # moderate: 2 % per trade, undefined risk allowed


def test_industry_and_total_caps_count_what_is_held_and_what_is_cleared_before():
    held = {"Power": 2_000_000.0, "Finance": 9_500_000.0}  # conservative caps: 2.4 M per industry, 12 M in all
    plans = [strategy(1), strategy(2, risk=300_000.0), strategy(3, industry="Oil", risk=250_000.0),
             strategy(4, industry="Oil", risk=100_000.0)]
    apply_checks(plans, context(committed=held, funds=50_000_000))
    assert [p.reasons for p in plans] == [
        [],
        ["industry cap: Power would hold ₹2,500,000 at risk, over ₹2,400,000 (8.0% of capital; ₹2,200,000 held)"],
        [],
        ["total cap: the portfolio would hold ₹12,050,000 at risk, over ₹12,000,000 (40.0% of capital; "
         "₹11,950,000 held)"],
    ]


def test_margin_against_funds_is_cumulative():
    plans = [strategy(1), strategy(2), strategy(3)]
    plans[1].margin = 500_000.0  # a broker figure replaces the capital at risk
    apply_checks(plans, context(funds=750_000.0))
    assert plans[0].reasons == [] and plans[1].reasons == []
    assert plans[2].reasons == ["margin: needs ₹200,000 (capital at risk, no margin calculator), ₹50,000 available"]


# ---------------------------------------------------------------- prices and ids


@pytest.mark.parametrize("side, buffer, price", [
    ("BUY", 1.0, 9.0), ("BUY", 0.0, 8.75), ("BUY", 0.5, 8.9), ("BUY", 3.0, 9.5),
    ("SELL", 1.0, 8.5), ("SELL", 0.0, 8.75), ("SELL", 0.5, 8.6), ("SELL", 3.0, 8.0),
])
def test_limit_prices_on_the_tick_against_us(side, buffer, price):
    assert limit_price(side, Quote(8.5, 9.0), buffer) == price


def test_a_sell_limit_is_at_least_one_tick():
    assert limit_price("SELL", Quote(0.05, 0.10), 3.0) == 0.05


def test_paper_fill_prices():
    broker = PaperBroker(conn=None, capital=1.0, slippage=0.5, rate=0.065)
    assert broker.fill_price("BUY", Quote(10.6, 11.15)) == 11.05  # mid 10.875 + 0.1375 = 11.0125 → up
    assert broker.fill_price("SELL", Quote(10.6, 11.15)) == 10.7  # 10.7375 → down
    with pytest.raises(InputError, match="slippage: expected a share of the half-spread ≥ 0, got -1"):
        PaperBroker(conn=None, capital=1.0, slippage=-1, rate=0.065)


def test_correlation_ids_are_short_and_deterministic():
    assert correlation_id(123, 0, "entry", 1) == "OV4-123-0E1"
    assert correlation_id(123, 3, "rollback", 2) == "OV4-123-3R2"
    assert len(correlation_id(2**31 - 1, 9, "adjustment", 99)) <= 25
    with pytest.raises(InputError, match="longer than 25 characters"):
        correlation_id(10**18, 0, "entry", 1)
    with pytest.raises(InputError, match="purpose: unknown 'hedge'"):
        correlation_id(1, 0, "hedge", 1)
