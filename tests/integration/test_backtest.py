"""The backtest: hand-worked positions carried through the exit rules (a profit target on day 2, settlement at
expiry, days without data, a position open at the end), the statistics on a hand-made trade list, entries from a real
analysis, a replay of recorded snapshots, and `optionsv4 backtest` end to end (tables, HTML with charts, JSON,
Parquet; same seed → same result; bad input exits 2)."""

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.backtest.engine import (
    POSITION_COLUMNS,
    RULE_COLUMNS,
    SETTLED_RULE,
    Book,
    carry,
    enter,
    group_stats,
    max_drawdown,
    trade_stats,
)
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.jobs.backtest import enter_on, make_spec, run_backtest
from optionsv4_lib.marketdata.snapshots import SnapshotRecorder
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.costs import leg_costs
from optionsv4_lib.reference.universe import load_universe

ENTRY, EXPIRY = date(2026, 11, 20), date(2026, 12, 1)  # a Friday; 24 Nov 2026 is an NSE holiday (Guru Nanak Jayanti)
TRADE = "2026-11-20:NIFTY:iron-condor:0"
SIDES, ENTRY_PRICES = ["BUY", "SELL", "SELL", "BUY"], [20.0, 55.0, 50.0, 15.0]  # a ₹70/unit credit, 65 units a leg


def condor_book(targets: tuple[float, float], time_exit_dte: float | None = None) -> Book:
    """A NIFTY iron condor entered on ENTRY (credit ₹4,550) with a profit target and a stop (₹), and a time exit."""
    position = pd.DataFrame([{"trade_id": TRADE, "entry_date": pd.Timestamp(ENTRY),
                              "candidate_id": "NIFTY:iron-condor:0", "symbol": "NIFTY", "family": "neutral",
                              "strategy": "Iron Condor", "market_state": "Neutral / Normal VIX", "lots": 1,
                              "expiry": pd.Timestamp(EXPIRY), "net_premium": 4550.0}]).reindex(columns=POSITION_COLUMNS)
    legs = pd.DataFrame({"strategy_id": TRADE, "leg_no": [0, 1, 2, 3], "symbol": "NIFTY",
                         "instrument": ["PE", "PE", "CE", "CE"], "side": SIDES,
                         "strike": [23000.0, 23500.0, 24500.0, 25000.0], "expiry": pd.Timestamp(EXPIRY), "qty": 65.0,
                         "entry_price": ENTRY_PRICES})
    rules = [("profit_target", "pnl", "≥", targets[0]), ("stop_loss", "pnl", "≤", targets[1])]
    rules += [("time_exit", "dte", "≤", time_exit_dte)] if time_exit_dte is not None else []
    rules = pd.DataFrame([{"strategy_id": TRADE, "exit_no": n, "kind": kind, "metric": metric, "comparison": cmp,
                           "threshold": threshold, "leg_no": pd.NA, "action": "close"}
                          for n, (kind, metric, cmp, threshold) in enumerate(rules)]).reindex(columns=RULE_COLUMNS)
    return Book(position, legs, rules)


def quotes(rows: list[tuple[float, float]], spot: float = 24000.0) -> pd.DataFrame:
    """The condor's four contracts quoted (bid, ask); last price = mid, delta 0.2, gamma 0.001, vega 10 per unit."""
    frame = pd.DataFrame(rows, columns=["bid", "ask"]).assign(
        symbol="NIFTY", expiry=pd.Timestamp(EXPIRY), strike=[23000.0, 23500.0, 24500.0, 25000.0],
        option_type=["PE", "PE", "CE", "CE"], delta=0.2, gamma=0.001, vega=10.0, underlying_price=spot)
    return frame.assign(ltp=(frame["bid"] + frame["ask"]) / 2)


class HandDay:
    """One day of hand-made chains: the part of a MarketDataSource that backtest.carry reads."""

    name = "hand-made"

    def __init__(self, day: date, chain: pd.DataFrame):
        self.trade_date, self.chain = day, chain

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        rows = self.chain[(self.chain["symbol"] == symbol) & (self.chain["expiry"] == pd.Timestamp(expiry))]
        if rows.empty:
            raise DataError(f"{symbol}: no listed expiry {expiry} on {self.trade_date}")
        return rows.reset_index(drop=True)


class HandMarket:
    """A backtest.Market over hand-made chains per day; a day without chains has no data. `asked`: the days the
    carry asked for."""

    def __init__(self, chains: dict[date, pd.DataFrame]):
        self.chains, self.asked = chains, []

    def __call__(self, day: date) -> HandDay:
        self.asked.append(day)
        if day not in self.chains:
            raise DataError(f"no snapshot recorded for {day}")
        return HandDay(day, self.chains[day])


DAY1 = quotes([(14, 16), (44, 46), (39, 41), (11, 13)])  # mid P&L 65 × 12 = ₹780
DAY2 = quotes([(9, 11), (29, 31), (20, 22), (6.5, 7.5)])  # mid P&L 65 × 36 = ₹2,340


def opening_costs() -> float:
    return float(leg_costs(["PE", "PE", "CE", "CE"], SIDES, ENTRY_PRICES, 65, ENTRY).total.sum())


def test_a_profit_target_hit_on_day_2_closes_at_the_touch_with_the_hand_worked_pnl():
    market = HandMarket({date(2026, 11, 23): DAY1, date(2026, 11, 25): DAY2, date(2026, 11, 26): DAY2})
    carried = carry(condor_book((2275.0, -6825.0), time_exit_dte=2), market)
    trade = carried.trades.iloc[0]
    # day 1 (23 Nov): mid P&L ₹780 — no rule holds; 24 Nov is a holiday, never asked for; day 2 (25 Nov): mid P&L
    # ₹2,340 ≥ ₹2,275. Closed at the touch: longs sold at the bid, shorts bought back at the ask:
    # 65 × [(9 − 20) − (31 − 55) − (22 − 50) + (6.5 − 15)] = 65 × 32.5
    assert market.asked == [date(2026, 11, 23), date(2026, 11, 25)]  # nothing asked once all is closed
    assert trade["status"] == "closed" and trade["exit_date"] == pd.Timestamp(2026, 11, 25)
    assert trade["exit_kind"] == "profit_target" and trade["exit_rule"] == "profit_target (pnl 2340 ≥ 2275)"
    assert trade["pnl"] == pytest.approx(2112.5)
    closing = leg_costs(["PE", "PE", "CE", "CE"], ["SELL", "BUY", "BUY", "SELL"], [9, 31, 22, 6.5], 65,
                        date(2026, 11, 25)).total.sum()
    assert trade["costs"] == pytest.approx(opening_costs() + closing)
    assert trade["pnl_net"] == pytest.approx(2112.5 - trade["costs"]) and trade["days_held"] == 5
    assert carried.legs["price"].tolist() == [9, 31, 22, 6.5] and not carried.legs["settled"].any()


def test_a_position_held_to_expiry_settles_at_intrinsic_value_without_closing_costs():
    expiry_day = quotes([(0.05, 0.1), (0.05, 0.1), (99, 101), (0.05, 0.1)], spot=24600.0)
    days = [date(2026, 11, 23), date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 30)]
    market = HandMarket({day: DAY1 for day in days} | {EXPIRY: expiry_day})
    carried = carry(condor_book((1e9, -1e9)), market)  # no rule can hold
    trade = carried.trades.iloc[0]
    # after the close on 1 Dec at spot 24,600 only the 24,500 call is in the money (₹100):
    # 65 × [(0 − 20) − (0 − 55) − (100 − 50) + (0 − 15)] = −₹1,950
    assert trade["status"] == "closed" and trade["exit_kind"] == "expiry" and trade["exit_rule"] == SETTLED_RULE
    assert trade["exit_date"] == pd.Timestamp(EXPIRY) and trade["pnl"] == pytest.approx(-1950.0)
    assert trade["costs"] == pytest.approx(opening_costs())
    assert carried.legs["price"].tolist() == [0, 0, 100, 0] and carried.legs["settled"].all()


def test_days_without_data_or_prices_are_reasons_and_the_position_waits():
    other_expiry = DAY1.assign(expiry=pd.Timestamp(2026, 12, 8))
    gap = DAY2.copy()
    gap.loc[gap["strike"] == 24500, ["bid", "ask", "ltp"]] = 0.0  # no quote, never traded
    market = HandMarket({date(2026, 11, 23): other_expiry, date(2026, 11, 26): gap, date(2026, 11, 27): DAY2})
    carried = carry(condor_book((2275.0, -6825.0), time_exit_dte=5), market)
    trade = carried.trades.iloc[0]
    # 23 Nov: no chain of the legs' expiry; 25 Nov: no data; 26 Nov: dte 5 ≤ 5 holds but leg 2 has no price;
    # 27 Nov: both the profit target and the time exit hold — the first by exit_no closes it, at the touch
    assert carried.skipped.to_dict("records") == [
        {"day": date(2026, 11, 23), "reason": "no chain NIFTY 2026-12-01: NIFTY: no listed expiry 2026-12-01 on "
                                              "2026-11-23"},
        {"day": date(2026, 11, 25), "reason": "no snapshot recorded for 2026-11-25"}]
    assert trade["exit_date"] == pd.Timestamp(2026, 11, 27) and trade["exit_rule"] == "profit_target (pnl 2340 ≥ 2275)"
    assert trade["unpriced_days"] == 2 and trade["pnl"] == pytest.approx(2112.5)


def test_a_position_open_when_the_data_ends_is_reported_at_its_last_complete_mark():
    gap = DAY2.copy()
    gap.loc[gap["strike"] == 24500, ["bid", "ask", "ltp"]] = 0.0
    market = HandMarket({date(2026, 11, 23): DAY1, date(2026, 11, 25): gap})
    carried = carry(condor_book((1e9, -1e9)), market)
    trade = carried.trades.iloc[0]
    assert trade["status"] == "open" and pd.isna(trade["exit_date"])
    assert trade["last_marked"] == pd.Timestamp(2026, 11, 23) and trade["pnl"] == pytest.approx(780.0)  # at mids
    assert "leg 2 (24500CE)" in trade["note"] and trade["unpriced_days"] == 1
    closing = leg_costs(["PE", "PE", "CE", "CE"], ["SELL", "BUY", "BUY", "SELL"], [15, 45, 40, 12], 65,
                        date(2026, 11, 23)).total.sum()  # what closing at the last marks would cost
    assert trade["costs"] == pytest.approx(opening_costs() + closing)
    assert [d for d in carried.skipped["day"]] == [date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 30), EXPIRY]


# ---------------------------------------------------------------- statistics

HAND_TRADES = pd.DataFrame({
    "trade_id": ["t1", "t2", "t3", "t4", "t5", "t6"],
    "family": ["neutral", "income", "neutral", "income", "neutral", "income"],
    "market_state": ["A", "A", "B", "B", "A", "B"],
    "status": ["closed"] * 5 + ["open"],
    "exit_date": pd.to_datetime(["2026-10-05", "2026-10-06", "2026-10-06", "2026-10-07", "2026-10-08", None]),
    "pnl": [110.0, -40.0, 35.0, -110.0, 210.0, 20.0],
    "costs": [10.0, 10.0, 5.0, 10.0, 10.0, 5.0],
    "pnl_net": [100.0, -50.0, 30.0, -120.0, 200.0, 15.0],
})


def test_drawdown_is_the_largest_fall_of_the_daily_realized_equity():
    assert max_drawdown([]) == 0.0 and max_drawdown([5.0, 7.0]) == 0.0
    assert max_drawdown([-30.0, 10.0]) == 30.0  # from the start at 0 down to −30
    # per exit date: +100, −20 (−50 and +30 on 6 Oct), −120, +200 → equity 0, 100, 80, −40, 160: the fall 100 → −40
    assert max_drawdown([100.0, -20.0, -120.0, 200.0]) == 140.0
    assert trade_stats(HAND_TRADES)["max_drawdown"] == 140.0


def test_win_rate_and_averages_by_hand():
    stats = trade_stats(HAND_TRADES)
    assert (stats["trades"], stats["closed"], stats["open"], stats["wins"]) == (6, 5, 1, 3)
    assert stats["win_rate"] == pytest.approx(0.6)
    assert stats["avg_win"] == pytest.approx(110.0) and stats["avg_loss"] == pytest.approx(-85.0)
    assert stats["realized_pnl"] == 160.0 and stats["gross_realized_pnl"] == 205.0 and stats["costs"] == 45.0
    assert stats["unrealized_pnl"] == 15.0 and stats["total_pnl"] == 175.0 and stats["unpriced"] == 0


def test_statistics_per_family_and_per_market_state():
    family = group_stats(HAND_TRADES, "family").set_index("family")
    assert list(family.index) == ["neutral", "income"]  # best total P&L first
    assert family.loc["neutral", ["wins", "win_rate", "realized_pnl", "max_drawdown"]].tolist() == [3, 1.0, 330.0, 0.0]
    income = family.loc["income"]
    assert (income["closed"], income["open"], income["wins"], income["win_rate"]) == (2, 1, 0, 0.0)
    assert income["realized_pnl"] == -170.0 and income["max_drawdown"] == 170.0 and np.isnan(income["avg_win"])
    state = group_stats(HAND_TRADES, "market_state").set_index("market_state")
    # A: +100 (5 Oct), −50 (6 Oct), +200 (8 Oct); B: +30 (6 Oct), −120 (7 Oct), open +15
    assert state.loc["A", ["win_rate", "realized_pnl", "max_drawdown"]].tolist() == pytest.approx([2 / 3, 250.0, 50.0])
    assert state.loc["B", ["win_rate", "realized_pnl", "max_drawdown", "unrealized_pnl"]].tolist() == \
        pytest.approx([0.5, -90.0, 120.0, 15.0])


# ---------------------------------------------------------------- entries from a real analysis

SYMBOLS = ("RELIANCE", "TCS", "INFY")


@pytest.fixture(scope="module")
def analysis():
    universe = load_universe()
    return analyze_portfolio(SyntheticMarket(42, date(2026, 10, 5)),
                             universe=universe[universe["symbol"].isin(SYMBOLS)], allocations=load_allocations(),
                             settings=Settings())


def test_the_top_strategies_enter_at_the_analysis_prices_with_their_exit_rules(analysis):
    book = enter(analysis, top=2)
    best = analysis.strategies.sort_values(["score", "candidate_id"], ascending=[False, True]).head(2)
    assert book.positions["candidate_id"].tolist() == best["candidate_id"].tolist()
    assert book.positions["trade_id"].tolist() == ["2026-10-05:" + c for c in best["candidate_id"]]
    assert set(book.positions["market_state"]) == {analysis.market.state}
    legs = analysis.legs[analysis.legs["candidate_id"].isin(best["candidate_id"])]
    assert book.legs["entry_price"].tolist() == legs["entry_price"].tolist()
    assert (legs["entry_price"] == np.where(legs["side"] == "BUY", legs["ask"], legs["bid"])).all()
    rules = analysis.exits[analysis.exits["candidate_id"] == best["candidate_id"].iloc[0]]
    first = book.rules[book.rules["strategy_id"] == book.positions["trade_id"].iloc[0]]
    assert first["kind"].tolist() == rules["kind"].tolist() and first["exit_no"].tolist() == list(range(len(rules)))
    assert len(enter(analysis, top=0).positions) == len(analysis.strategies)


def test_a_replay_of_recorded_snapshots_marks_recorded_days_and_leaves_the_rest_open(tmp_path):
    universe = load_universe()
    universe = universe[universe["symbol"].isin(SYMBOLS)].reset_index(drop=True)
    settings = Settings(data_dir=tmp_path)
    for day in (date(2026, 10, 5), date(2026, 10, 6)):  # what the daily DAG records: the analysis's reads
        analyze_portfolio(SnapshotRecorder(SyntheticMarket(42, day), tmp_path), universe=universe,
                          allocations=load_allocations(), settings=settings)
    spec = make_spec("2026-10-05", "2026-10-07", settings=settings, universe=universe, source="snapshot", top=3)
    replay = run_backtest(spec, settings=settings, universe=universe, allocations=load_allocations())
    entries = replay.skipped[replay.skipped["stage"] == "entry"]
    assert entries["day"].tolist() == [date(2026, 10, 7)] and "no snapshot recorded" in entries["reason"].iloc[0]
    marks = replay.skipped[replay.skipped["stage"] == "mark"]
    ranked = replay.trades[replay.trades["policy"] == "ranked"]
    assert date(2026, 10, 7) in set(marks["day"]) and len(ranked) == 6
    assert set(replay.trades["policy"]) == {"ranked", *spec.baselines}  # the baselines read the same snapshots
    synthetic = run_backtest(make_spec("2026-10-05", "2026-10-06", settings=settings, universe=universe, top=3),
                             settings=settings, universe=universe, allocations=load_allocations())
    assert replay.trades["trade_id"].tolist() == synthetic.trades["trade_id"].tolist()  # same entries
    # the 6 Oct snapshots hold the chains the analysis read that day: the 5 Oct positions are marked on 6 Oct (and
    # closed there if a rule held); the 6 Oct positions are never marked, their P&L unknown
    first, second = (ranked[ranked["entry_date"] == pd.Timestamp(day)]
                     for day in (date(2026, 10, 5), date(2026, 10, 6)))
    assert (first["last_marked"] == pd.Timestamp(2026, 10, 6)).all()
    assert (second["status"] == "open").all() and second["last_marked"].isna().all() and second["pnl"].isna().all()
    assert replay.summary.totals["unpriced"] == len(second)


def test_positions_of_overlapping_days_share_the_margin_limit(tmp_path):
    """Each day is sized on its own within the moderate profile's margin limit (60 % of ₹20 lakh); held together, a
    later day's picks no longer all fit and are left out (stage capital), so no policy's margin in use ever exceeds
    the limit; the first day, with nothing held yet, enters all it sized."""
    universe = load_universe()
    universe = universe[universe["symbol"].isin(["NIFTY", "RELIANCE", "TCS", "INFY", "HDFCBANK"])]
    settings = Settings(capital=2e6, data_dir=tmp_path)
    spec = make_spec("2026-11-16", "2026-11-23", settings=settings, universe=universe, top=4)
    assert spec.margin_limit == pytest.approx(1.2e6)
    result = run_backtest(spec, settings=settings, universe=universe, allocations=load_allocations())
    left_out = result.skipped[result.skipped["stage"] == "capital"]
    assert len(left_out) and left_out["reason"].str.contains("exceeds the margin limit ₹1,200,000").all()
    first = date(2026, 11, 16)
    assert first not in set(left_out["day"]) and first in set(result.trades["entry_date"].dt.date)
    assert (result.evaluation.comparison["peak_margin"] <= 1.2e6 + 0.01).all()


# ---------------------------------------------------------------- the command line



RANGE = ("--from", "2026-11-20", "--to", "2026-11-24")  # entry days 20 and 23 Nov; 21–22 a weekend, 24 a holiday
CLI_SYMBOLS = ("--symbol", "RELIANCE", "--symbol", "TCS", "--symbol", "INFY", "--top", "4")


def test_the_cli_prints_the_tables_and_writes_the_report(optionsv4, tmp_path):
    ran = optionsv4("backtest", *RANGE, *CLI_SYMBOLS, "--output", str(tmp_path / "bt" / "report.html"))
    assert ran.exit_code == 0, ran.output
    assert "Backtest 2026-11-20 to 2026-11-24" in ran.output and "2 entry days" in ran.output
    assert "By family" in ran.output and "By market state" in ran.output and "Max drawdown" in ran.output
    assert "2026-11-24 is not an NSE trading day" in ran.output and "2 weekend days" in ran.output
    assert "Ranked picks against the baselines" in ran.output and "PoP calibration of the ranked picks" in ran.output
    for policy in ("random", "family:Short Strangle", "family:Iron Condor"):
        assert policy in ran.output
    page = (tmp_path / "bt" / "report.html").read_text()
    # equity, drawdown, margin in use, reliability diagram, ranked P&L by family and by state
    assert len(re.findall(r"<img src='data:image/png;base64,", page)) == 6
    assert "<h2>Trades</h2>" in page and "http" not in page  # self-contained: nothing loaded from elsewhere
    assert "Ranked picks against the baselines" in page and "<h2>PoP calibration</h2>" in page
    document = json.loads((tmp_path / "bt" / "report.json").read_text())
    trades = pd.read_parquet(tmp_path / "bt" / "report_trades.parquet")
    ranked = trades[trades["policy"] == "ranked"]
    assert len(ranked) == document["totals"]["trades"] == 8 and set(trades["entry_date"].dt.date) == \
        {date(2026, 11, 20), date(2026, 11, 23)}
    assert set(trades["symbol"]) <= {"RELIANCE", "TCS", "INFY"} and trades["status"].isin(["closed", "open"]).all()
    closed = trades[trades["status"] == "closed"]
    assert document["totals"]["realized_pnl"] == pytest.approx(closed.loc[closed["policy"] == "ranked",
                                                                          "pnl_net"].sum())
    # the comparison and the Brier scores of the JSON, recomputed from the Parquet trades
    policies = ["ranked", "random", "family:Iron Condor", "family:Short Strangle"]
    assert [row["policy"] for row in document["comparison"]] == policies
    for row in document["comparison"]:
        own = closed[closed["policy"] == row["policy"]]
        assert row["trades"] == (trades["policy"] == row["policy"]).sum() <= 8  # at most top 4 a day
        assert row["realized_pnl"] == pytest.approx(own["pnl_net"].sum())
    for row in document["brier"]:
        own = closed[closed["policy"] == row["policy"]]
        pop = own["pop_net" if row["measure"] == "view" else "pop_market"]
        assert row["brier"] == pytest.approx(((pop - (own["pnl_net"] > 0)) ** 2).mean())
    assert {row["policy"] for row in document["margin_in_use"]} == set(policies)


def test_the_same_seed_gives_the_same_backtest(optionsv4):
    def document(*extra: str) -> dict:
        ran = optionsv4("backtest", *RANGE, *CLI_SYMBOLS, "--json", *extra)
        assert ran.exit_code == 0, ran.output
        found = json.loads(ran.stdout)
        found["backtest"].pop("generated_at")
        return found

    first, again = document("--workers", "1"), document("--workers", "2")  # one process, then a pool of two
    assert first == again and first["trades"]
    other = document("--seed", "7")
    assert other["backtest"]["seed"] == 7 and other["trades"] != first["trades"]


@pytest.mark.parametrize("args, message", [
    (("--from", "2026-11-24", "--to", "2026-11-20"), "from: 2026-11-24 is after to 2026-11-20"),
    (("--from", "2026-11-21", "--to", "2026-11-22"), "no NSE trading day from 2026-11-21 to 2026-11-22"),
    (("--from", "2026-11-20", "--to", "2026-11-23", "--source", "dhan"), "dhan has no historical option chains"),
    (("--from", "2026-11-20", "--to", "2026-11-23", "--source", "yahoo"), "source: unknown 'yahoo'"),
    (("--from", "2026-11-31", "--to", "2026-12-02"), "from: expected a date"),
    (("--from", "2026-11-20", "--to", "2026-11-23", "--symbol", "NOPE"), "symbol: not in the universe: NOPE"),
    (("--from", "2026-11-20", "--to", "2026-11-23", "--risk", "reckless"), "unknown 'reckless'"),
    (("--from", "2026-11-20", "--to", "2026-11-23", "--baseline-family", "Iron Condour"),
     "baseline family: unknown strategy 'Iron Condour'"),
])
def test_bad_input_exits_2_naming_the_problem(optionsv4, args, message):
    ran = optionsv4("backtest", *args)
    assert ran.exit_code == 2 and message in ran.output, ran.output
    assert len(ran.output.strip().splitlines()) == 1


def test_make_spec_refuses_what_cannot_be_replayed():
    universe = load_universe().head(2)
    with pytest.raises(InputError, match="top: expected 0"):
        make_spec("2026-11-20", "2026-11-23", settings=Settings(), universe=universe, top=-1)
    spec = make_spec(date(2026, 11, 20), "2026-11-23", settings=Settings(), universe=universe)
    assert (spec.seed, spec.top, spec.symbols) == (Settings().seed, 10, tuple(universe["symbol"]))
    assert spec.baselines == ("random", "family:Short Strangle", "family:Iron Condor")
    assert spec.capital == Settings().capital
    condor = make_spec(date(2026, 11, 20), "2026-11-23", settings=Settings(), universe=universe,
                       baseline_families=["iron condor"])
    assert condor.baselines == ("random", "family:Iron Condor") and condor.key != spec.key
    with pytest.raises(InputError, match="capital: the backtest was planned with ₹30,000,000"):
        enter_on(spec, date(2026, 11, 20), settings=Settings(capital=1e7), universe=universe,
                 allocations=load_allocations())
    assert spec.key.startswith("2026-11-20_2026-11-23_moderate_synthetic_seed42_top10_")
    assert Path(spec.key).name == spec.key  # a directory name
