"""Importance monitor: the `importance_monitor` DAG.

Written by importance-tasks 0.2.0's `dags install`, which updates this file
while it is as written and leaves it alone once you change it (unless given --force).
The DAG itself comes from the installed package; `defaults` are this deployment's
Param defaults.
"""

from importance_tasks.airflow.shipped_dags import importance_monitor_dag

dag = importance_monitor_dag()

# importance-tasks: sha256 bbd3df5b84a958559718055e6df3b0780016d8a60077f67c3c480768be822924
