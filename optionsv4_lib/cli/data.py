"""`optionsv4 data …`: reference downloads that never run on their own (the network is asked only here)."""

import typer

from optionsv4_lib.cli.common import console, errors_to_exit
from optionsv4_lib.config import settings as current_settings

data_app = typer.Typer(no_args_is_help=True, add_completion=False,
                       help="Downloads of market reference files (explicit only; nothing downloads implicitly).")


@data_app.command("fetch-span")
def fetch_span(trade_date: str = typer.Option(..., "--date", help="The SPAN file's business date, YYYY-MM-DD.")
               ) -> None:
    """Download NSE Clearing's settlement SPAN risk-parameter file of a date into OPTIONSV4_SPAN_DIR."""
    from optionsv4_lib.marketdata.source import as_date
    from optionsv4_lib.marketdata.span_file import download_span_file

    with errors_to_exit():
        path = download_span_file(as_date(trade_date, "date"), current_settings().span_dir)
    console.print(f"SPAN file saved: {path}")
