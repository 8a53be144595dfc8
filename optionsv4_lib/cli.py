"""`optionsv4 …`: the command line. Thin wiring over the library."""

import json

import typer
from rich.console import Console
from rich.table import Table

from optionsv4_lib.strategies.catalog import catalog_table

app = typer.Typer(no_args_is_help=True, help="OptionsV4: NSE F&O options-strategy pipeline.", add_completion=False)
console = Console()


@app.callback()
def main() -> None:
    """OptionsV4: find, rank, size and execute multi-leg option strategies on NSE F&O."""


@app.command()
def strategies(as_json: bool = typer.Option(False, "--json", help="Print the catalog as JSON.")) -> None:
    """List the strategy catalog: family, view, risk type, legs and variants."""
    rows = catalog_table()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Strategy catalog ({len(rows)} templates)")
    for column in ("Strategy", "Family", "View", "Risk", "Legs", "Variants"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["family"], row["view"], row["risk_type"], "\n".join(row["legs"]), str(len(row["variants"])))
    console.print(table)
