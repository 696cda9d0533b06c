"""Promotion gate: the `promote_model` DAG.

Written by importance-tasks 0.2.0's `dags install`, which updates this file
while it is as written and leaves it alone once you change it (unless given --force).
The DAG itself comes from the installed package; `defaults` are this deployment's
Param defaults.
"""

from importance_tasks.airflow.shipped_dags import promote_model_dag

dag = promote_model_dag()

# importance-tasks: sha256 04b0e126bf14a0f79c38d0803a8c8e12a8b01ff94d753a5463b19c65de09d968
