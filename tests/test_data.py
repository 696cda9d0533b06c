from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from importance_tasks.data import DataError, EvalData, load_table


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=5), "b": rng.normal(size=5), "y": np.arange(5.0)})


def test_from_frame_splits_target_and_keeps_order():
    data = EvalData.from_frame(_frame(), target="y", feature_names=["a", "b"])
    assert data.feature_names == ("a", "b") and data.X.dtype == np.float32
    np.testing.assert_array_equal(data.y, np.arange(5.0))


def test_reordered_columns_are_an_error_not_a_reorder():
    with pytest.raises(DataError, match="different order"):
        EvalData.from_frame(_frame()[["b", "a", "y"]], target="y", feature_names=["a", "b"])


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


def test_strings_need_an_encoder():
    frame = _frame().assign(colour=list("rgbrg"))
    with pytest.raises(DataError, match=r"columns \['colour'\] are not numeric"):
        EvalData.from_frame(frame, target="y")


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
