"""Pick policies on a hand-made scored table of two symbols: ranked = select_top, random draws only eligible rows and
the same ones for the same seed whatever the order of symbols, family takes the best-scored eligible row of one
strategy; the baselines' names checked against the catalog; the order strategies are entered in."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.analysis.picks import baseline_policies, entry_order, pick, symbol_rng
from optionsv4_lib.analysis.scoring import select_top
from optionsv4_lib.core.errors import InputError

DAY = date(2026, 10, 5)
SCORED = pd.DataFrame({
    "symbol": ["TCS"] * 6,
    "candidate_id": [f"TCS:{n}" for n in range(6)],
    "strategy": ["Iron Condor", "Iron Condor", "Short Strangle", "Bull Put Spread", "Iron Condor", "Short Strangle"],
    "score": [70.0, 80.0, 90.0, 60.0, 85.0, 95.0],
    "eligible": [True, True, True, True, False, False],
})


def test_ranked_is_the_analysis_own_selection():
    pd.testing.assert_frame_equal(pick(SCORED, "ranked", 2), select_top(SCORED, 2))


def test_family_takes_the_best_scored_eligible_row_of_its_strategy():
    condor = pick(SCORED, "family:Iron Condor", 3)
    assert condor["candidate_id"].tolist() == ["TCS:1"] and condor["rank"].tolist() == [1]  # TCS:4 is ineligible
    assert pick(SCORED, "family:Short Strangle", 3)["candidate_id"].tolist() == ["TCS:2"]
    assert pick(SCORED, "family:Long Call", 3).empty


def test_random_draws_one_eligible_row_the_same_for_the_same_seed():
    draws = [pick(SCORED, "random", 3, rng=symbol_rng(seed, DAY, "TCS"))["candidate_id"].item() for seed in range(40)]
    assert set(draws) == {"TCS:0", "TCS:1", "TCS:2", "TCS:3"}  # every eligible row, never an ineligible one
    again = [pick(SCORED, "random", 3, rng=symbol_rng(seed, DAY, "TCS"))["candidate_id"].item() for seed in range(40)]
    assert draws == again
    assert pick(SCORED.assign(eligible=False), "random", 3, rng=symbol_rng(1, DAY, "TCS")).empty


def test_the_generator_depends_on_seed_date_and_symbol_only():
    first = symbol_rng(42, DAY, "TCS").random(3)
    assert np.array_equal(first, symbol_rng(42, DAY, "TCS").random(3))
    assert not np.array_equal(first, symbol_rng(42, DAY, "INFY").random(3))
    assert not np.array_equal(first, symbol_rng(42, date(2026, 10, 6), "TCS").random(3))


def test_baselines_are_named_from_the_catalog():
    assert baseline_policies(["short strangle", "Iron Condor", "Short Strangle"]) == \
        ("random", "family:Short Strangle", "family:Iron Condor")
    assert baseline_policies([]) == ("random",)
    with pytest.raises(InputError, match="baseline family: unknown strategy 'Iron Condour'"):
        baseline_policies(["Iron Condour"])
    with pytest.raises(InputError, match="pick policy: unknown 'best'"):
        pick(SCORED, "best", 1)


def test_entry_order_is_by_score_or_seeded_shuffle():
    strategies = SCORED.drop(columns="eligible")
    assert entry_order(strategies, "ranked", 1, DAY)["candidate_id"].tolist() == \
        ["TCS:5", "TCS:2", "TCS:4", "TCS:1", "TCS:0", "TCS:3"]
    shuffled = entry_order(strategies, "random", 1, DAY)["candidate_id"].tolist()
    assert sorted(shuffled) == sorted(strategies["candidate_id"])
    assert shuffled == entry_order(strategies.iloc[::-1], "random", 1, DAY)["candidate_id"].tolist()  # input order
    orders = {tuple(entry_order(strategies, "random", seed, DAY)["candidate_id"]) for seed in range(10)}
    assert len(orders) > 1
