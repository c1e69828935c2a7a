-- Runs once, when the postgres volume is first created: kevin's app database beside Dagster's
-- (POSTGRES_DB=dagster). Owned by the same role (POSTGRES_USER).
CREATE DATABASE kevin;
