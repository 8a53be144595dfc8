"""Runs optionlab.run_strategy over a batch; executed by the optionlab venv's python, never imported.

stdin: a JSON list of optionlab `Inputs` dicts. stdout: a JSON object {"optionlab_version", "results"};
results holds one dict per input with optionlab's own outputs (probability_of_profit, profit_ranges,
expected_profit_if_profitable, expected_loss_if_unprofitable, minimum/maximum_return_in_the_domain,
strategy_cost) plus `top_slope`, the P&L slope (₹ per ₹ of underlying) between the last two grid
prices; or `error` with the exception text if optionlab rejected the input. Infinity is JSON `Infinity`.
"""

import json
import sys

import optionlab


def run_one(inputs: dict) -> dict:
    """optionlab's outputs for one strategy, or the error it raised."""
    try:
        outputs = optionlab.run_strategy(inputs)
    except Exception as exc:  # reported per case so one bad input does not hide the others
        return {"error": f"{type(exc).__name__}: {exc}"}
    prices = outputs.data.stock_price_array
    profit = outputs.data.strategy_profit
    return {
        "probability_of_profit": float(outputs.probability_of_profit),
        "profit_ranges": [[float(low), float(high)] for low, high in outputs.profit_ranges],
        "expected_profit_if_profitable": float(outputs.expected_profit_if_profitable),
        "expected_loss_if_unprofitable": float(outputs.expected_loss_if_unprofitable),
        "minimum_return_in_the_domain": float(outputs.minimum_return_in_the_domain),
        "maximum_return_in_the_domain": float(outputs.maximum_return_in_the_domain),
        "strategy_cost": float(outputs.strategy_cost),
        "top_slope": float((profit[-1] - profit[-2]) / (prices[-1] - prices[-2])),
    }


def main() -> None:
    cases = json.load(sys.stdin)
    json.dump({"optionlab_version": optionlab.__version__, "results": [run_one(case) for case in cases]}, sys.stdout)


if __name__ == "__main__":
    main()
