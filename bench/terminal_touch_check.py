"""How good is terminal.touch_probability under a strong skew? A Heston check (run by hand: ~25 s).

Heston forward (driftless), NIFTY-like weekly: v0 = θ = 0.14², κ = 5, ξ = 0.8, ρ = −0.7 (ATM skew about −1 vol
point per 1 % of strike), 6 days, 200,000 paths, 1,500 steps with Brownian-bridge extrema in each step. The
truth is the share of paths touching each barrier. Both approximations are computed from the same simulated
S_T, so no smile fit enters: put–call-symmetry replication (what terminal.touch_probability does with a smile)
and the reflection principle at the implied vol of the barrier strike.
Usage: python bench/terminal_touch_check.py [xi] [rho]

Result (xi 0.8, rho −0.7): replication errs by ≤ 0.015 beyond ~1.5 ATM sd of the forward (0.003 at −3.5 %) but
by up to ±0.09 within 0.5 sd, where it even exceeds 1; reflection at σ(B) errs by ≤ 0.03 near the money but
+0.02…+0.045 on the put side 1–2.5 sd out (it ignores that the skew puts the barrier's risk in the tail).
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optionsv4_lib.pricing.black_scholes import implied_vol
from optionsv4_lib.strategies.evaluate import touch_probability as reflection

FORWARD, YEARS, PATHS, STEPS = 23000.0, 6 / 365, 200_000, 1500
BARRIERS = (21800, 22200, 22500, 22700, 22850, 22950, 23050, 23150, 23300, 23500, 23800, 24200)


def simulate(xi: float, rho: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(S_T, path max, path min) in ₹ of a driftless Heston forward (full truncation Euler)."""
    rng = np.random.default_rng(seed)
    v0 = theta = 0.14**2
    kappa, dt = 5.0, YEARS / STEPS
    x, v, high, low = np.zeros(PATHS), np.full(PATHS, v0), np.zeros(PATHS), np.zeros(PATHS)
    for _ in range(STEPS):
        z1 = rng.standard_normal(PATHS)
        z2 = rho * z1 + np.sqrt(1 - rho**2) * rng.standard_normal(PATHS)
        var = np.maximum(v, 0.0) * dt
        x_next = x - 0.5 * var + np.sqrt(var) * z1
        spread = (x_next - x) ** 2
        high = np.maximum(high, 0.5 * (x + x_next + np.sqrt(spread - 2 * var * np.log(rng.random(PATHS)))))
        low = np.minimum(low, 0.5 * (x + x_next - np.sqrt(spread - 2 * var * np.log(rng.random(PATHS)))))
        v = v + kappa * (theta - np.maximum(v, 0.0)) * dt + xi * np.sqrt(var) * z2
        x = x_next
    terminal = FORWARD * np.exp(x)
    scale = FORWARD / terminal.mean()  # the sample's forward is exactly F
    return terminal * scale, FORWARD * np.exp(high) * scale, FORWARD * np.exp(low) * scale


def main() -> None:
    xi = float(sys.argv[1]) if len(sys.argv) > 1 else 0.8
    rho = float(sys.argv[2]) if len(sys.argv) > 2 else -0.7
    terminal, high, low = simulate(xi, rho)
    print(f"Heston xi={xi} rho={rho}: barrier, implied vol at it, MC touch, PCS replication (error), reflection at σ(B) (error)")
    for barrier in BARRIERS:
        up = barrier > FORWARD
        beyond = terminal >= barrier if up else terminal <= barrier
        truth = (high >= barrier).mean() if up else (low <= barrier).mean()
        pcs = beyond.mean() + (terminal * beyond).mean() / barrier
        price = np.maximum(terminal - barrier, 0).mean() if up else np.maximum(barrier - terminal, 0).mean()
        vol = implied_vol(price, "CE" if up else "PE", FORWARD, barrier, YEARS, 0.0)
        refl = reflection(FORWARD, barrier, vol, YEARS, 0.0)
        print(f"{barrier:6d} {vol:.3f}  {truth:.4f}  {pcs:.4f} ({pcs - truth:+.4f})  {refl:.4f} ({refl - truth:+.4f})")


if __name__ == "__main__":
    main()
