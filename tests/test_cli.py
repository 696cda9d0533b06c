from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from importance_tasks.cli.commands import main
from importance_tasks.config import DEFAULT_METHODS


@pytest.fixture(scope="module")
def files(friedman, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cli")
    model_path = folder / "friedman.keras"
    friedman.model.keras_model.save(model_path)
    frame = pd.DataFrame(friedman.data.X, columns=friedman.data.feature_names)
    frame["y"] = friedman.data.y
    data_path = folder / "eval.parquet"
    frame.to_parquet(data_path)
    return model_path, data_path


def test_explain_prints_ranking_and_writes_the_json_contract(files, tmp_path, capsys):
    model_path, data_path = files
    out = tmp_path / "result.json"
    code = main(
        [
            "explain",
            "--model",
            str(model_path),
            "--data",
            str(data_path),
            "--target",
            "y",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr()
    header = printed.out.splitlines()[0].split()
    assert header[:5] == ["rank", "interval", "feature", "type", "perm"]
    assert max(len(line) for line in printed.out.splitlines()[:12]) <= 100
    assert "permutation:" in printed.err  # progress
    payload = json.loads(out.read_text())
    import keras

    assert payload["backend"] == keras.backend.backend()
    assert set(payload) == {
        "backend",
        "features",
        "column_types",
        "methods",
        "consensus",
        "clusters",
        "cluster_importance",
        "interactions",
        "interaction_total_h2",
        "interaction_evaluations",
        "interaction_rows",
        "effects",
        "feature_names_checked",
        "negligible",
        "unseen",
    }
    assert payload["negligible"] == ["x5", "x6", "x7", "x8", "x9"]  # Friedman #1's noise
    assert payload["unseen"] == {}
    # Friedman #1: 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4: the one interacting pair
    # comes first; x3 and x4 rise, x2 is a U.
    assert set(payload["interactions"][0]["features"]) == {"x0", "x1"}
    effects = payload["effects"]
    assert effects["x3"]["direction"] == effects["x4"]["direction"] == "rises"
    assert effects["x2"]["direction"] == "U-shaped"
    assert "acting together" in printed.out and "which way: " in printed.out
    # a local .keras file whose columns nothing names: taken in order, said twice
    assert payload["feature_names_checked"] is False
    assert "warning: nothing names the model's 10 input columns" in printed.err
    assert payload["features"] == [f"x{i}" for i in range(10)]
    assert list(payload["methods"]) == list(DEFAULT_METHODS)  # every method by default
    for name in DEFAULT_METHODS:
        method = payload["methods"][name]
        assert set(method) == {
            "importance",
            "std",
            "rank",
            "rank_interval",
            "p_top_5",
            "seconds",
            "settings",
            "status",
        }
        assert method["status"] == "complete"
        assert set(method["importance"]) == set(payload["features"])
        assert all(isinstance(r, int) and r >= 1 for r in method["rank"].values())
        assert method["seconds"] >= 0
    top5 = sorted(payload["features"], key=payload["consensus"]["rank"].get)[:5]
    assert set(top5) == {"x0", "x1", "x2", "x3", "x4"}


def test_groups_from_the_command_line(files, tmp_path, capsys):
    model_path, data_path = files
    out = tmp_path / "g.json"
    assert (
        main(
            [
                "explain",
                "--model",
                str(model_path),
                "--data",
                str(data_path),
                "--target",
                "y",
                "--methods",
                "permutation",
                "--group",
                "noise=x5,x6,x7,x8,x9",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["features"] == ["x0", "x1", "x2", "x3", "x4", "noise"]


def test_errors_name_the_problem_and_exit_2(files, tmp_path, capsys):
    model_path, data_path = files
    assert (
        main(
            [
                "explain",
                "--model",
                str(model_path),
                "--data",
                str(data_path),
                "--target",
                "nope",
                "--json",
                str(tmp_path / "x.json"),
            ]
        )
        == 2
    )
    assert "target column(s) ['nope'] not in the data" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    assert (
        main(
            [
                "explain",
                "--model",
                str(tmp_path / "m.keras"),
                "--data",
                str(data_path),
                "--target",
                "y",
            ]
        )
        == 2
    )
    assert "no model file" in capsys.readouterr().err
    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"\x89HDF")
    assert main(["explain", "--model", str(h5), "--data", str(data_path), "--target", "y"]) == 2
    assert "only Keras 3 '.keras' archives" in capsys.readouterr().err


def test_console_script_is_installed(files):
    model_path, data_path = files
    script = Path(sys.executable).parent / "importance-tasks"
    result = subprocess.run(
        [
            str(script),
            "explain",
            "--model",
            str(model_path),
            "--data",
            str(data_path),
            "--target",
            "y",
            "--methods",
            "weights",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr
    assert "weights" in result.stdout.splitlines()[0]


def test_method_options_reach_the_method_and_show_in_the_json(files, tmp_path):
    model_path, data_path = files
    out = tmp_path / "r.json"
    base = ["explain", "--model", str(model_path), "--data", str(data_path), "--target", "y"]
    code = main(
        [
            *base,
            "--methods",
            "shap,probe",
            "--option",
            "shap.max_evals=60",
            "--option",
            "shap.max_samples=20",
            "--option",
            "probe.baseline=median",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    methods = json.loads(out.read_text())["methods"]
    assert methods["shap"]["settings"]["max_evals"] == 60
    assert methods["shap"]["settings"]["n_rows"] == 20
    assert methods["probe"]["settings"]["baseline"] == "median"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--option", "shap.max_eval=60"], r"\['shap'\]: unknown options \['max_eval'\]"),
        (["--option", "shap.max_evals=-3"], "max_evals"),
        (["--option", "shap=60"], "expected METHOD.KEY=VALUE"),
        (["--option", "lime.num_samples=10", "--methods", "probe"], "do not run"),
        (["--scoring", "log_loss"], "scoring='log_loss' needs class probabilities"),
        (["--seed", "-1"], "seed=-1"),
    ],
)
def test_bad_settings_exit_2_naming_them(files, capsys, flags, message):
    import re

    model_path, data_path = files
    base = ["explain", "--model", str(model_path), "--data", str(data_path), "--target", "y"]
    assert main([*base, "--methods", "permutation,shap,lime", *flags]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_every_setting_has_a_flag(capsys):
    from importance_tasks.config import settings

    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    text = capsys.readouterr().out
    for setting in settings():
        flag = {"groups": "--group", "clusters": "--cluster", "method_options": "--option"}.get(
            setting.name, "--" + setting.name.replace("_", "-")
        )
        assert flag in text, setting.name


def test_broken_data_files_exit_2_with_an_error_line(files, tmp_path, capsys):
    from tests.test_data import _broken_files

    model_path, _ = files
    for name, message in _broken_files(tmp_path).items():
        args = ["explain", "--model", str(model_path), "--data", str(tmp_path / name)]
        assert main([*args, "--target", "y", "--methods", "weights"]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, (name, err)


def test_the_table_shows_the_top_features_and_says_how_many_more():
    import time

    import numpy as np

    from importance_tasks.analysis import Analysis
    from importance_tasks.cli.commands import format_ranking
    from importance_tasks.methods._common import FeatureRow, make_result
    from importance_tasks.ranking.ranks import consensus

    names = [f"feature_{i:03d}" for i in range(40)]
    rows = [FeatureRow(n, np.array([i]), (n,)) for i, n in enumerate(names)]
    results = {
        m: make_result(m, rows, mean=np.linspace(1, 0, 40) + k * 1e-3, std=np.zeros(40),
                       settings={}, started=time.perf_counter())
        for k, m in enumerate(["permutation", "probe", "weights", "integrated_gradients",
                               "shap", "lime", "sage"])
    }  # fmt: skip
    analysis = Analysis(results=results, consensus=consensus(list(results.values())))
    table = format_ranking(analysis).splitlines()
    assert table[2].split()[:3] == ["1", "1", "feature_000"] and len(table) == 2 + 15 + 4
    assert "(25 more features: --top N or --all)" in table
    assert max(len(line) for line in table) <= 100  # seven methods fit a terminal
    # The last two carry under 5% of the top feature by every method: negligible, marked.
    assert "negligible (~: barely used, by every method): feature_038, feature_039" in table
    everything = format_ranking(analysis, top=None).splitlines()
    assert len(everything) == 2 + 40 + 3
    assert [line.split()[2] for line in everything[2:42]][-3:] == [
        "feature_037", "feature_038~", "feature_039~",
    ]  # fmt: skip


def test_register_webhook_creates_then_updates_one_webhook(tmp_path, monkeypatch, capsys):
    import mlflow

    from importance_tasks.mlflow_io.training import prepare_local_store

    uri = prepare_local_store(tmp_path, experiments=("Default",))
    monkeypatch.setenv("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")  # a loopback receiver
    args = [
        "register-webhook",
        "--tracking-uri",
        uri,
        "--url",
        "https://127.0.0.1/importance/mlflow",
    ]
    monkeypatch.delenv("IMPORTANCE_WEBHOOK_SECRET", raising=False)
    assert main(args) == 2 and "set IMPORTANCE_WEBHOOK_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("IMPORTANCE_WEBHOOK_SECRET", "s")
    assert main(args) == 0
    assert main([*args[:-1], "https://127.0.0.2/importance/mlflow"]) == 0
    hooks = list(mlflow.MlflowClient(uri).list_webhooks())
    assert len(hooks) == 1 and hooks[0].url == "https://127.0.0.2/importance/mlflow"
    assert {str(e) for e in hooks[0].events} == {
        "model_version.created",
        "model_version_alias.created",
    }
