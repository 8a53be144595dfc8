"""`optionsv4 data …`: market files kept on disk — NSE's F&O bhavcopies, NSE Clearing's SPAN risk-parameter files
and Dhan's expired-options data — downloaded only when asked (nothing downloads implicitly)."""

from pathlib import Path

import typer

from optionsv4_lib.cli.common import console, err_console, errors_to_exit
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.marketdata.source import as_date

data_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Market files from NSE and Dhan: "
                       "bhavcopies, SPAN risk parameters, expired options (explicit downloads only).")


@data_app.command("fetch-bhavcopy")
def fetch_bhavcopy(
    start: str = typer.Option(..., "--from", help="First trade date, YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last trade date, YYYY-MM-DD (inclusive)."),
    directory: Path = typer.Option(None, "--dir", help="Folder for the files (default <data dir>/bhavcopy); files "
                                                       "already there are kept, so a rerun resumes."),
    interval: float = typer.Option(1.0, "--interval", min=0.0, help="Seconds between requests to NSE."),
) -> None:
    """Download NSE's F&O bhavcopies (zipped CSV, UDiFF from 8 Jul 2024, legacy before) of every trading day from
    --from to --to, for `optionsv4 backtest --source bhavcopy --data-dir DIR`. Base URL: OPTIONSV4_NSE_ARCHIVE_URL."""
    from optionsv4_lib.adapters.nse_archive import fetch_bhavcopies

    with errors_to_exit():
        cfg = current_settings()
        folder = directory or cfg.data_dir / "bhavcopy"
        first, last = as_date(start, "from"), as_date(end, "to")
        done = fetch_bhavcopies(first, last, folder, base_url=cfg.nse_archive_url, interval=interval,
                                progress=lambda f: err_console.print(f"{f.day} {f.status}", highlight=False))
    counts = {status: sum(f.status == status for f in done) for status in ("fetched", "present", "missing")}
    console.print(f"{len(done)} trading days in {folder}: {counts['fetched']} fetched, {counts['present']} already "
                  f"there, {counts['missing']} not published by NSE", highlight=False)
    for f in done:
        if f.status == "missing":
            console.print(f"[yellow]missing[/yellow] {f.day}: NSE has no bhavcopy for it (404)")


@data_app.command("fetch-span")
def fetch_span(trade_date: str = typer.Option(..., "--date", help="The SPAN file's business date, YYYY-MM-DD.")
               ) -> None:
    """Download NSE Clearing's settlement SPAN risk-parameter file of a date into OPTIONSV4_SPAN_DIR."""
    from optionsv4_lib.marketdata.span_file import download_span_file

    with errors_to_exit():
        path = download_span_file(as_date(trade_date, "date"), current_settings().span_dir)
    console.print(f"SPAN file saved: {path}")


@data_app.command("fetch-expired")
def fetch_expired_options(
    symbol: str = typer.Option(..., "--symbol", help="Universe symbol, e.g. NIFTY."),
    start: str = typer.Option(..., "--from", help="First trade date, YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last trade date, YYYY-MM-DD (inclusive)."),
    flag: str = typer.Option("WEEK", "--flag", help="Dhan's expiry flag: WEEK (the weekly cycle) or MONTH."),
    code: int = typer.Option(1, "--code", help="Dhan's expiry code: 1 near, 2 next, 3 far."),
    strikes: int = typer.Option(3, "--strikes", help="Strikes each side of the money: up to 10 for index options, "
                                                     "3 for stock options."),
    directory: Path = typer.Option(None, "--dir", help="The cache (default <data dir>/dhan_expired); days already "
                                                       "there with these strikes are kept, so a rerun resumes."),
) -> None:
    """Download Dhan's expired-options data (/charts/rollingoption, 30 days a request, every offset and side) of a
    symbol from --from to --to, re-keyed to real strikes and expiries, into the cache that `optionsv4 backtest
    --source dhan-expired` reads. Credentials and base URL as for the dhan source (DHAN_CLIENT_ID, …); the account's
    rate limits are shared with every other process through the pipeline's database (the embedded one by default)."""
    from optionsv4_lib.adapters.dhan.expired_options import fetch_expired
    from optionsv4_lib.adapters.dhan.market_data import DhanMarketData
    from optionsv4_lib.marketdata.expired_options import CACHE_DIR_NAME

    with errors_to_exit():
        cfg = current_settings()
        folder = directory or cfg.data_dir / CACHE_DIR_NAME
        first, last = as_date(start, "from"), as_date(end, "to")
        client = DhanMarketData.from_settings(cfg, first).client  # the account's client, its limits and retries
        done = fetch_expired(client, symbol, first, last, folder, flag=flag.upper(), code=code, strikes=strikes,
                             progress=lambda w: err_console.print(f"{w.start}..{w.until} {w.status}",
                                                                  highlight=False))
    days = sum(len(w.days) for w in done)
    present = sum(w.status == "present" for w in done)
    console.print(f"{symbol.upper()} {flag.upper()}{code} ATM±{strikes}: {days} trading days written to {folder}, "
                  f"{present} of {len(done)} windows already there", highlight=False)
