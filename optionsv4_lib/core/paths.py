"""Where the project's bundled files live (the package is installed editable from the checkout), and the check that
a directory a run writes to can be written."""

import os
import tempfile
from pathlib import Path

from optionsv4_lib.core.errors import InputError

PROJECT_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_DIR / "include" / "data"  # dated reference data
SQL_DIR = PROJECT_DIR / "include" / "sql"  # ordered migrations
USER_REFERENCE_DIR = Path(os.environ.get("OPTIONSV4_REFERENCE_DIR") or PROJECT_DIR / ".optionsv4" / "reference")
"""Reference data a user imported (e.g. NSE's holiday list): read over the bundled tables. Set by the environment
variable OPTIONSV4_REFERENCE_DIR (not .env: the calendar reads it before any settings)."""


def writable_dir(path: Path, setting: str) -> Path:
    """`path`, created if missing, once a file could be made in it; else InputError naming the setting and the
    directory (checked before a run starts, so nothing is half done)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise InputError(f"{setting}: cannot write to {path} ({exc.strerror or exc})") from None
    return path
