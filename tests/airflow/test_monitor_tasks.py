"""The monitor DAG's task bodies around the stage: the window's URI from the Param or the
triggering Asset event, its date from the run, and the alarm (the drift event's extra, every
notifier called, a failing one logged without failing the run, no event without drift)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowSkipException

from importance_tasks.airflow.assets import IMPORTANCE_DRIFT
from importance_tasks.airflow.monitor_dag import alarm_task, window_date, window_uri
from importance_tasks.errors import InputError

SUMMARY = {
    "model_name": "m", "model_version": "3", "window": "2026-01-05", "status": "drift",
    "drifted": ["x0"], "data_drift": ["x0"], "ndcg": 0.8, "run_id": "r", "modes": ["output"],
}  # fmt: skip


def test_the_window_uri_comes_from_the_param_else_the_triggering_event():
    assert (
        window_uri("/lake/{ds}/rows.parquet", "2026-01-05", None) == "/lake/2026-01-05/rows.parquet"
    )
    new_rows = Asset(name="scoring_rows", uri="s3://lake/scoring/latest.parquet")
    events = {new_rows: [SimpleNamespace(extra={})]}
    assert window_uri(None, "2026-01-05", events) == "s3://lake/scoring/latest.parquet"
    events = {
        new_rows: [SimpleNamespace(extra={"data_uri": "s3://lake/scoring/2026-01-05.parquet"})]
    }
    assert window_uri(None, "2026-01-05", events) == "s3://lake/scoring/2026-01-05.parquet"
    with pytest.raises(InputError, match="no data_uri"):
        window_uri(None, "2026-01-05", None)


def test_the_window_is_the_date_of_the_data_interval_start_else_when_the_run_was_asked():
    start = dt.datetime(2026, 1, 5, 23, 0, tzinfo=dt.UTC)
    assert window_date({"data_interval_start": start}) == "2026-01-05"
    asked = SimpleNamespace(run_after=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert window_date({"data_interval_start": None, "dag_run": asked}) == "2026-02-01"


class _Events(dict):
    def __missing__(self, key):
        self[key] = SimpleNamespace(extra=None)
        return self[key]


def test_the_alarm_emits_the_event_and_calls_every_notifier_even_after_one_fails(caplog):
    called = []

    def failing(context):
        raise RuntimeError("slack is down")

    events = _Events()
    text = alarm_task(SUMMARY, [failing, called.append], {"ti": "context"}, events)
    assert events[IMPORTANCE_DRIFT].extra == SUMMARY
    assert called == [{"ti": "context"}]
    assert "notifier" in caplog.text and "slack is down" in caplog.text
    assert "x0" in text
    quiet = _Events()
    with pytest.raises(AirflowSkipException, match="no importance drift"):
        alarm_task({**SUMMARY, "status": "ok", "drifted": []}, [called.append], {}, quiet)
    assert not quiet and len(called) == 1  # no event, no notifier


def test_the_dag_waits_for_a_window_by_retrying_and_runs_one_window_at_a_time():
    from datetime import timedelta

    from importance_tasks.airflow.monitor_dag import importance_monitor_dag

    dag = importance_monitor_dag(wait=timedelta(hours=2), poll=timedelta(minutes=10))
    watch = dag.get_task("watch")
    assert watch.retries == 12 and watch.retry_delay == timedelta(minutes=10)
    assert dag.max_active_runs == 1 and dag.is_paused_upon_creation and not dag.catchup
    assert dag.schedule is None
    assert [o.name for o in dag.get_task("alarm").outlets] == [IMPORTANCE_DRIFT.name]
