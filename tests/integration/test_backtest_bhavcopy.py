"""The backtest on NSE bhavcopies (tests/fixtures/bhavcopy: 20–24 Jan 2025, NIFTY's 23-Jan weekly expiring inside
the window): hand-worked positions carried through the bhavcopy source (a short straddle settled at expiry, a long
put closed at the modelled touch), and `optionsv4 backtest --source bhavcopy` end to end, its report saying that the
prices come from a spread model."""

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from optionsv4_lib.backtest.engine import POSITION_COLUMNS, RULE_COLUMNS, SETTLED_RULE, Book, carry
from optionsv4_lib.marketdata.bhavcopy_source import BhavcopyInputs
from optionsv4_lib.marketdata.spread_model import SpreadModel
from optionsv4_lib.reference.costs import leg_costs

FIXTURES = Path(__file__).parents[1] / "fixtures"
HISTORY = FIXTURES / "bhavcopy" / "nifty_history.csv"
VIX = FIXTURES / "india_vix_nse.csv.gz"
ENTRY = date(2025, 1, 20)


@pytest.fixture
def folder(tmp_path) -> Path:
    shutil.copytree(FIXTURES / "bhavcopy" / "udiff", tmp_path / "bhav")
    return tmp_path / "bhav"


def book(trade_id: str, legs: list[tuple[str, str, float, date, float]], rules: list[tuple] = ()) -> Book:
    """One NIFTY position entered on ENTRY: legs (instrument, side, strike, expiry, entry price), 25 units each."""
    position = pd.DataFrame([{"trade_id": trade_id, "entry_date": pd.Timestamp(ENTRY), "candidate_id": trade_id,
                              "symbol": "NIFTY", "family": "hand", "strategy": trade_id, "market_state": "hand",
                              "lots": 1, "expiry": pd.Timestamp(min(leg[3] for leg in legs))}]
                            ).reindex(columns=POSITION_COLUMNS)
    frame = pd.DataFrame([{"strategy_id": trade_id, "leg_no": n, "symbol": "NIFTY", "instrument": instrument,
                           "side": side, "strike": strike, "expiry": pd.Timestamp(expiry), "qty": 25.0,
                           "entry_price": price} for n, (instrument, side, strike, expiry, price) in enumerate(legs)])
    rule_rows = pd.DataFrame([{"strategy_id": trade_id, "exit_no": n, "kind": kind, "metric": metric,
                               "comparison": comparison, "threshold": threshold, "leg_no": pd.NA, "action": "close"}
                              for n, (kind, metric, comparison, threshold) in enumerate(rules)],
                             columns=RULE_COLUMNS)
    return Book(position, frame, rule_rows)


def test_a_short_straddle_settles_at_expiry_and_a_long_put_closes_at_the_modelled_touch(folder):
    inputs = BhavcopyInputs(folder, HISTORY, VIX)
    market = lambda day: inputs.open(day, SpreadModel())  # noqa: E731
    # 20 Jan, the 23-Jan 23,350 straddle sold at the modelled bids (spot 23,344.75; m = 1.000225):
    #   CE close 121.90, 17,169 contracts: 0.6095 × 1.002249 × 1.001164 = 0.6116 → 0.65, bid 121.25
    #   PE close 114.70, 17,169 contracts: 0.5735 × 1.002249 × 1.001164 = 0.5755 → 0.60, bid 114.10
    # the 30-Jan 23,350 put bought at the modelled ask: close 198.60, 12,782 contracts:
    #   0.993 × 1.002249 × 1.001564 = 0.9968 → 1.00, ask 199.60
    straddle = book("straddle", [("CE", "SELL", 23350.0, date(2025, 1, 23), 121.25),
                                 ("PE", "SELL", 23350.0, date(2025, 1, 23), 114.10)])
    put = book("put", [("PE", "BUY", 23350.0, date(2025, 1, 30), 199.60)], [("profit_target", "pnl", "≥", 1000.0)])
    carried = carry(Book.combine([straddle, put]), market)
    trades = carried.trades.set_index("trade_id")

    # 23 Jan after the close, underlying 23,205.35: CE worth 0, PE 23,350 − 23,205.35 = 144.65
    #   25 × [(121.25 − 0) + (114.10 − 144.65)] = 25 × 90.70 = ₹2,267.50, no closing costs
    short = trades.loc["straddle"]
    assert (short["status"], short["exit_kind"], short["exit_rule"]) == ("closed", "expiry", SETTLED_RULE)
    assert short["exit_date"] == pd.Timestamp(2025, 1, 23) and short["pnl"] == pytest.approx(2267.50)
    opening = leg_costs(["CE", "PE"], ["SELL", "SELL"], [121.25, 114.10], 25.0, ENTRY).total.sum()
    assert short["costs"] == pytest.approx(opening)

    # 21 Jan, spot 23,024.65 (m = 1.014131): the put's close 375.25 after 6,741 contracts:
    #   1.87625 × 1.141306 × 1.002963 = 2.1477 → 2.15, bid 373.10; 25 × (373.10 − 199.60) = ₹4,337.50 ≥ ₹1,000
    long = trades.loc["put"]
    assert (long["status"], long["exit_kind"], long["exit_date"]) == ("closed", "profit_target",
                                                                      pd.Timestamp(2025, 1, 21))
    assert long["pnl"] == pytest.approx(4337.50)
    closing = leg_costs(["PE"], ["SELL"], [373.10], 25.0, date(2025, 1, 21)).total.sum()
    opening = leg_costs(["PE"], ["BUY"], [199.60], 25.0, ENTRY).total.sum()
    assert long["costs"] == pytest.approx(opening + closing)
    assert carried.skipped.empty


BHAV_ARGS = ("--source", "bhavcopy", "--index-history", str(HISTORY), "--vix-file", str(VIX), "--from", "2025-01-20",
             "--to", "2025-01-22", "--symbol", "NIFTY", "--symbol", "RELIANCE", "--symbol", "INFY", "--top", "3")


def test_the_cli_backtests_a_folder_of_bhavcopies_and_says_the_spread_is_a_model(optionsv4, folder, tmp_path):
    ran = optionsv4("backtest", *BHAV_ARGS, "--data-dir", str(folder), "--output", str(tmp_path / "bt" / "r.html"),
                    "--workers", "1")
    assert ran.exit_code == 0, ran.output
    assert "Backtest 2025-01-20 to 2025-01-22" in ran.output and "modelled spread" in ran.output
    document = json.loads((tmp_path / "bt" / "r.json").read_text())
    assert "bhavcopies carry no bid/ask" in document["backtest"]["basis"]
    assert document["backtest"]["source"] == "bhavcopy" and document["backtest"]["bhavcopy_dir"] == str(folder)
    # the comparison with the baselines and the PoP calibration, printed
    assert "Ranked picks against the baselines" in ran.output and "family:Iron Condor" in ran.output
    assert "PoP calibration of the ranked picks" in ran.output or "no ranked trade closed" in ran.output
    trades = pd.read_parquet(tmp_path / "bt" / "r_trades.parquet")
    assert (trades["policy"] == "ranked").sum() == document["totals"]["trades"] > 0
    assert [row["policy"] for row in document["comparison"]][0] == "ranked"
    assert set(trades["entry_date"].dt.date) <= {date(2025, 1, 20), date(2025, 1, 21), date(2025, 1, 22)}
    assert set(trades["symbol"]) <= {"NIFTY", "RELIANCE", "INFY"}
    assert "modelled spread" in (tmp_path / "bt" / "r.html").read_text()
    # the days after the folder's last file are reasons, never crashes
    assert any("no bhavcopy of 2025-01-27" in row["reason"] for row in document["skipped"])


@pytest.mark.parametrize("args, message", [
    (("--source", "bhavcopy", "--vix-file", str(VIX)), "--data-dir: required with --source bhavcopy"),
    (("--source", "bhavcopy", "--data-dir", str(FIXTURES)), "--vix-file: required with --source bhavcopy"),
    (("--source", "bhavcopy", "--data-dir", "/nowhere", "--vix-file", str(VIX)), "/nowhere is not a directory"),
    (("--vix-file", str(VIX)), "--vix-file: only with --source bhavcopy"),
])
def test_bad_bhavcopy_options_exit_2_naming_the_problem(optionsv4, args, message):
    ran = optionsv4("backtest", "--from", "2025-01-20", "--to", "2025-01-22", *args)
    assert ran.exit_code == 2 and message in ran.output, ran.output


def test_the_cli_runs_on_nse_real_file(optionsv4, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    shutil.copy(FIXTURES / "BhavCopy_NSE_FO_0_0_0_20241121_F_0000.csv.gz", real)  # NSE's NIFTY and BANKNIFTY rows
    ran = optionsv4("backtest", "--source", "bhavcopy", "--data-dir", str(real), "--index-history", str(HISTORY),
                    "--vix-file", str(VIX), "--from", "2024-11-21", "--to", "2024-11-21", "--symbol", "NIFTY",
                    "--symbol", "BANKNIFTY", "--top", "2", "--json", "--workers", "1")
    assert ran.exit_code == 0, ran.output
    document = json.loads(ran.stdout)
    ranked = [t for t in document["trades"] if t["policy"] == "ranked"]
    assert {t["entry_date"][:10] for t in document["trades"]} == {"2024-11-21"} and len(ranked) == 2
    assert all(t["status"] == "open" for t in document["trades"])  # no later file: open at the entry marks
    assert any("no bhavcopy of 2024-11-22" in row["reason"] for row in document["skipped"])
