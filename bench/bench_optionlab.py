"""optionlab 1.9.1 as a benchmark peer: BS price + greeks, implied vol, and whole-strategy metrics.

rows() -> list of {task, implementation, n, seconds, per_item_us, note} for bench/run.py. optionlab
runs in its own venv (`.venv-optionlab`, `make optionlab-venv`) through bench/optionlab_timings.py in
a subprocess; without that venv its timings are replaced by one row saying why. Our side times
strategy_metrics (one call per strategy) and evaluate_positions (one call for a batch of candidates)
on the same iron condors. Times are wall-clock seconds on this machine.
"""

import json
import math
import subprocess
import time
from pathlib import Path

import numpy as np

from optionsv4_lib.pricing.black_scholes import bs_price
from optionsv4_lib.reference.calendar import DAYS_PER_YEAR
from optionsv4_lib.strategies import strategy_metrics
from optionsv4_lib.strategies.evaluate import CE, PE, Positions, evaluate_positions

REPO = Path(__file__).resolve().parent.parent
OPTIONLAB_PYTHON = REPO / ".venv-optionlab" / "bin" / "python"
TIMINGS_SCRIPT = Path(__file__).with_name("optionlab_timings.py")

BS_OPTIONS = 1_000_000
IV_OPTIONS = 100_000
IRON_CONDORS = 200
BATCH_CANDIDATES = 100_000  # the 200 iron condors tiled, for the vectorised evaluator
SEED = 7
STRIKE_STEP = 50.0  # ₹, NIFTY-like
UNITS = 65  # one NIFTY lot (from Jan-2026 expiries)
TICK = 0.05  # ₹
RATE = 0.065
STRATEGY_TASK = "strategy metrics (iron condor)"


def iron_condors(count: int = IRON_CONDORS, seed: int = SEED) -> list[dict]:
    """NIFTY-like iron condors: {spot, vol, rate, days, legs (our leg dicts)}, wings ~0.4 and ~1.2 sd out."""
    rng = np.random.default_rng(seed)
    condors = []
    for _ in range(count):
        spot = round(float(rng.uniform(21_000.0, 26_000.0)) / TICK) * TICK
        vol, days = float(rng.uniform(0.10, 0.30)), int(rng.integers(3, 46))
        years = days / DAYS_PER_YEAR
        atm = round(spot / STRIKE_STEP) * STRIKE_STEP
        width = max(1, round(0.4 * spot * vol * math.sqrt(years) / STRIKE_STEP)) * STRIKE_STEP
        shape = [("PE", -3, "BUY"), ("PE", -1, "SELL"), ("CE", 1, "SELL"), ("CE", 3, "BUY")]
        legs = []
        for option_type, offset, side in shape:
            strike = atm + offset * width
            premium = max(TICK, round(bs_price(option_type, spot, strike, years, RATE, vol) / TICK) * TICK)
            legs.append({"type": option_type, "strike": strike, "side": side, "qty": UNITS, "premium": premium})
        condors.append({"spot": spot, "vol": vol, "rate": RATE, "days": days, "legs": legs})
    return condors


def _optionlab_inputs(condor: dict) -> dict:
    """optionlab Inputs for an options-only strategy: calendar days / 365, grid 0..2 x max(spot, strikes) by ₹1."""
    strategy = [
        {"type": "call" if leg["type"] == "CE" else "put", "strike": leg["strike"], "premium": leg["premium"],
         "n": leg["qty"], "action": leg["side"].lower()}
        for leg in condor["legs"]
    ]
    top = max(condor["spot"], *(leg["strike"] for leg in condor["legs"]))
    return {
        "stock_price": condor["spot"], "volatility": condor["vol"], "interest_rate": condor["rate"],
        "days_to_target_date": condor["days"], "discard_nonbusiness_days": False,
        "min_stock": 0.0, "max_stock": 2 * math.ceil(top), "price_step": 1.0, "strategy": strategy,
    }


def _positions(condors: list[dict], copies: int) -> tuple[Positions, np.ndarray, np.ndarray]:
    """(Positions, spot, sigma) for the condors repeated `copies` times, as evaluate_positions takes them."""
    def column(field: str) -> np.ndarray:
        return np.tile(np.array([[leg[field] for leg in condor["legs"]] for condor in condors], dtype=float), (copies, 1))

    kind = np.tile(np.array([[CE if leg["type"] == "CE" else PE for leg in condor["legs"]] for condor in condors], dtype=np.int8), (copies, 1))
    sign = np.tile(np.array([[1 if leg["side"] == "BUY" else -1 for leg in condor["legs"]] for condor in condors]), (copies, 1))
    spot = np.tile([condor["spot"] for condor in condors], copies)
    sigma = np.tile([condor["vol"] for condor in condors], copies)
    years = np.tile([[condor["days"] / DAYS_PER_YEAR] * len(condor["legs"]) for condor in condors], (copies, 1))
    positions = Positions(kind, column("strike"), sign * column("qty"), column("premium"), years, np.repeat(sigma[:, None], kind.shape[1], axis=1))
    return positions, spot, sigma


def _our_rows(condors: list[dict]) -> list[dict]:
    def metrics(condor: dict) -> dict:
        return strategy_metrics(condor["legs"], condor["spot"], condor["vol"], condor["rate"], condor["days"] / DAYS_PER_YEAR)

    metrics(condors[0])  # warm-up
    start = time.perf_counter()
    for condor in condors:
        metrics(condor)
    single_seconds = time.perf_counter() - start

    copies = BATCH_CANDIDATES // len(condors)
    positions, spot, sigma = _positions(condors, copies)
    start = time.perf_counter()
    evaluate_positions(positions, spot, sigma, RATE, 0.0)
    batch_seconds = time.perf_counter() - start
    return [
        {"task": STRATEGY_TASK, "implementation": "optionsv4 strategy_metrics", "n": len(condors),
         "seconds": single_seconds, "per_item_us": single_seconds / len(condors) * 1e6,
         "note": "one call per strategy: PoP, expected P&L, max profit/loss, breakevens, greeks, touch"},
        {"task": STRATEGY_TASK, "implementation": "optionsv4 evaluate_positions", "n": len(spot),
         "seconds": batch_seconds, "per_item_us": batch_seconds / len(spot) * 1e6,
         "note": f"one vectorised call over {len(spot):,} candidates (the {len(condors)} condors x {copies}); same metrics"},
    ]


def _unavailable(reason: str) -> list[dict]:
    return [{"task": "optionlab timings", "implementation": "optionlab 1.9.1", "n": 0, "seconds": math.nan,
             "per_item_us": math.nan, "note": f"optionlab venv not available: {reason}"}]


def _optionlab_rows(condors: list[dict]) -> list[dict]:
    if not OPTIONLAB_PYTHON.exists():
        return _unavailable(f"{OPTIONLAB_PYTHON} is missing (build it with `make optionlab-venv`)")
    config = {"bs_options": BS_OPTIONS, "iv_options": IV_OPTIONS, "seed": SEED,
              "strategies": [_optionlab_inputs(condor) for condor in condors]}
    try:
        completed = subprocess.run(
            [str(OPTIONLAB_PYTHON), "-I", str(TIMINGS_SCRIPT)], input=json.dumps(config),
            capture_output=True, text=True, timeout=900,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _unavailable(f"{OPTIONLAB_PYTHON} did not run: {exc}")
    if completed.returncode != 0:
        last_line = (completed.stderr.strip().splitlines() or ["no error output"])[-1]
        return _unavailable(f"the timings script failed: {last_line}")
    return json.loads(completed.stdout)


def rows() -> list[dict]:
    """Bench rows: optionlab's timings (or why they are missing), then ours on the same strategies."""
    condors = iron_condors()
    return _optionlab_rows(condors) + _our_rows(condors)


if __name__ == "__main__":
    for row in rows():
        print(f"{row['task']:32s} {row['implementation']:28s} n={row['n']:>9,} {row['seconds']:9.3f} s "
              f"{row['per_item_us']:12.2f} us/item  {row['note']}")
