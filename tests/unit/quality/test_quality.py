"""Data quality with Great Expectations: the committed suites in include/gx/ run against a temp copy of the project.

Healthy synthetic data passes; the synthetic market's broken symbols and hand-made defects fail the expectations
they should, with the severity they should, attributed to the right symbol.
"""

import json
import shutil
import socket
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.marketdata.synthetic import DEFAULT_BROKEN, SyntheticMarket
from optionsv4_lib.quality import suites as quality
from optionsv4_lib.reference import calendar
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.strategies.catalog import template

TRADE_DATE = date(2026, 11, 23)
HISTORY_START = TRADE_DATE - timedelta(days=200)
SMALL_UNIVERSE = ("NIFTY", "FINNIFTY", "RELIANCE", "INFY", "HDFCBANK", "TCS", "SBIN", "ITC")


@pytest.fixture(scope="module")
def gx_dir(tmp_path_factory):
    """A copy of the committed GX project, so runs write their results and Data Docs outside the repo."""
    target = tmp_path_factory.mktemp("gx") / "gx"
    shutil.copytree(quality.GX_DIR, target, ignore=shutil.ignore_patterns("uncommitted"))
    return target


@pytest.fixture(scope="module")
def market():
    return SyntheticMarket(42, TRADE_DATE)


@pytest.fixture(scope="module")
def chains(market):
    """Every symbol's chain over its first two expiries."""
    return {symbol: pd.concat([market.option_chain(symbol, e) for e in market.expiries(symbol)[:2]],
                              ignore_index=True)
            for symbol in market.universe["symbol"]}


@pytest.fixture(scope="module")
def chain_reports(chains, gx_dir):
    return quality.validate_chains(chains, gx_dir=gx_dir, run_name="test-run")


@pytest.fixture(scope="module")
def candles(market):
    end = TRADE_DATE - timedelta(days=1)
    return market.candles("NIFTY", HISTORY_START, end), market.candles("INDIA VIX", HISTORY_START, end)


@pytest.fixture(scope="module")
def analysis():
    universe = load_universe()
    universe = universe[universe["symbol"].isin(SMALL_UNIVERSE)].reset_index(drop=True)
    market = SyntheticMarket(42, TRADE_DATE, universe=universe)
    return analyze_portfolio(market, universe=universe, allocations=load_allocations(), settings=Settings(),
                             risk_profile="moderate")


@pytest.fixture(scope="module")
def budget(analysis):
    return Settings().limits("moderate").max_loss_per_trade * analysis.capital


def failed(report):
    return report.results[~report.results["success"]]


# ---------------------------------------------------------------- option chains


def test_healthy_chains_pass_without_warnings(chain_reports):
    healthy = {s: r for s, r in chain_reports.items() if s not in DEFAULT_BROKEN}
    assert len(healthy) == len(chain_reports) - 3
    for symbol, report in healthy.items():
        assert report.success and report.warnings == 0, report.summary()
        assert set(report.results["subject"]) == {symbol}


def test_crossed_chain_fails_bid_le_ask_as_critical(chain_reports, chains):
    report = chain_reports["BANKBARODA"]
    assert not report.success and report.critical_failures == 1
    (row,) = failed(report).itertuples()
    assert (row.expectation, row.column, row.severity) == (
        "expect_column_pair_values_a_to_be_greater_than_b", "ask,bid", "critical")
    chain = chains["BANKBARODA"]
    crossed = chain[(chain["bid"] > 0) & (chain["ask"] > 0) & (chain["bid"] > chain["ask"])]
    assert len(crossed) > 0 and row.unexpected_count == len(crossed)
    listed = json.loads(row.details)["unexpected"]
    assert {(r["strike"], r["option_type"]) for r in listed} <= set(zip(crossed["strike"], crossed["option_type"]))


def test_empty_chain_fails_row_count(chain_reports, chains):
    assert chains["IOC"].empty
    report = chain_reports["IOC"]
    assert not report.success
    critical = failed(report)[failed(report)["severity"] == "critical"]
    assert list(critical["column"]) == ["rows"]
    assert critical["suite"].item() == quality.CHAIN_SUMMARY_SUITE
    assert "rows=0" in critical["observed"].item()


def test_illiquid_chain_warns_but_does_not_fail(chain_reports):
    """No bids, OI or volume is a market condition, not corrupt data: warnings; the analysis's filter decides."""
    report = chain_reports["NMDC"]
    assert report.success and report.critical_failures == 0
    assert set(failed(report)["column"]) == {"two_sided_share", "oi_total", "volume_total"}
    assert (failed(report)["severity"] == "warning").all() and report.warnings == 3


def test_one_batch_gives_the_same_results_as_one_run_per_symbol(chain_reports, chains, gx_dir):
    for symbol in ("NIFTY", "BANKBARODA", "IOC", "NMDC"):
        alone = quality.validate_chain(chains[symbol], symbol=symbol, gx_dir=gx_dir)
        pd.testing.assert_frame_equal(alone.results, chain_reports[symbol].results)


def test_defects_fail_their_expectations_for_their_symbol_only(chains, gx_dir):
    chain = chains["RELIANCE"].copy()
    chain.loc[0, "option_type"] = "XX"
    chain.loc[1, "strike"] = -5.0
    chain.loc[2, "iv"] = 4.0
    chain.loc[3, "delta"] = 1.5
    chain.loc[4, "bid"] = np.nan
    chain.loc[5, "symbol"] = "RELIANCEX"
    chain.loc[6, "oi"] = -1
    chain = pd.concat([chain, chain.iloc[[10]]], ignore_index=True)  # a duplicated contract
    reports = quality.validate_chains({"RELIANCE": chain, "INFY": chains["INFY"]}, gx_dir=gx_dir)
    assert reports["INFY"].success and reports["INFY"].warnings == 0
    bad = failed(reports["RELIANCE"]).set_index("column")
    expected = {"option_type": "critical", "strike": "critical", "iv": "warning", "delta": "critical",
                "bid": "critical", "symbol_matches": "critical", "oi": "critical",
                "subject,expiry,strike,option_type": "critical"}
    assert bad["severity"].to_dict() == expected
    assert (bad.drop(index="subject,expiry,strike,option_type")["unexpected_count"] == 1).all()
    assert bad.loc["subject,expiry,strike,option_type", "unexpected_count"] == 2  # both copies


# ---------------------------------------------------------------- market context


def test_healthy_market_context_passes(candles, gx_dir):
    report = quality.validate_market_context(*candles, TRADE_DATE, gx_dir=gx_dir)
    assert report.success and report.warnings == 0, report.summary()
    assert report.suite == quality.CONTEXT_SUITE


@pytest.mark.parametrize("close", [95.0, 4.0])
def test_vix_outside_bounds_fails(candles, gx_dir, close):
    nifty, vix = candles
    vix = vix.copy()
    vix.loc[7, "close"] = close
    report = quality.validate_market_context(nifty, vix, TRADE_DATE, gx_dir=gx_dir)
    (row,) = failed(report).itertuples()
    assert row.severity == "critical" and row.column == "close" and "INDIA VIX" in row.details
    assert json.loads(row.details)["unexpected"][0]["date"] == vix.loc[7, "date"].date().isoformat()


def test_missing_trading_day_fails(candles, gx_dir):
    nifty, vix = candles
    dropped = nifty.loc[20, "date"].date()
    report = quality.validate_market_context(nifty.drop(index=20), vix, TRADE_DATE, gx_dir=gx_dir)
    (row,) = failed(report).itertuples()
    assert row.column == "present" and row.severity == "critical"
    assert [u["date"] for u in json.loads(row.details)["unexpected"]] == [dropped.isoformat()]


def test_history_ending_early_is_missing_days(candles, gx_dir):
    """Both histories must reach the last trading day before the trade date."""
    nifty, vix = candles
    report = quality.validate_market_context(nifty.iloc[:-2], vix.iloc[:-2], TRADE_DATE, gx_dir=gx_dir)
    (row,) = failed(report).itertuples()
    assert row.column == "present" and row.unexpected_count == 4  # two days × two instruments


def test_duplicate_date_holiday_candle_and_look_ahead(candles, gx_dir):
    nifty, vix = candles
    window = [HISTORY_START + timedelta(days=n) for n in range((TRADE_DATE - HISTORY_START).days)]
    holiday = next(d for d in window if d.weekday() < 5 and not calendar.is_trading_day(d))
    extra = pd.concat([vix.iloc[[0]].assign(date=pd.Timestamp(holiday)),
                       vix.iloc[[-1]].assign(date=pd.Timestamp(TRADE_DATE))])
    report = quality.validate_market_context(nifty, pd.concat([vix, vix.iloc[[5]], extra], ignore_index=True),
                                             TRADE_DATE, gx_dir=gx_dir)
    bad = failed(report).set_index("column")
    assert bad.loc["symbol,date", "severity"] == "critical"  # the duplicate
    assert bad.loc["before_trade_date", "severity"] == "critical"  # a candle on the trade date itself
    assert bad.loc["trading_day", "severity"] == "warning"  # the candle on a weekday holiday
    assert holiday.isoformat() in bad.loc["trading_day", "details"]


def test_swapped_inputs_fail(candles, gx_dir):
    nifty, vix = candles
    report = quality.validate_market_context(vix, nifty, TRADE_DATE, gx_dir=gx_dir)
    assert "symbol_matches" in set(failed(report)["column"]) and not report.success


def test_empty_histories_fail_row_count(candles, gx_dir):
    nifty, vix = candles
    report = quality.validate_market_context(nifty.iloc[:0], vix.iloc[:0], TRADE_DATE, gx_dir=gx_dir)
    assert failed(report)["expectation"].tolist() == ["expect_table_row_count_to_be_between"]


# ---------------------------------------------------------------- strategies


def test_selected_strategies_pass(analysis, budget, gx_dir):
    assert len(analysis.strategies) > 0
    report = quality.validate_strategies(analysis.strategies, analysis.legs, max_loss_per_trade=budget, gx_dir=gx_dir)
    assert report.success and report.warnings == 0, report.summary()


@pytest.mark.parametrize("column, value, failing", [
    ("pop", 1.2, "pop"),
    ("pop_net", -0.1, "pop_net"),
    ("max_loss", 1000.0, "max_loss"),
    ("max_profit", -1.0, "max_profit"),
    ("lots", 0, "lots"),
    ("capital_at_risk", np.nan, "capital_at_risk"),
    ("breakevens", [], "n_breakevens"),
])
def test_bad_strategy_values_fail(analysis, budget, gx_dir, column, value, failing):
    strategies = analysis.strategies.copy()
    strategies[column] = strategies[column].astype(object) if isinstance(value, list) else strategies[column]
    strategies.at[1, column] = value
    report = quality.validate_strategies(strategies, analysis.legs, max_loss_per_trade=budget, gx_dir=gx_dir)
    bad = failed(report)
    assert failing in set(bad["column"]) and (bad["severity"] == "critical").all()
    if column == "lots":  # a different lot count no longer matches the legs' quantities either
        assert set(bad["column"]) == {"lots", "legs_match_template"}
    else:
        assert set(bad["column"]) == {failing}
    candidate = strategies.at[1, "candidate_id"]
    assert all(candidate in details for details in bad["details"])


def test_capital_above_the_per_trade_budget_fails(analysis, budget, gx_dir):
    largest = analysis.strategies["capital_at_risk"].max()
    report = quality.validate_strategies(analysis.strategies, analysis.legs, max_loss_per_trade=largest * 0.999,
                                         gx_dir=gx_dir)
    assert failed(report)["column"].tolist() == ["capital_at_risk"]
    assert failed(report)["unexpected_count"].item() == (analysis.strategies["capital_at_risk"] > largest * 0.999).sum()


def test_legs_not_matching_their_template_fail(analysis, budget, gx_dir):
    legs = analysis.legs.copy()
    flipped = legs.index[legs["candidate_id"] == analysis.strategies.at[0, "candidate_id"]][0]
    legs.at[flipped, "side"] = "SELL" if legs.at[flipped, "side"] == "BUY" else "BUY"
    report = quality.validate_strategies(analysis.strategies, legs, max_loss_per_trade=budget, gx_dir=gx_dir)
    (row,) = failed(report).itertuples()
    assert row.column == "legs_match_template" and row.severity == "critical" and row.unexpected_count == 1
    assert analysis.strategies.at[0, "candidate_id"] in row.details


def _strategy(name, lots=2, lot_size=50, far=None):
    return pd.DataFrame({"candidate_id": ["X:1"], "strategy": [name], "expiry": [pd.Timestamp("2026-12-29")],
                         "far_expiry": [pd.Timestamp(far) if far else pd.NaT], "lots": [lots], "lot_size": [lot_size]})


def _legs(name, lots=2, lot_size=50, far=None):
    rows = []
    for number, leg in enumerate(template(name).legs):
        expiry = pd.NaT if leg.instrument == "STK" else pd.Timestamp(far if leg.expiry == "far" else "2026-12-29")
        rows.append({"candidate_id": "X:1", "leg_no": number, "instrument": leg.instrument, "side": leg.side,
                     "ratio": leg.ratio, "expiry": expiry, "contract_lot": 1 if leg.instrument == "STK" else lot_size,
                     "qty": lots * leg.ratio * lot_size})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name, far", [("Iron Condor", None), ("Call Ratio Spread", None),
                                       ("Calendar Spread", "2027-01-26"), ("Covered Call", None)])
def test_legs_match_template_by_hand(name, far):
    strategy, legs = _strategy(name, far=far), _legs(name, far=far)
    assert quality.legs_match_template(strategy, legs).tolist() == [True]
    defects = {
        "a leg missing": legs.iloc[:-1],
        "a leg too many": pd.concat([legs, legs.iloc[[-1]].assign(leg_no=len(legs))]),
        "wrong instrument": legs.assign(instrument=np.where(legs["leg_no"] == 0, "XX", legs["instrument"])),
        "wrong ratio": legs.assign(ratio=legs["ratio"] + (legs["leg_no"] == len(legs) - 1)),
        "wrong quantity": legs.assign(qty=legs["qty"] + (legs["leg_no"] == 0)),
        "wrong expiry": legs.assign(expiry=legs["expiry"] + pd.Timedelta(days=7)),
        "not whole contract lots": legs.assign(contract_lot=np.where(legs["instrument"] == "STK", 1, 75)),
        "no contract lot": legs.assign(contract_lot=0),
    }
    for what, bad in defects.items():
        assert quality.legs_match_template(strategy, bad).tolist() == [False], what
    assert quality.legs_match_template(_strategy("Unknown Spread"), legs).tolist() == [False]
    assert quality.legs_match_template(strategy, legs.iloc[:0]).tolist() == [False]


# ---------------------------------------------------------------- results, Data Docs, project


def test_results_frame_is_ready_for_the_table(chain_reports, candles, analysis, budget, gx_dir):
    reports = [*chain_reports.values(), quality.validate_market_context(*candles, TRADE_DATE, gx_dir=gx_dir),
               quality.validate_strategies(analysis.strategies, analysis.legs, max_loss_per_trade=budget,
                                           gx_dir=gx_dir)]
    for report in reports:
        results = report.results
        assert tuple(results.columns) == quality.RESULT_COLUMNS
        assert results["success"].dtype == bool and str(results["unexpected_count"].dtype) == "Int64"
        assert (results["suite"].isin([report.suite, quality.CHAIN_SUMMARY_SUITE])).all()
        assert (results["subject"] == report.subject).all()
        assert results["severity"].isin(["critical", "warning"]).all()
        assert results[["suite", "subject", "expectation", "observed", "details"]].notna().all().all()
        assert all(json.loads(d)["description"] for d in results["details"])
        assert report.critical_failures == (~results["success"] & (results["severity"] == "critical")).sum()


def test_data_docs_index_exists_after_a_run(chain_reports, gx_dir):
    index = quality.build_data_docs("test-run", gx_dir=gx_dir)
    assert index == quality.data_docs_index(gx_dir) and index.is_file()
    site = index.parent
    assert list(site.glob("validations/option_chain/test-run/*/*.html"))
    assert (site / "expectations" / "strategies.html").is_file()
    sites = quality._context(gx_dir.resolve()).get_docs_sites_urls()
    assert sites[0]["site_url"] == index.as_uri()


def test_a_run_stays_offline_and_leaves_the_committed_project_unchanged(chains, gx_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access during validation")

    committed = {p.relative_to(quality.GX_DIR): p.read_bytes() for p in quality.GX_DIR.rglob("*")
                 if p.is_file() and "uncommitted" not in p.parts}
    monkeypatch.setattr(socket.socket, "connect", refuse)
    quality.validate_chain(chains["NIFTY"], symbol="NIFTY", gx_dir=gx_dir, run_name="offline")
    quality.build_data_docs("offline", gx_dir=gx_dir)
    copied = {p.relative_to(gx_dir): p.read_bytes() for p in gx_dir.rglob("*")
              if p.is_file() and "uncommitted" not in p.parts}
    assert copied == committed


def test_committed_suites_give_every_expectation_a_severity_and_description():
    for path in (quality.GX_DIR / "expectations").glob("*.json"):
        for expectation in json.loads(path.read_text())["expectations"]:
            assert expectation["severity"] in ("critical", "warning"), path.name
            assert expectation["description"], path.name
    config = (quality.GX_DIR / "great_expectations.yml").read_text()
    assert "analytics_enabled: false" in config and "globally: false" in config


def test_bad_inputs_raise_input_error(chains, candles, analysis, gx_dir):
    nifty, vix = candles
    with pytest.raises(InputError, match="chains"):
        quality.validate_chains({}, gx_dir=gx_dir)
    with pytest.raises(InputError, match="bid"):
        quality.validate_chain(chains["NIFTY"].drop(columns="bid"), symbol="NIFTY", gx_dir=gx_dir)
    with pytest.raises(InputError, match="symbol"):
        quality.validate_chain(chains["NIFTY"], symbol="", gx_dir=gx_dir)
    with pytest.raises(InputError, match="trade_date"):
        quality.validate_market_context(nifty, vix, "2026-11-23", gx_dir=gx_dir)
    with pytest.raises(InputError, match="close"):
        quality.validate_market_context(nifty.drop(columns="close"), vix, TRADE_DATE, gx_dir=gx_dir)
    for budget in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="max_loss_per_trade"):
            quality.validate_strategies(analysis.strategies, analysis.legs, max_loss_per_trade=budget, gx_dir=gx_dir)
    with pytest.raises(InputError, match="legs"):
        quality.validate_strategies(analysis.strategies, analysis.legs.drop(columns="side"), max_loss_per_trade=1e6,
                                    gx_dir=gx_dir)
