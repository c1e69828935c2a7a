"""The Dagster code location: `dagster dev -m kevin_pipeline.definitions` (see kevin_pipeline/defs/)."""

import dagster as dg

from kevin_pipeline.defs.assets import ALL_ASSETS
from kevin_pipeline.defs.calls import CALL_ASSETS, video_calls_job
from kevin_pipeline.defs.checks import ALL_CHECKS
from kevin_pipeline.defs.jobs import ALL_JOBS
from kevin_pipeline.defs.resources import default_resources
from kevin_pipeline.defs.schedules import exit_scan_schedule
from kevin_pipeline.defs.sensors import new_mentions_sensor, new_videos_sensor
from kevin_pipeline.defs.skill import call_scores_old_calls_explained, skill_assets
from kevin_pipeline.defs.sweep import parameter_sweep, sweep_results

defs = dg.Definitions(
    assets=[*CALL_ASSETS, *ALL_ASSETS, sweep_results, skill_assets],
    asset_checks=[*ALL_CHECKS, call_scores_old_calls_explained],
    jobs=[*ALL_JOBS, video_calls_job, parameter_sweep],
    sensors=[new_mentions_sensor, new_videos_sensor],
    schedules=[exit_scan_schedule],
    resources=default_resources(),
)
