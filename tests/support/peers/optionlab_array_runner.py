"""Runs optionlab.run_strategy with its "array" model; executed by the optionlab venv's python, never imported.

stdin: JSON {"samples": path of a .npy of terminal prices (₹), "cases": [optionlab `Inputs` dicts]}; every case
is run with model "array" on those samples. stdout: JSON {"optionlab_version", "results"}, one dict per case:
probability_of_profit (share of samples with P&L >= 0.01) and expected_pnl (the samples' mean P&L, ₹, from
optionlab's conditional means), or `error` with the exception text.
"""

import json
import sys

import numpy as np
import optionlab


def run_one(inputs: dict, samples: np.ndarray) -> dict:
    """optionlab's PoP and mean P&L over the samples for one strategy, or the error it raised."""
    try:
        outputs = optionlab.run_strategy({**inputs, "model": "array", "array": samples})
    except Exception as exc:  # reported per case so one bad input does not hide the others
        return {"error": f"{type(exc).__name__}: {exc}"}
    pop = float(outputs.probability_of_profit)
    expected = pop * outputs.expected_profit_if_profitable + (1.0 - pop) * outputs.expected_loss_if_unprofitable
    return {"probability_of_profit": pop, "expected_pnl": float(expected)}


def main() -> None:
    request = json.load(sys.stdin)
    samples = np.load(request["samples"])
    results = [run_one(case, samples) for case in request["cases"]]
    json.dump({"optionlab_version": optionlab.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
