"""What every `optionsv4` command shares: the consoles, and library errors turned into a message and exit code 2."""

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from optionsv4_lib.errors import OptionsV4Error

# Logs and pipes get a wide console; soft wrap keeps URLs, SQL and messages on one line.
console = Console(soft_wrap=True, width=None if Console().is_terminal else 160)
err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """OptionsV4Error → a one-line message on stderr and exit code 2 (messages never hold a secret)."""
    try:
        yield
    except OptionsV4Error as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
