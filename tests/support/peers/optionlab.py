"""optionlab 1.9.1 as an independent oracle: builds its inputs from our legs and runs it in its own venv.

optionlab pins pandas<3, so it lives in `.venv-optionlab` (`make optionlab-venv`) and runs in a
subprocess (`optionlab_runner.py`, one call per batch). A test that needs it is skipped when that
venv is missing or cannot import optionlab 1.9.1.

What optionlab 1.9.1 does, read from its source (engine.py, profit.py, support.py, black_scholes.py):
- Time. Years = days / days_in_year, where days_in_year is `business_days_in_year` (252) when
  `discard_nonbusiness_days` is True (the default) and 365 otherwise. With start_date/target_date the
  day count is (target - start).days + 1 minus weekends and the `holidays` package's holidays of
  `country` (default "US"), so both end days count; `days_to_target_date` is used as given. We pass
  `days_to_target_date` and `discard_nonbusiness_days=False`: years = days / 365, our ACT/365.
- PoP ("black-scholes" model). Not sampled on the price grid: when every option expires on the
  target date, `engine._strategy_pop` evaluates the exact expiry P&L at knots 0, each strike and
  2 x max(spot, strikes), joins them linearly with the end secants carried to [0, inf), and integrates
  each piece in closed form against the lognormal with log-mean ln S + (r - q - sigma^2 / 2) T and
  log-sd sigma sqrt(T). The drift is always risk-neutral r - q, and "profit" means P&L >= 0.01
  (one cent on the whole position) where ours is P&L > 0: the two differ by the probability of a
  P&L in [0, 0.01), which is below 1e-6 for positions of one unit or more. r and q are only used
  through r - q here (no leg lives past the target date), so a real-world drift mu is passed to
  optionlab as interest_rate=mu, dividend_yield=0 (optionlab requires both >= 0).
- Breakevens. `profit_ranges` are the same exact pieces split where P&L = 0.01: intervals where the
  strategy makes at least one cent, 0 and inf marking open ends. Each interior endpoint sits
  0.01 / |slope| (at most 0.01) from the true P&L = 0 root. On a flat top wing the end secant's
  slope is rounding noise (~1e-11 ₹/₹) and can add a spurious end near 1e17-1e19 (seen for a call
  butterfly and a covered call); ends beyond the price domain's max_stock are therefore dropped.
- Expectation. `expected_profit_if_profitable` and `expected_loss_if_unprofitable` are the
  conditional means over the same pieces, nominal (undiscounted); PoP x E+ + (1 - PoP) x E- = E[P&L].
- Max profit / max loss. `maximum/minimum_return_in_the_domain` are the max/min of the expiry P&L
  sampled on create_price_seq(min_stock, max_stock, price_step) (price_step 0.01 adds up to one
  point past max_stock; any other step gives round((max - min) / step) + 1 points rounded to
  cents). They equal the true extremes only when the grid holds every strike and 0; an unbounded
  side reports its value at the grid edge instead.
- Stock legs. The entry price is `stock_price` unless `prev_pos` > 0, which is then the entry price;
  we pass our STK premium as prev_pos. Options need premium > 0 and an integer n > 0.
- get_bs_info(s, x, r, vol, T, y): vectorised over arrays of spot and strike, but vol and T must
  be scalars (it tests `vol == 0 or T == 0`). Theta is per year, vega per vol point (/100), rho per
  1 % (/100). get_implied_vol is scalar only: brentq on [0.001, 1.0] (xtol 5e-7), so vols above
  100 % come back as 1.0 and prices below the 0.1 % vol value as 0.001.
"""

import functools
import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
OPTIONLAB_PYTHON = REPO / ".venv-optionlab" / "bin" / "python"
RUNNER = Path(__file__).with_name("optionlab_runner.py")
OPTIONLAB_VERSION = "1.9.1"

_OPTIONLAB_TYPE = {"CE": "call", "PE": "put"}


@functools.cache
def venv_problem(python: Path = OPTIONLAB_PYTHON) -> str | None:
    """Why the optionlab venv at `python` cannot be used, or None if it can."""
    if not python.exists():
        return f"{python} is missing (build it with `make optionlab-venv`)"
    try:
        probe = subprocess.run(
            [str(python), "-I", "-c", "import optionlab; print(optionlab.__version__)"],
            capture_output=True, text=True, timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python} does not run: {exc}"
    if probe.returncode != 0:
        last_line = (probe.stderr.strip().splitlines() or ["no error output"])[-1]
        return f"{python} cannot import optionlab: {last_line}"
    if probe.stdout.strip() != OPTIONLAB_VERSION:
        return f"{python} has optionlab {probe.stdout.strip()}, {OPTIONLAB_VERSION} expected"
    return None


def optionlab_python(python: Path = OPTIONLAB_PYTHON) -> Path:
    """The optionlab venv's interpreter; skips the calling test when it is missing or broken."""
    problem = venv_problem(python)
    if problem:
        pytest.skip(f"optionlab venv not available: {problem}")
    return python


def optionlab_inputs(
    legs: list[dict], spot: float, vol: float, rate: float, days: int, q: float = 0.0,
    *, max_stock: float, price_step: float,
) -> dict:
    """optionlab `Inputs` for our legs held `days` calendar days to expiry (years = days / 365).

    legs: our leg dicts {"type": "CE"|"PE"|"STK", "strike", "side": "BUY"|"SELL", "qty" (units),
    "premium" (₹ per unit; the entry price for STK)}. The price grid runs from 0 to max_stock in
    steps of price_step (₹); choose them so that the grid holds every strike.
    """
    strategy = []
    for leg in legs:
        action = leg["side"].lower()
        if leg["type"] == "STK":
            strategy.append({"type": "stock", "n": int(leg["qty"]), "action": action, "prev_pos": float(leg["premium"])})
        else:
            strategy.append({
                "type": _OPTIONLAB_TYPE[leg["type"]], "strike": float(leg["strike"]),
                "premium": float(leg["premium"]), "n": int(leg["qty"]), "action": action,
            })
    return {
        "stock_price": spot, "volatility": vol, "interest_rate": rate, "dividend_yield": q,
        "days_to_target_date": days, "discard_nonbusiness_days": False,
        "min_stock": 0.0, "max_stock": max_stock, "price_step": price_step,
        "strategy": strategy, "calculations": ["pop", "expectation"],
    }


def breakevens_from_ranges(profit_ranges: list[list[float]], max_stock: float) -> list[float]:
    """The ends of optionlab's profit ranges inside (0, max_stock], sorted (see the module docstring)."""
    ends = {end for profit_range in profit_ranges for end in profit_range}
    return sorted(end for end in ends if 0.0 < end <= max_stock)


def run_strategies(batch: list[dict]) -> list[dict]:
    """optionlab's results for a batch of `Inputs` dicts, from one subprocess call.

    Each result: pop, breakevens (₹), expected_pnl (₹), max_in_domain and min_in_domain (₹, over
    the price grid), top_slope (₹ of P&L per ₹ of underlying at the top of the grid), or error.
    """
    python = optionlab_python()
    completed = subprocess.run(
        [str(python), "-I", str(RUNNER)], input=json.dumps(batch),
        capture_output=True, text=True, timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"optionlab runner failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
    results = json.loads(completed.stdout)["results"]
    return [_summary(raw, inputs["max_stock"]) for raw, inputs in zip(results, batch, strict=True)]


def _summary(raw: dict, max_stock: float) -> dict:
    if "error" in raw:
        return raw
    pop = raw["probability_of_profit"]
    return {
        "pop": pop,
        "breakevens": breakevens_from_ranges(raw["profit_ranges"], max_stock),
        "expected_pnl": pop * raw["expected_profit_if_profitable"] + (1.0 - pop) * raw["expected_loss_if_unprofitable"],
        "max_in_domain": raw["maximum_return_in_the_domain"],
        "min_in_domain": raw["minimum_return_in_the_domain"],
        "top_slope": raw["top_slope"],
    }
