"""Paper or live: the gate in front of live orders, and the venue (broker and quotes) a mode trades through.

Live needs every key at once: the environment flag OPTIONSV4_LIVE_TRADING=1 (Settings.live_trading), an explicit
confirmation (`confirm`), and — where a caller demands it, as the execution DAG does — the confirmation text
exactly CONFIRMATION_TEXT. Asking for live without all of them raises LiveTradingRefused naming each missing key;
anything but live is paper.
"""

from dataclasses import dataclass

from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import InputError, OptionsV4Error
from optionsv4_lib.execution.broker import MODES, Broker, Mode
from optionsv4_lib.execution.quotes import QuoteSource

CONFIRMATION_TEXT = "PLACE LIVE ORDERS"


class LiveTradingRefused(OptionsV4Error):
    """Live orders were asked for without every key the gate needs."""


def resolve_mode(requested: str, *, confirm: bool, settings: Settings, confirmation: str | None = None,
                 require_text: bool = False) -> Mode:
    """The mode to trade in: "live" only with the flag, `confirm` and (if require_text) the exact text."""
    if requested not in MODES:
        raise InputError(f"mode: unknown {requested!r}; expected one of {', '.join(MODES)}")
    if requested == "paper":
        return "paper"
    missing = []
    if not settings.live_trading:
        missing.append("the environment flag OPTIONSV4_LIVE_TRADING=1 is not set")
    if not confirm:
        missing.append("no explicit confirmation (--confirm / confirm=true)")
    if require_text and confirmation != CONFIRMATION_TEXT:
        missing.append(f"the confirmation text must be exactly {CONFIRMATION_TEXT!r}, got {confirmation!r}")
    if missing:
        raise LiveTradingRefused("live trading refused: " + "; ".join(missing))
    return "live"


@dataclass(frozen=True)
class Venue:
    """A mode's broker and the quotes its orders are priced from."""

    broker: Broker
    quotes: QuoteSource
