"""Structural chain checks (marketdata/checks.py): each defect named by column, no false alarm on any synthetic chain,
and the same verdict as the critical expectations of the Great Expectations option_chain suite."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.marketdata.checks import chain_defects, check_chain
from optionsv4_lib.marketdata.synthetic import SyntheticMarket

TRADE_DATE = date(2026, 11, 23)
MARKET = SyntheticMarket(42, TRADE_DATE)


def sound_chain(symbol: str = "RELIANCE") -> pd.DataFrame:
    return pd.concat([MARKET.option_chain(symbol, e) for e in MARKET.expiries(symbol)[:2]], ignore_index=True)


def negative_strike(chain):
    chain.loc[3, "strike"] = -chain.loc[3, "strike"]


def zero_strike(chain):
    chain.loc[3, "strike"] = 0.0


def duplicate_contract(chain):
    chain.loc[5, ["strike", "option_type", "expiry"]] = chain.loc[7, ["strike", "option_type", "expiry"]].to_numpy()


def negative_bid(chain):
    chain.loc[2, "bid"] = -1.5


def negative_oi(chain):
    chain.loc[2, "oi"] = -100


def iv_in_percent(chain):
    chain["iv"] = chain["iv"] * 100  # 18.0 instead of 0.18


def spot_off_the_strikes(chain):
    chain["underlying_price"] = chain["strike"].max() * 10


DEFECTS = {  # corruption → the column the problem must name
    negative_strike: "strike", zero_strike: "strike", duplicate_contract: "strike", negative_bid: "bid",
    negative_oi: "oi", iv_in_percent: "iv", spot_off_the_strikes: "underlying_price",
}


def corrupted(corrupt) -> pd.DataFrame:
    chain = sound_chain()
    corrupt(chain)
    return chain


def test_every_synthetic_chain_is_sound():
    """No false alarm on any symbol's chains (the synthetic market's deliberately broken symbols included:
    an empty chain, crossed quotes and illiquid quotes are left to the filters)."""
    for symbol in MARKET.universe["symbol"]:
        chains = [MARKET.option_chain(symbol, e) for e in MARKET.expiries(symbol)[:3]]
        assert chain_defects(pd.concat(chains, ignore_index=True)) == [], symbol


@pytest.mark.parametrize("corrupt", DEFECTS, ids=lambda f: f.__name__)
def test_each_defect_is_named_by_its_column(corrupt):
    problems = chain_defects(corrupted(corrupt))
    assert problems and all(p.startswith(f"{DEFECTS[corrupt]}: ") for p in problems), problems
    with pytest.raises(DataError, match=f"^broken option chain: {DEFECTS[corrupt]}: "):
        check_chain(corrupted(corrupt))


def test_problems_quote_the_offending_values():
    chain = sound_chain()
    chain.loc[[2, 4], "bid"] = [-1.5, -2.25]
    assert chain_defects(chain) == ["bid: 2 negative value(s), e.g. -1.5, -2.25"]
    chain = sound_chain()
    far = chain["expiry"].max()
    chain.loc[chain["expiry"] == far, "underlying_price"] = 1.0
    low = chain.loc[chain["expiry"] == far, "strike"].min()
    high = chain.loc[chain["expiry"] == far, "strike"].max()
    assert chain_defects(chain) == [f"underlying_price: 1 is outside the strikes {low:g}–{high:g} of expiry "
                                    f"{far.date()}"]


def test_unknown_or_a_few_impossible_ivs_are_not_a_defect():
    chain = sound_chain()
    chain.loc[::2, "iv"] = np.nan
    chain.loc[1:20:2, "iv"] = 7.5  # a few stray quotes: the candidate grid re-implies them from the mid
    assert chain_defects(chain) == []


@pytest.mark.parametrize("corrupt", [c for c in DEFECTS if c not in (spot_off_the_strikes, iv_in_percent)],
                         ids=lambda f: f.__name__)
def test_great_expectations_agrees(corrupt):
    """The GX suite's critical expectations fail on the same corruptions (a spot off the strikes is ours alone;
    GX reports IVs out of range as a warning, row by row)."""
    from optionsv4_lib.quality import suites as quality

    reports = quality.validate_chains({"RELIANCE": corrupted(corrupt), "TCS": sound_chain("TCS")})
    assert not reports["RELIANCE"].success, reports["RELIANCE"].summary()
    assert reports["TCS"].success
