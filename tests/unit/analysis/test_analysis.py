"""The analysis phase end to end on the synthetic market: every symbol accounted for, reproducible, budgets kept."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio, choose_expiries
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import DataError
from optionsv4_lib.marketdata.snapshots import ParquetSnapshotSource, SnapshotRecorder
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.reporting.analysis_files import payoff_charts, write_results
from optionsv4_lib.strategies import strategy_metrics
from optionsv4_lib.strategies.candidates import CandidateRules, generate_candidates

TRADE_DATE = date(2026, 11, 23)
TIMESTAMPS = ("started_at", "finished_at")


def run(market, universe=None, profile=None, **settings):
    return analyze_portfolio(
        market, universe=load_universe() if universe is None else universe, allocations=load_allocations(),
        settings=Settings(**settings), risk_profile=profile,
    )


@pytest.fixture(scope="module")
def result():
    return run(SyntheticMarket(42, TRADE_DATE))


def without_timestamps(document):
    document["run"] = {k: v for k, v in document["run"].items() if k not in TIMESTAMPS}
    return document


def test_every_symbol_ends_ranked_or_with_a_reason(result):
    symbols = result.symbols
    assert list(symbols["symbol"]) == list(load_universe()["symbol"])
    assert set(symbols["status"]) <= {"ok", "failed"}
    failed = symbols[symbols["status"] == "failed"]
    assert failed["reason"].str.len().gt(0).all()
    ok = symbols[symbols["status"] == "ok"]
    assert len(ok) >= 50
    assert (ok["n_candidates"] > 0).all()
    # the synthetic market's deliberately broken symbols fail with their reasons
    reasons = dict(zip(failed["symbol"], failed["reason"]))
    assert "empty option chain" in reasons["IOC"]
    assert "no two-sided quote gives an implied vol" in reasons["NMDC"]


def test_same_seed_and_date_give_identical_documents(result):
    again = run(SyntheticMarket(42, TRADE_DATE))
    assert without_timestamps(again.analysis_document()) == without_timestamps(result.analysis_document())
    assert without_timestamps(again.allocation_document()) == without_timestamps(result.allocation_document())
    other = run(SyntheticMarket(7, TRADE_DATE))
    assert without_timestamps(other.analysis_document()) != without_timestamps(result.analysis_document())


def test_budgets_and_profile_limits_hold(result):
    s, limits = result.strategies, Settings().limits("moderate")
    capital = result.capital
    assert (s["lots"] >= 1).all() and (s["lots"] <= limits.max_lots).all()
    assert (s["capital_at_risk"] <= limits.max_loss_per_trade * capital + 1e-6).all()
    by_industry = s.groupby("industry")["capital_at_risk"].sum()
    assert (by_industry <= limits.max_industry * capital + 1e-6).all()
    assert s["capital_at_risk"].sum() <= limits.max_total * capital + 1e-6
    assert (s["pop_net"] >= limits.min_pop - 1e-9).all()
    assert (s.groupby("symbol").size() <= limits.top_n).all()


def test_sized_metrics_are_the_whole_position(result):
    row = result.strategies.iloc[0]
    legs = result.legs[result.legs["candidate_id"] == row["candidate_id"]]
    if legs["expiry"].nunique() > 1:
        pytest.skip("first strategy is multi-expiry")
    metrics = strategy_metrics(
        [{"type": l.instrument, "strike": l.strike if l.instrument != "STK" else 0, "side": l.side, "qty": l.qty,
          "premium": l.entry_price} for l in legs.itertuples()],
        row["spot"], row["atm_iv"], 0.065, _years(row), costs=TRADE_DATE,
        defined_risk=row["risk_type"] == "defined", risk_floor=-row["worst_stress"],
    )
    for key in ("max_profit", "max_loss", "costs", "capital_at_risk"):  # the measure-free metrics at size
        assert row[key] == pytest.approx(metrics[key], rel=1e-9), key
    assert row["edge"] == pytest.approx(row["expected_pnl_net"] - row["expected_pnl_market"])
    assert row["expected_pnl_market"] <= -row["costs"] + 1e-6  # entered at the touch: frictions at least
    assert (legs["qty"] % (row["lot_size"] * row["lots"]) == 0).all()


def _years(row):
    from optionsv4_lib.analysis.analyze import analysis_moment
    from optionsv4_lib.reference.calendar import years_to_expiry

    return years_to_expiry(analysis_moment(TRADE_DATE), row["expiry"].date())


def test_every_selected_strategy_has_legs_and_exits(result):
    ids = set(result.strategies["candidate_id"])
    assert set(result.legs["candidate_id"]) == ids
    kinds = result.exits.groupby("candidate_id")["kind"].agg(set)
    assert all({"profit_target", "stop_loss", "time_exit"} <= kinds[cid] for cid in ids)


def test_conservative_profile_takes_no_undefined_risk():
    result = run(SyntheticMarket(42, TRADE_DATE), profile="conservative")
    assert len(result.strategies) > 0
    assert (result.strategies["risk_type"] == "defined").all()
    assert set(result.strategies["family"]) <= {"directional", "neutral", "income"}


@pytest.mark.parametrize(
    "mode, reason",
    [("empty", "empty option chain"), ("stale_expiry", "stale expiry"), ("bad_lot", "invalid lot size"), ("illiquid", "no two-sided quote")],
)
def test_broken_symbol_gets_a_clear_reason_and_the_rest_go_on(mode, reason):
    universe = load_universe().head(6)
    broken = "RELIANCE"
    market = SyntheticMarket(42, TRADE_DATE, universe=universe, broken={broken: mode})
    result = run(market, universe=market.universe)
    row = result.symbols.set_index("symbol").loc[broken]
    assert row["status"] == "failed" and reason in row["reason"]
    others = result.symbols[result.symbols["symbol"] != broken]
    assert (others["status"] == "ok").all()


def test_crossed_quotes_are_filtered_not_fatal():
    universe = load_universe().head(6)
    market = SyntheticMarket(42, TRADE_DATE, universe=universe, broken={"ONGC": "crossed"})
    result = run(market, universe=universe)
    legs = result.legs[result.legs["candidate_id"].str.startswith("ONGC:")]
    assert (legs["bid"] <= legs["ask"]).all()


def test_snapshot_replay_reproduces_the_run(tmp_path):
    universe = load_universe().head(8)
    recorded = run(SnapshotRecorder(SyntheticMarket(42, TRADE_DATE, universe=universe), tmp_path), universe=universe)
    replayed = run(ParquetSnapshotSource(tmp_path, TRADE_DATE), universe=universe)
    original, again = recorded.analysis_document(), replayed.analysis_document()
    assert again["run"].pop("source") == "snapshot of " + original["run"].pop("source")
    assert without_timestamps(original) == without_timestamps(again)


def test_reports_write_documents_and_charts(result, tmp_path):
    analysis_path, allocation_path = write_results(result, tmp_path)
    document = json.loads(analysis_path.read_text())
    assert document["run"]["trade_date"] == "2026-11-23"
    assert len(document["strategies"]) == len(result.strategies)
    assert all(s["legs"] and s["exits"] for s in document["strategies"])
    allocation = json.loads(allocation_path.read_text())
    assert allocation["capital"] == 3_00_00_000
    assert allocation["capital_at_risk"] == pytest.approx(result.strategies["capital_at_risk"].sum())
    charts = payoff_charts(result, tmp_path / "charts", 0.065, top=3)
    assert len(charts) == 3 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in charts)


def test_choose_expiries():
    listed = [date(2026, 11, 23), date(2026, 11, 24), date(2026, 12, 1), date(2026, 12, 29), date(2027, 1, 26)]
    rules = CandidateRules(min_dte_days=2, far_gap_days=20)
    assert choose_expiries(listed, TRADE_DATE, rules) == [date(2026, 12, 1), date(2026, 12, 29)]
    with pytest.raises(DataError, match="no expiry"):
        choose_expiries(listed[:2], TRADE_DATE, rules)


def test_json_document_has_no_nan_or_inf_and_flags_unbounded_amounts(result):
    document = result.analysis_document()
    text = json.dumps(document, allow_nan=False)
    assert '"inf"' not in text and '"-inf"' not in text
    unbounded = result.strategies["max_loss"].map(np.isinf).to_numpy()
    assert unbounded.any(), "the default run holds an undefined-risk strategy"
    for row, is_unbounded in zip(document["strategies"], unbounded):
        assert row["unbounded_loss"] == is_unbounded and (row["max_loss"] is None) == is_unbounded
    assert isinstance(pd.Timestamp(result.strategies["expiry"].iloc[0]), pd.Timestamp)


def test_result_round_trips_through_parquet(result, tmp_path):
    from optionsv4_lib.analysis.result import load_result, save_result

    again = load_result(save_result(result, tmp_path / "result"))
    assert again.analysis_document() == result.analysis_document()
    assert again.allocation_document() == result.allocation_document()


def test_a_symbol_that_gets_no_lot_says_which_limit_left_no_room():
    # Feasibility comes before ranking: with ₹50,000 no candidate's one lot fits, so none is ranked and the
    # symbol's reason names the limits its candidates broke.
    universe = load_universe()
    universe = universe[universe["symbol"].isin(["RELIANCE", "TCS"])].reset_index(drop=True)
    tiny = run(SyntheticMarket(42, TRADE_DATE), universe, capital=50_000.0)
    assert len(tiny.strategies) == 0 and (tiny.symbols["status"] == "failed").all()
    for reason in tiny.symbols["reason"]:
        assert reason.startswith("no candidate passes the ") and "one lot exceeds the " in reason, reason


class _Exploding:
    """A market whose RELIANCE chain trips a bug (a non-OptionsV4Error) inside the source."""

    def __init__(self, market):
        self.market, self.name, self.trade_date = market, market.name, market.trade_date

    def __getattr__(self, name):
        return getattr(self.market, name)

    def option_chain(self, symbol, expiry):
        if symbol == "RELIANCE":
            raise ZeroDivisionError("division by zero")
        return self.market.option_chain(symbol, expiry)


def test_an_unexpected_error_on_one_symbol_is_its_reason_not_the_run_end():
    universe = load_universe()
    universe = universe[universe["symbol"].isin(["RELIANCE", "TCS"])].reset_index(drop=True)
    result = run(_Exploding(SyntheticMarket(42, TRADE_DATE)), universe)
    reasons = result.symbols.set_index("symbol")["reason"]
    assert reasons["RELIANCE"] == "unexpected error (ZeroDivisionError: division by zero); see the log"
    assert (result.strategies["symbol"] == "TCS").any()


# ---------------------------------------------------------------- margin, stress and the book (issue 16)


def test_every_ranked_strategy_is_sizable_and_no_two_picks_short_the_same_contract(result):
    limits = Settings().limits("moderate")
    capital = result.capital
    picks = result.strategies
    assert len(picks) > 0
    per_lot = picks.assign(capital_at_risk=picks["capital_at_risk"] / picks["lots"],
                           margin=picks["margin"] / picks["lots"], worst=picks["worst_stress"] / picks["lots"])
    assert (per_lot["capital_at_risk"] <= limits.max_loss_per_trade * capital).all()
    assert (per_lot["margin"] <= limits.max_margin * capital).all()
    assert (-per_lot["worst"] <= limits.max_stress_loss * capital).all()
    legs = result.legs.merge(picks[["candidate_id", "symbol"]], on="candidate_id")
    sold = legs[(legs["side"] == "SELL") & (legs["instrument"] != "STK")]
    assert not sold.duplicated(["symbol", "expiry", "strike", "instrument"]).any()


def test_the_book_reports_greeks_margin_and_a_stress_table_within_its_limit(result):
    limits = Settings().limits("moderate")
    book = result.book.iloc[0]
    stress = result.book_stress
    assert len(stress) == 12 and stress["scenario"].is_unique
    assert book["worst_stress"] == pytest.approx(min(0.0, stress["pnl"].min()))
    assert book["worst_stress"] >= -limits.max_stress_loss * result.capital - 1e-6
    assert book["stress_limit"] == -limits.max_stress_loss * result.capital
    assert 0 < book["margin"] <= book["margin_sum"] + 1e-6  # one book never needs more than its parts
    assert book["margin_sum"] == pytest.approx(result.strategies["margin"].sum())
    assert np.isfinite(book[["delta_nifty_inr", "gamma_nifty_inr", "vega", "theta"]].astype(float)).all()
    document = result.analysis_document()
    assert document["book"]["worst_stress"] == pytest.approx(book["worst_stress"])
    assert [row["scenario"] for row in document["book_stress"]] == stress["scenario"].tolist()


def test_undefined_risk_is_sized_by_its_stress_loss_not_its_loss_at_zero():
    # A 1×2 put ratio spread has a finite max loss — at a NIFTY of 0 — which must never be its capital at risk.
    legs = [{"type": "PE", "strike": 24_000, "side": "BUY", "qty": 65, "premium": 300.0},
            {"type": "PE", "strike": 23_500, "side": "SELL", "qty": 130, "premium": 150.0}]
    as_defined = strategy_metrics(legs, 24_000, 0.14, 0.065, 14 / 365, defined_risk=True)
    undefined = strategy_metrics(legs, 24_000, 0.14, 0.065, 14 / 365, defined_risk=False)
    assert as_defined["capital_at_risk"] == pytest.approx(-as_defined["max_loss"])
    assert -as_defined["max_loss"] == pytest.approx(65 * (23_500 - 500) + 0.0)  # at 0: 2×23,500 − 24,000 − 500, ×65
    # stress loss at −15 % (20,400): long put 3,600, two shorts −6,200, premium 0 → −2,600 × 65
    assert undefined["capital_at_risk"] == pytest.approx(65 * 2_600)
    floored = strategy_metrics(legs, 24_000, 0.14, 0.065, 14 / 365, defined_risk=False, risk_floor=200_000)
    assert floored["capital_at_risk"] == 200_000


def test_a_nifty_run_on_24_jan_2025_trades_each_contract_in_its_own_lot():
    """Issue 16's check: on 24-Jan-2025 NIFTY's 30-Jan-2025 contract traded in lots of 25 and the February weeklies
    in 75. Single-expiry candidates on 30-Jan are 25 units a strategy lot, on a February weekly 75; a calendar
    mixing them is 75 units a strategy lot, its near leg 3 contract lots. The sized run keeps every leg whole lots of
    its contract."""
    day = date(2025, 1, 24)
    market = SyntheticMarket(42, day, broken={})
    expiries = choose_expiries(market.expiries("NIFTY"), day, CandidateRules())
    assert expiries == [date(2025, 1, 30), date(2025, 2, 20)]
    chain = pd.concat([market.option_chain("NIFTY", e) for e in expiries], ignore_index=True)
    as_of = market.as_of
    cset = generate_candidates(chain, symbol="NIFTY", as_of=as_of, r=market.rate, is_index=True)
    meta, legs = cset.meta.set_index("candidate_id"), cset.legs
    single = meta["far_expiry"].isna()
    assert (meta.loc[single, "expiry"] == pd.Timestamp("2025-01-30")).all()
    assert (meta.loc[single, "lot_size"] == 25).all()
    assert (meta.loc[~single, "lot_size"] == 75).all() and (~single).any()
    calendar = legs[legs["candidate_id"] == meta.index[meta["strategy"] == "Calendar Spread"][0]].sort_values("leg_no")
    assert list(calendar["contract_lot"]) == [25, 75] and list(calendar["qty"] // calendar["contract_lot"]) == [3, 1]

    weekly = generate_candidates(chain[chain["expiry"] == pd.Timestamp("2025-02-20")], symbol="NIFTY",
                                 as_of=as_of, r=market.rate, is_index=True)
    assert set(weekly.meta["lot_size"]) == {75} and set(weekly.legs["contract_lot"]) == {75}

    nifty = load_universe().head(1)
    result = run(market, universe=nifty)
    assert len(result.strategies) > 0
    sized = result.legs.merge(result.strategies[["candidate_id", "lots", "lot_size"]], on="candidate_id")
    assert set(result.strategies["lot_size"]) <= {25, 75}
    assert (sized["contract_lot"] == np.where(sized["expiry"] == pd.Timestamp("2025-01-30"), 25, 75)).all()
    assert (sized["qty"] % sized["contract_lot"] == 0).all()
    assert (sized["qty"] == sized["lots"] * sized["ratio"] * sized["lot_size"]).all()
