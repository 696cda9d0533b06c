from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importance_tasks.data import DataError, EvalData, load_table, read_eval_data


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=5), "b": rng.normal(size=5), "y": np.arange(5.0)})


def test_from_frame_splits_target_and_keeps_order():
    data = EvalData.from_frame(_frame(), target="y", feature_names=["a", "b"])
    assert data.feature_names == ("a", "b") and data.X.dtype == np.float32
    np.testing.assert_array_equal(data.y, np.arange(5.0))


def test_named_columns_are_taken_in_the_model_order_whatever_the_table_order():
    frame = _frame()
    data = EvalData.from_frame(frame[["b", "y", "a"]], target="y", feature_names=["a", "b"])
    assert data.feature_names == ("a", "b")
    np.testing.assert_array_equal(data.X, frame[["a", "b"]].to_numpy(dtype=np.float32))


def test_missing_and_extra_columns_are_named():
    frame = _frame().rename(columns={"b": "c"})
    with pytest.raises(DataError, match=r"missing \['b'\], unexpected \['c'\]"):
        EvalData.from_frame(frame, target="y", feature_names=["a", "b"])


def test_missing_target_lists_columns():
    with pytest.raises(DataError, match=r"target column\(s\) \['t'\] not in the data"):
        EvalData.from_frame(_frame(), target="t")


def test_nan_and_inf_are_named_by_column():
    frame = _frame()
    frame.loc[2, "b"] = np.inf
    with pytest.raises(DataError, match=r"NaN or infinite values .* columns \['b'\]"):
        EvalData.from_frame(frame, target="y")
    with pytest.raises(DataError, match="NaN or infinite"):
        EvalData(X=np.array([[1e39], [0.0]]), y=np.zeros(2), feature_names=("big",))


def test_string_and_category_columns_are_coded_by_their_sorted_values():
    frame = _frame().assign(
        colour=list("rgbrg"),
        size=pd.Categorical(["s", "l", "s", "m", "l"]),
        big=2**40 + np.arange(5),
    )
    data = EvalData.from_frame(frame, target="y")
    assert list(data.categories["colour"]) == ["b", "g", "r"]
    np.testing.assert_array_equal(data.X[:, 2], [2, 1, 0, 2, 1])
    assert list(data.categories["size"]) == ["l", "m", "s"]
    np.testing.assert_array_equal(data.categories["big"], 2**40 + np.arange(5))  # not in float32
    assert data.coded.tolist() == [False, False, True, True, True]
    assert [data.column_type(c) for c in data.feature_names] == [
        "float64", "float64", "string", "category", "int64"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["r", None, "g", "b", "r"], r"column 'colour' has 1 missing values"),
        (["r", np.nan, "g", "b", "r"], r"column 'colour' has 1 missing values"),
        (["r", 1, "g", "b", "r"], r"column 'colour' holds \['int'\] values besides strings"),
    ],
)
def test_missing_or_mixed_values_in_a_string_column_are_named(values, message):
    with pytest.raises(DataError, match=message):
        EvalData.from_frame(_frame().assign(colour=values), target="y")


def test_too_few_rows():
    with pytest.raises(DataError, match="at least 2 evaluation rows"):
        EvalData(X=np.zeros((1, 2)), y=np.zeros(1), feature_names=("a", "b"))


def test_load_table_reads_csv_and_parquet(tmp_path):
    frame = _frame()
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    for name in ("d.csv", "d.parquet"):
        pd.testing.assert_frame_equal(load_table(tmp_path / name), frame)
    with pytest.raises(DataError, match=r"parquet .* or CSV"):
        (tmp_path / "d.json").write_text("{}")
        load_table(tmp_path / "d.json")
    with pytest.raises(DataError, match="no data file"):
        load_table(tmp_path / "none.csv")


def _both(tmp_path, frame: pd.DataFrame, **options):
    """The table loaded through the streamed parquet reader and through pandas + from_frame."""
    path = tmp_path / "d.parquet"
    frame.to_parquet(path, index=False, row_group_size=4)  # several row groups
    outcomes = []
    for load in (
        lambda: read_eval_data(path, **options),
        lambda: EvalData.from_frame(frame, **options),
    ):
        try:
            outcomes.append(load())
        except DataError as exc:
            outcomes.append(exc)
    return outcomes


def test_streamed_parquet_equals_the_dataframe_path(tmp_path, monkeypatch):
    monkeypatch.setattr("importance_tasks.data.READ_BYTES", 8 * 4 * 2)  # 2 columns a read
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "f": rng.normal(size=11),
            "i": rng.integers(-5, 5, size=11),
            "b": rng.random(11) > 0.5,
            "s": rng.choice(["x", "yy", "z"], size=11),
            "c": pd.Categorical(rng.choice(["lo", "hi"], size=11)),
            "big": rng.integers(0, 3, size=11) + 2**40,
            "w": rng.random(11),
            "y": rng.integers(0, 3, size=11),
        }
    )
    frame.index = frame.index * 3  # not a RangeIndex: pandas stores it as a column
    frame.to_parquet(tmp_path / "indexed.parquet")
    indexed = read_eval_data(tmp_path / "indexed.parquet", target="y", sample_weight="w")
    features = ("f", "i", "b", "s", "c", "big")
    assert indexed.feature_names == features
    streamed, framed = _both(tmp_path, frame, target="y", sample_weight="w")
    assert streamed.feature_names == framed.feature_names == features
    np.testing.assert_array_equal(streamed.X, framed.X)
    assert streamed.categories.keys() == framed.categories.keys() == {"s", "c", "big"}
    for name, vocabulary in streamed.categories.items():
        np.testing.assert_array_equal(vocabulary, framed.categories[name])
    assert streamed.column_types == framed.column_types
    np.testing.assert_array_equal(streamed.y, framed.y)
    np.testing.assert_array_equal(streamed.sample_weight, framed.sample_weight)


def test_both_readers_take_named_columns_in_the_model_order(tmp_path):
    frame = _frame()
    streamed, framed = _both(tmp_path, frame[["y", "b", "a"]], target="y", feature_names=["a", "b"])
    for data in (streamed, framed):
        assert data.feature_names == ("a", "b")
        np.testing.assert_array_equal(data.X, frame[["a", "b"]].to_numpy(dtype=np.float32))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.rename(columns={"b": "c"}), r"missing \['b'\], unexpected \['c'\]"),
        (lambda f: f.assign(b=[1.0, None, 2.0, 3.0, 4.0]), r"NaN or infinite .*\['b'\]"),
        (lambda f: f.assign(b=[1e39, 0, 0, 0, 0]), r"NaN or infinite .*\['b'\]"),
        (lambda f: f.assign(b=["r", None, "g", "b", "r"]), r"column 'b' has 1 missing values"),
        (lambda f: f.head(1), "at least 2 evaluation rows"),
        (lambda f: f.drop(columns="y"), r"target column\(s\) \['y'\] not in the data"),
    ],
)
def test_streamed_parquet_refuses_what_the_dataframe_path_refuses(tmp_path, change, message):
    for outcome in _both(tmp_path, change(_frame()), target="y", feature_names=["a", "b"]):
        assert isinstance(outcome, DataError)
        assert re.search(message, str(outcome)), str(outcome)


COLUMN = st.sampled_from(
    ["float", "int", "bool", "str", "str_null", "category", "bigint", "nan", "inf", "huge"]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(COLUMN, min_size=1, max_size=5),
    n_rows=st.integers(min_value=0, max_value=7),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fuzzed_tables_load_or_fail_with_a_data_error(tmp_path, kinds, n_rows, shuffle, seed):
    """Whatever the table holds, loading gives the same checked data on both paths or a
    DataError naming the problem; never another exception, never unchecked values."""
    rng = np.random.default_rng(seed)
    values = {
        "float": lambda: rng.normal(size=n_rows),
        "int": lambda: rng.integers(-3, 3, size=n_rows),
        "bool": lambda: rng.random(n_rows) > 0.5,
        "str": lambda: rng.choice(["a", "b"], size=n_rows).astype(object),
        "str_null": lambda: np.where(rng.random(n_rows) > 0.5, None, "a"),
        "category": lambda: pd.Categorical(rng.choice(["p", "q"], size=n_rows)),
        "bigint": lambda: rng.integers(0, 2, size=n_rows) + 2**50,
        "nan": lambda: np.where(rng.random(n_rows) > 0.5, np.nan, 1.0),
        "inf": lambda: np.where(rng.random(n_rows) > 0.5, -np.inf, 1.0),
        "huge": lambda: np.full(n_rows, 1e300),
    }
    names = [f"c{i}" for i in range(len(kinds))]
    frame = pd.DataFrame({n: values[k]() for n, k in zip(names, kinds, strict=True)})
    frame["y"] = rng.normal(size=n_rows)
    expected = list(names)
    if shuffle and len(names) > 1:
        frame = frame[[*reversed(names), "y"]]
    streamed, framed = _both(tmp_path, frame, target="y", feature_names=expected)
    assert type(streamed) is type(framed)
    if isinstance(streamed, DataError):
        return
    np.testing.assert_array_equal(streamed.X, framed.X)
    assert np.isfinite(streamed.X).all() and streamed.X.dtype == np.float32
    assert streamed.n_rows == n_rows >= 2
    # A str_null column that loads drew no None: it is a plain string column.
    coding = {"str", "str_null", "category", "bigint"}
    coded = {n for n, k in zip(names, kinds, strict=True) if k in coding}
    assert streamed.categories.keys() == framed.categories.keys() == coded


def test_data_above_the_memory_budget_is_refused_with_its_size(tmp_path, monkeypatch):
    frame = _frame()
    monkeypatch.setenv("IMPORTANCE_TASKS_MAX_DATA_BYTES", "56")  # 5 rows x 3 x 4 bytes = 60
    for name in ("d.parquet", "d.csv"):
        if name.endswith("parquet"):
            frame.to_parquet(tmp_path / name)
        else:
            frame.to_csv(tmp_path / name, index=False)
        with pytest.raises(DataError, match=r"5 rows x 3 columns take 60 bytes .* the 56 bytes"):
            read_eval_data(tmp_path / name, target="y")
    monkeypatch.setenv("IMPORTANCE_TASKS_MAX_DATA_BYTES", "60")
    assert read_eval_data(tmp_path / "d.parquet", target="y").n_rows == 5
    frame.assign(colour=list("rgbrg")).to_parquet(tmp_path / "s.parquet")  # 80 + 5 x 64 bytes
    with pytest.raises(DataError, match=r"400 bytes as float32 \(with one string column"):
        read_eval_data(tmp_path / "s.parquet", target="y")


def _broken_files(folder):
    """Files a new user may hand over: empty, a header only, cut short, not the format."""
    frame = _frame()
    frame.to_parquet(folder / "whole.parquet")
    whole = (folder / "whole.parquet").read_bytes()
    (folder / "truncated.parquet").write_bytes(whole[: len(whole) // 2])
    middle = len(whole) // 3  # the footer intact, the column pages garbled
    (folder / "corrupt.parquet").write_bytes(whole[:8] + bytes(middle) + whole[8 + middle :])
    (folder / "empty.parquet").write_bytes(b"")
    (folder / "text.parquet").write_text("a,b,y\n1,2,3\n")
    (folder / "empty.csv").write_text("")
    (folder / "header.csv").write_text(",".join(frame.columns) + "\n")
    (folder / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (folder / "ragged.csv").write_text("a,b,y\n1,2,3\n4,5,6,7,8\n")
    return {
        "truncated.parquet": "cannot be read as parquet",
        "corrupt.parquet": "cannot be read as parquet",
        "empty.parquet": "cannot be read as parquet",
        "text.parquet": "cannot be read as parquet",
        "empty.csv": "is empty",
        "header.csv": "no rows",
        "binary.csv": "cannot be read as CSV",
        "ragged.csv": "cannot be read as CSV",
    }


def test_broken_files_are_data_errors_that_say_what_is_wrong(tmp_path):
    for name, message in _broken_files(tmp_path).items():
        with pytest.raises(DataError, match=message):
            read_eval_data(tmp_path / name, target="y")
