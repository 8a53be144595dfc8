"""Execution status and the performance dashboard on a real PostgreSQL: per-strategy and per-leg status from orders
and position snapshots inserted here, P&L checked against hand-computed numbers, the HTML page, and
`optionsv4 status [--performance-dashboard]`.

The book used below (₹ per unit, quantities in units; realized = min(bought, sold) × (sell avg − buy avg)):
    A  BANKNIFTY bear put spread 1, closed:  leg 0 BUY 130 @100, SELL 130 @150 → +6,500; leg 1 SELL 130 @60,
       BUY 130 @30 → +3,900; realized +10,400 (a win)
    B  BANKNIFTY bear call spread 1, closed: leg 0 BUY 100 @50, SELL 100 @20 → −3,000; leg 1 SELL 100 @40,
       BUY 100 @45 → −500; realized −3,500 (a loss)
    C  FINNIFTY bear put spread 1, open:     leg 0 BUY 65 @80, latest ltp 95 → +975; leg 1 SELL 65 @40, latest ltp
       30 → +650; unrealized +1,625 (an older snapshot priced them 70 and 35)
    D  RELIANCE short strangle 1, partially_filled with 1 of its 9 lots: leg 0 SELL 100 @9 + SELL 100 @11 (avg 10),
       BUY 50 @14 → realized 50 × (10 − 14) = −200, net −150 at ltp 12 → unrealized −150 × (12 − 10) = −300;
       leg 1 rejected, nothing filled
    E  BPCL short strangle 1, marked (live), no orders: not traded
Totals: realized 10,400 − 3,500 − 200 = 6,700; unrealized 1,625 − 300 = 1,325; total 8,025; win rate 1/2 closed.
Open risk: C's max loss (all its lots) + D's capital at risk (unbounded max loss) × 1/9 lots.
"""

import base64
import itertools
import math
import re
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from typer import Typer
from typer.testing import CliRunner

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.cli.trade import status as status_command
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.execution.marking import mark
from optionsv4_lib.execution.status import leg_pnl, load_status, performance
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.reporting.dashboard import write_dashboard
from optionsv4_lib.store import store_analysis, transaction

TRADE_DATE = date(2026, 11, 23)
TODAY = date(2026, 11, 24)
CANDIDATES = {"A": "BANKNIFTY:bear-put-spread:1", "B": "BANKNIFTY:bear-call-spread:1", "C": "FINNIFTY:bear-put-spread:1",
              "D": "RELIANCE:short-strangle:1", "E": "BPCL:short-strangle:1"}
T0 = datetime(2026, 11, 23, 9, 20, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def result():
    return analyze_portfolio(SyntheticMarket(42, TRADE_DATE), universe=load_universe().head(8),
                             allocations=load_allocations(), settings=Settings())


@pytest.fixture
def book(db, result) -> dict[str, dict]:
    """The book of the module docstring in the database; letter → the strategy's row (strategy_id, lots,
    max_loss, capital_at_risk, family, industry)."""
    store_analysis(db, result)
    with transaction(db) as cur:
        cur.execute("""SELECT candidate_id, strategy_id, lots, max_loss, capital_at_risk, family, industry, strategy
                       FROM strategies WHERE candidate_id = ANY(%s)""", (list(CANDIDATES.values()),))
        rows = {r[0]: dict(zip(("strategy_id", "lots", "max_loss", "capital_at_risk", "family", "industry",
                                "strategy"), r[1:])) for r in cur.fetchall()}
    strategies = {letter: rows[candidate] for letter, candidate in CANDIDATES.items()}
    # the synthetic market decides these; the hand computations above depend on them
    assert [strategies[k]["strategy"] for k in "ABCD"] == ["Bear Put Spread", "Bear Call Spread", "Bear Put Spread",
                                                          "Short Strangle"]
    assert strategies["D"]["lots"] == 9 and math.isinf(strategies["D"]["max_loss"])
    assert math.isfinite(strategies["C"]["max_loss"])
    ids = {k: s["strategy_id"] for k, s in strategies.items()}
    mark(db, [ids[k] for k in "ABCD"], today=TODAY)
    mark(db, [ids["E"]], mode="live", today=TODAY)
    numbers = itertools.count(1)

    def fill(letter: str, leg: int, purpose: str, side: str, qty: int, price: float, status: str = "TRADED") -> None:
        filled = qty if status == "TRADED" else 0
        cur.execute(
            """INSERT INTO orders (strategy_id, leg_no, purpose, correlation_id, mode, security_id, exchange_segment,
                                   side, quantity, order_type, product_type, price, status, filled_quantity,
                                   average_price)
               VALUES (%s, %s, %s, %s, 'paper', %s, 'NSE_FNO', %s, %s, 'LIMIT', 'MARGIN', %s, %s, %s, %s)""",
            (ids[letter], leg, purpose, f"T-{next(numbers)}", security(letter, leg), side, qty, price, status, filled,
             price if filled else None))

    def snapshot(at: datetime, letter: str, leg: int, net_qty: int, ltp: float, owner: bool = True) -> None:
        cur.execute("""INSERT INTO positions_snapshots (snapshot_at, mode, exchange_segment, security_id, strategy_id,
                                                        net_qty, ltp)
                       VALUES (%s, 'paper', 'NSE_FNO', %s, %s, %s, %s)""",
                    (at, security(letter, leg), ids[letter] if owner else None, net_qty, ltp))

    with transaction(db) as cur:
        fill("A", 0, "entry", "BUY", 130, 100)
        fill("A", 1, "entry", "SELL", 130, 60)
        fill("A", 0, "exit", "SELL", 130, 150)
        fill("A", 1, "exit", "BUY", 130, 30)
        fill("B", 0, "entry", "BUY", 100, 50)
        fill("B", 1, "entry", "SELL", 100, 40)
        fill("B", 0, "exit", "SELL", 100, 20)
        fill("B", 1, "exit", "BUY", 100, 45)
        fill("C", 0, "entry", "BUY", 65, 80)
        fill("C", 1, "entry", "SELL", 65, 40)
        fill("D", 0, "entry", "SELL", 100, 9)
        fill("D", 0, "entry", "SELL", 100, 11)
        fill("D", 1, "entry", "SELL", 200, 20, status="REJECTED")
        fill("D", 0, "exit", "BUY", 50, 14)
        snapshot(T0, "C", 0, 65, 70)
        snapshot(T0, "C", 1, -65, 35)
        snapshot(T0 + timedelta(hours=1), "C", 0, 65, 95)
        snapshot(T0 + timedelta(hours=1), "C", 1, -65, 30)
        snapshot(T0 + timedelta(hours=1), "D", 0, -150, 12, owner=False)  # a price is a price, whoever owns it
        for letter, state, lots, hours in (("A", "closed", None, 3), ("B", "closed", None, 2), ("C", "open", None, 1),
                                           ("D", "partially_filled", 1, 1)):
            cur.execute("""UPDATE strategy_execution_status SET status = %s, lots = coalesce(%s, lots), updated_at = %s
                           WHERE strategy_id = %s""", (state, lots, T0 + timedelta(hours=hours), ids[letter]))
    return strategies


def security(letter: str, leg: int) -> int:
    return 100 * (ord(letter) - ord("A") + 1) + leg


def by(frame: pd.DataFrame, key: str) -> dict:
    return {row[key]: row for row in frame.to_dict("records")}


# ---------------------------------------------------------------- P&L


def test_leg_pnl_formulas():
    legs = pd.DataFrame({
        "bought": [10, 10, 0, 40], "buy_value": [100.0, 50.0, 0.0, 400.0],
        "sold": [10, 30, 0, 0], "sell_value": [150.0, 300.0, 0.0, 0.0],
        "ltp": [np.nan, np.nan, np.nan, 12.5],
    })
    out = leg_pnl(legs)
    assert out["net_qty"].tolist() == [0, -20, 0, 40]
    assert out["realized_pnl"].tolist() == [150 - 100, 10 * (10 - 5), 0, 0]  # flat: Σ sign × qty × price
    assert out["unrealized_pnl"].iloc[[0, 2, 3]].tolist() == [0, 0, 40 * (12.5 - 10)]
    assert math.isnan(out["unrealized_pnl"].iloc[1])  # open without a price


def test_status_per_strategy_and_per_leg(db, book):
    status = load_status(db)
    strategies = by(status.strategies, "strategy_id")
    pnl = {k: (strategies[book[k]["strategy_id"]]["realized_pnl"], strategies[book[k]["strategy_id"]]["unrealized_pnl"])
           for k in "ABCDE"}
    assert pnl == {"A": (10_400, 0), "B": (-3_500, 0), "C": (0, 1_625), "D": (-200, -300), "E": (0, 0)}
    assert strategies[book["D"]["strategy_id"]]["lots"] == 1 and strategies[book["D"]["strategy_id"]]["run_lots"] == 9
    legs = status.legs.set_index(["strategy_id", "leg_no"])
    c0 = legs.loc[(book["C"]["strategy_id"], 0)]
    assert (c0["bought"], c0["buy_avg"], c0["net_qty"], c0["ltp"], c0["broker_qty"]) == (65, 80, 65, 95, 65)
    assert c0["entry_status"] == "TRADED" and pd.isna(c0["exit_status"])
    d0, d1 = legs.loc[(book["D"]["strategy_id"], 0)], legs.loc[(book["D"]["strategy_id"], 1)]
    assert (d0["sold"], d0["sell_avg"], d0["bought"], d0["buy_avg"], d0["net_qty"]) == (200, 10, 50, 14, -150)
    assert (d0["orders"], d0["exit_status"], d0["realized_pnl"], d0["unrealized_pnl"]) == (3, "TRADED", -200, -300)
    assert (d1["entry_status"], d1["bought"], d1["sold"], d1["realized_pnl"]) == ("REJECTED", 0, 0, 0)
    e = status.legs[status.legs["strategy_id"] == book["E"]["strategy_id"]]
    assert len(e) == 2 and (e["orders"] == 0).all() and e["entry_status"].isna().all()
    only_live = load_status(db, mode="live")
    assert only_live.strategies["strategy_id"].tolist() == [book["E"]["strategy_id"]]
    assert load_status(db, ids=[book["A"]["strategy_id"]]).legs["strategy_id"].nunique() == 1


def test_performance_by_strategy_family_and_industry(db, book):
    perf = performance(load_status(db))
    open_risk = -book["C"]["max_loss"] + book["D"]["capital_at_risk"] * 1 / 9
    assert perf.totals == pytest.approx({
        "strategies": 4, "closed": 2, "wins": 1, "win_rate": 0.5, "realized_pnl": 6_700, "unrealized_pnl": 1_325,
        "total_pnl": 8_025, "open_strategies": 2, "open_risk": open_risk, "unbounded_open": 1, "unpriced": 0,
    })
    family = by(perf.groups["family"], "family")
    assert set(family) == {"directional", "income", "neutral"}  # E (marked only) is not traded
    directional, income, neutral = family["directional"], family["income"], family["neutral"]
    assert [directional[k] for k in ("strategies", "closed", "wins", "win_rate")] == [2, 1, 1, 1.0]
    assert [directional[k] for k in ("realized_pnl", "unrealized_pnl", "total_pnl")] == [10_400, 1_625, 12_025]
    assert [income[k] for k in ("strategies", "closed", "wins", "win_rate", "total_pnl")] == [1, 1, 0, 0.0, -3_500]
    assert (neutral["realized_pnl"], neutral["unrealized_pnl"], neutral["closed"]) == (-200, -300, 0)
    assert math.isnan(neutral["win_rate"])
    strategy = by(perf.groups["strategy"], "strategy")
    assert strategy["Bear Put Spread"]["total_pnl"] == 12_025 and strategy["Short Strangle"]["total_pnl"] == -500
    industry = {k: (v["realized_pnl"], v["unrealized_pnl"]) for k, v in by(perf.groups["industry"], "industry").items()}
    assert industry == {book["A"]["industry"]: (6_900, 0), book["C"]["industry"]: (0, 1_625),
                        book["D"]["industry"]: (-200, -300)}
    assert perf.groups["family"]["family"].tolist() == ["directional", "neutral", "income"]  # best total first
    assert perf.open_positions.set_index("strategy_id")["open_risk"].to_dict() == pytest.approx(
        {book["C"]["strategy_id"]: -book["C"]["max_loss"], book["D"]["strategy_id"]: book["D"]["capital_at_risk"] / 9})


def test_an_open_leg_without_a_price_is_counted_and_left_out(db, book):
    with transaction(db) as cur:
        cur.execute("DELETE FROM positions_snapshots WHERE security_id = %s", (security("D", 0),))
    status = load_status(db)
    d = by(status.strategies, "strategy_id")[book["D"]["strategy_id"]]
    assert d["realized_pnl"] == -200 and math.isnan(d["unrealized_pnl"])
    perf = performance(status)
    assert perf.totals["unpriced"] == 1 and perf.totals["unrealized_pnl"] == 1_625


def test_dashboard_html_is_self_contained_with_charts(db, book, tmp_path):
    path = write_dashboard(performance(load_status(db)), tmp_path / "dash" / "performance.html")
    page = path.read_text(encoding="utf-8")
    images = re.findall(r"<img src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 4  # P&L by strategy, family, industry; cumulative realized P&L
    assert all(base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n") for png in images)
    assert "://" not in page and "<script" not in page and "<link" not in page and "url(" not in page
    assert re.findall(r"(?:src|href)='([^']*)'", page) == [f"data:image/png;base64,{png}" for png in images]
    for text in ("₹6,700", "₹1,325", "₹8,025", "50% (1/2)", "Short Strangle", book["C"]["industry"],
                 "1 open strategies have an unbounded max loss"):
        assert text in page


def test_dashboard_without_trades_says_so(db, tmp_path):
    page = write_dashboard(performance(load_status(db)), tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "No traded strategies yet." in page and "<img" not in page


# ---------------------------------------------------------------- CLI


@pytest.fixture
def optionsv4(monkeypatch, store_url, tmp_path):
    app = Typer()
    app.command("status")(status_command)
    app.command("noop")(lambda: None)  # two commands: `status` is then a subcommand, as in cli.py
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    monkeypatch.setenv("OPTIONSV4_RESULTS_DIR", str(tmp_path / "results"))

    def run(*args: str):
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield run
    current_settings.cache_clear()


def test_cli_status_prints_strategies_and_legs(optionsv4, book):
    ran = optionsv4("status")
    assert ran.exit_code == 0, ran.output
    for text in ("partially_filled", "REJECTED", "₹10,400", "₹-3,500", "₹1,625", "200 @10.00", "50 @14.00", "-150",
                 "RELIANCE", "BPCL", "live"):
        assert text in ran.output, text
    one = optionsv4("status", str(book["A"]["strategy_id"]), "--mode", "paper")
    assert one.exit_code == 0 and "RELIANCE" not in one.output and "₹10,400" in one.output


def test_cli_status_lists_strategies_with_and_without_a_note(optionsv4, db, book):
    """Issue 19.1: a strategy with a note beside one without crashed `status` (a NaN note)."""
    with transaction(db) as cur:
        cur.execute("UPDATE strategy_execution_status SET note = 'unwound after leg 1 [rejected]' "
                    "WHERE strategy_id = %s", (book["A"]["strategy_id"],))
        cur.execute("UPDATE strategy_execution_status SET note = NULL WHERE strategy_id <> %s",
                    (book["A"]["strategy_id"],))
    ran = optionsv4("status")
    assert ran.exit_code == 0, ran.output
    assert "Traceback" not in ran.output and "unwound after leg 1 [rejected]" in " ".join(ran.output.split())


def test_cli_performance_dashboard_prints_the_summary_and_writes_the_page(optionsv4, book, tmp_path):
    ran = optionsv4("status", "--performance-dashboard")
    assert ran.exit_code == 0, ran.output
    text = " ".join(ran.output.split())
    assert "realized ₹6,700 · unrealized ₹1,325 · total ₹8,025 · win rate 50% (1/2 closed)" in text
    open_risk = -book["C"]["max_loss"] + book["D"]["capital_at_risk"] / 9
    assert f"Open risk: ₹{open_risk:,.0f} in 2 open strategies (1 unbounded" in text
    assert "P&L by industry" in text and "Bear Put Spread" in text
    pages = list((tmp_path / "results").glob("performance_dashboard_*.html"))
    assert len(pages) == 1 and f"Dashboard: {pages[0]}" in text


def test_cli_status_with_nothing_marked_and_bad_mode(optionsv4, db):
    assert "No strategies marked or executed" in optionsv4("status").output
    bad = optionsv4("status", "--mode", "real")
    assert bad.exit_code == 2 and "mode: unknown 'real'" in bad.output
