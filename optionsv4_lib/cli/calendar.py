"""`optionsv4 calendar …`: the NSE trading calendar — what it covers, and NSE's holiday list imported into it."""

from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape

from optionsv4_lib.cli.common import console, err_console, errors_to_exit
from optionsv4_lib.marketdata.source import as_date
from optionsv4_lib.reference import calendar
from optionsv4_lib.reference.holiday_import import import_holidays as import_nse_holidays

calendar_app = typer.Typer(no_args_is_help=True, add_completion=False,
                           help="The NSE trading calendar: holidays, special sessions, coverage.")


@calendar_app.command("import-holidays")
def import_holidays(
    file: Path = typer.Argument(..., help="NSE's holiday list: the holiday-master JSON or its CSV export."),
) -> None:
    """Import one year of NSE trading holidays (the FO list) over the bundled ones."""
    with errors_to_exit():
        imported = import_nse_holidays(file)
        start, end = calendar.holiday_coverage()
    console.print(f"Imported {len(imported.holidays)} weekday trading holidays for {imported.year} into "
                  f"{imported.path}")
    for day, name in sorted(imported.holidays.items()):
        console.print(f"  {day} {day:%a}  {escape(name)}")
    if imported.weekend:
        console.print(f"Left out (on a weekend): {', '.join(str(day) for day in imported.weekend)}")
    console.print(f"The calendar now covers {start.year}–{end.year}.")


@calendar_app.command()
def show(
    on: str = typer.Option(None, "--date", help="Day YYYY-MM-DD to describe (default: today in IST)."),
) -> None:
    """The holiday calendar's years, and whether a day is a trading day and why."""
    with errors_to_exit():
        day = as_date(on, "date") if on else datetime.now(calendar.IST).date()
        start, end = calendar.holiday_coverage()
        reason = calendar.closed_reason(day)
        special = calendar.special_session(day)
        unconfirmed = calendar.unconfirmed_holidays(day)
        ahead = calendar.coverage_warning(day)
    console.print(f"Holidays known for {start.year}–{end.year}"
                  f"{' (with imported years)' if calendar.IMPORTED_HOLIDAYS_FILE.exists() else ''}.")
    opening = None if reason else calendar.session(day)
    console.print(reason or f"{day} is an NSE trading day ({special or 'normal session'}; F&O "
                            f"{opening[0]:%H:%M}–{opening[1]:%H:%M} IST)")
    for warning in filter(None, (unconfirmed, ahead)):
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
