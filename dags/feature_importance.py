"""Feature importance of registered Keras models: the `feature_importance` DAG.

Written by importance-tasks 0.2.0's `dags install`, which updates this file
while it is as written and leaves it alone once you change it (unless given --force).
The DAG itself comes from the installed package; `defaults` are this deployment's
Param defaults.
"""

from importance_tasks.airflow.shipped_dags import feature_importance_dag

dag = feature_importance_dag()

# importance-tasks: sha256 e90941e69193c61c871ba631e93dbbdb1297fb8c041cd0c3848783ce6727af2c
