"""With KEVIN_TEST_DATABASE_URL set: a job runs on a Dagster instance whose storage is PostgreSQL."""

from __future__ import annotations

import os
import uuid

import dagster as dg
import pytest
from defs_helpers import make_kevin

from kevin_pipeline.defs.jobs import exit_scan_job, exit_scan_run_config

pytestmark = pytest.mark.skipif(not os.environ.get("KEVIN_TEST_DATABASE_URL"), reason="KEVIN_TEST_DATABASE_URL is not set")


@pytest.fixture
def dagster_pg_url(_pg_admin):
    """A fresh database on the test server for Dagster's own storage (psycopg2 URL), dropped after."""
    name = f"dagster_t_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with _pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield _pg_admin.url.set(drivername="postgresql+psycopg2", database=name).render_as_string(hide_password=False)
    with _pg_admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_job_runs_on_postgres_instance_storage(dagster_pg_url, tmp_path):
    kevin = make_kevin(f"sqlite:///{tmp_path / 'kevin.db'}", tmp_path)
    kevin.seed_bars()
    overrides = {"storage": {"postgres": {"postgres_url": dagster_pg_url}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = exit_scan_job.execute_in_process(
            run_config=exit_scan_run_config("2022-03-02T14:35:00Z"), resources=kevin.resources, instance=instance
        )
        assert result.success
        record = instance.get_run_record_by_id(result.run_id)
        assert record is not None and record.dagster_run.is_success
        assert instance.get_latest_materialization_event(dg.AssetKey("paper_account")) is not None
