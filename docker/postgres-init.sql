-- Runs once, on the first start of an empty PostgreSQL volume: MLflow's backend store beside
-- Airflow's metadata database ("airflow", created by POSTGRES_DB).
CREATE DATABASE mlflow;
