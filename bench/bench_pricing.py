"""Benchmark: optionsv4_lib.pricing.black_scholes (vectorized numpy) against QuantLib called once per option from Python.

Tasks: "price" and "price + 5 greeks" over 1,000,000 random options, "implied vol" over 100,000. Options are
drawn like the tests' QuantLib cases: spot ₹10–60,000, moneyness 0.5–1.5, T 1–730 days, r 0–12 %, q 0–5 %,
vol 1–150 %. Ours is timed as the best of 3 runs; a QuantLib loop runs once, over all options unless 100,000
of them already show that all would take more than QUANTLIB_BUDGET_S, in which case the 100,000 are reported.

`rows()` returns dicts with keys task, implementation, n, seconds, per_item_us, note;
`python bench/bench_pricing.py` prints them as a table.
"""

import time

import numpy as np
import QuantLib as ql

from optionsv4_lib.pricing.black_scholes import bs_greeks, bs_price, implied_vol

GREEKS_N = 1_000_000
IV_N = 100_000
QUANTLIB_SAMPLE_N = 100_000
QUANTLIB_BUDGET_S = 60.0
QUANTLIB_IV_ACCURACY = 1e-12  # on σ√T, near our solver's 1e-12 relative stop
REPEATS = 3


def random_options(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    S = rng.uniform(10.0, 60_000.0, n)
    return {
        "option_type": np.where(rng.random(n) < 0.5, "CE", "PE"),
        "S": S,
        "K": S * rng.uniform(0.5, 1.5, n),
        "T": rng.integers(1, 731, n) / 365.0,
        "r": rng.uniform(0.0, 0.12, n),
        "sigma": rng.uniform(0.01, 1.5, n),
        "q": rng.uniform(0.0, 0.05, n),
    }


def quantlib_inputs(m: dict) -> list[tuple]:
    """Per option, as Python scalars: (type, K, F, σ√T, e^{-rT}, S, T)."""
    forward = m["S"] * np.exp((m["r"] - m["q"]) * m["T"])
    stddev, discount = m["sigma"] * np.sqrt(m["T"]), np.exp(-m["r"] * m["T"])
    kinds = [ql.Option.Call if kind == "CE" else ql.Option.Put for kind in m["option_type"]]
    return list(zip(kinds, *(a.tolist() for a in (m["K"], forward, stddev, discount, m["S"], m["T"]))))


def quantlib_prices(options: list[tuple]) -> None:
    for kind, K, F, stddev, discount, _, _ in options:
        ql.blackFormula(kind, K, F, stddev, discount)


def quantlib_prices_and_greeks(options: list[tuple]) -> None:
    for kind, K, F, stddev, discount, S, T in options:
        calculator = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, K), F, stddev, discount)
        calculator.value(), calculator.delta(S), calculator.gamma(S)
        calculator.vega(T), calculator.thetaPerDay(S, T), calculator.rho(T)


def quantlib_implied_vols(options: list[tuple], prices: list[float]) -> np.ndarray:
    """blackFormulaImpliedStdDev per option, as a vol; NaN where QuantLib raised."""
    vols = []
    for (kind, K, F, stddev, discount, _, T), price in zip(options, prices):
        try:
            implied_stddev = ql.blackFormulaImpliedStdDev(
                kind, K, F, price, discount, 0.0, ql.nullDouble(), QUANTLIB_IV_ACCURACY, 100
            )
            vols.append(implied_stddev / T**0.5)
        except RuntimeError:
            vols.append(float("nan"))
    return np.array(vols)


def accuracy_note(vols: np.ndarray, true_vols: np.ndarray, meaningful: np.ndarray) -> str:
    errors = np.abs(vols - true_vols)[meaningful]
    return f"max |σ − true σ| {np.nanmax(errors):.1e} where vega ≥ 1e-7·S; NaN for {int(np.isnan(vols).sum())}"


def best_time(run) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def once(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def row(task: str, implementation: str, n: int, seconds: float, note: str = "") -> dict:
    return {"task": task, "implementation": implementation, "n": n, "seconds": round(seconds, 4),
            "per_item_us": round(seconds / n * 1e6, 4), "note": note}


def quantlib_row(task: str, implementation: str, loop, options: list[tuple], note: str) -> dict:
    """Times loop over a 100,000 sample first and over all options only if that fits QUANTLIB_BUDGET_S."""
    sample = options[:QUANTLIB_SAMPLE_N]
    seconds, _ = once(lambda: loop(sample))
    if seconds * len(options) / len(sample) <= QUANTLIB_BUDGET_S and len(sample) < len(options):
        seconds, _ = once(lambda: loop(options))
        return row(task, implementation, len(options), seconds, note)
    return row(task, implementation, len(sample), seconds, f"{note}; timed on {len(sample):,} of {len(options):,}"
               f" (all would take ~{seconds * len(options) / len(sample):.0f} s)")


def rows() -> list[dict]:
    m = random_options(GREEKS_N, seed=2025)
    options = quantlib_inputs(m)
    result = [
        row("price", "optionsv4 bs_price", GREEKS_N, best_time(lambda: bs_price(**m)), "vectorized numpy"),
        quantlib_row("price", "QuantLib blackFormula loop", quantlib_prices, options, "one call per option"),
        row("price + 5 greeks", "optionsv4 bs_price + bs_greeks", GREEKS_N,
            best_time(lambda: (bs_price(**m), bs_greeks(**m))), "vectorized numpy"),
        quantlib_row("price + 5 greeks", "QuantLib BlackCalculator loop", quantlib_prices_and_greeks, options,
                     "one BlackCalculator per option: value, delta, gamma, vega, thetaPerDay, rho"),
    ]

    iv = random_options(IV_N, seed=2026)
    prices = bs_price(**iv)
    meaningful = bs_greeks(**iv).vega * 100 >= 1e-7 * iv["S"]
    market = {key: value for key, value in iv.items() if key != "sigma"}
    seconds = best_time(lambda: implied_vol(prices, **market))
    vols = implied_vol(prices, **market)
    result.append(row("implied vol", "optionsv4 implied_vol", IV_N, seconds,
                      f"vectorized safeguarded Newton; {accuracy_note(vols, iv['sigma'], meaningful)}"))
    iv_options, iv_prices = quantlib_inputs(iv), prices.tolist()
    seconds, vols = once(lambda: quantlib_implied_vols(iv_options, iv_prices))
    result.append(row("implied vol", "QuantLib blackFormulaImpliedStdDev loop", IV_N, seconds,
                      f"accuracy {QUANTLIB_IV_ACCURACY:g} on σ√T; {accuracy_note(vols, iv['sigma'], meaningful)}"))
    return result


if __name__ == "__main__":
    table = rows()
    columns = ["task", "implementation", "n", "seconds", "per_item_us", "note"]
    widths = {c: max(len(c), *(len(f"{r[c]:,}" if c == "n" else str(r[c])) for r in table)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in table:
        print("  ".join((f"{r[c]:,}" if c == "n" else str(r[c])).ljust(widths[c]) for c in columns))
