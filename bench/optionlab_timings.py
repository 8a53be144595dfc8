"""Times optionlab 1.9.1; executed by the optionlab venv's python (see bench_optionlab.py), never imported.

stdin: JSON {"bs_options": int, "iv_options": int, "seed": int, "strategies": [optionlab Inputs dicts]}.
stdout: JSON list of bench rows {task, implementation, n, seconds, per_item_us, note}.
"""

import json
import sys
import time

import numpy as np
import optionlab
from optionlab.black_scholes import get_bs_info, get_implied_vol

IMPLEMENTATION = f"optionlab {optionlab.__version__}"
RATE = 0.065
VOL = 0.20
YEARS = 30 / 365
REPEATS = 3


def _row(task: str, n: int, seconds: float, note: str) -> dict:
    return {"task": task, "implementation": IMPLEMENTATION, "n": n, "seconds": seconds,
            "per_item_us": seconds / n * 1e6, "note": note}


def _best_of(repeats: int, work) -> float:
    """Fastest wall time of `repeats` runs of work(), in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def time_bs_info(n: int, rng: np.random.Generator) -> dict:
    spots = rng.uniform(50.0, 50_000.0, n)
    strikes = spots * rng.uniform(0.8, 1.2, n)
    seconds = _best_of(REPEATS, lambda: get_bs_info(spots, strikes, RATE, VOL, YEARS))
    note = ("get_bs_info over arrays of spot and strike (vol, T, r scalar: array vol or T raise); one call gives "
            f"call+put price, delta, gamma, theta, vega, rho, ITM and touch probabilities; best of {REPEATS}")
    return _row("BS price + greeks", n, seconds, note)


def time_implied_vol(n: int, rng: np.random.Generator) -> dict:
    spot = 24_000.0
    strikes = spot * rng.uniform(0.8, 1.2, n)
    prices = get_bs_info(spot, strikes, RATE, VOL, YEARS).call_price
    start = time.perf_counter()
    for strike, price in zip(strikes.tolist(), prices.tolist()):
        get_implied_vol("call", price, spot, strike, RATE, YEARS)
    seconds = time.perf_counter() - start
    note = "get_implied_vol is scalar only: a Python loop of brentq solves on [0.001, 1.0], xtol 5e-7"
    return _row("implied vol", n, seconds, note)


def time_run_strategy(task: str, strategies: list[dict], calculations: list[str], note: str) -> dict:
    batch = [{**inputs, "calculations": calculations} for inputs in strategies]
    optionlab.run_strategy(batch[0])  # warm-up: imports, the holidays package, caches
    start = time.perf_counter()
    for inputs in batch:
        optionlab.run_strategy(inputs)
    seconds = time.perf_counter() - start
    return _row(task, len(batch), seconds, note)


def main() -> None:
    config = json.load(sys.stdin)
    rng = np.random.default_rng(config["seed"])
    grid = "price grid 0 to 2 x max(spot, strikes) in ₹1 steps"
    rows = [
        time_bs_info(config["bs_options"], rng),
        time_implied_vol(config["iv_options"], rng),
        time_run_strategy("strategy metrics (iron condor)", config["strategies"], ["pop", "expectation"],
                          f"run_strategy per strategy: PoP, expectation, breakevens, max/min; {grid}"),
        time_run_strategy("strategy metrics + leg IV, greeks", config["strategies"],
                          ["pop", "expectation", "impvol", "greeks"],
                          f"run_strategy with its default calculations on the same iron condors; {grid}"),
    ]
    json.dump(rows, sys.stdout)


if __name__ == "__main__":
    main()
