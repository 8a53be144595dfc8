"""The strategy catalog: declarative templates. Adding a strategy means adding one entry to CATALOG.

A template names its family, market view and risk type, and lists its legs. Each option leg says how its
strike is chosen (a `Strike` rule) and which expiry it uses ("near" or "far"). Rules take their numbers from
the template's variants — small parameter sets such as a short-strike delta or a wing width in strike steps —
so that one template yields several concrete candidates per symbol (see candidates.py).
"""

from dataclasses import dataclass, field
from itertools import product
from typing import Literal

from optionsv4_lib.core.domain import Family, Instrument, RiskType, Side

View = Literal["bullish", "bearish", "neutral", "volatile", "neutral-bullish", "neutral-bearish"]
Anchor = Literal["atm", "delta", "leg"]
ExpiryRule = Literal["near", "far"]
Variant = dict[str, float]


@dataclass(frozen=True)
class Strike:
    """How a leg's strike is chosen.

    anchor "atm":   the at-the-money strike moved by `offset` strike steps (+ = higher strike).
    anchor "delta": the strike whose |delta| (of the leg's own option type) is closest to `delta`.
    anchor "leg":   the strike of leg number `leg` (0-based) moved by `offset` strike steps.
    `offset` and `delta` are numbers or variant parameter names; a leading "-" negates a parameter.
    """

    anchor: Anchor
    offset: float | str = 0
    delta: float | str | None = None
    leg: int | None = None


@dataclass(frozen=True)
class Leg:
    """One leg of a template: instrument, side, ratio (lots per strategy lot), strike rule, expiry rule."""

    instrument: Instrument
    side: Side
    strike: Strike | None = None  # None for a stock leg
    ratio: int = 1
    expiry: ExpiryRule = "near"


@dataclass(frozen=True)
class StrategyTemplate:
    name: str
    family: Family
    view: View
    risk_type: RiskType
    legs: tuple[Leg, ...]
    variants: tuple[Variant, ...] = field(default=({},))
    description: str = ""
    takes_delivery: bool = False  # the point is to buy or deliver the shares (a cash-secured put)

    @property
    def needs_stock(self) -> bool:
        """True when a leg is the underlying itself."""
        return any(leg.instrument == "STK" for leg in self.legs)

    @property
    def stocks_only(self) -> bool:
        """True for a strategy about holding the shares: not offered on a cash-settled index."""
        return self.needs_stock or self.takes_delivery

    @property
    def multi_expiry(self) -> bool:
        return any(leg.expiry == "far" for leg in self.legs)


def grid(**params: tuple[float, ...]) -> tuple[Variant, ...]:
    """Every combination of the given parameter values, as variants."""
    names = list(params)
    return tuple(dict(zip(names, values)) for values in product(*params.values()))


def atm(offset: float | str = 0) -> Strike:
    return Strike("atm", offset=offset)


def delta(target: float | str) -> Strike:
    return Strike("delta", delta=target)


def from_leg(leg: int, offset: float | str) -> Strike:
    return Strike("leg", offset=offset, leg=leg)


CATALOG: tuple[StrategyTemplate, ...] = (
    # ---- directional
    StrategyTemplate(
        "Long Call", "directional", "bullish", "defined",
        (Leg("CE", "BUY", delta("d")),),
        grid(d=(0.50, 0.40, 0.30)),
        "Buy a call: profits from a rise; loss limited to the premium.",
    ),
    StrategyTemplate(
        "Long Put", "directional", "bearish", "defined",
        (Leg("PE", "BUY", delta("d")),),
        grid(d=(0.50, 0.40, 0.30)),
        "Buy a put: profits from a fall; loss limited to the premium.",
    ),
    StrategyTemplate(
        "Bull Call Spread", "directional", "bullish", "defined",
        (Leg("CE", "BUY", delta("d")), Leg("CE", "SELL", from_leg(0, "w"))),
        grid(d=(0.55, 0.45), w=(2, 4)),
        "Buy a call, sell a higher call: a cheaper bullish debit with capped profit.",
    ),
    StrategyTemplate(
        "Bear Put Spread", "directional", "bearish", "defined",
        (Leg("PE", "BUY", delta("d")), Leg("PE", "SELL", from_leg(0, "-w"))),
        grid(d=(0.55, 0.45), w=(2, 4)),
        "Buy a put, sell a lower put: a cheaper bearish debit with capped profit.",
    ),
    # ---- income (net credit, theta positive)
    StrategyTemplate(
        "Bull Put Spread", "income", "bullish", "defined",
        (Leg("PE", "SELL", delta("d")), Leg("PE", "BUY", from_leg(0, "-w"))),
        grid(d=(0.30, 0.20), w=(2, 4)),
        "Sell a put, buy a lower put: a credit that is kept if the price stays above the short strike.",
    ),
    StrategyTemplate(
        "Bear Call Spread", "income", "bearish", "defined",
        (Leg("CE", "SELL", delta("d")), Leg("CE", "BUY", from_leg(0, "w"))),
        grid(d=(0.30, 0.20), w=(2, 4)),
        "Sell a call, buy a higher call: a credit that is kept if the price stays below the short strike.",
    ),
    StrategyTemplate(
        "Cash-Secured Put", "income", "neutral-bullish", "defined",
        (Leg("PE", "SELL", delta("d")),),
        grid(d=(0.30, 0.20)),
        "Sell a put with cash set aside to buy the shares at the strike.",
        takes_delivery=True,
    ),
    StrategyTemplate(
        "Covered Call", "income", "neutral-bullish", "defined",
        (Leg("STK", "BUY"), Leg("CE", "SELL", delta("d"))),
        grid(d=(0.30, 0.20)),
        "Own the shares and sell a call against them for income.",
    ),
    StrategyTemplate(
        "Jade Lizard", "income", "neutral-bullish", "undefined",
        (Leg("PE", "SELL", delta("dp")), Leg("CE", "SELL", delta("dc")), Leg("CE", "BUY", from_leg(1, "w"))),
        grid(dp=(0.30, 0.20), dc=(0.25,), w=(2, 3)),
        "Short put plus a bear call spread: no upside risk when the credit exceeds the call spread's width.",
    ),
    # ---- neutral
    StrategyTemplate(
        "Iron Condor", "neutral", "neutral", "defined",
        (
            Leg("PE", "BUY", from_leg(1, "-w")),
            Leg("PE", "SELL", delta("d")),
            Leg("CE", "SELL", delta("d")),
            Leg("CE", "BUY", from_leg(2, "w")),
        ),
        grid(d=(0.25, 0.16), w=(2, 4)),
        "Bull put spread plus bear call spread: a credit kept while the price stays between the short strikes.",
    ),
    StrategyTemplate(
        "Iron Butterfly", "neutral", "neutral", "defined",
        (
            Leg("PE", "BUY", atm("-w")),
            Leg("PE", "SELL", atm()),
            Leg("CE", "SELL", atm()),
            Leg("CE", "BUY", atm("w")),
        ),
        grid(w=(2, 4)),
        "Short ATM straddle with long wings: a large credit, highest profit at the centre strike.",
    ),
    StrategyTemplate(
        "Call Butterfly", "neutral", "neutral", "defined",
        (Leg("CE", "BUY", atm("-w")), Leg("CE", "SELL", atm(), ratio=2), Leg("CE", "BUY", atm("w"))),
        grid(w=(2, 4)),
        "Long 1-2-1 call butterfly: a small debit with its peak at the centre strike.",
    ),
    StrategyTemplate(
        "Put Butterfly", "neutral", "neutral", "defined",
        (Leg("PE", "BUY", atm("w")), Leg("PE", "SELL", atm(), ratio=2), Leg("PE", "BUY", atm("-w"))),
        grid(w=(2, 4)),
        "Long 1-2-1 put butterfly: a small debit with its peak at the centre strike.",
    ),
    StrategyTemplate(
        "Short Straddle", "neutral", "neutral", "undefined",
        (Leg("CE", "SELL", atm()), Leg("PE", "SELL", atm())),
        ({},),
        "Sell the ATM call and put: the largest credit, unlimited risk both ways.",
    ),
    StrategyTemplate(
        "Short Strangle", "neutral", "neutral", "undefined",
        (Leg("CE", "SELL", delta("d")), Leg("PE", "SELL", delta("d"))),
        grid(d=(0.25, 0.16)),
        "Sell an OTM call and an OTM put: a credit kept while the price stays between them; unlimited risk.",
    ),
    # ---- volatility (long premium)
    StrategyTemplate(
        "Long Straddle", "volatility", "volatile", "defined",
        (Leg("CE", "BUY", atm()), Leg("PE", "BUY", atm())),
        ({},),
        "Buy the ATM call and put: profits from a large move either way or a rise in IV.",
    ),
    StrategyTemplate(
        "Long Strangle", "volatility", "volatile", "defined",
        (Leg("CE", "BUY", delta("d")), Leg("PE", "BUY", delta("d"))),
        grid(d=(0.30, 0.20)),
        "Buy an OTM call and an OTM put: a cheaper bet on a large move.",
    ),
    # ---- advanced
    StrategyTemplate(
        "Calendar Spread", "advanced", "neutral", "defined",
        (Leg("CE", "SELL", atm("o")), Leg("CE", "BUY", atm("o"), expiry="far")),
        grid(o=(0, 2)),
        "Sell a near call, buy the same strike further out: profits from the near leg's faster decay.",
    ),
    StrategyTemplate(
        "Diagonal Spread", "advanced", "neutral-bullish", "defined",
        (Leg("CE", "BUY", delta("dl"), expiry="far"), Leg("CE", "SELL", delta("ds"))),
        grid(dl=(0.70, 0.60), ds=(0.30,)),
        "Buy a far in-the-money call, sell a near OTM call: a poor man's covered call.",
    ),
    StrategyTemplate(
        "Call Ratio Spread", "advanced", "neutral-bullish", "undefined",
        (Leg("CE", "BUY", delta("d")), Leg("CE", "SELL", from_leg(0, "w"), ratio=2)),
        grid(d=(0.50,), w=(2, 4)),
        "Buy one call, sell two higher calls: cheap or a credit, best at the short strike; unlimited upside risk.",
    ),
    StrategyTemplate(
        "Put Ratio Spread", "advanced", "neutral-bearish", "undefined",
        (Leg("PE", "BUY", delta("d")), Leg("PE", "SELL", from_leg(0, "-w"), ratio=2)),
        grid(d=(0.50,), w=(2, 4)),
        "Buy one put, sell two lower puts: cheap or a credit, best at the short strike; large downside risk.",
    ),
    StrategyTemplate(
        "Broken Wing Butterfly", "advanced", "neutral-bullish", "defined",
        (Leg("CE", "BUY", atm()), Leg("CE", "SELL", atm("w"), ratio=2), Leg("CE", "BUY", atm("far"))),
        ({"w": 2, "far": 5}, {"w": 3, "far": 7}),
        "A call butterfly with a wider upper wing: little or no debit, risk moved to one side.",
    ),
)

_BY_NAME = {t.name.lower(): t for t in CATALOG}


def template(name: str) -> StrategyTemplate:
    """The template called `name` (case-insensitive)."""
    try:
        return _BY_NAME[name.strip().lower()]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(t.name for t in CATALOG)}") from None


def catalog_table() -> list[dict]:
    """The catalog as plain rows (for `optionsv4 strategies` and its --json)."""
    rows = []
    for t in CATALOG:
        legs = []
        for leg in t.legs:
            text = f"{leg.side} {leg.ratio}× {leg.instrument}"
            if leg.strike is not None:
                text += f" @ {_describe_strike(leg.strike)}"
            if leg.expiry == "far":
                text += " (far expiry)"
            legs.append(text)
        rows.append(
            {
                "name": t.name,
                "family": t.family,
                "view": t.view,
                "risk_type": t.risk_type,
                "legs": legs,
                "variants": list(t.variants),
                "description": t.description,
            }
        )
    return rows


def _describe_strike(rule: Strike) -> str:
    if rule.anchor == "delta":
        return f"|delta| {rule.delta}"
    base = "ATM" if rule.anchor == "atm" else f"leg {rule.leg} strike"
    return base if rule.offset == 0 else f"{base} {_signed(rule.offset)} steps"


def _signed(value: float | str) -> str:
    text = str(value)
    return text if text.startswith("-") else f"+{text}"
