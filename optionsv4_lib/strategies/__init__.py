"""Strategies: the declarative catalog, candidate generation from a chain, and vectorized evaluation."""

from optionsv4_lib.strategies.metrics import evaluate_candidates, strategy_metrics

__all__ = ["evaluate_candidates", "strategy_metrics"]
