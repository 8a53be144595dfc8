"""`optionsv4 dq …`: the data-quality report — Great Expectations Data Docs and the stored expectation results."""

import functools
import http.server

import typer
from rich.markup import escape
from rich.table import Table

from optionsv4_lib.cli.common import console, err_console, errors_to_exit

dq_app = typer.Typer(no_args_is_help=True, add_completion=False,
                     help="Data quality: the Data Docs report and failed expectations by run.")

@dq_app.command("open")
def open_docs(
    serve: bool = typer.Option(False, "--serve", help="Serve the Data Docs over HTTP on 127.0.0.1 until Ctrl-C."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port for --serve."),
) -> None:
    """Print the path of the Data Docs index (rebuilt by every daily run), or serve the site locally."""
    from optionsv4_lib.quality.suites import data_docs_index

    index = data_docs_index()
    if not index.exists():
        err_console.print(f"[red]error:[/red] no Data Docs at {index} yet; the daily DAG builds them "
                          "(`make demo` runs it once)")
        raise typer.Exit(2)
    if not serve:
        typer.echo(str(index))
        return
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(index.parent))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        console.print(f"Data Docs at http://127.0.0.1:{port}/index.html (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


@dq_app.command()
def failures(trade_date: str = typer.Option(None, "--date", help="Trade date YYYY-MM-DD (default: the latest).")) -> None:
    """Failed expectations stored for a trade date: suite, subject (symbol), severity, what was observed."""
    from optionsv4_lib.marketdata.source import as_date
    from optionsv4_lib.store import open_store
    from optionsv4_lib.store.runs import failed_expectations

    with errors_to_exit():
        day = as_date(trade_date, "date") if trade_date else None
        conn = open_store()
        try:
            rows = failed_expectations(conn, day)
        finally:
            conn.close()
    if not rows:
        console.print("No failed expectations stored" + (f" for {day}." if day else "."))
        return
    table = Table(title=f"Failed expectations on {rows[0][0]}")
    for column in ("Suite", "Subject", "Expectation", "Column", "Severity", "Observed", "Unexpected"):
        table.add_column(column)
    for _, suite, subject, expectation, column, severity, observed, unexpected in rows:
        style = "red" if severity == "critical" else "yellow"
        table.add_row(suite, subject or "", expectation, column or "", f"[{style}]{severity}[/{style}]",
                      escape(observed or ""), "" if unexpected is None else str(unexpected))
    console.print(table)
