"""Evaluation data: loading tables and checking them before any model runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.columns import code_column, coded_ints, describe
from importance_tasks.errors import DataError
from importance_tasks.tables import PARQUET_SUFFIXES, check_size, load_table, unreadable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BATCH_ROWS",
    "DataError",
    "EvalData",
    "frame_columns",
    "load_table",
    "missing_and_extra",
    "read_eval_data",
    "unnamed_columns_warning",
]

BATCH_ROWS = 65_536  # rows per validation chunk
READ_BYTES = 8 * 2**20  # parquet is read a row group and a few columns (about this much) at a time

MIN_ROWS = 2


@dataclass(frozen=True)
class EvalData:
    """Validated evaluation rows.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features), float32
        Numbers as themselves; a coded column (see ``importance_tasks.columns``) as indices
        into its vocabulary.
    y : ndarray of shape (n_rows,) or (n_rows, n_targets)
    feature_names : tuple of str
    sample_weight : ndarray of shape (n_rows,) or None
    categories : mapping of column name to vocabulary
        The coded columns (strings, categories, integers beyond 2**24) and their values.
    column_types : mapping of column name to type name
        As loaded (``float64``, ``int64``, ``bool``, ``string``, ``category``); for display.
        Columns not listed are ``float32``.
    """

    X: NDArray[np.float32]
    y: NDArray[Any]
    feature_names: tuple[str, ...]
    sample_weight: NDArray[np.float64] | None = None
    categories: Mapping[str, NDArray[Any]] = field(default_factory=dict)
    column_types: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim != 2:
            raise DataError(f"X must be 2-dimensional (rows, features), got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise DataError(f"X must be real numbers, got dtype {X.dtype}")
        if X.shape[0] < MIN_ROWS:
            raise DataError(f"need at least {MIN_ROWS} evaluation rows, got {X.shape[0]}")
        if len(self.feature_names) != X.shape[1]:
            raise DataError(
                f"{len(self.feature_names)} feature names for {X.shape[1]} columns of X"
            )
        if len(set(self.feature_names)) != len(self.feature_names):
            raise DataError(f"feature names repeat: {list(self.feature_names)}")
        with np.errstate(over="ignore", invalid="ignore"):
            X32 = X.astype(np.float32, copy=False)
        finite = np.ones(X32.shape[1], dtype=bool)
        for start in range(0, X32.shape[0], BATCH_ROWS):  # no (rows x features) mask at once
            finite &= np.isfinite(X32[start : start + BATCH_ROWS]).all(axis=0)
        bad = np.flatnonzero(~finite)
        if bad.size:
            names = [self.feature_names[i] for i in bad]
            raise DataError(
                f"NaN or infinite values (after conversion to float32) in columns {names}; "
                "impute or drop those rows before computing importance"
            )
        y = np.asarray(self.y)
        if y.shape[0] != X.shape[0]:
            raise DataError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
        if np.issubdtype(y.dtype, np.number) and not np.isfinite(y).all():
            raise DataError("the target has NaN or infinite values; drop those rows")
        weight = self.sample_weight
        if weight is not None:
            weight = np.asarray(weight, dtype=np.float64)
            if weight.shape != (X.shape[0],) or not np.isfinite(weight).all() or (weight < 0).any():
                raise DataError("sample_weight must be finite, non-negative, one per row")
        self._check_codes(X32)
        object.__setattr__(self, "X", X32)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "feature_names", tuple(map(str, self.feature_names)))
        object.__setattr__(self, "sample_weight", weight)
        object.__setattr__(self, "categories", dict(self.categories))
        object.__setattr__(self, "column_types", dict(self.column_types))

    def _check_codes(self, X: NDArray[np.float32]) -> None:
        unknown = sorted(set(self.categories) - set(self.feature_names))
        if unknown:
            raise DataError(f"categories given for columns {unknown} that are not features")
        for j, name in enumerate(self.feature_names):
            vocabulary = self.categories.get(name)
            if vocabulary is None:
                continue
            codes = X[:, j]
            if (codes < 0).any() or (codes >= len(vocabulary)).any() or (codes % 1).any():
                raise DataError(
                    f"column {name!r} is coded but holds values that are not indices into its "
                    f"{len(vocabulary)} categories"
                )

    @property
    def coded(self) -> NDArray[np.bool_]:
        """Per feature column, whether it holds codes (see ``categories``)."""
        return np.array([name in self.categories for name in self.feature_names], dtype=bool)

    def column_type(self, name: str) -> str:
        """The type ``name`` was loaded as (``float32`` where nothing was recorded)."""
        return self.column_types.get(name, "float32")

    def described_types(self) -> dict[str, str]:
        """Each feature column's type for people: ``float64``, ``string (12 values)``."""
        return {
            name: describe(self.categories, name, self.column_type(name))
            for name in self.feature_names
        }

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    def for_target(self, index: int) -> EvalData:
        """These rows with target column ``index`` of ``y`` alone (one output of several),
        in the column's own type."""
        column = np.asarray(self.y)[:, index]
        y = np.asarray(column.tolist()) if column.dtype == object else column
        return dataclasses.replace(self, y=y)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        target: str | Sequence[str],
        feature_names: Sequence[str] | None = None,
        sample_weight: str | None = None,
        ignore: Sequence[str] = (),
    ) -> EvalData:
        """Split a table into features and target, checking columns against the model.

        Parameters
        ----------
        frame : pandas.DataFrame
        target : str or sequence of str
            Target column(s).
        feature_names : sequence of str, optional
            The model's input columns in its order. When given, the table must hold exactly
            these columns (besides target and weight), in any order; they are taken in this
            order. A missing or unexpected column is an error.
        sample_weight : str, optional
            Column holding per-row weights.
        ignore : sequence of str
            Columns that are neither features nor targets (another output's target).
        """
        targets = [target] if isinstance(target, str) else list(target)
        missing = [t for t in targets if t not in frame.columns]
        if missing:
            raise DataError(
                f"target column(s) {missing} not in the data; its columns are {list(frame.columns)}"
            )
        drop = targets + ([sample_weight] if sample_weight else [])
        features = frame.drop(columns=[*drop, *(c for c in ignore if c in frame.columns)])
        actual = [str(c) for c in features.columns]
        if feature_names is not None:
            actual = _check_columns(actual, list(feature_names))
            features = features.set_axis(features.columns.map(str), axis=1)[actual]
        _check_rows(len(frame))
        y_frame = frame[targets[0]] if len(targets) == 1 else frame[targets]
        X, categories, types = frame_columns(features)
        return cls(
            X=X,
            y=y_frame.to_numpy(),
            feature_names=tuple(actual),
            sample_weight=frame[sample_weight].to_numpy() if sample_weight else None,
            categories=categories,
            column_types=types,
        )


def frame_columns(
    features: pd.DataFrame,
) -> tuple[NDArray[np.float32], dict[str, NDArray[Any]], dict[str, str]]:
    """The feature table as one float32 matrix, the coded columns' vocabularies, and each
    column's type."""
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    X = np.empty(features.shape, dtype=np.float32)
    categories: dict[str, NDArray[Any]] = {}
    types: dict[str, str] = {}
    for j, (column, dtype) in enumerate(features.dtypes.items()):
        name, series = str(column), features.iloc[:, j]
        if isinstance(dtype, pd.CategoricalDtype) and is_numeric_dtype(dtype.categories.dtype):
            series, dtype = series.astype(dtype.categories.dtype), dtype.categories.dtype
        if is_numeric_dtype(dtype) or is_bool_dtype(dtype):
            types[name] = str(dtype)
            values = series.to_numpy()
            if not coded_ints(values):
                with np.errstate(over="ignore", invalid="ignore"):
                    X[:, j] = series.to_numpy(dtype=np.float32, na_value=np.nan)
                continue
        else:
            types[name] = "category" if str(dtype) == "category" else "string"
            values = series.to_numpy(dtype=object)
        X[:, j], categories[name] = code_column(name, values)
    return X, categories, types


def unnamed_columns_warning(n_columns: int) -> str:
    """What to say when a matrix input's columns were taken in the table's order, unchecked."""
    return (
        f"nothing names the model's {n_columns} input columns: they were taken in the table's "
        "order, unchecked (feature_names, --feature-names a,b,..., checks them by name)"
    )


def missing_and_extra(
    actual: Sequence[str], expected: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The expected columns ``actual`` lacks, and the columns it has beyond them."""
    return [c for c in expected if c not in actual], [c for c in actual if c not in expected]


def _check_columns(actual: list[str], expected: list[str]) -> list[str]:
    """The table's feature columns in the model's order: matched by name, in any order; a
    missing or unexpected column is refused, naming both lists."""
    missing, extra = missing_and_extra(actual, expected)
    if missing or extra:
        raise DataError(
            f"the data's feature columns do not match the model's: missing {missing}, "
            f"unexpected {extra}; the model expects {expected}"
        )
    return list(expected)


def read_eval_data(
    path: str | Path,
    *,
    target: str | Sequence[str],
    feature_names: Sequence[str] | None = None,
    sample_weight: str | None = None,
    ignore: Sequence[str] = (),
) -> EvalData:
    """Load and check an evaluation table from a parquet or CSV file.

    Tables larger than ``MAX_DATA_BYTES`` as float32 are refused with their size before they
    are read (parquet) or converted (CSV).

    Parquet is read one row group and a few columns (``READ_BYTES``) at a time straight into
    one float32 array, so a table takes about rows x features x 4 bytes (1,000,000 x 100:
    400 MB) instead of the several float64 copies a DataFrame round trip makes (measured by
    ``benchmarks/memory.py``). Checks and ``ignore`` as in ``EvalData.from_frame``.
    """
    path = Path(path)
    if path.suffix.lower() not in PARQUET_SUFFIXES:
        frame = load_table(path)
        check_size(len(frame), frame.shape[1], path)
        return EvalData.from_frame(
            frame, target=target, feature_names=feature_names, sample_weight=sample_weight,
            ignore=ignore,
        )  # fmt: skip
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DataError(f"no data file at {path}")
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(path, "parquet", exc) from None
    schema = file.schema_arrow
    columns = list(schema.names)
    targets = [target] if isinstance(target, str) else list(target)
    missing = [t for t in targets if t not in columns]
    if missing:
        raise DataError(f"target column(s) {missing} not in the data; its columns are {columns}")
    drop = targets + ([sample_weight] if sample_weight else [])
    # A DataFrame's stored index (pandas writes e.g. "__index_level_0__") is not a feature.
    index = [
        c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)
    ]
    features = [c for c in columns if c not in [*drop, *index, *ignore]]
    if feature_names is not None:
        features = _check_columns(features, list(feature_names))
    _check_rows(file.metadata.num_rows)
    numeric = [c for c in features if _arrow_numeric(schema.field(c).type)]
    strings = [c for c in features if _arrow_strings(schema.field(c).type)]
    others = [c for c in features if c not in numeric and c not in strings]
    if others:
        kinds = [f"{c} ({schema.field(c).type})" for c in others]
        raise DataError(
            f"columns {kinds} have types that cannot be evaluated; give numbers, booleans or "
            "strings (e.g. cast timestamps to numbers the way the model was trained)"
        )
    check_size(file.metadata.num_rows, len(features) + len(drop), path, strings=bool(strings))
    X = np.empty((file.metadata.num_rows, len(features)), dtype=np.float32)
    position = {c: j for j, c in enumerate(features)}
    wide_ints: set[str] = set()
    ys: list[NDArray[Any]] = []
    weights: list[NDArray[Any]] = []
    try:
        offset = 0
        for group in range(file.metadata.num_row_groups):
            n = file.metadata.row_group(group).num_rows
            step = max(1, READ_BYTES // max(8 * n, 1))  # columns per read: about READ_BYTES each
            for first in range(0, len(numeric), step):
                names = numeric[first : first + step]
                part = file.read_row_group(group, columns=names, use_threads=False)
                for name in names:  # nulls become NaN, refused below
                    column = part.column(name)
                    if pa.types.is_integer(column.type) and coded_ints(_min_max(column)):
                        wide_ints.add(name)
                        continue
                    X[offset : offset + n, position[name]] = column.cast(
                        pa.float32(), safe=False
                    ).to_numpy(zero_copy_only=False)
            extra = file.read_row_group(group, columns=drop, use_threads=False)
            y = [extra.column(t).to_numpy(zero_copy_only=False) for t in targets]
            ys.append(y[0] if len(y) == 1 else np.column_stack(y))
            if sample_weight:
                weights.append(extra.column(sample_weight).to_numpy(zero_copy_only=False))
            offset += n
        categories: dict[str, NDArray[Any]] = {}
        for name in [c for c in features if c in wide_ints or c in strings]:  # whole columns
            column = file.read(columns=[name], use_threads=False).column(0)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            values = column.to_numpy(zero_copy_only=False)
            X[:, position[name]], categories[name] = code_column(name, values)
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(path, "parquet", exc) from None
    return EvalData(
        X=X,
        y=np.concatenate(ys),
        feature_names=tuple(features),
        sample_weight=np.concatenate(weights) if sample_weight else None,
        categories=categories,
        column_types={c: _arrow_type_name(schema.field(c).type) for c in features},
    )


def _arrow_numeric(kind: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    )


def _arrow_strings(kind: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        return _arrow_strings(kind.value_type)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _arrow_type_name(kind: Any) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        return "category"
    if _arrow_strings(kind):
        return "string"
    return str(np.dtype(kind.to_pandas_dtype()))


def _min_max(column: Any) -> NDArray[Any]:
    import pyarrow.compute as pc

    bounds = pc.min_max(column)
    return np.array([v.as_py() or 0 for v in bounds.values()])


def _check_rows(n_rows: int) -> None:
    if n_rows == 0:
        raise DataError("the table has no rows (a header only?); evaluation needs data rows")
    if n_rows < MIN_ROWS:
        raise DataError(f"need at least {MIN_ROWS} evaluation rows, got {n_rows}")
