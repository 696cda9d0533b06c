"""Importance drift on new data: the deployed version's label-free importance on each new
window of production data, compared with the same analysis of its evaluation data.

``labels``: the explained output without a target (the model's own prediction as the label);
``estimates``: each method's importance with a standard error that counts the rows sampled;
``drift``: which features changed beyond both estimates' noise and by a material amount, and
which columns' distributions moved. The stage around them (MLflow, Airflow) is
``mlflow_io.monitor_run`` and ``airflow.monitor_dag``.
"""

__all__ = ["ALPHA", "DEFAULT_METHODS", "MATERIALITY"]

# The chance of any false flag in one window (over its features), and of any moved column.
ALPHA = 0.05
# The least change of a feature's importance worth a flag, as a share of the baseline's total.
MATERIALITY = 0.05
# What a window is analysed with unless asked otherwise: cheap enough to run daily.
DEFAULT_METHODS = ("permutation",)
