"""DataFrame columns: a schema column, `conform` to a schema, and the one check for required columns."""

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    unit: str
    description: str
    required: bool = True


def conform(frame: pd.DataFrame, schema: tuple[Column, ...], what: str) -> pd.DataFrame:
    """Return `frame` with exactly the schema's columns, in order, cast to their dtypes.

    Raises DataError naming `what` and the missing column or the column that cannot be cast.
    Optional columns that are absent are added as all-missing.
    """
    out = {}
    for col in schema:
        if col.name not in frame.columns:
            if col.required:
                raise DataError(f"{what}: missing column {col.name!r} ({col.description})")
            out[col.name] = pd.Series(pd.NA, index=frame.index, dtype=col.dtype)
            continue
        try:
            out[col.name] = frame[col.name].astype(col.dtype)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{what}: column {col.name!r} cannot be read as {col.dtype}: {exc}") from exc
    return pd.DataFrame(out, index=frame.index)


def require_columns(frame, columns: Iterable[str], what: str, *, error: type[Exception] = InputError) -> None:
    """Raise `error` naming `what` when `frame` is not a DataFrame or lacks any of `columns` (all of them named)."""
    if not isinstance(frame, pd.DataFrame):
        raise error(f"{what}: expected a DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise error(f"{what}: missing column(s) {', '.join(missing)}")
