"""Files on disk: reading a parquet or CSV table, its columns, and the size budget; writing a
file whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from importance_tasks.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_DATA_BYTES",
    "PARQUET_SUFFIXES",
    "check_size",
    "load_table",
    "table_columns",
    "unreadable",
    "write_text_atomically",
]

# Evaluation data above this (as float32) is refused with its size; override with the
# environment variable IMPORTANCE_TASKS_MAX_DATA_BYTES. Row shards bound the work, not this.
MAX_DATA_BYTES = 4 * 2**30
# A Python str of a short category (object header and pointer included), while a column is coded.
STRING_CELL_BYTES = 64
PARQUET_SUFFIXES = {".parquet", ".pq"}


def unreadable(path: Path, kind: str, exc: BaseException) -> DataError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{path.name} cannot be read as {kind} ({reason}); is the file complete?")


def check_size(n_rows: int, n_columns: int, path: Path, *, strings: bool = False) -> None:
    """Refuse a table above the budget: 4 bytes a cell (numbers, and the codes of string
    columns), plus, when it has string columns, one column of Python strings at a time while
    it is coded (``STRING_CELL_BYTES`` a cell)."""
    import os

    budget = int(os.environ.get("IMPORTANCE_TASKS_MAX_DATA_BYTES") or MAX_DATA_BYTES)
    size = n_rows * n_columns * 4 + (n_rows * STRING_CELL_BYTES if strings else 0)
    if size > budget:
        coding = " (with one string column being coded)" if strings else ""
        raise DataError(
            f"{path.name}: {n_rows:,} rows x {n_columns} columns take {_bytes(size)} as "
            f"float32{coding}, above the {_bytes(budget)} budget for evaluation data; evaluate "
            "on a sample of the rows (a smaller table), or raise IMPORTANCE_TASKS_MAX_DATA_BYTES "
            "where the workers have the memory"
        )


def _bytes(size: int) -> str:
    if size >= 2**30:
        return f"{size / 2**30:.2f} GiB"
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size} bytes"


def load_table(path: str | Path, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a parquet or CSV file into a DataFrame, by its suffix (only ``columns`` if given)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no data file at {path}")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        import pyarrow as pa

        try:
            return pd.read_parquet(path, columns=None if columns is None else list(columns))
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise unreadable(path, "parquet", exc) from None
    if suffix in {".csv", ".txt"}:
        try:
            return pd.read_csv(path, usecols=None if columns is None else list(columns))
        except pd.errors.EmptyDataError:
            raise DataError(f"{path.name} is empty: no header and no rows") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise unreadable(path, "CSV", exc) from None
    raise DataError(f"{path.name}: data must be parquet (.parquet) or CSV (.csv)")


def table_columns(path: str | Path) -> list[str]:
    """The column names of a parquet or CSV file, without reading its rows (a stored pandas
    index is not a column)."""

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no data file at {path}")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as exc:
            raise unreadable(path, "parquet", exc) from None
        index = (schema.pandas_metadata or {}).get("index_columns", [])
        return [c for c in schema.names if c not in index]
    return [str(c) for c in _csv_header(path).columns]


def _csv_header(path: Path) -> pd.DataFrame:
    """A CSV file's header, as an empty table."""
    import pandas as pd

    try:
        return pd.read_csv(path, nrows=0)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name} is empty: no header and no rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise unreadable(path, "CSV", exc) from None


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``, so a
    reader (a dag-processor parsing the folder, a pipeline reading the JSON) never sees half a
    file. The file gets the mode a new file gets under the process's umask (0644 under 022),
    not ``mkstemp``'s 0600, so that a dag-processor running as another user can read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
