"""Registry audit: the `registry_audit` DAG.

Written by importance-tasks 0.2.0's `dags install`, which updates this file
while it is as written and leaves it alone once you change it (unless given --force).
The DAG itself comes from the installed package; `defaults` are this deployment's
Param defaults.
"""

from importance_tasks.airflow.shipped_dags import registry_audit_dag

dag = registry_audit_dag()

# importance-tasks: sha256 1acd0353d451837b1514821c9a99d62a36e19fd4f903cf6232e02d11ca7f50b7
