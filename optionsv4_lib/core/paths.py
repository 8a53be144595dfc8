"""Where the project's bundled files live (the package is installed editable from the checkout)."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_DIR / "include" / "data"  # dated reference data
SQL_DIR = PROJECT_DIR / "include" / "sql"  # ordered migrations
