"""The one analysis configuration: validation at the door, and everything derived from it."""

from __future__ import annotations

import inspect
import json

import pytest

from importance_tasks.config import DEFAULT_METHODS, AnalysisConfig, settings
from importance_tasks.errors import InputError
from importance_tasks.methods import REGISTRY, method_options_schema


def test_defaults_build_every_method_with_the_seed():
    config = AnalysisConfig()
    assert config.methods == DEFAULT_METHODS
    for method in config.methods:
        options = config.options_for(method)
        if "random_state" in inspect.signature(REGISTRY[method]).parameters:
            assert options["random_state"] == 0


def test_method_options_reach_the_method_and_shortcuts_yield_to_them():
    config = AnalysisConfig(
        methods=("permutation", "shap"),
        method_options={"shap": {"max_evals": 60}, "permutation": {"max_samples": 0.5}},
        n_repeats=7,
        max_samples=300.0,
        seed=3,
    )
    assert config.options_for("shap")["max_evals"] == 60
    permutation = config.options_for("permutation")
    assert permutation["n_repeats"] == 7  # the shortcut
    assert permutation["max_samples"] == 0.5  # the explicit option wins over the shortcut
    assert config.max_samples == 300 and isinstance(config.max_samples, int)
    assert config.identity()["options"]["shap"]["max_evals"] == 60


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"methods": []}, r"methods=\[\] is not allowed; it must be a list of distinct names from"),
        (
            {"methods": ["permutation", "nope"]},
            r"methods\[1\]='nope' is not allowed; it must be one",
        ),
        ({"methods": "permutation"}, "must be a list"),
        ({"seed": -1}, "seed=-1 is not allowed; it must be an integer >= 0"),
        ({"seed": 1.5}, "seed=1.5"),
        ({"scoring": "f1"}, r"scoring='f1' is not allowed; it must be one of \['auto', 'mse'"),
        ({"method_options": {"lime": {"num_samples": 10}}, "methods": ["shap"]}, "do not run"),
        (
            {"method_options": {"shap": {"max_eval": 10}}},
            r"\['shap'\]: unknown options \['max_eval'\]",
        ),
        ({"method_options": {"shap": {"algorithm": "fast"}}}, r"\['algorithm'\]='fast' is not"),
        ({"method_options": {"lime": {"num_samples": 0}}}, "num_samples"),
        ({"method_options": {"permutation": {"permutations": [[0, 1]]}}}, "unknown options"),
        ({"n_repeats": 0}, r"n_repeats=0 is not allowed; it must be an integer >= 1 \(or empty\)"),
        ({"max_samples": 0}, r"max_samples=0 is not allowed; it must be a number > 0"),
        ({"shard_rows": 1}, "shard_rows"),
        (
            {"groups": {"g": []}},
            r"groups\['g'\]=\[\] is not allowed; it must be a list of names, at",
        ),
        ({"sanity_check": "yes"}, "sanity_check"),
    ],
)
def test_bad_settings_are_input_errors_naming_the_setting(values, message):
    with pytest.raises(InputError, match=message):
        AnalysisConfig.from_settings(values)


def test_unknown_setting_names_are_refused():
    with pytest.raises(InputError, match=r"unknown settings \['n_repeat'\]"):
        AnalysisConfig.from_settings({"n_repeat": 3})


def test_settings_round_trip_through_json():
    config = AnalysisConfig(
        methods=("probe", "lime"),
        method_options={"lime": {"num_samples": 200}},
        groups={"pair": ["a", "b"]},
        sanity_check=True,
        shard_rows=1000,
    )
    again = AnalysisConfig.from_settings(json.loads(json.dumps(config.to_settings())))
    assert again == config
    assert again.digest() == config.digest()
    assert AnalysisConfig(seed=1).digest() != AnalysisConfig(seed=2).digest()


def test_every_setting_is_declared_with_help_and_a_schema():
    names = [s.name for s in settings()]
    assert names == [f.name for f in __import__("dataclasses").fields(AnalysisConfig)]
    for setting in settings():
        assert setting.help and setting.schema.get("type"), setting.name


def test_method_options_schema_comes_from_the_methods_declarations():
    schema = method_options_schema()["properties"]
    assert set(schema) == set(REGISTRY)
    max_evals = schema["shap"]["properties"]["max_evals"]
    assert {k: max_evals[k] for k in ("type", "minimum", "default")} == {
        "type": "integer", "minimum": 0, "default": 0,
    }  # fmt: skip
    assert max_evals["description"]
    assert schema["shap"]["properties"]["algorithm"]["enum"] == ["auto", "permutation", "exact"]
    assert schema["lime"]["properties"]["max_samples"]["type"] == "number"
    assert "random_state" not in schema["permutation"]["properties"]
    assert "permutations" not in schema["permutation"]["properties"]
    for method, entry in schema.items():  # every option typed and helped: the form's
        for name, option in entry["properties"].items():
            assert "type" in option and option["description"], (method, name)


def test_the_schema_accepts_the_defaults_and_refuses_a_wrong_type():
    import jsonschema

    schema = method_options_schema()
    jsonschema.validate({"shap": {"max_evals": 60}, "probe": {"baseline": "median"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"shap": {"max_evals": "many"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"probe": {"baseline": "mode"}}, schema)


def test_an_analysis_time_guard_is_shared_by_the_guarded_methods_and_not_their_identity():
    # In proportion to their typical work at 100 features: shap 6 s, sage 25 s, lime 0.4 s.
    config = AnalysisConfig(time_budget_s=31.4)
    shares = {m: config.options_for(m).get("time_budget_s") for m in config.methods}
    assert shares == {
        "permutation": None, "conditional_permutation": None, "probe": None, "weights": None,
        "integrated_gradients": None, "shap": pytest.approx(6.0), "lime": pytest.approx(0.4),
        "sage": pytest.approx(25.0),
    }  # fmt: skip
    # A guard changes whether a method completes, never its numbers: the same analysis.
    assert config.digest() == AnalysisConfig().digest()
    assert AnalysisConfig(method_options={"shap": {"time_budget_s": 5}}).digest() == (
        AnalysisConfig().digest()
    )
    assert AnalysisConfig(method_options={"shap": {"n_background": 50}}).digest() != (
        AnalysisConfig().digest()
    )
    alone = AnalysisConfig(methods=["shap", "permutation"], time_budget_s=50)
    assert alone.options_for("shap")["time_budget_s"] == 50.0
    mine = AnalysisConfig(time_budget_s=50, method_options={"sage": {"time_budget_s": 3}})
    assert mine.options_for("sage")["time_budget_s"] == 3  # a method's own option wins
    with pytest.raises(
        InputError, match=r"time_budget_s=-1 is not allowed; it must be a number >= 0"
    ):
        AnalysisConfig(time_budget_s=-1)


def test_the_trust_settings_are_checked_with_their_allowed_range():
    for given, message in (
        (
            {"cluster_threshold": 0},
            r"cluster_threshold=0 is not allowed; it must be a number in \(0, 1\]",
        ),
        ({"cluster_threshold": "high"}, "cluster_threshold='high' is not allowed; it must be a n"),
        (
            {"drift_threshold": 1.5},
            r"drift_threshold=1.5 is not allowed; it must be a number in \[0, 1\]",
        ),
        ({"top_k": 0}, "top_k=0 is not allowed; it must be an integer >= 1"),
        ({"auto_groups": "yes"}, "auto_groups='yes' is not allowed; it must be true or false"),
        ({"clusters": {"pair": []}}, r"clusters\['pair'\]=\[\] is not allowed"),
    ):
        with pytest.raises(InputError, match=message):
            AnalysisConfig.from_settings(given)
    config = AnalysisConfig(drift_threshold=0, top_k=3)
    assert config.identity()["top_k"] == 3 and config.identity()["drift_threshold"] == 0.0
    found = AnalysisConfig().with_clusters([("a", "b")])
    assert found.clusters == {"a+b": ("a", "b")}
    assert found.options_for("permutation")["cluster_groups"] == {"a+b": ["a", "b"]}
    assert AnalysisConfig(auto_groups=False).with_clusters([("a", "b")]).clusters == {}
