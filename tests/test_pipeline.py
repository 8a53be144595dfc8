"""The daily pipeline's steps (what the DAG tasks call) give the same result as one analyze_portfolio call."""

from datetime import date

import pytest

from optionsv4_lib.allocation import load_allocations
from optionsv4_lib.analysis import analyze_portfolio
from optionsv4_lib.config import Settings
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.pipeline import (
    NotATradingDay, analyze_symbol_step, assemble_run, compute_market_state, fetch_market_context, fetch_symbol, plan_run, read_result,
)
from optionsv4_lib.reference import load_universe

TRADE_DATE = date(2026, 11, 23)


def steps(settings, universe, excluded=None):
    plan = plan_run(TRADE_DATE, settings=settings, universe=universe, allocations=load_allocations())
    run_dir = fetch_market_context(plan["run_dir"], settings)
    for symbol in plan["symbols"]:
        fetch_symbol(run_dir, symbol, settings)
    compute_market_state(run_dir, settings)
    for symbol in plan["symbols"]:
        analyze_symbol_step(run_dir, symbol, settings, excluded)
    return read_result(assemble_run(run_dir, settings))


def comparable(document):
    document["run"] = {k: v for k, v in document["run"].items() if k not in ("started_at", "finished_at", "source")}
    return document


def test_steps_equal_one_call(tmp_path):
    settings = Settings(data_dir=tmp_path)
    universe = load_universe().head(12)
    piecewise = steps(settings, universe)
    whole = analyze_portfolio(SyntheticMarket(42, TRADE_DATE), universe=universe, allocations=load_allocations(), settings=settings)
    assert comparable(piecewise.analysis_document()) == comparable(whole.analysis_document())
    assert piecewise.source == "snapshot of synthetic(seed=42)"


def test_excluded_symbol_and_missing_task_become_reasons(tmp_path):
    settings = Settings(data_dir=tmp_path)
    universe = load_universe().head(6)
    plan = plan_run(TRADE_DATE, settings=settings, universe=universe, allocations=load_allocations())
    run_dir = fetch_market_context(plan["run_dir"], settings)
    for symbol in plan["symbols"]:
        fetch_symbol(run_dir, symbol, settings)
    compute_market_state(run_dir, settings)
    for symbol in plan["symbols"][:-1]:  # the last symbol's task "crashed"
        analyze_symbol_step(run_dir, symbol, settings, excluded={"RELIANCE": "chain failed critical expectations"})
    result = read_result(assemble_run(run_dir, settings))
    reasons = result.symbols.set_index("symbol")["reason"]
    assert reasons["RELIANCE"] == "chain failed critical expectations"
    assert reasons[plan["symbols"][-1]] == "analysis task did not finish"


def test_rerun_starts_clean(tmp_path):
    settings = Settings(data_dir=tmp_path)
    universe = load_universe().head(4)
    first = steps(settings, universe, excluded={"NIFTY": "excluded once"})
    second = steps(settings, universe)
    assert "excluded once" in set(first.symbols["reason"].dropna())
    assert "excluded once" not in set(second.symbols["reason"].dropna())


def test_holiday_is_not_a_trading_day(tmp_path):
    with pytest.raises(NotATradingDay, match="Guru Nanak|Gurpurb"):
        plan_run(date(2026, 11, 24), settings=Settings(data_dir=tmp_path), universe=load_universe(), allocations=load_allocations())
