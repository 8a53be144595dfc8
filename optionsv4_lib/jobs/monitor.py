"""The monitor job: the options_v4_monitor DAG's tasks (`in_session`, `monitor`), and the pass `optionsv4 positions`
and the CLI share."""

from datetime import datetime
from typing import Any

from optionsv4_lib.config import Settings
from optionsv4_lib.execution.executor import ExecutionPolicy
from optionsv4_lib.execution.mode import Venue, resolve_mode
from optionsv4_lib.execution.monitor_pass import monitor_pass, outside_session
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.execution.quotes import ChainQuotes
from optionsv4_lib.jobs.venues import open_source, open_venue
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store import open_store


def in_session(now: datetime) -> str | None:
    """Why a pass at `now` has nothing to do (a holiday, outside the F&O session and its settlement pass), or None."""
    return outside_session(now)


def monitor(settings: Settings, source_name: str, now: datetime, *, confirm_live_exits: bool = False,
                confirmation: str | None = None, policy: ExecutionPolicy = ExecutionPolicy()) -> dict[str, Any]:
    """One pass on the configured store and market-data source (synthetic | snapshot | dhan; chains not recorded).
    Paper exits fill on the paper broker against the same chains. Live exits are placed only with
    confirm_live_exits, the confirmation text and OPTIONSV4_LIVE_TRADING=1 (else LiveTradingRefused); without
    confirm_live_exits they are held as EXIT PENDING."""
    today = now.astimezone(IST).date()
    source = open_source(source_name, today, seed=settings.seed, data_dir=settings.data_dir, record=False,
                         settings=settings)
    conn = open_store(settings)
    try:
        quotes = ChainQuotes(source)
        paper = PaperBroker(conn, capital=settings.capital, quotes=quotes, rate=settings.risk_free_rate)
        venues = {"paper": Venue(paper, quotes)}
        if confirm_live_exits:
            mode = resolve_mode("live", confirm=True, settings=settings, confirmation=confirmation,
                                require_text=True)
            venues[mode] = open_venue(mode, conn, settings, today=today)
        return monitor_pass(conn, source, venues, now=now, policy=policy)
    finally:
        conn.close()
