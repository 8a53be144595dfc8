"""Valuations for tests whose subject is not the valuation (scoring, candidate tables): flat smiles at the
candidate set's ATM IV on the forwards spot·e^{rT}, and a view at the same vol without drift — the risk-neutral
lognormal the tests were written against."""

import numpy as np

from optionsv4_lib.pricing.smile import SmileCurve, SVIParams
from optionsv4_lib.strategies.candidates import CandidateSet
from optionsv4_lib.strategies.evaluate import NONE
from optionsv4_lib.strategies.metrics import Valuation


def flat_curve(spot: float, vol: float, years: float, r: float) -> SmileCurve:
    return SmileCurve(spot * np.exp(r * years), years, r, SVIParams(vol**2 * years, 0.0, 0.0, 0.0, 1.0), "flat")


def flat_valuation(cset: CandidateSet, r: float, view_sigma: float | None = None, drift: float = 0.0) -> Valuation:
    vol = float(cset.sigma[0])
    years = cset.positions.years[cset.positions.kind != NONE]
    near, far = float(cset.meta["years"].iloc[0]), float(years.max())
    far_curve = flat_curve(cset.spot, vol, far, r) if far > near + 1e-9 else None
    return Valuation(flat_curve(cset.spot, vol, near, r), far_curve, vol if view_sigma is None else view_sigma, drift)
