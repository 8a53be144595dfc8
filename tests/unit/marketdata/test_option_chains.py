"""marketdata.source.option_chains: many chains at once, one pair's problem never costing another."""

from datetime import date

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.marketdata.source import option_chains
from optionsv4_lib.marketdata.synthetic import SyntheticMarket

DAY = date(2026, 11, 23)


def test_pairs_are_fetched_one_by_one_when_the_source_has_no_batch_and_failures_are_kept_per_pair():
    market = SyntheticMarket(42, DAY)
    near = market.expiries("NIFTY")[0]
    got = option_chains(market, [("NIFTY", near), ("NIFTY", date(2026, 11, 25)), ("NOPE", near)])
    assert list(got) == [("NIFTY", near), ("NIFTY", date(2026, 11, 25)), ("NOPE", near)]
    assert len(got[("NIFTY", near)]) > 0 and (got[("NIFTY", near)]["symbol"] == "NIFTY").all()
    assert isinstance(got[("NIFTY", date(2026, 11, 25))], DataError)
    assert isinstance(got[("NOPE", near)], DataError)


def test_a_source_with_a_batch_method_is_asked_once():
    class Batched:
        def __init__(self):
            self.calls = []

        def option_chains(self, wanted):
            self.calls.append(list(wanted))
            return {pair: DataError("batched") for pair in wanted}

    source = Batched()
    pairs = [("A", DAY), ("B", DAY)]
    assert set(option_chains(source, pairs)) == set(pairs) and source.calls == [pairs]


def test_the_recorder_records_each_chain_of_a_batch_and_a_malformed_one_becomes_its_pairs_error(tmp_path):
    import pandas as pd

    from optionsv4_lib.marketdata.snapshots import ParquetSnapshotSource, SnapshotRecorder

    market = SyntheticMarket(42, DAY)
    near = market.expiries("NIFTY")[0]

    class Batched:
        name, trade_date = "batched", DAY

        def option_chains(self, wanted):
            return {("NIFTY", near): market.option_chain("NIFTY", near), ("ACC", near): pd.DataFrame({"strike": [1.0]})}

    got = SnapshotRecorder(Batched(), tmp_path).option_chains([("NIFTY", near), ("ACC", near)])
    assert isinstance(got[("ACC", near)], DataError) and "ACC chain" in str(got[("ACC", near)])
    replayed = ParquetSnapshotSource(tmp_path, DAY)
    assert len(replayed.option_chain("NIFTY", near)) == len(got[("NIFTY", near)])
