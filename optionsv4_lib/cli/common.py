"""What every `optionsv4` command shares: the consoles, and library errors turned into a message and exit code 2."""

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from optionsv4_lib.core.errors import OptionsV4Error
from optionsv4_lib.core.text import money

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


def money_cell(value) -> str:
    """A table cell's ₹ amount: blank when there is none."""
    return money(value, missing="")


class ProgressBar:
    """A rich progress bar over `total` items, e.g. symbols (or nothing without a console); yields the per-item
    callback, which takes the item's name and, when the caller learns it late, the total."""

    def __init__(self, console: Console | None, total: int | None):
        self.bar = None if console is None else Progress(
            TextColumn("analyzing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self.total = total

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.start()
        task = self.bar.add_task("", total=self.total)
        return lambda name, total=None: self.bar.update(task, advance=1, description=name, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
