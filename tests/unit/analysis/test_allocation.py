"""Allocation tables, budgets and greedy sizing: the shipped sample, every validation rule, budgets and sizes worked
by hand, and properties of the sizing over random portfolios, replayed by an independent walk in score order."""

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optionsv4_lib.analysis.allocation import (
    INDUSTRY_SUMMARY_COLUMNS,
    SELECTED_COLUMNS,
    Allocations,
    budgets,
    load_allocations,
    size_portfolio,
    sizable,
    validate_allocations,
)
from optionsv4_lib.analysis.limits import RiskLimits
from optionsv4_lib.analysis.result import INDUSTRY_COLUMNS
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.reference.universe import load_universe

AS_OF = "2026-11-23"

# ---------------------------------------------------------------- the shipped sample


def test_sample_tables_validate_and_cover_the_universe():
    universe, alloc = load_universe(), load_allocations()
    assert validate_allocations(alloc, universe) == []
    assert set(alloc.sectors["sector"]) == set(universe["sector"])
    assert set(alloc.industries["industry"]) == set(universe["industry"])
    assert alloc.sectors["weight_pct"].sum() == pytest.approx(100)
    assert alloc.industries["weight_pct"].sum() == pytest.approx(100)
    by_sector = alloc.industries.groupby("sector")["weight_pct"].sum()
    sector_weight = alloc.sectors.set_index("sector")["weight_pct"]
    pd.testing.assert_series_equal(by_sector.sort_index(), sector_weight.sort_index(), check_names=False)
    assert set(alloc.industries["position_type"]) == {"LONG", "SHORT", "NEUTRAL"}
    index_rows = alloc.industries[alloc.industries["sector"] == "Index"]
    assert len(index_rows) == 3 and (index_rows["position_type"] == "NEUTRAL").all()
    for frame in (alloc.sectors, alloc.industries):
        assert frame["note"].str.contains("not investment advice").all()


def test_sample_budgets_spend_the_default_capital_on_every_symbol():
    universe, capital = load_universe(), Settings().capital
    plan = budgets(universe, load_allocations(), capital)
    assert list(plan["symbol"]) == list(universe["symbol"])
    assert plan["symbol_budget"].sum() == pytest.approx(capital, rel=1e-12)
    banks = plan[plan["industry"] == "Banks"]
    assert len(banks) == 7
    assert banks["symbol_budget"].to_list() == pytest.approx([3_00_00_000 * 0.16 / 7] * 7, rel=1e-12)


def test_industry_summary_columns_match_the_result_contract():
    assert INDUSTRY_SUMMARY_COLUMNS == INDUSTRY_COLUMNS


# ---------------------------------------------------------------- validation rules

# Sectors S (industries A, B) and T (industry C); D is in no allocation unless a case adds it.
UNIVERSE = pd.DataFrame({
    "symbol": ["X1", "X2", "Y1", "Z1"],
    "sector": ["S", "S", "S", "T"],
    "industry": ["A", "A", "B", "C"],
})


def tables(sectors=(("S", 60), ("T", 30)),
           industries=(("A", "S", 40, "LONG"), ("B", "S", 20, "SHORT"), ("C", "T", 30, "NEUTRAL"))) -> Allocations:
    return Allocations(
        pd.DataFrame([(s, w, AS_OF, "") for s, w in sectors], columns=["sector", "weight_pct", "as_of", "note"]),
        pd.DataFrame([(*row, AS_OF) for row in industries],
                     columns=["industry", "sector", "weight_pct", "position_type", "as_of"]),
    )


def test_a_consistent_allocation_passes():
    assert validate_allocations(tables(), UNIVERSE) == []


BROKEN = {
    "sector weight over 100": (
        dict(sectors=(("S", 120), ("T", 30))),
        r"sector_allocations row 1 \(sector 'S'\): weight_pct 120 outside 0–100"),
    "negative industry weight": (
        dict(industries=(("A", "S", 40, "LONG"), ("B", "S", -5, "SHORT"), ("C", "T", 30, "NEUTRAL"))),
        r"industry_allocations row 2 \(industry 'B'\): weight_pct -5 outside 0–100"),
    "sector weights sum over 100": (
        dict(sectors=(("S", 60), ("T", 50))),
        r"sector_allocations: weight_pct sums to 110 > 100"),
    "industry weights sum over 100": (
        dict(industries=(("A", "S", 60, "LONG"), ("B", "S", 30, "SHORT"), ("C", "T", 30, "NEUTRAL"))),
        r"industry_allocations: weight_pct sums to 120 > 100"),
    "unknown position type": (
        dict(industries=(("A", "S", 40, "BUY"), ("B", "S", 20, "SHORT"), ("C", "T", 30, "NEUTRAL"))),
        r"industry_allocations row 1 \(industry 'A'\): position_type 'BUY' unknown"),
    "industry's sector missing from the sector table": (
        dict(sectors=(("S", 60),)),
        r"industry_allocations row 3 \(industry 'C'\): sector 'T' not in sector_allocations"),
    "industries exceed their sector": (
        dict(industries=(("A", "S", 45, "LONG"), ("B", "S", 20, "SHORT"), ("C", "T", 30, "NEUTRAL"))),
        r"industry_allocations rows 1, 2: weight_pct of the industries of sector 'S' sums to 65 > the sector's 60"),
    "industry unknown to the universe": (
        dict(industries=(("A", "S", 40, "LONG"), ("B", "S", 20, "SHORT"), ("C", "T", 20, "NEUTRAL"),
                         ("Q", "T", 5, "LONG"))),
        r"industry_allocations row 4 \(industry 'Q'\): industry not in the universe"),
    "industry in another sector than the universe's": (
        dict(industries=(("A", "S", 40, "LONG"), ("B", "T", 10, "SHORT"), ("C", "T", 20, "NEUTRAL"))),
        r"industry_allocations row 2 \(industry 'B'\): sector 'T', but the universe has the industry in 'S'"),
    "sector unknown to the universe": (
        dict(sectors=(("S", 60), ("T", 30), ("V", 5))),
        r"sector_allocations row 3 \(sector 'V'\): sector not in the universe"),
    "repeated industry": (
        dict(industries=(("A", "S", 20, "LONG"), ("B", "S", 20, "SHORT"), ("C", "T", 30, "NEUTRAL"),
                         ("A", "S", 10, "LONG"))),
        r"industry_allocations rows 1, 4: industry 'A' repeated"),
    "repeated sector": (
        dict(sectors=(("S", 60), ("T", 20), ("T", 10))),
        r"sector_allocations rows 2, 3: sector 'T' repeated"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_each_broken_rule_is_an_input_error_naming_table_row_and_field(case):
    edits, message = BROKEN[case]
    with pytest.raises(InputError, match=message):
        validate_allocations(tables(**edits), UNIVERSE)


def test_every_unknown_industry_is_named_in_one_error():
    alloc = tables(industries=(("A", "S", 40, "LONG"), ("Q1", "S", 5, "LONG"), ("Q2", "T", 5, "SHORT")))
    with pytest.raises(InputError, match=r"'Q1'\): industry not in the universe.*'Q2'\): industry not in"):
        validate_allocations(alloc, UNIVERSE)


def test_sums_within_the_tolerance_pass():
    alloc = tables(sectors=(("S", 70 + 5e-7), ("T", 30)),
                   industries=(("A", "S", 50 + 5e-7, "LONG"), ("B", "S", 20, "SHORT"), ("C", "T", 30, "NEUTRAL")))
    assert validate_allocations(alloc, UNIVERSE) == []
    over = tables(sectors=(("S", 70 + 1e-5), ("T", 30)))
    with pytest.raises(InputError, match=r"sector_allocations: weight_pct sums to 100.00001 > 100"):
        validate_allocations(over, UNIVERSE)


def test_industries_without_allocation_are_returned_and_logged(caplog):
    alloc = tables(industries=(("A", "S", 40, "LONG"), ("B", "S", 20, "SHORT")))
    with caplog.at_level(logging.WARNING, logger="optionsv4_lib.analysis.allocation"):
        assert validate_allocations(alloc, UNIVERSE) == ["C"]
    assert "C" in caplog.text and "no budget" in caplog.text


CELLS = {
    "weight is text": (dict(weight_pct="abc"), r"row 1 \(sector 'S'\): weight_pct 'abc' is not a number"),
    "weight is missing": (dict(weight_pct=np.nan), r"row 1 \(sector 'S'\): weight_pct .* is not a number"),
    "sector is empty": (dict(sector=" "), r"sector_allocations row 1 \(sector ''\): sector is empty"),
    "as_of is not ISO": (dict(as_of="23/11/2026"), r"row 1 \(sector 'S'\): as_of '23/11/2026' is not a YYYY-MM-DD"),
}


@pytest.mark.parametrize("case", CELLS, ids=list(CELLS))
def test_unreadable_cells_are_input_errors_naming_row_and_field(case):
    cells, message = CELLS[case]
    sectors = pd.DataFrame([{"sector": "S", "weight_pct": 60, "as_of": AS_OF} | cells,
                            {"sector": "T", "weight_pct": 30, "as_of": AS_OF}])
    with pytest.raises(InputError, match=message):
        Allocations(sectors, tables().industries)


def test_missing_columns_and_empty_tables_are_input_errors():
    industries = tables().industries.drop(columns="position_type")
    with pytest.raises(InputError, match="industry_allocations: missing column.*position_type"):
        Allocations(tables().sectors, industries)
    with pytest.raises(InputError, match="sector_allocations: no rows"):
        Allocations(tables().sectors.iloc[:0], tables().industries)


def test_position_types_are_read_in_any_case():
    alloc = tables(industries=(("A", "S", 40, " long"), ("B", "S", 20, "Short"), ("C", "T", 30, "neutral ")))
    assert alloc.industries["position_type"].to_list() == ["LONG", "SHORT", "NEUTRAL"]


def test_load_allocations_reads_files_and_names_them_in_errors(tmp_path):
    sector_file, industry_file = tmp_path / "sectors.csv", tmp_path / "industries.csv"
    alloc = tables()
    alloc.sectors.to_csv(sector_file, index=False, date_format="%Y-%m-%d")
    alloc.industries.to_csv(industry_file, index=False, date_format="%Y-%m-%d")
    loaded = load_allocations(sector_file, industry_file)
    pd.testing.assert_frame_equal(loaded.industries, alloc.industries)
    pd.testing.assert_frame_equal(loaded.sectors, alloc.sectors)

    industry_file.write_text(industry_file.read_text().replace("SHORT", "SELL"))
    with pytest.raises(InputError, match=r"industries.csv row 2 \(industry 'B'\): position_type 'SELL' unknown"):
        validate_allocations(load_allocations(sector_file, industry_file), UNIVERSE)
    with pytest.raises(InputError, match="nowhere.csv: allocation file not found"):
        load_allocations(tmp_path / "nowhere.csv", industry_file)


# ---------------------------------------------------------------- budgets by hand


def test_budgets_by_hand():
    universe = pd.concat([UNIVERSE, pd.DataFrame({"symbol": ["W1"], "sector": ["T"], "industry": ["D"]})])
    plan = budgets(universe, tables(), 10_00_000).set_index("symbol")
    # A: 40 % of ₹10 lakh = ₹4,00,000 over X1, X2; B: 20 % → ₹2,00,000 for Y1; C: 30 % → ₹3,00,000 for Z1;
    # W1's industry D has no allocation, so no row.
    assert list(plan.index) == ["X1", "X2", "Y1", "Z1"]
    assert plan["industry_budget"].to_list() == [400_000, 400_000, 200_000, 300_000]
    assert plan["symbol_budget"].to_list() == [200_000, 200_000, 200_000, 300_000]
    assert plan["position_type"].to_list() == ["LONG", "LONG", "SHORT", "NEUTRAL"]
    assert plan["sector"].to_list() == ["S", "S", "S", "T"]


def test_budgets_split_among_the_symbols_of_the_run_only():
    plan = budgets(UNIVERSE[UNIVERSE["symbol"] != "X2"], tables(), 10_00_000).set_index("symbol")
    assert plan.loc["X1", "symbol_budget"] == 400_000


@pytest.mark.parametrize("capital", [0, -1.0, float("nan"), float("inf")])
def test_budgets_reject_impossible_capital(capital):
    with pytest.raises(InputError, match="capital"):
        budgets(UNIVERSE, tables(), capital)


def test_budgets_check_weights_and_universe():
    with pytest.raises(InputError, match="weight_pct 120 outside"):
        budgets(UNIVERSE, tables(sectors=(("S", 120), ("T", 30))), 1e6)
    with pytest.raises(InputError, match="universe: missing column.*industry"):
        budgets(UNIVERSE.drop(columns="industry"), tables(), 1e6)
    with pytest.raises(InputError, match="universe.symbol: repeated 'X1'"):
        budgets(pd.concat([UNIVERSE, UNIVERSE.iloc[:1]]), tables(), 1e6)


# ---------------------------------------------------------------- sizing by hand

CAPITAL = 10_00_000.0  # ₹10 lakh
LIMITS = RiskLimits(max_loss_per_trade=0.02, max_industry=0.05, max_total=0.08, max_lots=10)
# per trade ₹20,000; industry cap ₹50,000; total cap ₹80,000.
HAND_UNIVERSE = pd.DataFrame({"symbol": ["X", "Y", "Z"], "sector": ["S", "S", "T"], "industry": ["A", "A", "B"]})
HAND_ALLOC = tables(sectors=(("S", 8), ("T", 10)), industries=(("A", "S", 8, "LONG"), ("B", "T", 10, "SHORT")))
# A: ₹80,000 (₹40,000 each for X and Y) but capped at ₹50,000; B: ₹1,00,000 for Z.
HAND_SELECTED = pd.DataFrame(
    [("s5", "Y", 0.5, 2_500), ("s1", "X", 0.9, 7_000), ("s8", "Z", 0.3, 7_000), ("s3", "X", 0.7, 3_000),
     ("s6", "Z", 0.4, 100), ("s2", "X", 0.8, 9_000), ("s7", "Z", 0.3, 6_000), ("s4", "Y", 0.6, 5_000)],
    columns=["candidate_id", "symbol", "score", "capital_at_risk"],
).assign(lot_size=50, margin=0.0, strategy=lambda f: f["candidate_id"])  # no margin or type limit here
# In score order (rooms: symbol, per trade, industry, total → lots):
# s1 X 7,000: 40,000  20,000  50,000  80,000 → 2 (per trade)
# s2 X 9,000: 26,000  20,000  36,000  66,000 → 2 (per trade)
# s3 X 3,000:  8,000  20,000  18,000  48,000 → 2 (symbol budget)
# s4 Y 5,000: 40,000  20,000  12,000  42,000 → 2 (industry)
# s5 Y 2,500: 30,000  20,000   2,000  32,000 → 0 (industry: ₹2,000 < ₹2,500)
# s6 Z   100: 1,00,000 20,000 50,000  32,000 → 200, capped at 10 (max_lots)
# s7 Z 6,000: 99,000  20,000  49,000  31,000 → 3 (per trade); s7 before s8 at equal score
# s8 Z 7,000: 81,000  20,000  31,000  13,000 → 1 (total)
HAND_EXPECTED = {
    "s1": (2, "per_trade"), "s2": (2, "per_trade"), "s3": (2, "symbol_budget"), "s4": (2, "industry"),
    "s5": (0, "industry"), "s6": (10, "max_lots"), "s7": (3, "per_trade"), "s8": (1, "total"),
}


def hand_sizes():
    return size_portfolio(HAND_SELECTED, budgets(HAND_UNIVERSE, HAND_ALLOC, CAPITAL), CAPITAL, LIMITS)


def test_sizing_by_hand_names_the_binding_limit():
    sized, _ = hand_sizes()
    assert sized["candidate_id"].to_list() == list(HAND_EXPECTED)  # processing order
    assert dict(zip(sized["candidate_id"], zip(sized["lots"], sized["budget_binding"]))) == HAND_EXPECTED
    assert sized["capital_used"].to_list() == [14_000, 18_000, 6_000, 10_000, 0, 1_000, 18_000, 7_000]
    assert sized["quantity"].to_list() == [100, 100, 100, 100, 0, 500, 150, 50]
    assert sized["industry"].to_list() == ["A"] * 5 + ["B"] * 3
    assert sized["position_type"].to_list() == ["LONG"] * 5 + ["SHORT"] * 3
    skipped = sized.set_index("candidate_id")["skip_reason"]
    assert skipped.drop("s5").isna().all()
    assert skipped["s5"] == "no room for one lot: industry room ₹2,000.00 < capital at risk ₹2,500.00 per lot"


def test_industry_summary_by_hand():
    _, industries = hand_sizes()
    expected = pd.DataFrame({
        "industry": ["A", "B"], "sector": ["S", "T"], "position_type": ["LONG", "SHORT"],
        "budget": [80_000.0, 100_000.0], "used": [48_000.0, 26_000.0], "utilisation": [0.6, 0.26],
        "n_strategies": [4, 3],
    })
    pd.testing.assert_frame_equal(industries, expected, check_dtype=False)


def test_an_industry_with_zero_weight_gets_no_lots():
    alloc = tables(sectors=(("S", 8), ("T", 10)), industries=(("A", "S", 8, "LONG"), ("B", "T", 0, "SHORT")))
    sized, industries = size_portfolio(HAND_SELECTED, budgets(HAND_UNIVERSE, alloc, CAPITAL), CAPITAL, LIMITS)
    on_z = sized[sized["symbol"] == "Z"]
    assert (on_z["lots"] == 0).all() and (on_z["budget_binding"] == "symbol_budget").all()
    assert industries.set_index("industry").loc["B", "utilisation"] == 0.0


def test_a_division_that_rounds_up_to_a_whole_lot_does_not_overspend():
    # room / risk rounds to exactly 33.0 in floats, but 33 × risk > room: only 32 lots fit.
    room, risk = 846351.2210098845, 25647.00669726923
    assert room / risk == 33.0 and 33 * risk > room
    plan = pd.DataFrame({"symbol": ["X"], "sector": ["S"], "industry": ["A"], "industry_budget": [1e7],
                         "symbol_budget": [room]})
    selected = pd.DataFrame({"candidate_id": ["c"], "symbol": ["X"], "strategy": ["Iron Condor"], "score": [1.0],
                             "capital_at_risk": [risk], "margin": [0.0], "lot_size": [1]})
    sized, _ = size_portfolio(selected, plan, 1e8, RiskLimits())
    assert sized["lots"].item() == 32 and sized["capital_used"].item() <= room
    assert sized["budget_binding"].item() == "symbol_budget"


def test_empty_selection_uses_nothing():
    sized, industries = size_portfolio(HAND_SELECTED.iloc[:0], budgets(HAND_UNIVERSE, HAND_ALLOC, CAPITAL),
                                       CAPITAL, LIMITS)
    assert sized.empty and "lots" in sized.columns
    assert industries["used"].to_list() == [0.0, 0.0] and industries["n_strategies"].to_list() == [0, 0]


BAD_SELECTIONS = {
    "capital_at_risk zero": (dict(capital_at_risk=0.0), r"selected.capital_at_risk: must be .*'s1'"),
    "capital_at_risk negative": (dict(capital_at_risk=-5.0), "selected.capital_at_risk"),
    "capital_at_risk NaN": (dict(capital_at_risk=np.nan), "selected.capital_at_risk"),
    "margin negative": (dict(margin=-1.0), r"selected.margin: must be a finite number ≥ 0 .*'s1'"),
    "score NaN": (dict(score=np.nan), r"selected.score: must be a finite number; not so for candidate_id 's1'"),
    "lot_size fractional": (dict(lot_size=2.5), "selected.lot_size: must be a whole number"),
    "symbol without budget": (dict(symbol="NOPE"), r"selected.symbol: no budget row for 'NOPE'"),
    "candidate_id repeated": (dict(candidate_id="s2"), r"selected.candidate_id: repeated 's2'"),
}


@pytest.mark.parametrize("case", BAD_SELECTIONS, ids=list(BAD_SELECTIONS))
def test_bad_selections_are_input_errors_naming_the_field(case):
    change, message = BAD_SELECTIONS[case]
    selected = HAND_SELECTED.copy()
    row = selected.index[selected["candidate_id"] == "s1"][0]
    for column, value in change.items():
        selected[column] = selected[column].astype(object)
        selected.loc[row, column] = value
    with pytest.raises(InputError, match=message):
        size_portfolio(selected, budgets(HAND_UNIVERSE, HAND_ALLOC, CAPITAL), CAPITAL, LIMITS)


@pytest.mark.parametrize("column", SELECTED_COLUMNS)
def test_missing_selected_column_is_named(column):
    with pytest.raises(InputError, match=f"selected: missing column.*{column}"):
        size_portfolio(HAND_SELECTED.drop(columns=column), budgets(HAND_UNIVERSE, HAND_ALLOC, CAPITAL), CAPITAL,
                       LIMITS)


def test_bad_budgets_are_input_errors():
    plan = budgets(HAND_UNIVERSE, HAND_ALLOC, CAPITAL)
    with pytest.raises(InputError, match="budgets: missing column.*symbol_budget"):
        size_portfolio(HAND_SELECTED, plan.drop(columns="symbol_budget"), CAPITAL, LIMITS)
    with pytest.raises(InputError, match="budgets.symbol_budget: must be finite"):
        size_portfolio(HAND_SELECTED, plan.assign(symbol_budget=np.nan), CAPITAL, LIMITS)
    with pytest.raises(InputError, match="budgets.industry_budget: differs within industry 'A'"):
        size_portfolio(HAND_SELECTED, plan.assign(industry_budget=[80_000, 70_000, 100_000]), CAPITAL, LIMITS)
    with pytest.raises(InputError, match="budgets.symbol: repeated 'X'"):
        size_portfolio(HAND_SELECTED, pd.concat([plan, plan.iloc[:1]]), CAPITAL, LIMITS)
    with pytest.raises(InputError, match="capital"):
        size_portfolio(HAND_SELECTED, plan, -1.0, LIMITS)


# ---------------------------------------------------------------- properties over random portfolios


@st.composite
def portfolios(draw):
    """A random universe, allocation, capital, limits and selection (scores from a few values, so ties occur)."""
    n_industries = draw(st.integers(1, 4))
    sector_of = [f"S{draw(st.integers(0, 1))}" for _ in range(n_industries)]
    symbols, industries = [], []
    for i in range(n_industries):
        for j in range(draw(st.integers(1, 3))):
            symbols.append(f"I{i}X{j}")
            industries.append(f"I{i}")
    universe = pd.DataFrame({"symbol": symbols, "industry": industries,
                             "sector": [sector_of[int(name[1:])] for name in industries]})
    weights = [draw(st.floats(0, 25)) for _ in range(n_industries)]
    allocated = [i for i in range(n_industries) if i == 0 or draw(st.booleans())]
    industry_rows = [(f"I{i}", sector_of[i], weights[i], draw(st.sampled_from(["LONG", "SHORT", "NEUTRAL"])))
                     for i in allocated]
    sector_rows = [(s, sum(w for _, sec, w, _ in industry_rows if sec == s) + draw(st.floats(0, 5)))
                   for s in sorted({r[1] for r in industry_rows})]
    alloc = tables(sectors=sector_rows, industries=industry_rows)
    capital = draw(st.floats(1e5, 1e8))
    trade, industry, total = sorted(draw(st.floats(0.001, 1)) for _ in range(3))
    limits = RiskLimits(max_loss_per_trade=trade, max_industry=industry, max_total=total,
                        max_strategy_share=draw(st.floats(0.05, 1)), max_margin=draw(st.floats(0.01, 1)),
                        max_lots=draw(st.integers(1, 20)))
    plan = budgets(universe, alloc, capital)
    n = draw(st.integers(0, 25))
    selected = pd.DataFrame({
        "candidate_id": [f"c{k:02d}" for k in range(n)],
        "symbol": [draw(st.sampled_from(plan["symbol"].to_list())) for _ in range(n)],
        "strategy": [draw(st.sampled_from(["Iron Condor", "Short Strangle"])) for _ in range(n)],
        "score": [float(draw(st.integers(0, 4))) for _ in range(n)],
        "capital_at_risk": [draw(st.floats(1e-4, 0.2)) * capital for _ in range(n)],
        "margin": [draw(st.sampled_from([0.0, draw(st.floats(1e-4, 0.3)) * capital])) for _ in range(n)],
        "lot_size": [draw(st.integers(1, 100)) for _ in range(n)],
    })
    return selected, plan, capital, limits, draw(st.randoms(use_true_random=False))


@settings(max_examples=150, deadline=None)
@given(portfolios())
def test_sizing_respects_every_limit_and_is_greedy_in_score_order(case):
    selected, plan, capital, limits, rng = case
    sized, industries = size_portfolio(selected, plan, capital, limits)
    tol = 1e-9 * capital
    budget = plan.set_index("symbol")
    industry_cap = budget.groupby("industry")["industry_budget"].first().clip(upper=limits.max_industry * capital)

    assert sized["lots"].dtype == np.int64
    assert sized["lots"].between(0, limits.max_lots).all()
    assert np.array_equal(sized["capital_used"], sized["lots"] * sized["capital_at_risk"])
    assert (sized["capital_used"] <= limits.max_loss_per_trade * capital + tol).all()
    by_symbol = sized.groupby("symbol")["capital_used"].sum()
    assert (by_symbol <= budget.loc[by_symbol.index, "symbol_budget"] + tol).all()
    by_industry = sized.groupby("industry")["capital_used"].sum()
    assert (by_industry <= industry_cap[by_industry.index] + tol).all()
    assert sized["capital_used"].sum() <= limits.max_total * capital + tol
    by_type = sized.groupby("strategy")["capital_used"].sum()
    assert (by_type <= limits.max_strategy_share * limits.max_total * capital + tol).all()
    assert sized["margin_used"].sum() <= limits.max_margin * capital + tol

    # Replay the greedy walk independently: in (−score, candidate_id) order, each strategy's room is what the
    # strategies before it left; a skipped one had no room for one lot, a sized one could not take one lot more.
    order = sorted(range(len(selected)), key=lambda k: (-selected["score"][k], selected["candidate_id"][k]))
    assert sized["candidate_id"].to_list() == [selected["candidate_id"][k] for k in order]
    used_symbol, used_industry, used_type, used_total, used_margin = {}, {}, {}, 0.0, 0.0
    for row in sized.itertuples():
        industry = budget.loc[row.symbol, "industry"]
        rooms = {  # lots each limit allows
            "symbol_budget": (budget.loc[row.symbol, "symbol_budget"] - used_symbol.get(row.symbol, 0.0)),
            "per_trade": limits.max_loss_per_trade * capital,
            "industry": industry_cap[industry] - used_industry.get(industry, 0.0),
            "total": limits.max_total * capital - used_total,
            "strategy_share": limits.max_strategy_share * limits.max_total * capital - used_type.get(row.strategy, 0),
        }
        allowed = {name: room / row.capital_at_risk for name, room in rooms.items()}
        margin_room = limits.max_margin * capital - used_margin
        allowed["margin"] = margin_room / row.margin if row.margin > 0 else np.inf
        fewest = min(allowed.values())
        assert row.lots <= fewest + 1e-9
        if row.lots < limits.max_lots:
            assert row.lots + 1 > fewest - 1e-9
            assert allowed[row.budget_binding] == pytest.approx(fewest, rel=1e-9)
        else:
            assert row.budget_binding == "max_lots"
        assert pd.isna(row.skip_reason) == (row.lots > 0)
        used_symbol[row.symbol] = used_symbol.get(row.symbol, 0.0) + row.capital_used
        used_industry[industry] = used_industry.get(industry, 0.0) + row.capital_used
        used_type[row.strategy] = used_type.get(row.strategy, 0.0) + row.capital_used
        used_total += row.capital_used
        used_margin += row.margin_used

    summary = industries.set_index("industry")
    assert summary["used"].to_dict() == pytest.approx(by_industry.reindex(summary.index, fill_value=0).to_dict())
    sized_count = sized[sized["lots"] > 0].groupby("industry").size()
    assert summary["n_strategies"].to_dict() == sized_count.reindex(summary.index, fill_value=0).to_dict()

    # Determinism: the same selection in another row order sizes identically.
    shuffled = selected.sample(frac=1, random_state=rng.randrange(2**32)).reset_index(drop=True)
    again, again_industries = size_portfolio(shuffled, plan, capital, limits)
    pd.testing.assert_frame_equal(again, sized)
    pd.testing.assert_frame_equal(again_industries, industries)


# ---------------------------------------------------------------- margin, strategy type and stress limits by hand

ONE_SYMBOL = pd.DataFrame({"symbol": ["X"], "sector": ["S"], "industry": ["A"], "industry_budget": [1e9],
                           "symbol_budget": [1e9]})
WIDE = RiskLimits(max_loss_per_trade=0.5, max_industry=0.9, max_total=1.0, max_strategy_share=1.0, max_margin=1.0,
                  max_stress_loss=1.0, max_lots=1000)


def _one_symbol(rows):
    return pd.DataFrame(rows, columns=["candidate_id", "strategy", "score", "capital_at_risk", "margin"]).assign(
        symbol="X", lot_size=75)


def test_margin_against_funds_limits_lots():
    # funds ₹10 lakh × 0.30 = ₹3,00,000 of margin; a strangle blocks ₹1,10,000 a lot, a condor ₹30,000.
    limits = WIDE.model_copy(update={"max_margin": 0.30})
    selected = _one_symbol([("a", "Short Strangle", 2.0, 20_000, 110_000), ("b", "Iron Condor", 1.0, 9_000, 30_000)])
    sized, _ = size_portfolio(selected, ONE_SYMBOL, 10_00_000, limits)
    assert sized[["lots", "budget_binding"]].values.tolist() == [[2, "margin"], [2, "margin"]]
    assert sized["margin_used"].tolist() == [220_000, 60_000]  # ₹80,000 left, then ₹20,000
    assert sized["capital_used"].tolist() == [40_000, 18_000]  # both shown


def test_one_strategy_type_takes_at_most_its_share_of_the_book():
    # max_total ₹5,00,000 × 0.4 = ₹2,00,000 of capital at risk per strategy type
    limits = WIDE.model_copy(update={"max_total": 0.5, "max_strategy_share": 0.4})
    selected = _one_symbol([("a", "Short Strangle", 3.0, 60_000, 0), ("b", "Short Strangle", 2.0, 50_000, 0),
                            ("c", "Iron Condor", 1.0, 50_000, 0)])
    sized, _ = size_portfolio(selected, ONE_SYMBOL, 10_00_000, limits)
    assert sized[["candidate_id", "lots", "budget_binding"]].values.tolist() == [
        ["a", 3, "strategy_share"], ["b", 0, "strategy_share"], ["c", 4, "strategy_share"]]
    assert sized.loc[1, "skip_reason"] == ("no room for one lot: strategy_share room ₹20,000.00 < capital at risk "
                                           "₹50,000.00 per lot")


def test_the_book_stress_loss_stays_within_its_limit_and_hedges_count():
    # floor ₹1,00,000 (10 % of ₹10 lakh). Scenarios: (down, up). A short put loses 30,000 down, gains 5,000 up;
    # a short call the mirror. After 3 puts (−90,000 down), a call's up-loss meets the book's +15,000 up: 3 lots
    # put the up scenario at −75,000 and the down at −75,000; a 4th call would make it −105,000 up.
    limits = WIDE.model_copy(update={"max_stress_loss": 0.10})
    selected = _one_symbol([("put", "Short Put", 2.0, 1_000, 0), ("call", "Short Call", 1.0, 1_000, 0)])
    stress = np.array([[-30_000.0, 5_000.0], [5_000.0, -30_000.0]])
    sized, _ = size_portfolio(selected, ONE_SYMBOL, 10_00_000, limits, stress=stress)
    assert sized[["lots", "budget_binding"]].values.tolist() == [[3, "stress"], [3, "stress"]]
    book = sized["lots"].to_numpy() @ stress
    assert (book >= -100_000).all() and book.tolist() == [-75_000, -75_000]


def test_sizable_names_the_first_limit_one_lot_breaks():
    limits = RiskLimits(max_loss_per_trade=0.02, max_industry=0.10, max_total=0.5, max_strategy_share=0.5,
                        max_margin=0.3, max_stress_loss=0.05)
    table = pd.DataFrame({"capital_at_risk": [10_000.0, 30_000.0, 10_000.0, 10_000.0],
                          "margin": [50_000.0, 50_000.0, 400_000.0, 50_000.0]})
    stress = np.array([[-40_000.0], [-40_000.0], [-40_000.0], [-60_000.0]])
    reasons = sizable(table, 10_00_000, limits, symbol_budget=1e9, industry_budget=1e9, stress=stress)
    assert reasons[0] is None
    assert reasons[1] == "one lot exceeds the per-trade limit: capital at risk ₹30,000 > ₹20,000"
    assert reasons[2] == "one lot exceeds the margin limit: margin ₹400,000 > ₹300,000"
    assert reasons[3] == "one lot exceeds the stress limit: worst stress loss ₹60,000 > ₹50,000"
    assert sizable(table, 10_00_000, limits, symbol_budget=5_000, industry_budget=1e9)[0] == (
        "one lot exceeds the symbol budget: capital at risk ₹10,000 > ₹5,000")
