"""A golden analysis document: five symbols of the synthetic market (seed 42) on 23 Nov 2026 with the default analysis
settings, compared field by field with tests/fixtures/golden_analysis.json (numbers to 1e-9 relative; the run's
timestamps left out). A change that moves any number shows here by its path; when the change is intended,
regenerate the file with `pytest tests/unit/analysis/test_golden_analysis.py --regenerate-golden` and review its
diff."""

import json
import math
from datetime import date
from pathlib import Path

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.analysis.limits import AnalysisSettings
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.universe import load_universe

GOLDEN = Path(__file__).parents[2] / "fixtures" / "golden_analysis.json"
SYMBOLS = ("NIFTY", "BANKNIFTY", "RELIANCE", "INFY", "DIXON")
TRADE_DATE = date(2026, 11, 23)
SEED = 42
TIMESTAMPS = ("started_at", "finished_at")
RELATIVE = 1e-9


def golden_document() -> dict:
    universe = load_universe()
    result = analyze_portfolio(SyntheticMarket(SEED, TRADE_DATE), universe=universe[universe["symbol"].isin(SYMBOLS)],
                               allocations=load_allocations(), settings=AnalysisSettings())
    document = json.loads(json.dumps(result.analysis_document()))  # as written to disk
    document["run"] = {k: v for k, v in document["run"].items() if k not in TIMESTAMPS}
    return document


def differences(expected, actual, path: str = "$") -> list[str]:
    """Every place where `actual` differs from `expected`, by JSON path."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{path}.{k}: missing" for k in expected.keys() - actual.keys()]
        found += [f"{path}.{k}: unexpected" for k in actual.keys() - expected.keys()]
        for key in expected.keys() & actual.keys():
            found += differences(expected[key], actual[key], f"{path}.{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items expected, {len(actual)} found"]
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in differences(e, a, f"{path}[{i}]")]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers) and not isinstance(expected, bool):
        close = math.isclose(expected, actual, rel_tol=RELATIVE, abs_tol=1e-12)
        return [] if close else [f"{path}: expected {expected!r}, found {actual!r}"]
    return [] if expected == actual else [f"{path}: expected {expected!r}, found {actual!r}"]


def test_the_analysis_matches_the_golden_document(request):
    document = golden_document()
    if request.config.getoption("--regenerate-golden"):
        GOLDEN.write_text(json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    found = differences(json.loads(GOLDEN.read_text()), document)
    assert not found, f"{len(found)} differences from {GOLDEN.name}, e.g.:\n" + "\n".join(found[:20])
    assert document["strategies"], "the golden run should rank and size strategies"


def test_the_comparison_names_what_differs():
    expected = {"a": [1.0, {"b": "x"}], "c": 2}
    assert differences(expected, {"a": [1.0 + 1e-12, {"b": "x"}], "c": 2}) == []
    assert differences(expected, {"a": [1.1, {"b": "y"}]}) == ["$.c: missing", "$.a[0]: expected 1.0, found 1.1",
                                                              "$.a[1].b: expected 'x', found 'y'"]
