"""Whole datasets from one command (``cryomem run``, ``cryomem demo``, ``cryomem report``).

Per tomogram: segment -> instances -> surfaces -> pick -> stats -> morph, each stage a pure function over
files writing its own folder atomically, run as dask.distributed tasks (a local cluster by default,
an existing scheduler, or SLURM via dask-jobqueue). A manifest records what finished with which
inputs and settings, so a re-run skips finished work and redoes what failed or changed. Statistics
are pooled over all tomograms and everything ends in one self-contained HTML report. A copick
project's tomograms can be run in place, the results written back into the project (:func:`run_copick`).
"""

from cryomem.pipeline._cluster import cuda_device_count, dashboard_link, local_worker_count, open_client
from cryomem.pipeline._copick_run import CopickSource, CopickTarget, CopickWrite, run_copick
from cryomem.pipeline._demo import (
    COMPARISON_NAME,
    DEMO_NAME,
    DEMO_PICK_MODEL_PATH,
    DEMO_SHAPE_ZYX,
    FAST_SHAPE_ZYX,
    DemoResult,
    compare_with_ground_truth,
    demo_run_config,
    demo_simulation_config,
    run_demo,
)
from cryomem.pipeline._manifest import MANIFEST_FORMAT, MANIFEST_NAME, Manifest, file_fingerprint
from cryomem.pipeline._report import write_report
from cryomem.pipeline._runner import RunResult, run_pipeline
from cryomem.pipeline._settings import (
    STAGES,
    ClusterSettings,
    MorphSettings,
    PickSettings,
    RunConfig,
    SegmentSettings,
    SlurmSettings,
    StatsSettings,
    SurfaceSettings,
    load_run_config,
)
from cryomem.pipeline._stages import (
    TomogramFolders,
    instances_stage,
    morph_stage,
    pick_stage,
    pooled_stats_stage,
    segment_stage,
    stats_stage,
    surfaces_stage,
)
from cryomem.pipeline._tasks import STAGE_FUNCTIONS, describe_error, run_stage_task
from cryomem.pipeline._tomograms import MRC_SUFFIXES, Tomogram, find_tomograms, read_tomograms, resolve_tomogram

__all__ = [
    "MANIFEST_NAME",
    "COMPARISON_NAME",
    "DEMO_NAME",
    "DEMO_PICK_MODEL_PATH",
    "DEMO_SHAPE_ZYX",
    "FAST_SHAPE_ZYX",
    "MANIFEST_FORMAT",
    "MRC_SUFFIXES",
    "STAGES",
    "STAGE_FUNCTIONS",
    "ClusterSettings",
    "CopickSource",
    "CopickTarget",
    "CopickWrite",
    "DemoResult",
    "Manifest",
    "PickSettings",
    "RunConfig",
    "RunResult",
    "SegmentSettings",
    "SlurmSettings",
    "MorphSettings",
    "StatsSettings",
    "SurfaceSettings",
    "Tomogram",
    "TomogramFolders",
    "compare_with_ground_truth",
    "cuda_device_count",
    "dashboard_link",
    "demo_run_config",
    "demo_simulation_config",
    "describe_error",
    "file_fingerprint",
    "find_tomograms",
    "instances_stage",
    "load_run_config",
    "local_worker_count",
    "open_client",
    "pick_stage",
    "pooled_stats_stage",
    "read_tomograms",
    "run_copick",
    "run_demo",
    "run_pipeline",
    "resolve_tomogram",
    "run_stage_task",
    "segment_stage",
    "morph_stage",
    "stats_stage",
    "surfaces_stage",
    "write_report",
]
