"""`optionsv4 …`: the command line. Thin wiring over the library."""

import typer

app = typer.Typer(no_args_is_help=True, help="OptionsV4: NSE F&O options-strategy pipeline.")


@app.callback()
def main() -> None:
    """OptionsV4 command line."""
